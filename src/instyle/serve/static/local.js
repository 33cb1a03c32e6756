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

// The result recoloured to the style image's palette (instyle.palette.match_palette, what the
// server and the command line do for AdaIN with a style image): along 12 random orthonormal axes in
// RGB, the result's colours are mapped onto the painting's by matching quantiles, fitted on 16,384
// pixels of each and the nodes of a 33³ colour cube, then applied through the cube (trilinear).
const PALETTE = { iterations: 12, sample: 16384, cube: 33, quantiles: 257 };

function random(seed) {
  // mulberry32: a small seeded generator, so a picture gets the same colours every time
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rotation(rand) {
  // Gram-Schmidt on three Gaussian vectors: the columns of a random orthonormal 3x3 matrix
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const cols = [];
  while (cols.length < 3) {
    let v = [gauss(), gauss(), gauss()];
    for (const c of cols) {
      const d = v[0] * c[0] + v[1] * c[1] + v[2] * c[2];
      v = v.map((x, i) => x - d * c[i]);
    }
    const n = Math.hypot(...v);
    if (n > 1e-6) cols.push(v.map((x) => x / n));
  }
  return cols;
}

function sampleColours(img, n, rand) {
  // (count, 3) colours in [0, 1] of `n` random pixels of ImageData (all of them when fewer)
  const count = img.width * img.height, k = Math.min(n, count), out = new Float64Array(3 * k);
  for (let i = 0; i < k; i++) {
    const p = (k === count ? i : Math.floor(rand() * count)) * 4;
    for (let c = 0; c < 3; c++) out[3 * i + c] = img.data[p + c] / 255;
  }
  return out;
}

function quantiles(values, levels) {
  const s = Float64Array.from(values).sort(), n = s.length;
  return levels.map((q) => {
    const pos = q * (n - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, n - 1);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  });
}

function interp(x, xp, fp) {
  if (x <= xp[0]) return fp[0];
  if (x >= xp[xp.length - 1]) return fp[fp.length - 1];
  let lo = 0, hi = xp.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid] <= x) lo = mid;
    else hi = mid;
  }
  return fp[lo] + ((fp[hi] - fp[lo]) * (x - xp[lo])) / (xp[hi] - xp[lo]);
}

export function matchPalette(img, style, strength = 1) {
  const { iterations, sample, cube, quantiles: nq } = PALETTE;
  const rand = random(0);
  const own = sampleColours(img, sample, rand), ref = sampleColours(style, sample, rand);
  const n = own.length / 3, nodes = cube * cube * cube, m = ref.length / 3;
  const pts = new Float64Array(3 * (n + nodes));
  pts.set(own);
  for (let r = 0, i = n; r < cube; r++)
    for (let g = 0; g < cube; g++)
      for (let b = 0; b < cube; b++, i++) pts.set([r / (cube - 1), g / (cube - 1), b / (cube - 1)], 3 * i);
  const levels = Array.from({ length: nq }, (_, i) => i / (nq - 1));
  const total = n + nodes;
  const proj = [new Float64Array(total), new Float64Array(total), new Float64Array(total)];
  const goal = [new Float64Array(m), new Float64Array(m), new Float64Array(m)];
  for (let it = 0; it < iterations; it++) {
    const R = rotation(rand); // columns: the axes
    for (let k = 0; k < 3; k++) {
      const [a, b, c] = R[k];
      for (let i = 0; i < total; i++) proj[k][i] = pts[3 * i] * a + pts[3 * i + 1] * b + pts[3 * i + 2] * c;
      for (let i = 0; i < m; i++) goal[k][i] = ref[3 * i] * a + ref[3 * i + 1] * b + ref[3 * i + 2] * c;
      const src = quantiles(proj[k].subarray(0, n), levels), dst = quantiles(goal[k], levels);
      for (let j = 1; j < nq; j++) src[j] = Math.max(src[j], src[j - 1]);
      for (let j = 0; j < nq; j++) src[j] += levels[j] * 1e-9; // strictly rising, as numpy's interp needs
      for (let i = 0; i < total; i++) proj[k][i] = interp(proj[k][i], src, dst);
    }
    for (let i = 0; i < total; i++)
      for (let c = 0; c < 3; c++) pts[3 * i + c] = R[0][c] * proj[0][i] + R[1][c] * proj[1][i] + R[2][c] * proj[2][i];
  }
  const table = pts.subarray(3 * n).map((v) => Math.max(0, Math.min(1, v)));
  const out = new ImageData(img.width, img.height), d = img.data, s = cube - 1;
  for (let p = 0; p < d.length; p += 4) {
    const x = [d[p] / 255 * s, d[p + 1] / 255 * s, d[p + 2] / 255 * s];
    const i0 = x.map((v) => Math.min(Math.floor(v), s - 1)), f = x.map((v, k) => v - i0[k]);
    const rgb = [0, 0, 0];
    for (let corner = 0; corner < 8; corner++) {
      const dr = corner >> 2, dg = (corner >> 1) & 1, db = corner & 1;
      const w = (dr ? f[0] : 1 - f[0]) * (dg ? f[1] : 1 - f[1]) * (db ? f[2] : 1 - f[2]);
      const q = 3 * (((i0[0] + dr) * cube + i0[1] + dg) * cube + i0[2] + db);
      for (let c = 0; c < 3; c++) rgb[c] += w * table[q + c];
    }
    for (let c = 0; c < 3; c++) out.data[p + c] = Math.round(255 * (strength * rgb[c] + (1 - strength) * (d[p + c] / 255)));
    out.data[p + 3] = 255;
  }
  return out;
}
