// Living paintings' frames, off the page's thread: onnxruntime-web (WebAssembly, from vendor/ort in this folder)
// runs each run's exported generator. Messages in: {type: "load", key, model, inputs}, {type: "frame", key, z, y};
// out: {type: "ready", key}, {type: "frame", key, rgba (ArrayBuffer, rows bottom-up for a WebGL texture), width,
// height, ms: the generator's time}, {type: "error", key, message}. The generator's output: images (1, C, H, W) in [0, 1].
import * as ort from "./vendor/ort/ort.bundle.js";

// only the .wasm's address: a prefix would make onnxruntime import its glue (.mjs) too, which this bundle carries
ort.env.wasm.wasmPaths = { wasm: new URL("./vendor/ort/ort-wasm-simd-threaded.wasm", import.meta.url).href };
ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain static server does not give
const sessions = new Map();

async function load(m) {
  const session = await ort.InferenceSession.create(m.model, { executionProviders: ["wasm"] });
  sessions.set(m.key, { session, inputs: m.inputs });
  postMessage({ type: "ready", key: m.key });
}

async function frame(m) {
  const s = sessions.get(m.key);
  const feeds = { z: new ort.Tensor("float32", m.z, [1, m.z.length]) };
  if (s.inputs.includes("y")) feeds.y = new ort.Tensor("float32", m.y, [1, m.y.length]);
  const t0 = performance.now();
  const { images } = await s.session.run(feeds);
  const ms = performance.now() - t0; // the generator alone, for the benchmark
  const [, c, h, w] = images.dims;
  const px = images.data, rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = ((h - 1 - y) * w + x) * 4; // WebGL's first texture row is the bottom one
      for (let k = 0; k < 3; k++) rgba[o + k] = Math.round(255 * px[(c === 1 ? 0 : k) * h * w + y * w + x]);
      rgba[o + 3] = c === 4 ? Math.round(255 * px[3 * h * w + y * w + x]) : 255;
    }
  }
  postMessage({ type: "frame", key: m.key, rgba: rgba.buffer, width: w, height: h, ms }, [rgba.buffer]);
}

onmessage = (e) => {
  const m = e.data;
  (m.type === "load" ? load(m) : frame(m)).catch((err) =>
    postMessage({ type: "error", key: m.key, message: String(err && err.message ? err.message : err) }),
  );
};
