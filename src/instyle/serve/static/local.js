// Runs the built-in network on the visitor's own device with ONNX Runtime Web (WebAssembly, vendored
// under /static/ort/): the photo never leaves the browser. The same file and the same size rules
// as instyle's onnxruntime path in Python (instyle/onnx_runtime.py, instyle/sizes.py), so the
// pictures agree with it (tests/serve/test_browser.py).
import * as ort from "./ort/ort.wasm.min.mjs";

ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
// threads need a cross-origin isolated page (the server sends COOP and COEP)
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

const MIN_SIDE = 16; // instyle.sizes.MIN_SIDE
const SIDE_MULTIPLE = 4; // instyle.sizes.SIDE_MULTIPLE
const sessions = new Map();

export function paddedSide(n) {
  return Math.max(MIN_SIDE, Math.ceil(n / SIDE_MULTIPLE) * SIDE_MULTIPLE);
}

async function session(url) {
  if (!sessions.has(url)) sessions.set(url, ort.InferenceSession.create(url, { executionProviders: ["wasm"] }));
  return sessions.get(url);
}

// ImageData (w x h, RGBA bytes) -> (1, 3, H, W) float32 in [0, 1], padded at the bottom and right
// by reflection, or by repeating the edge where the image is too small to reflect (can_reflect)
function toTensor(img, H, W) {
  const { width: w, height: h, data } = img;
  const plane = H * W;
  const reflect = H - h < h && W - w < w;
  const src = (i, n) => (i < n ? i : reflect ? 2 * (n - 1) - i : n - 1);
  const x = new Float32Array(3 * plane);
  for (let y = 0; y < H; y++) {
    const sy = src(y, h);
    for (let c = 0; c < W; c++) {
      const p = (sy * w + src(c, w)) * 4, q = y * W + c;
      x[q] = data[p] / 255;
      x[plane + q] = data[p + 1] / 255;
      x[2 * plane + q] = data[p + 2] / 255;
    }
  }
  return new ort.Tensor("float32", x, [1, 3, H, W]);
}

// Stylize ImageData with the style weights (one per style of the network, summing to 1).
export async function stylize(url, img, weights) {
  const s = await session(url);
  const input = toTensor(img, paddedSide(img.height), paddedSide(img.width));
  const out = await s.run({ image: input, style_weights: new ort.Tensor("float32", Float32Array.from(weights), [weights.length]) });
  return toImageData(out.stylized, img.width, img.height);
}

// Any style image with the light AdaIN network: its encoder gives the style's relu4_1 mean and std
// and the photo's features, its decoder the picture (instyle.onnx_runtime.OnnxAdaIN).
export async function adain(urls, img, style, alpha) {
  const [enc, dec] = await Promise.all([session(urls.encoder), session(urls.decoder)]);
  const pad = (im) => toTensor(im, Math.max(im.height, MIN_SIDE), Math.max(im.width, MIN_SIDE));
  const stats = await enc.run({ image: pad(style) }, ["mean", "std"]);
  const { features } = await enc.run({ image: pad(img) }, ["features"]);
  const out = await dec.run({
    features,
    style_mean: stats.mean,
    style_std: stats.std,
    alpha: new ort.Tensor("float32", Float32Array.of(alpha), []),
  });
  return toImageData(out.stylized, img.width, img.height);
}

// (1, 3, H, W) float32 -> ImageData w x h (the top-left corner), rounded to bytes
function toImageData(tensor, w, h) {
  const [, , H, W] = tensor.dims;
  const o = tensor.data, plane = H * W;
  const res = new ImageData(w, h);
  for (let y = 0; y < h; y++) {
    for (let c = 0; c < w; c++) {
      const q = y * W + c, p = (y * w + c) * 4;
      for (let k = 0; k < 3; k++) res.data[p + k] = Math.max(0, Math.min(255, Math.round(o[k * plane + q] * 255)));
      res.data[p + 3] = 255;
    }
  }
  return res;
}

export function threads() {
  return ort.env.wasm.numThreads;
}

// Live mode on the device: the network for video with shared statistics (the graph instyle
// exports with --shared-statistics): each layer's instance-norm statistics are mixed with their
// moving average over the frames before, momentum 0.9 as `instyle video` (instyle.video.stabilize.
// StatisticsEMA), so the picture does not pump from frame to frame. reset() at a style change.
export class LiveNetwork {
  constructor(url, momentum = 0.9) {
    this.url = url;
    this.momentum = momentum;
    this.state = null; // [[mean, std] per layer] averages (Float32Array each)
  }

  reset() {
    this.state = null;
  }

  async frame(img, weights) {
    const s = await session(this.url);
    const input = toTensor(img, paddedSide(img.height), paddedSide(img.width));
    const feeds = {
      image: input,
      style_weights: new ort.Tensor("float32", Float32Array.from(weights), [weights.length]),
      momentum: new ort.Tensor("float32", Float32Array.of(this.state ? this.momentum : 0), [1]),
    };
    const layers = s.inputNames.filter((n) => n.startsWith("past_mean_")).length;
    for (let k = 0; k < layers; k++) {
      const c = this.state ? this.state[k][0].length : channels(s, k);
      const [mean, std] = this.state ? this.state[k] : [new Float32Array(c), new Float32Array(c)];
      feeds[`past_mean_${k}`] = new ort.Tensor("float32", mean, [1, c, 1, 1]);
      feeds[`past_std_${k}`] = new ort.Tensor("float32", std, [1, c, 1, 1]);
    }
    const out = await s.run(feeds);
    const m = this.momentum;
    const next = [];
    for (let k = 0; k < layers; k++) {
      const own = [out[`mean_${k}`].data, out[`std_${k}`].data];
      const past = this.state && this.state[k];
      next.push(own.map((v, i) => (past ? past[i].map((p, j) => m * p + (1 - m) * v[j]) : Float32Array.from(v))));
    }
    this.state = next;
    return toImageData(out.stylized, img.width, img.height);
  }
}

// Tells a new shot from motion as instyle.video.stabilize.SceneCuts does: the frame's grey
// thumbnail 64 px wide (channels averaged, values in [0, 1]) against the one before; a mean absolute
// difference over `threshold` is a cut. The live loop then forgets the statistics' average, so a
// new scene does not start with the old one's colours.
export class SceneCuts {
  constructor(threshold) {
    this.threshold = threshold;
    this.previous = null;
    this.canvas = null;
  }

  // whether `source` (a video element or canvas, w x h) starts a new shot (the first frame does)
  isCut(source, w, h) {
    const tw = 64, th = Math.max(1, Math.round((64 * h) / w));
    if (!this.canvas || this.canvas.height !== th) {
      this.canvas = new OffscreenCanvas(tw, th);
      this.previous = null;
    }
    const ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(source, 0, 0, tw, th);
    const d = ctx.getImageData(0, 0, tw, th).data;
    const thumb = new Float32Array(tw * th);
    for (let i = 0; i < thumb.length; i++) thumb[i] = (d[4 * i] + d[4 * i + 1] + d[4 * i + 2]) / 765;
    let cut = this.previous === null;
    if (!cut) {
      let sum = 0;
      for (let i = 0; i < thumb.length; i++) sum += Math.abs(thumb[i] - this.previous[i]);
      cut = sum / thumb.length > this.threshold;
    }
    this.previous = thumb;
    return cut;
  }
}

// channels of layer k's statistics, from the graph's input shapes (1, C, 1, 1)
function channels(s, k) {
  const meta = (s.inputMetadata || []).find((m) => m.name === `past_mean_${k}`);
  if (!meta || typeof meta.shape[1] !== "number") throw new Error("this runtime does not give input shapes");
  return meta.shape[1];
}
