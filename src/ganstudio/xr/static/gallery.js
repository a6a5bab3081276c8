// The gallery page: reads gallery.json, hangs the works in a round room (three.js), and offers VR, AR (hit-test
// placement) and a plain 3D view with full screen where WebXR is missing. Living paintings get their frames from
// worker.js (onnxruntime-web), apart from the render loop: a frame is asked for only when the last one arrived
// and the painting's frame interval has passed, and its texture is updated when the pixels come back.
// Everything is loaded from this folder. ?emulate=1 loads the iwer headset emulator from vendor/ (emulate.js).
// window.ganstudioGallery: the page's state and a few actions, for tests and the console.
import * as THREE from "./vendor/three/three.module.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const LIVING_FPS = 10; // frames asked of a living painting per second (at most; the worker may be slower)
const SEGMENT_S = 4; // seconds from one keyframe of a walk to the next
const EYE = 1.6;

const state = {
  ready: false, mode: "loading", xr: { vr: false, ar: false }, emulated: false, selected: null, panel: false,
  placed: null, reticle: false, firstFrameMs: null, livingFrames: 0, firstLivingFrameMs: null, livingError: null,
  errors: [], works: [], livingInferMs: [],
};
const api = { state };
window.ganstudioGallery = api;

function fail(e) {
  const msg = e && e.message ? e.message : String(e);
  state.errors.push(msg);
  $("status").textContent = `error: ${msg}`;
  console.error(e);
}

// ---- the scene ---------------------------------------------------------------------------------------------------
const renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true });
renderer.setPixelRatio(Math.min(devicePixelRatio, 2));
renderer.setSize(innerWidth, innerHeight);
renderer.xr.enabled = true;
renderer.xr.setReferenceSpaceType("local-floor");
document.body.prepend(renderer.domElement);
const scene = new THREE.Scene();
const roomColour = new THREE.Color(0x1d1a16);
scene.background = roomColour;
const camera = new THREE.PerspectiveCamera(70, innerWidth / innerHeight, 0.05, 100);
camera.position.set(0, EYE, 0);
scene.add(new THREE.HemisphereLight(0xfff6e8, 0x403830, 2.2));
const room = new THREE.Group(); // hidden in AR: there the real room is the gallery
scene.add(room);
const pickable = []; // meshes a ray or a click can select; mesh.userData.pick = {kind, id, ...}

function textTexture(lines, width = 1024, height = 160, size = 34) {
  const c = document.createElement("canvas");
  c.width = width; c.height = height;
  const g = c.getContext("2d");
  g.fillStyle = "#f3efe6"; g.fillRect(0, 0, width, height);
  g.fillStyle = "#222";
  g.font = `${size}px system-ui, sans-serif`;
  g.textBaseline = "top";
  lines.forEach((l, i) => g.fillText(l, 24, 20 + i * size * 1.3, width - 48));
  const t = new THREE.CanvasTexture(c);
  t.colorSpace = THREE.SRGBColorSpace;
  return t;
}

function pictureTexture(url) {
  return new Promise((resolve, reject) => {
    new THREE.TextureLoader().load(url, (t) => {
      t.magFilter = THREE.NearestFilter; // a GAN's 28-64 px pictures, shown as crisp pixels
      t.colorSpace = THREE.SRGBColorSpace;
      resolve(t);
    }, undefined, () => reject(new Error(`cannot load ${url}`)));
  });
}

function frameMesh(w, h, colour) {
  const m = new THREE.Mesh(new THREE.BoxGeometry(w + 0.12, h + 0.12, 0.05), new THREE.MeshLambertMaterial({ color: colour }));
  m.position.z = -0.03;
  return m;
}

// A framed picture with its caption below; the group's +Z faces the viewer.
// A long caption on two lines, split between its " · " parts where the longer line is shortest: large enough
// to read from 2 m.
function captionLines(text) {
  const parts = text.split(" · ");
  if (text.length <= 40 || parts.length < 2) return [text];
  let best = null;
  for (let k = 1; k < parts.length; k++) {
    const lines = [parts.slice(0, k).join(" · "), parts.slice(k).join(" · ")];
    if (!best || Math.max(...lines.map((l) => l.length)) < Math.max(...best.map((l) => l.length))) best = lines;
  }
  return best;
}

function framed(texture, size, caption, pick, colour = 0x3b2a1c) {
  const g = new THREE.Group();
  g.add(frameMesh(size, size, colour));
  // transparent: RGBA runs (cut-out pictures) show the frame's backing through their alpha
  const pic = new THREE.Mesh(new THREE.PlaneGeometry(size, size), new THREE.MeshBasicMaterial({ map: texture, transparent: true }));
  pic.userData.pick = pick;
  pickable.push(pic);
  g.add(pic);
  const lines = caption.flatMap(captionLines);
  const cap = new THREE.Mesh(new THREE.PlaneGeometry(size, size * 0.2), new THREE.MeshBasicMaterial({ map: textTexture(lines, 1024, 200, 52) }));
  cap.position.y = -size / 2 - size * 0.16;
  cap.userData.pick = pick;
  pickable.push(cap);
  g.add(cap);
  return g;
}

function buildRoom(radius) {
  const floor = new THREE.Mesh(new THREE.CircleGeometry(radius + 1, 48), new THREE.MeshLambertMaterial({ color: 0x4a4038 }));
  floor.rotation.x = -Math.PI / 2;
  room.add(floor);
  const wall = new THREE.Mesh(
    new THREE.CylinderGeometry(radius + 0.3, radius + 0.3, 4, 48, 1, true),
    new THREE.MeshLambertMaterial({ color: 0xd9d2c5, side: THREE.BackSide }),
  );
  wall.position.y = 2;
  room.add(wall);
}

// ---- works -------------------------------------------------------------------------------------------------------
const works = new Map(); // id -> {entry, run, group, texture}
const living = []; // {run, texture, data, group, inflight, last, start, key}

async function hang(manifest) {
  const items = [];
  for (const run of manifest.runs) {
    if (run.living) items.push({ kind: "living", run });
    for (const w of run.works) items.push({ kind: "work", run, w });
  }
  const n = items.length;
  const radius = Math.max(3, (n * 1.25) / (2 * Math.PI));
  buildRoom(radius);
  const textures = await Promise.all(items.map((it) => pictureTexture(it.kind === "living" ? it.run.living.poster : it.w.image)));
  items.forEach((it, i) => {
    const a = (i / n) * 2 * Math.PI;
    let g;
    if (it.kind === "living") {
      const L = it.run.living;
      const [c, h, w] = L.image_shape;
      const data = new Uint8Array(w * h * 4);
      const tex = new THREE.DataTexture(data, w, h, THREE.RGBAFormat);
      tex.magFilter = THREE.NearestFilter;
      tex.colorSpace = THREE.SRGBColorSpace;
      g = framed(textures[i], 1.2, [L.caption], { kind: "living", id: `living:${it.run.key}` }, 0x8a6a2a);
      living.push({ run: it.run, texture: tex, data, mesh: g.children[1], poster: textures[i], inflight: false, last: 0, key: it.run.key, channels: c });
    } else {
      g = framed(textures[i], 0.9, [it.w.caption], { kind: "work", id: it.w.id });
      works.set(it.w.id, { entry: it.w, run: it.run, group: g, texture: textures[i] });
    }
    g.position.set(Math.sin(a) * radius, EYE, -Math.cos(a) * radius);
    g.lookAt(0, EYE, 0);
    room.add(g);
  });
  state.works = [...works.keys()];
}

// where a work is on the screen, in CSS pixels (null when behind the camera): for tests of the plain 3D view
api.screenPositionOf = (id) => {
  const p = api.worldPositionOf(id);
  if (!p) return null;
  const v = new THREE.Vector3(p.x, p.y, p.z).project(camera);
  return v.z > 1 ? null : { x: ((v.x + 1) / 2) * innerWidth, y: ((1 - v.y) / 2) * innerHeight };
};
api.lookAt = (id) => {
  const p = api.worldPositionOf(id);
  yaw = Math.atan2(-(p.x - camera.position.x), -(p.z - camera.position.z));
  pitch = 0;
  walk(0);
  camera.updateMatrixWorld();
};

api.worldPositionOf = (id) => {
  const w = works.get(id);
  if (!w) return null;
  const p = new THREE.Vector3();
  w.group.children[1].getWorldPosition(p);
  return { x: p.x, y: p.y, z: p.z };
};

// ---- the details panel: a DOM aside, and the same in 3D for headsets -----------------------------------------------
const panel3d = new THREE.Group();
panel3d.visible = false;
scene.add(panel3d);

function clearPanel3d() {
  for (const c of [...panel3d.children]) {
    panel3d.remove(c);
    const i = pickable.indexOf(c);
    if (i >= 0) pickable.splice(i, 1);
  }
}

async function openPanel(id) {
  const w = works.get(id);
  if (!w) return;
  const e = w.entry;
  state.selected = id;
  state.panel = true;
  document.body.dataset.selected = id;
  $("panel-title").textContent = e.caption;
  $("panel-image").src = e.image;
  $("panel-image").alt = `work ${e.id}`;
  const dl = $("panel-details");
  dl.replaceChildren();
  for (const [k, v] of e.details) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
  const vars = $("panel-variations");
  vars.replaceChildren(...e.variations.map((v) => {
    const im = document.createElement("img");
    im.src = v.image; im.alt = `variation ${v.id}`; im.title = `latent ${v.id}`;
    return im;
  }));
  $("panel-latent").href = e.latent;
  $("panel").hidden = renderer.xr.isPresenting; // in a headset the 3D panel shows it
  // the 3D panel: details on a card, the variations beside it, in front of the work
  clearPanel3d();
  const lines = [e.caption, ...e.details.map(([k, v]) => `${k}: ${v}`)];
  const card = new THREE.Mesh(new THREE.PlaneGeometry(0.9, 0.9 * (60 + lines.length * 40) / 1024), new THREE.MeshBasicMaterial({ map: textTexture(lines, 1024, 60 + lines.length * 40, 30) }));
  card.userData.pick = { kind: "close" };
  pickable.push(card);
  panel3d.add(card);
  const textures = await Promise.all(e.variations.map((v) => pictureTexture(v.image)));
  textures.forEach((t, j) => {
    const m = new THREE.Mesh(new THREE.PlaneGeometry(0.2, 0.2), new THREE.MeshBasicMaterial({ map: t }));
    m.position.set(-0.35 + j * 0.235, 0.35, 0);
    m.userData.pick = { kind: "variation", id: e.variations[j].id };
    panel3d.add(m);
  });
  const p = new THREE.Vector3();
  w.group.getWorldPosition(p);
  const toCentre = new THREE.Vector3(-p.x, 0, -p.z).normalize();
  panel3d.position.copy(p).addScaledVector(toCentre, 0.6);
  panel3d.position.y = EYE - 0.15;
  panel3d.lookAt(0, EYE - 0.15, 0);
  panel3d.visible = true;
  document.body.dataset.panel = "open";
}

function closePanel() {
  state.selected = null;
  state.panel = false;
  panel3d.visible = false;
  $("panel").hidden = true;
  delete document.body.dataset.selected;
  document.body.dataset.panel = "closed";
}
api.select = openPanel;
$("panel-close").onclick = closePanel;

function pick(raycaster) {
  const hit = raycaster.intersectObjects(pickable.filter((m) => m.visible && m.parent && (m.parent.visible !== false)), false)
    .find((h) => isShown(h.object));
  return hit ? hit.object.userData.pick : null;
}
function isShown(o) {
  for (; o; o = o.parent) if (!o.visible) return false;
  return true;
}
function act(p) {
  if (!p) return;
  if (p.kind === "work") openPanel(p.id);
  else if (p.kind === "close") closePanel();
}

// ---- living paintings: frames from the worker ------------------------------------------------------------------------
let worker = null;

function slerp(a, b, t) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  const om = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
  const s = Math.sin(om);
  const wa = s < 1e-6 ? 1 - t : Math.sin((1 - t) * om) / s, wb = s < 1e-6 ? t : Math.sin(t * om) / s;
  return Float32Array.from(a, (v, i) => wa * v + wb * b[i]);
}

function walkAt(L, seconds) {
  const K = L.keyframes.length, u = (seconds / SEGMENT_S) % K, k = Math.floor(u), t = u - k;
  const e = t * t * (3 - 2 * t); // smoothstep: the walk rests a moment on each work
  const z = K > 1 ? slerp(L.keyframes[k], L.keyframes[(k + 1) % K], e) : Float32Array.from(L.keyframes[0]);
  let y = null;
  if (L.classes && L.condition === "text") y = K > 1 ? slerp(L.classes[k], L.classes[(k + 1) % K], e) : Float32Array.from(L.classes[0]); // prompt embeddings: slerp, as the creative walks
  else if (L.classes) y = Float32Array.from(L.classes[k], (v, i) => (1 - e) * v + e * L.classes[(k + 1) % K][i]);
  return { z, y };
}

function askFrame(p) {
  if (p.inflight || !worker) return;
  const wait = 1000 / LIVING_FPS - (performance.now() - p.last);
  if (wait > 0) { setTimeout(() => askFrame(p), wait); return; }
  p.inflight = true;
  p.last = performance.now();
  const { z, y } = walkAt(p.run.living, (p.last - p.start) / 1000);
  worker.postMessage({ type: "frame", key: p.key, z, y }, [z.buffer]);
}

function startLiving() {
  if (!living.length) return;
  try {
    worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  } catch (e) { state.livingError = String(e); return; }
  worker.onerror = (e) => { state.livingError = e.message || "worker error"; };
  worker.onmessage = (ev) => {
    const m = ev.data;
    const p = living.find((q) => q.key === m.key);
    if (m.type === "error") { state.livingError = m.message; console.warn("living painting:", m.message); return; }
    if (!p) return;
    if (m.type === "ready") { p.start = performance.now(); askFrame(p); return; }
    if (m.type === "frame") {
      p.data.set(new Uint8Array(m.rgba));
      p.texture.needsUpdate = true; // uploaded by the next rendered frame, whenever that is
      if (p.mesh.material.map !== p.texture) { p.mesh.material.map = p.texture; p.mesh.material.needsUpdate = true; }
      p.inflight = false;
      state.livingFrames += 1;
      state.livingInferMs.push(m.ms);
      if (state.livingInferMs.length > 100) state.livingInferMs.shift();
      if (state.firstLivingFrameMs === null) state.firstLivingFrameMs = performance.now();
      document.body.dataset.livingFrames = String(state.livingFrames);
      askFrame(p);
    }
  };
  for (const p of living) {
    const L = p.run.living;
    worker.postMessage({ type: "load", key: p.key, model: new URL(L.model, location.href).href, inputs: L.inputs || (L.num_classes ? ["z", "y"] : ["z"]) });
  }
}

// ---- XR: controllers, VR and AR ---------------------------------------------------------------------------------------
const raycaster = new THREE.Raycaster();
const tmpMatrix = new THREE.Matrix4();
const controllers = [0, 1].map((i) => {
  const c = renderer.xr.getController(i);
  const ray = new THREE.Line(new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(0, 0, 0), new THREE.Vector3(0, 0, -5)]), new THREE.LineBasicMaterial({ color: 0xffcc66 }));
  c.add(ray);
  c.addEventListener("select", () => onSelect(c));
  scene.add(c);
  return c;
});

function rayFrom(obj) {
  tmpMatrix.identity().extractRotation(obj.matrixWorld);
  raycaster.ray.origin.setFromMatrixPosition(obj.matrixWorld);
  raycaster.ray.direction.set(0, 0, -1).applyMatrix4(tmpMatrix);
}

// what each controller's ray points at now (tests wait for it before they pull the trigger)
api.pointedAt = () => controllers.map((c) => { rayFrom(c); return pick(raycaster); });

function onSelect(c) {
  if (state.mode === "ar") { placeAtReticle(); return; }
  rayFrom(c);
  const p = pick(raycaster);
  const { origin: o, direction: d } = raycaster.ray;
  state.lastRay = { origin: [o.x, o.y, o.z], direction: [d.x, d.y, d.z], hit: p };
  act(p);
}

// AR: a reticle follows the hit-test; select hangs the chosen work there (on a wall) or stands it up (on a floor).
const reticle = new THREE.Mesh(new THREE.RingGeometry(0.07, 0.1, 32).rotateX(-Math.PI / 2), new THREE.MeshBasicMaterial({ color: 0xffffff }));
reticle.matrixAutoUpdate = false;
reticle.visible = false;
scene.add(reticle);
let hitSource = null;
let arWork = null;

function placeAtReticle() {
  if (!reticle.visible || !arWork) return;
  const pos = new THREE.Vector3(), q = new THREE.Quaternion(), s = new THREE.Vector3();
  reticle.matrix.decompose(pos, q, s);
  const normal = new THREE.Vector3(0, 1, 0).applyQuaternion(q); // a hit pose's Y axis is the surface normal
  const g = arWork.group;
  const surface = Math.abs(normal.y) > 0.7 ? "floor" : "wall";
  g.position.copy(pos);
  if (surface === "wall") {
    g.lookAt(pos.clone().add(normal)); // flat against the wall, facing out of it
  } else {
    const cam = renderer.xr.getCamera().getWorldPosition(new THREE.Vector3());
    g.position.y += 0.6; // stood up on the floor or a table, facing the viewer
    g.lookAt(cam.x, g.position.y, cam.z);
  }
  g.visible = true;
  state.placed = { id: arWork.entry.id, surface, position: { x: pos.x, y: pos.y, z: pos.z } };
  document.body.dataset.placed = arWork.entry.id;
}

async function enter(mode) {
  const init = mode === "immersive-ar"
    ? { requiredFeatures: ["hit-test"], optionalFeatures: ["local-floor", "dom-overlay"], domOverlay: { root: $("hud") } }
    : { optionalFeatures: ["local-floor", "bounded-floor"] };
  const session = await navigator.xr.requestSession(mode, init);
  await renderer.xr.setSession(session);
  state.mode = mode === "immersive-ar" ? "ar" : "vr";
  document.body.dataset.mode = state.mode;
  showButtons(true);
  $("panel").hidden = true;
  if (state.mode === "ar") {
    room.visible = false;
    scene.background = null;
    const first = works.get(state.selected) || works.values().next().value;
    arWork = first ? { entry: first.entry, group: framed(first.texture, 0.5, [first.entry.caption], { kind: "work", id: first.entry.id }) } : null;
    if (arWork) { arWork.group.visible = false; scene.add(arWork.group); }
    const viewer = await session.requestReferenceSpace("viewer");
    hitSource = await session.requestHitTestSource({ space: viewer });
    $("status").textContent = "AR: point at a wall or the floor, then select to place the work";
  } else {
    $("status").textContent = "VR: point a controller at a work and pull the trigger";
  }
  session.addEventListener("end", () => {
    showButtons(false);
    state.mode = "3d";
    document.body.dataset.mode = "3d";
    room.visible = true;
    scene.background = roomColour;
    reticle.visible = false;
    state.reticle = false;
    if (hitSource) { hitSource.cancel(); hitSource = null; }
    if (arWork) { scene.remove(arWork.group); arWork = null; }
    $("status").textContent = "";
  });
  return state.mode;
}
// in a session (AR's DOM overlay shows the HUD) only Exit; outside it, the modes this browser offers
function showButtons(presenting) {
  $("enter-vr").hidden = presenting || !state.xr.vr;
  $("enter-ar").hidden = presenting || !state.xr.ar;
  $("exit-xr").hidden = !presenting;
}
$("exit-xr").onclick = () => renderer.xr.getSession()?.end();
api.enterVR = () => enter("immersive-vr");
api.enterAR = () => enter("immersive-ar");
api.exit = () => renderer.xr.getSession()?.end();
$("enter-vr").onclick = () => enter("immersive-vr").catch(fail);
$("enter-ar").onclick = () => enter("immersive-ar").catch(fail);

// ---- the plain 3D view: drag to look, arrows/WASD to walk, click a work, full screen ----------------------------------
let yaw = 0, pitch = 0, dragging = null;
const keys = new Set();
renderer.domElement.addEventListener("pointerdown", (e) => { dragging = { x: e.clientX, y: e.clientY, moved: 0 }; });
addEventListener("pointermove", (e) => {
  if (!dragging) return;
  const dx = e.clientX - dragging.x, dy = e.clientY - dragging.y;
  dragging.moved += Math.abs(dx) + Math.abs(dy);
  dragging.x = e.clientX; dragging.y = e.clientY;
  yaw -= dx * 0.005; pitch = Math.max(-1.2, Math.min(1.2, pitch - dy * 0.005));
});
addEventListener("pointerup", (e) => {
  if (dragging && dragging.moved < 6 && e.target === renderer.domElement) {
    const ndc = new THREE.Vector2((e.clientX / innerWidth) * 2 - 1, -(e.clientY / innerHeight) * 2 + 1);
    raycaster.setFromCamera(ndc, camera);
    act(pick(raycaster));
  }
  dragging = null;
});
addEventListener("keydown", (e) => {
  if (e.key === "f" || e.key === "F") fullscreen();
  else if (e.key === "Escape") closePanel();
  else keys.add(e.key.toLowerCase());
});
addEventListener("keyup", (e) => keys.delete(e.key.toLowerCase()));
function fullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen?.().catch(() => {});
}
$("fullscreen").onclick = fullscreen;
addEventListener("resize", () => {
  camera.aspect = innerWidth / innerHeight;
  camera.updateProjectionMatrix();
  renderer.setSize(innerWidth, innerHeight);
});

function walk(dt) {
  const f = (keys.has("arrowup") || keys.has("w") ? 1 : 0) - (keys.has("arrowdown") || keys.has("s") ? 1 : 0);
  const r = (keys.has("arrowright") || keys.has("d") ? 1 : 0) - (keys.has("arrowleft") || keys.has("a") ? 1 : 0);
  camera.position.x += (-Math.sin(yaw) * f + Math.cos(yaw) * r) * dt * 1.5;
  camera.position.z += (-Math.cos(yaw) * f - Math.sin(yaw) * r) * dt * 1.5;
  camera.rotation.set(pitch, yaw, 0, "YXZ");
}

// ---- the render loop (the same in and out of a headset) ----------------------------------------------------------------
let lastT = performance.now();
function tick(t, frame) {
  const dt = Math.min(0.1, (t - lastT) / 1000);
  lastT = t;
  if (!renderer.xr.isPresenting) walk(dt);
  if (frame && hitSource) {
    const hits = frame.getHitTestResults(hitSource);
    const pose = hits.length ? hits[0].getPose(renderer.xr.getReferenceSpace()) : null;
    reticle.visible = !!pose;
    state.reticle = !!pose;
    if (pose) reticle.matrix.fromArray(pose.transform.matrix);
  }
  renderer.render(scene, camera);
  if (state.firstFrameMs === null) {
    state.firstFrameMs = performance.now(); // since navigation start: manifest, all pictures, first draw
    document.body.dataset.firstFrameMs = state.firstFrameMs.toFixed(1);
  }
}

async function main() {
  if (params.get("emulate") === "1") {
    const emu = await import("./emulate.js");
    api.device = emu.install();
    state.emulated = true;
  }
  const res = await fetch("gallery.json");
  if (!res.ok) throw new Error(`gallery.json: HTTP ${res.status}`);
  const manifest = await res.json();
  $("title").textContent = manifest.title;
  document.title = manifest.title;
  await hang(manifest);
  if (navigator.xr) {
    state.xr.vr = await navigator.xr.isSessionSupported("immersive-vr").catch(() => false);
    state.xr.ar = await navigator.xr.isSessionSupported("immersive-ar").catch(() => false);
  }
  showButtons(false);
  state.mode = "3d";
  document.body.dataset.mode = "3d";
  $("hint").textContent = (state.xr.vr || state.xr.ar ? "" : "WebXR is not available here (it needs a headset browser and https or localhost): ")
    + "drag to look, arrows or WASD to walk, click a work for its details, F for full screen.";
  $("status").textContent = `${works.size} works, ${living.length} living`;
  renderer.setAnimationLoop(tick);
  startLiving();
  state.ready = true;
  document.body.dataset.ready = "1";
}

main().catch(fail);
