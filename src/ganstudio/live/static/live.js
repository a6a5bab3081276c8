// ganstudio live: frames from the WebSocket onto a full-screen canvas, and a small control panel
// (c: show/hide it; f or double-click: full screen). Messages: see ganstudio/live/server.py.
const canvas = document.getElementById("out");
const ctx = canvas.getContext("2d");
const panel = document.getElementById("panel");
const toggle = document.getElementById("toggle");
const statusLine = document.getElementById("status");
let ws = null;
let frames = 0;
let lastDrawn = -1;
let hello = null;
const sliders = new Map();

function send(control, value) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ set: { [control]: value } }));
}

function resize() {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * dpr);
  canvas.height = Math.round(canvas.clientHeight * dpr);
}

function draw(bitmap) {
  const s = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
  const w = bitmap.width * s, h = bitmap.height * s;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
}

async function onFrame(buffer) {
  const n = new DataView(buffer).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const bitmap = await createImageBitmap(new Blob([new Uint8Array(buffer, 4 + n)], { type: "image/png" }));
  if (header.frame > lastDrawn) { // decoding is async: never draw an older frame over a newer one
    lastDrawn = header.frame;
    draw(bitmap);
    frames += 1;
    document.body.dataset.frames = String(frames);
    if (!panel.hidden) showStatus(header);
  }
  bitmap.close();
}

function showStatus(h) {
  statusLine.textContent = `frame ${h.frame} · ${h.fps} fps · ${h.render_ms} ms · ${h.mode}` + (h.scene ? ` · ${h.scene}` : "");
  for (const [name, v] of Object.entries(h.values)) {
    const s = sliders.get(name);
    if (s && document.activeElement !== s.input) { s.out.value = fmt(v); }
  }
}

function fmt(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2); }

function buildPanel(msg) {
  hello = msg;
  document.getElementById("negative-row").hidden = !msg.reads_text; // "not": a run that reads text only
  const root = document.getElementById("params");
  root.replaceChildren();
  sliders.clear();
  let group = null;
  for (const p of msg.params) {
    if (p.group !== group) {
      group = p.group;
      const h = document.createElement("h2");
      h.textContent = group || "other";
      root.append(h);
    }
    const row = document.createElement("div");
    row.className = "row";
    const id = "p-" + p.name.replace(/[^a-z0-9]/g, "-");
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = p.label && p.group !== "walk" && p.group !== "look" ? `${p.name} ${p.label}` : p.name;
    label.title = p.label || p.name;
    const input = document.createElement("input");
    input.type = "range";
    input.id = id;
    input.min = p.lo; input.max = p.hi;
    input.step = p.kind === "float" ? (p.hi - p.lo) / 1000 : 1;
    input.value = p.value ?? p.default;
    const out = document.createElement("output");
    out.htmlFor = id;
    out.value = p.kind === "choice" ? p.choices[Math.round(input.value)] : fmt(Number(input.value));
    input.addEventListener("input", () => {
      const v = Number(input.value);
      out.value = p.kind === "choice" ? p.choices[Math.round(v)] : fmt(v);
      send(p.name, v);
    });
    row.append(label, input, out);
    if (msg.midi) {
      const learn = document.createElement("button");
      learn.type = "button"; learn.className = "learn"; learn.textContent = "learn";
      learn.title = `MIDI-learn: move a control, then click to bind it to ${p.name}`;
      learn.addEventListener("click", () => send("learn", p.name));
      row.append(learn);
    }
    root.append(row);
    sliders.set(p.name, { input, out });
  }
  const list = document.getElementById("scene-list");
  list.replaceChildren(...msg.scenes.map((s) => Object.assign(document.createElement("option"), { value: s })));
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${proto}//${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", (ev) => {
    if (typeof ev.data === "string") {
      const msg = JSON.parse(ev.data);
      if (msg.type === "hello") buildPanel(msg);
    } else {
      onFrame(ev.data);
    }
  });
  ws.addEventListener("open", () => { statusLine.textContent = "connected"; lastDrawn = -1; }); // a restarted show counts from 0
  ws.addEventListener("close", () => { statusLine.textContent = "disconnected; retrying…"; setTimeout(connect, 1000); });
}

function togglePanel() {
  panel.hidden = !panel.hidden;
  toggle.setAttribute("aria-expanded", String(!panel.hidden));
}

function fullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
}

let idleTimer = null;
function awake() {
  document.body.classList.remove("idle");
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => { if (panel.hidden) document.body.classList.add("idle"); }, 3000);
}

toggle.addEventListener("click", togglePanel);
canvas.addEventListener("dblclick", fullscreen);
document.addEventListener("mousemove", awake);
document.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement && e.target.type !== "range") return;
  if (e.key === "c") togglePanel();
  else if (e.key === "f") fullscreen();
});
document.getElementById("scene-load").addEventListener("click", () => send("scene", document.getElementById("scene-name").value));
document.getElementById("scene-save").addEventListener("click", () => {
  const name = document.getElementById("scene-name").value;
  send("scene/save", name);
  if (hello && name && !hello.scenes.includes(name)) {
    hello.scenes.push(name);
    document.getElementById("scene-list").append(Object.assign(document.createElement("option"), { value: name }));
  }
});
document.getElementById("attract").addEventListener("click", () => send("attract", 1));
document.getElementById("prompt").addEventListener("keydown", (e) => { if (e.key === "Enter") send("prompt", e.target.value); });
document.getElementById("negative").addEventListener("keydown", (e) => { if (e.key === "Enter") send("negative", e.target.value); });
window.addEventListener("resize", resize);
resize();
awake();
connect();
