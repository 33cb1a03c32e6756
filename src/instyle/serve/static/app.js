// instyle's page: plain JavaScript, no build step, nothing loaded from elsewhere.
// Photo mode posts the photo once; later changes send its hash (X-Image-Id) instead of the file.
// Live mode streams camera frames over a WebSocket, at most two in flight: a frame the camera
// makes while two are out is dropped here, never queued.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null,            // GET /api/styles
  photo: null,           // the photo (Blob) as chosen
  photoId: null,         // its hash on the server, once sent
  styleFile: null,       // an uploaded style image (Blob)
  styleId: null,
  style: null,           // the gallery style chosen
  controller: null,      // aborts a render that a newer one replaces
  timer: 0,
  resultUrl: null,
  beforeUrl: null,
  styleUrl: null,       // the style image's preview
};

function status(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch (e) {
    return response.statusText;
  }
}

// ---------------------------------------------------------------- set-up

async function init() {
  // every URL is relative to the page: the same files work from the server and from a static
  // export (`instyle web export`) at any path of any host
  const response = await fetch("api/styles");
  state.info = await response.json();
  for (const key of ["model", "video"]) state.info.local[key] = new URL(state.info.local[key], document.baseURI).href;
  for (const b of state.info.local.brushes) b.model = new URL(b.model, document.baseURI).href;
  for (const key of ["encoder", "decoder"]) state.info.local.adain[key] = new URL(state.info.local.adain[key], document.baseURI).href;
  if (state.info.static) staticMode();
  const gallery = $("gallery");
  const second = $("style2");
  for (const s of state.info.styles) {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "style";
    radio.value = s.name;
    const img = document.createElement("img");
    img.src = s.thumbnail;
    img.alt = "";
    img.loading = "lazy";
    label.append(radio, img, document.createTextNode(s.label));
    label.title = s.fast ? s.label + " (built-in network)" : s.label + " (AdaIN preset)";
    gallery.append(label);
    radio.addEventListener("change", () => { state.style = s.name; render(); });
    second.append(new Option(s.label, s.name));
  }
  const first = gallery.querySelector("input");
  if (first) { first.checked = true; state.style = first.value; }
  for (const size of state.info.sizes) $("size").append(new Option(size + " px", String(size)));
  $("size").value = state.info.sizes.includes(512) ? "512" : String(state.info.sizes[0]);
  $("stroke").value = String(state.info.stroke.default);
  $("stroke-out").textContent = Number($("stroke").value).toFixed(2);
  for (const f of state.info.formats) $("format").append(new Option(f.toUpperCase(), f));
  for (const m of state.info.stabilize) $("stabilize").append(new Option(m, m));
  $("stabilize").value = state.info.live_stabilize;
  if (!state.info.adain) {
    for (const id of ["alpha", "style-file"]) $(id).disabled = true;
    $("color").querySelector("option[value=match]").disabled = true;
  }
  wire();
  status("Ready: choose a photo.");
}

// A static export: no server behind the page. Everything runs on the device (the box is ticked and
// fixed); what only the server can do is switched off; the files are cached for offline use.
function staticMode() {
  $("local").checked = true;
  $("local").disabled = true;
  $("color").disabled = true;
  $("api-link").hidden = true;
  $("local-note").textContent = "This page runs entirely on your device: photos never leave it.";
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
}

function wire() {
  const drop = $("drop");
  drop.addEventListener("click", () => $("photo-file").click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("photo-file").click(); }
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/")) || e.dataTransfer.files[0];
    if (file) setPhoto(file);
  });
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData || {}).items || []].find((i) => i.type.startsWith("image/"));
    if (item) setPhoto(item.getAsFile());
  });
  $("photo-file").addEventListener("change", (e) => { if (e.target.files[0]) setPhoto(e.target.files[0]); });
  $("snap").addEventListener("click", snapshot);
  $("style-file").addEventListener("change", (e) => {
    if (!e.target.files[0]) return;
    state.styleFile = e.target.files[0];
    state.styleId = null;
    if (state.styleUrl) URL.revokeObjectURL(state.styleUrl);
    state.styleUrl = URL.createObjectURL(state.styleFile);
    $("style-preview").src = state.styleUrl;
    $("style-preview").hidden = false;
    $("clear-style").hidden = false;
    $("gallery").classList.add("off");
    render();
  });
  $("clear-style").addEventListener("click", () => {
    state.styleFile = null;
    state.styleId = null;
    $("style-file").value = "";
    $("style-preview").hidden = true;
    $("clear-style").hidden = true;
    $("gallery").classList.remove("off");
    render();
  });
  $("alpha").addEventListener("input", () => { $("alpha-out").textContent = Number($("alpha").value).toFixed(2); render(); });
  $("stroke").addEventListener("input", () => { $("stroke-out").textContent = Number($("stroke").value).toFixed(2); render(); });
  $("mix").addEventListener("input", () => { $("mix-out").textContent = Number($("mix").value).toFixed(2); render(); });
  $("style2").addEventListener("change", () => { $("mix").disabled = !$("style2").value; render(); });
  for (const id of ["color", "size", "format", "local"]) $(id).addEventListener("change", render);
  $("split").addEventListener("input", split);
  split();
  // the divider drags on the picture itself (mouse, pen, touch), the range input stays for the keyboard
  const compare = $("compare");
  const drag = (e) => {
    if (!compare.classList.contains("ready") || (e.type === "pointermove" && !e.buttons)) return;
    const box = compare.getBoundingClientRect();
    $("split").value = String(Math.round(Math.min(100, Math.max(0, (100 * (e.clientX - box.left)) / box.width))));
    split();
  };
  compare.addEventListener("pointerdown", (e) => { compare.setPointerCapture(e.pointerId); drag(e); });
  compare.addEventListener("pointermove", drag);
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const tabs = [...document.querySelectorAll("[role=tab]")];
      const next = tabs[(tabs.indexOf(tab) + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      selectTab(next);
      next.focus();
    });
  }
  $("live-start").addEventListener("click", startLive);
  $("live-stop").addEventListener("click", stopLive);
  for (const id of ["stabilize", "style2", "color", "gallery"]) $(id).addEventListener("change", sendSettings);
  $("mix").addEventListener("input", sendSettings);
}

function selectTab(tab) {
  for (const t of document.querySelectorAll("[role=tab]")) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
  }
  const liveTab = tab.id === "tab-live";
  // live mode runs the built-in network's styles: the controls it does not use are hidden, and
  // the gallery offers only its styles (an AdaIN preset is never swapped for another silently)
  for (const id of ["photo-set", "alpha", "stroke", "size", "format", "style-file"]) {
    $(id).hidden = liveTab;
    const label = document.querySelector(`label[for=${id}]`);
    if (label) label.hidden = liveTab;
  }
  $("clear-style").hidden = liveTab || !state.styleFile;
  $("color").querySelector("option[value=match]").hidden = liveTab;
  for (const label of $("gallery").querySelectorAll("label")) {
    const input = label.querySelector("input");
    const fast = state.info.styles.find((st) => st.name === input.value)?.fast;
    input.disabled = liveTab && !fast;
    label.classList.toggle("off", liveTab && !fast);
  }
  if (liveTab && !state.info.styles.find((st) => st.name === state.style)?.fast) {
    const first = $("gallery").querySelector("input:not(:disabled)");
    if (first) {
      first.checked = true;
      state.style = first.value;
      status(`Live mode paints the built-in styles: ${first.value.replace(/_/g, " ")} is chosen.`);
    }
  }
  if (!liveTab) stopLive();
  else sendSettings();
}

function split() {
  const v = $("split").value;
  $("compare").style.setProperty("--split", v + "%");
  $("split").setAttribute("aria-valuetext", v + "% before");
}

async function setPhoto(blob) {
  blob = await shrink(blob);
  state.photo = blob;
  state.photoId = null;
  if (state.beforeUrl) URL.revokeObjectURL(state.beforeUrl);
  state.beforeUrl = URL.createObjectURL(blob);
  $("before").src = state.beforeUrl;
  $("compare").classList.add("has-photo");
  clearResult(); // the last photo's result is not this one's: no stale "after", no stale download
  render(0);
}

function clearResult() {
  if (state.controller) state.controller.abort();
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = null;
  $("after").removeAttribute("src");
  $("compare").classList.remove("ready");
  const link = $("download");
  link.removeAttribute("href");
  link.setAttribute("aria-disabled", "true");
  $("timing").textContent = "";
}

// A photo larger than anything the server makes of it (a 48-MP phone photo) is shrunk here to the
// largest output size before it is sent: faster to upload, and under the server's byte and pixel
// limits. EXIF orientation is applied by createImageBitmap.
async function shrink(blob) {
  const limits = state.info.limits;
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
  } catch (e) {
    return blob; // not decodable here: let the server say what is wrong with it
  }
  const longer = Math.max(bitmap.width, bitmap.height);
  const big = longer > limits.max_size || bitmap.width * bitmap.height > limits.max_pixels || blob.size > limits.max_upload_bytes;
  if (!big) { bitmap.close(); return blob; }
  const scale = Math.min(1, limits.max_size / longer);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return await new Promise((resolve) => canvas.toBlob((b) => resolve(b || blob), "image/jpeg", 0.92));
}

async function snapshot() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
  } catch (e) {
    status("No camera: " + e.message, true);
    return;
  }
  const video = $("snap-video");
  video.srcObject = stream;
  await video.play();
  await new Promise((r) => setTimeout(r, 400)); // let the exposure settle
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  stream.getTracks().forEach((t) => t.stop());
  canvas.toBlob((blob) => setPhoto(blob), "image/jpeg", 0.92);
}

// ---------------------------------------------------------------- photo mode

function styleSpecs() {
  // [specs, weight of the uploaded style image or null]
  const second = $("style2").value;
  const mix = Number($("mix").value);
  if (state.styleFile) return [second ? [second + ":" + mix] : [], second ? 1 - mix : null];
  if (!state.style) return [[], null];
  if (!second || second === state.style) return [[state.style], null];
  return [[state.style + ":" + (1 - mix), second + ":" + mix], null];
}

function render(delay = 150) {
  clearTimeout(state.timer);
  if (!state.photo) return;
  state.timer = setTimeout(() => send(false), delay);
}

// What this request runs on the device, or null (the server): an uploaded style image alone (the
// light AdaIN network, any α, recoloured to its palette unless asked not to), or built-in styles
// at α 1; the style's colours either way (instyle.method.choose_color).
function localPlan() {
  const color = $("color").value;
  if (!$("local").checked || (color !== "none" && color !== "auto")) return null;
  if (state.styleFile) return $("style2").value ? null : { adain: true, palette: color === "auto" };
  const weights = localWeights();
  return weights ? { weights } : null;
}

function localWeights() {
  // a style whose AdaIN preset people preferred runs on the server, as it would without "on this device"
  const chosen = [state.style, $("style2").value].filter(Boolean);
  if (chosen.some((n) => (state.info.styles.find((s) => s.name === n) || {}).method === "adain")) return null;
  return Number($("alpha").value) === 1 && !state.styleFile ? liveWeights() : null;
}

async function draw(blob, longest) {
  const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
  const scale = Math.min(1, longest / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const source = Math.max(bitmap.width, bitmap.height);
  bitmap.close();
  return [canvas, ctx, ctx.getImageData(0, 0, canvas.width, canvas.height), source];
}

// The longer side a network with this reference side computes on for an output of `size` px with
// brush `stroke`: the server's rule (instyle.sizes.stroke_side); the references from GET /api/styles.
function sideAt(size, stroke, reference) {
  return Math.max(16, Math.min(Math.round(reference / stroke), 4 * size));
}

// The built-in network or a companion (GET /api/styles local.brushes, main first) for an output of
// `size` px with brush `stroke`: the server's rule (instyle.sizes.choose_brush): the cheapest whose
// side covers the output; none: the largest side; ties: the smaller reference, then the first.
function chooseBrush(size, stroke) {
  const all = state.info.local.brushes.map((b) => ({ ...b, side: sideAt(size, stroke, b.reference) }));
  const covering = all.filter((b) => b.side >= size);
  const pool = covering.length ? covering : all;
  const key = (b) => [covering.length ? b.side : -b.side, b.reference];
  return pool.reduce((best, b) => {
    const [x, y] = [key(b), key(best)];
    return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]) ? b : best;
  });
}

// `canvas` drawn at `longest` px on its longer side (itself when it is that size already).
function resized(canvas, longest) {
  const scale = longest / Math.max(canvas.width, canvas.height);
  if (Math.abs(scale - 1) < 1e-9) return canvas;
  const out = document.createElement("canvas");
  out.width = Math.max(1, Math.round(canvas.width * scale));
  out.height = Math.max(1, Math.round(canvas.height * scale));
  const ctx = out.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(canvas, 0, 0, out.width, out.height);
  return out;
}

async function sendLocal(plan) {
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  status("Stylizing on this device…");
  const t0 = performance.now();
  try {
    const size = Number($("size").value);
    const stroke = Number($("stroke").value);
    const brush = plan.adain ? null : chooseBrush(size, stroke);
    const [canvas, ctx, photo, source] = await draw(state.photo, brush ? brush.side : sideAt(size, stroke, state.info.stroke.reference.adain));
    const local = await import("./local.js");
    let out;
    if (plan.adain) {
      const [, , style] = await draw(state.styleFile, state.info.local.style_size);
      out = await local.adain(state.info.local.adain, photo, style, Number($("alpha").value));
      if (plan.palette) out = local.matchPalette(out, style, Number($("alpha").value));
    } else {
      out = await local.stylize(brush.model, photo, plan.weights);
    }
    if (controller !== state.controller) return;
    ctx.putImageData(out, 0, 0);
    const result = resized(canvas, Math.min(size, source)); // never larger than the photo, as before
    const fmt = $("format").value;
    const blob = await new Promise((r) => result.toBlob(r, "image/" + fmt, fmt === "png" ? undefined : 0.9));
    if (controller !== state.controller) return;
    const ms = Math.round(performance.now() - t0);
    const what = plan.adain ? "AdaIN" : "built-in network";
    showResult(blob, `${result.width}x${result.height} · ${what} on this device (${local.threads()} threads) · ${ms} ms`);
  } catch (e) {
    status("This browser could not run the network: " + e.message + "; untick “on this device” to use the server", true);
  }
}

function showResult(blob, timing) {
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = URL.createObjectURL(blob);
  $("after").src = state.resultUrl;
  $("compare").classList.add("ready");
  const link = $("download");
  const ext = $("format").value === "jpeg" ? "jpg" : $("format").value;
  link.href = state.resultUrl;
  link.download = "instyle." + ext;
  link.setAttribute("aria-disabled", "false");
  $("timing").textContent = timing;
  status(`Done: ${timing}.`);
  // on a phone the controls may be in view instead: bring the picture and its Download up
  const box = $("result").getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) $("result").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

async function send(retried) {
  const plan = localPlan();
  if (plan) return sendLocal(plan);
  if (state.info.static) {
    status("Without a server, α below 1 needs a style image; built-in styles run at α 1.", true);
    return;
  }
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  const form = new FormData();
  if (state.photoId) form.append("image_id", state.photoId);
  else form.append("image", state.photo, "photo");
  const [specs, uploadWeight] = styleSpecs();
  for (const s of specs) form.append("style", s);
  if (state.styleFile) {
    if (state.styleId) form.append("style_image_id", state.styleId);
    else form.append("style_image", state.styleFile, "style");
    if (uploadWeight !== null) form.append("style_image_weight", String(uploadWeight));
  }
  form.append("alpha", $("alpha").value);
  form.append("color", $("color").value);
  form.append("size", $("size").value);
  form.append("stroke", $("stroke").value);
  form.append("format", $("format").value);
  status("Stylizing…");
  const t0 = performance.now();
  let response;
  try {
    response = await fetch("api/stylize", { method: "POST", body: form, signal: controller.signal });
  } catch (e) {
    if (e.name !== "AbortError") status("The server cannot be reached: " + e.message, true);
    return;
  }
  if (controller !== state.controller) return; // a newer render replaced this one
  if (response.status === 422 && !retried) {
    const body = await response.clone().json().catch(() => ({}));
    if (body.error && body.error.code === "unknown_image") { // the server forgot it: send the files
      state.photoId = null;
      state.styleId = null;
      return send(true);
    }
  }
  if (response.status === 429 && !retried) {
    status("The server is busy; trying again…");
    setTimeout(() => send(true), 1000);
    return;
  }
  if (!response.ok) {
    status(`${response.status}: ${await errorText(response)}`, true);
    return;
  }
  state.photoId = response.headers.get("X-Image-Id") || state.photoId;
  state.styleId = response.headers.get("X-Style-Image-Id") || state.styleId;
  const blob = await response.blob();
  if (controller !== state.controller) return;
  const ms = Math.round(performance.now() - t0);
  const method = response.headers.get("X-Method") === "adain" ? "AdaIN" : "built-in network";
  showResult(blob, `${response.headers.get("X-Size")} · ${method} on the server · ${ms} ms`);
}

// ---------------------------------------------------------------- live mode

const live = { ws: null, stream: null, inflight: [], shown: [], dropped: 0, busy: false, canvas: null };

function liveSettings() {
  const fast = new Set(state.info.styles.filter((s) => s.fast).map((s) => s.name));
  const first = fast.has(state.style) ? state.style : [...fast][0];
  const second = $("style2").value;
  const mix = Number($("mix").value);
  const style = second && fast.has(second) && second !== first ? [first + ":" + (1 - mix), second + ":" + mix] : [first];
  const color = $("color").value === "luminance" ? "luminance" : "none";
  return { style, color, stabilize: $("stabilize").value };
}

function sendSettings() {
  if (live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify(liveSettings()));
}

async function startLive() {
  try {
    // the frame width painted (the camera is asked for it; a camera that gives another size is scaled)
    live.width = Number($("live-size").value) || 320;
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: live.width, height: live.width * 3 / 4 } });
  } catch (e) {
    status("No camera: " + e.message, true);
    return;
  }
  const video = $("cam");
  video.srcObject = live.stream;
  await video.play();
  live.canvas = document.createElement("canvas");
  live.canvas.width = live.width;
  live.canvas.height = Math.round(live.width * (video.videoHeight || 3) / (video.videoWidth || 4));
  live.shown = [];
  if ($("local").checked && state.info.local.video) return startLocalLive();
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + new URL("api/live", document.baseURI).href.replace(/^https?:\/\//, ""));
  ws.binaryType = "blob";
  live.ws = ws;
  live.inflight = [];
  live.shown = [];
  live.dropped = 0;
  ws.onopen = () => {
    sendSettings();
    $("live-start").disabled = true;
    $("live-size").disabled = true; // the size is the camera's: chosen before it starts
    $("live-stop").disabled = false;
    status("Live.");
    pump();
  };
  ws.onclose = (e) => {
    if (live.ws === ws) { status(e.reason ? "Live mode ended: " + e.reason : "Live mode ended.", !!e.reason); stopLive(); }
  };
  ws.onmessage = onLiveMessage;
}

function pump() {
  if (!live.ws) return;
  const video = $("cam");
  const next = () => {
    if (!live.ws) return;
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(pump);
    else setTimeout(pump, 15);
  };
  if (live.inflight.length >= 2 || live.busy || video.readyState < 2) {
    next(); // frames the camera makes while two are out are skipped by design, not "dropped"
    return;
  }
  live.busy = true;
  live.canvas.getContext("2d").drawImage(video, 0, 0, live.canvas.width, live.canvas.height);
  live.canvas.toBlob((blob) => {
    live.busy = false;
    if (blob && live.ws && live.ws.readyState === WebSocket.OPEN) {
      live.inflight.push(performance.now());
      live.ws.send(blob);
    }
  }, "image/jpeg", 0.8);
  next();
}

async function onLiveMessage(e) {
  if (typeof e.data === "string") {
    const msg = JSON.parse(e.data);
    if (msg.dropped) { live.inflight.shift(); live.dropped += msg.dropped; $("dropped").textContent = live.dropped + " dropped"; }
    if (msg.error) status("Live: " + msg.error, true);
    return;
  }
  const sent = live.inflight.shift();
  const now = performance.now();
  const bitmap = await createImageBitmap(e.data);
  const out = $("live-out");
  if (out.width !== bitmap.width || out.height !== bitmap.height) { out.width = bitmap.width; out.height = bitmap.height; }
  out.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
  shown(now, sent);
}

// Live mode on the device: camera -> the network for video (ONNX Runtime Web) -> canvas; no frame
// leaves the browser. One frame at a time: the next is taken when the last is painted.
async function startLocalLive() {
  const local = await import("./local.js");
  const net = new local.LiveNetwork(state.info.local.video, state.info.local.momentum);
  const cuts = new local.SceneCuts(state.info.local.cut_threshold);
  live.local = net;
  live.localStyle = "";
  $("live-start").disabled = true;
  $("live-size").disabled = true; // the size is the camera's: chosen before it starts
  $("live-stop").disabled = false;
  status("Live, on this device: no frame leaves the browser.");
  const ctx = live.canvas.getContext("2d", { willReadFrequently: true });
  const out = $("live-out");
  const video = $("cam");
  while (live.local === net) {
    const weights = liveWeights();
    if (!weights) { status("Live on this device runs the built-in styles; pick one in the gallery.", true); break; }
    const key = weights.join(",");
    if (key !== live.localStyle) { net.reset(); live.localStyle = key; } // a new style: a new average
    const t0 = performance.now();
    ctx.drawImage(video, 0, 0, live.canvas.width, live.canvas.height);
    if (cuts.isCut(live.canvas, live.canvas.width, live.canvas.height)) net.reset(); // a new shot: a new average
    let img;
    try {
      img = await net.frame(ctx.getImageData(0, 0, live.canvas.width, live.canvas.height), weights);
    } catch (e) {
      status("This browser could not run the network: " + e.message, true);
      break;
    }
    if (live.local !== net) break;
    if (out.width !== img.width || out.height !== img.height) { out.width = img.width; out.height = img.height; }
    out.getContext("2d").putImageData(img, 0, 0);
    shown(performance.now(), t0);
    await new Promise((r) => requestAnimationFrame(r));
  }
}

// the gallery style (and the second style's share) as weights over the network's styles; an
// uploaded style image is not one of them (the network for video paints its own styles)
function liveWeights() {
  const names = state.info.local.styles;
  const w = new Float32Array(names.length);
  const second = $("style2").value, mix = Number($("mix").value);
  const specs = !state.style ? [] : !second || second === state.style ? [state.style] : [state.style + ":" + (1 - mix), second + ":" + mix];
  for (const spec of specs) {
    const [name, weight] = spec.split(":");
    if (names.indexOf(name) < 0) return null;
    w[names.indexOf(name)] += weight === undefined ? 1 : Number(weight);
  }
  const total = w.reduce((a, b) => a + b, 0);
  return total > 0 ? w.map((v) => v / total) : null;
}

function shown(now, sent) {
  live.shown.push(now);
  while (live.shown.length && live.shown[0] < now - 2000) live.shown.shift();
  const span = (now - live.shown[0]) / 1000;
  const fps = live.shown.length > 1 && span > 0 ? (live.shown.length - 1) / span : 0;
  $("fps").textContent = fps.toFixed(1) + " fps";
  $("fps").dataset.fps = fps.toFixed(2);
  $("fps").dataset.frames = String((Number($("fps").dataset.frames) || 0) + 1);
  if (sent !== undefined) $("latency").textContent = Math.round(now - sent) + " ms";
}

function stopLive() {
  live.local = null;
  const ws = live.ws;
  live.ws = null;
  if (ws) ws.close();
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  live.stream = null;
  $("live-start").disabled = false;
  $("live-size").disabled = false;
  $("live-stop").disabled = true;
}

init().catch((e) => status("The page could not start: " + e.message, true));
