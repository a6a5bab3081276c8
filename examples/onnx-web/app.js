// Draw images from an exported ganstudio generator (model/generator.onnx + model/generator.json,
// or ?model=path/to/g.onnx, whose sidecar is path/to/g.json). Inputs: z (B, z_dim) [, y (B, K) class weights, or
// y (B, text_dim) prompt embeddings for a run that reads text: the sidecar's "prompts" carry them, since a page
// cannot run the sentence model]; output: images (B, C, H, W) in [0, 1]. Nothing is fetched from outside this folder.
"use strict";

const GRID = 4; // a GRID x GRID sheet of images
const params = new URLSearchParams(location.search);
const modelUrl = params.get("model") || "model/generator.onnx";
const metaUrl = modelUrl.replace(/\.onnx$/, ".json");
const $ = (id) => document.getElementById(id);

// onnxruntime-web loads its WebAssembly from our own node_modules, never from a CDN.
ort.env.wasm.wasmPaths = new URL("node_modules/onnxruntime-web/dist/", location.href).href;
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one is plenty for a small G

// Seeded normal latents: mulberry32 + Box-Muller, so a seed always gives the same sheet.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normals(n, seed) {
  const r = rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12), v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

let session, meta, seed = 1, zA, zB, busy = false, pending = false;

function latents() {
  const n = GRID * GRID * meta.z_dim;
  zA = normals(n, seed);
  zB = normals(n, seed + 1000003);
  $("seed").textContent = `seed ${seed}`;
}

// Spherical interpolation of two vectors (a prompt walk: unit embeddings stay unit, as the studio's walks).
function slerp(a, b, t) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] ** 2; nb += b[i] ** 2; }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
  const s = Math.sin(omega);
  const wa = s < 1e-6 ? 1 - t : Math.sin((1 - t) * omega) / s, wb = s < 1e-6 ? t : Math.sin(t * omega) / s;
  return Float32Array.from(a, (v, i) => wa * v + wb * b[i]);
}

// A text run: every image reads the chosen prompt's embedding, walked toward the second prompt by the slider.
function promptInput(n, t) {
  const a = meta.prompts[$("prompt-a").value].y, b = meta.prompts[$("prompt-b").value].y;
  const y = slerp(a, b, t), out = new Float32Array(n * y.length);
  for (let i = 0; i < n; i++) out.set(y, i * y.length);
  return new ort.Tensor("float32", out, [n, y.length]);
}

// Spherical interpolation per image between zA and zB (Gaussian latents keep their norm).
function walk(t) {
  const d = meta.z_dim, out = new Float32Array(zA.length);
  for (let b = 0; b < GRID * GRID; b++) {
    let dot = 0, na = 0, nb = 0;
    for (let i = b * d; i < (b + 1) * d; i++) { dot += zA[i] * zB[i]; na += zA[i] ** 2; nb += zB[i] ** 2; }
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))));
    const s = Math.sin(omega);
    const wa = s < 1e-6 ? 1 - t : Math.sin((1 - t) * omega) / s;
    const wb = s < 1e-6 ? t : Math.sin(t * omega) / s;
    for (let i = b * d; i < (b + 1) * d; i++) out[i] = wa * zA[i] + wb * zB[i];
  }
  return out;
}

async function render() {
  if (busy) { pending = true; return; }
  busy = true;
  try {
    const n = GRID * GRID;
    const t = $("walk").value / 100;
    const feeds = { z: new ort.Tensor("float32", walk(meta.condition === "text" ? 0 : t), [n, meta.z_dim]) };
    if (meta.condition === "text") {
      feeds.y = promptInput(n, t);
    } else if (meta.num_classes) {
      const y = new Float32Array(n * meta.num_classes);
      for (let i = 0; i < n; i++) y[i * meta.num_classes + (i % meta.num_classes)] = 1;
      feeds.y = new ort.Tensor("float32", y, [n, meta.num_classes]);
    }
    const t0 = performance.now();
    const { images } = await session.run(feeds);
    draw(images);
    $("status").textContent = `${n} images in ${(performance.now() - t0).toFixed(1)} ms`;
    document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
  } catch (e) {
    $("status").textContent = `error: ${e.message || e}`;
    throw e;
  } finally {
    busy = false;
    if (pending) { pending = false; render(); }
  }
}

function draw(images) {
  const [n, c, h, w] = images.dims, px = images.data;
  const canvas = $("canvas"), ctx = canvas.getContext("2d");
  const sheet = ctx.createImageData(GRID * w, GRID * h);
  for (let b = 0; b < n; b++) {
    const ox = (b % GRID) * w, oy = Math.floor(b / GRID) * h;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const o = ((oy + y) * GRID * w + ox + x) * 4;
      for (let k = 0; k < 3; k++) {
        const ch = c === 1 ? 0 : k;
        sheet.data[o + k] = Math.round(255 * px[((b * c + ch) * h + y) * w + x]);
      }
      sheet.data[o + 3] = c === 4 ? Math.round(255 * px[((b * c + 3) * h + y) * w + x]) : 255; // RGBA runs: their alpha
    }
  }
  // draw at native size on a scratch canvas, then scale up without smoothing
  const scratch = document.createElement("canvas");
  scratch.width = GRID * w; scratch.height = GRID * h;
  scratch.getContext("2d").putImageData(sheet, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const scale = Math.min(canvas.width / scratch.width, canvas.height / scratch.height);
  ctx.drawImage(scratch, 0, 0, scratch.width * scale, scratch.height * scale);
}

async function main() {
  meta = await (await fetch(metaUrl)).json();
  session = await ort.InferenceSession.create(modelUrl, { executionProviders: ["wasm"] });
  if (meta.condition === "text") {
    if (!meta.prompts || !meta.prompts.length) throw new Error("this text run's metadata carries no prompts: export it with --prompt TEXT");
    for (const id of ["prompt-a", "prompt-b"]) {
      $(id).replaceChildren(...meta.prompts.map((p, i) => new Option(p.text, String(i))));
      $(id).onchange = () => render();
    }
    $("prompt-b").value = String(Math.min(1, meta.prompts.length - 1));
    $("prompts").hidden = false;
    $("walk").title = "a text run: walk from the first prompt toward the second";
  }
  latents();
  $("new-seed").onclick = () => { seed += 1; latents(); render(); };
  $("walk").oninput = () => render();
  await render();
}

main().catch((e) => { $("status").textContent = `error: ${e.message || e}`; console.error(e); });
