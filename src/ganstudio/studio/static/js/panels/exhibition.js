/* Exhibition: a full-screen, endless walk between favourites. The server runs it as a live show on the
   control bus of `ganstudio live` (/api/exhibition: a hello, then frames over a WebSocket), so OSC
   (`ganstudio studio --osc-port`) and this page move the same parameters. Installation mode steers it
   with the camera: motion is measured here, on a 32x24 copy of each frame; only a walk speed and a
   direction reach the server, as live parameters. */
import { $, el, toast } from "../dom.js";
import { S } from "../state.js";

const STEER = 3; // a full steer (+-1) moves the walk this far along the first direction (dir/0)

function send(ex, values) {
  if (ex.ws.readyState === WebSocket.OPEN && Object.keys(values).length) ex.ws.send(JSON.stringify({ set: values }));
}

function caption(ex) {
  $("#exhibit-caption").textContent = `${S.run} · ` + (ex.cam ? "installation mode: move to steer" : "an endless walk between favourites")
    + (ex.osc ? ` · OSC: udp ${ex.osc} /ganstudio/<param>` : "");
}

function onText(ex, msg) {
  if (msg.type === "error") { ex.error = true; toast(msg.detail, true); return; }
  if (msg.type !== "hello") return;
  ex.params = new Map(msg.params.map((p) => [p.name, p]));
  ex.osc = msg.osc;
  caption(ex);
}

function onFrame(ex, buffer) {
  const n = new DataView(buffer).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  const url = URL.createObjectURL(new Blob([new Uint8Array(buffer, 4 + n)], { type: "image/png" }));
  $("#exhibit-img").src = url;
  if (ex.url) URL.revokeObjectURL(ex.url);
  ex.url = url;
  ex.values = header.values;
  ex.shown += 1;
  $("#exhibit-img").dataset.shown = String(ex.shown);
}

function startExhibition(camera = false) {
  if (!S.run) return;
  const box = $("#exhibit");
  box.hidden = false;
  if (box.requestFullscreen && !document.fullscreenElement) box.requestFullscreen().catch(() => {});
  const q = new URLSearchParams({ run: S.run, checkpoint: S.checkpoint });
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/exhibition?${q}`);
  const ex = S.exhibit = { ws, cam: null, osc: null, shown: 0, url: null, values: null, params: new Map(), speed: 1, steer: 0, error: false };
  $("#exhibit-img").dataset.shown = "0";
  caption(ex);
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", (m) => {
    if (S.exhibit !== ex) return;
    if (typeof m.data === "string") onText(ex, JSON.parse(m.data));
    else onFrame(ex, m.data);
  });
  ws.addEventListener("close", () => {
    if (S.exhibit === ex && !ex.error) toast("The exhibition lost its connection to the studio", true);
  });
  if (camera) startCamera(ex);
  $("#exhibit-stop").focus();
}

async function startCamera(ex) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 160, height: 120 }, audio: false });
    const video = $("#cam"); video.srcObject = stream; await video.play();
    const w = 32, h = 24;
    const canvas = el("canvas", { width: String(w), height: String(h) });
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    let prev = null;
    ex.cam = { stream, timer: setInterval(() => {
      ctx.drawImage(video, 0, 0, w, h);
      const px = ctx.getImageData(0, 0, w, h).data;
      const g = new Float32Array(w * h);
      for (let i = 0; i < w * h; i++) g[i] = (px[4 * i] + px[4 * i + 1] + px[4 * i + 2]) / 765;
      if (prev) {
        let energy = 0, cx = 0;
        for (let i = 0; i < w * h; i++) { const d = Math.abs(g[i] - prev[i]); energy += d; cx += d * (i % w); }
        const mean = energy / (w * h);
        const x = energy > 1e-6 ? cx / energy / (w - 1) : 0.5;
        ex.speed = 0.8 * ex.speed + 0.2 * Math.min(6, 1 + 40 * mean);
        ex.steer = Math.max(-1, Math.min(1, 0.8 * ex.steer + 0.2 * (2 * x - 1)));
        const speed = ex.params.get("speed"), values = {};
        if (speed) values.speed = speed.default * ex.speed; // the show's resting speed, sped up by motion
        if (ex.params.has("dir/0")) values["dir/0"] = STEER * ex.steer;
        send(ex, values);
        $("#motion-readout").textContent = `motion ${mean.toFixed(3)} · speed ${ex.speed.toFixed(2)} · steer ${ex.steer.toFixed(2)}`;
        $("#motion-readout").dataset.speed = ex.speed.toFixed(3);
      }
      prev = g;
    }, 100) };
    caption(ex);
  } catch (e) {
    toast("The camera is not available (" + e.message + "); the walk goes on by itself", true);
  }
}

function stopExhibition() {
  const ex = S.exhibit;
  if (!ex) return;
  S.exhibit = null;
  ex.ws.close();
  if (ex.url) URL.revokeObjectURL(ex.url);
  if (ex.cam) { clearInterval(ex.cam.timer); ex.cam.stream.getTracks().forEach((t) => t.stop()); }
  $("#exhibit").hidden = true;
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
}

export function wire() {
  $("#exhibit-start").addEventListener("click", () => startExhibition(false));
  $("#exhibit-camera").addEventListener("click", () => startExhibition(true));
  $("#exhibit-stop").addEventListener("click", stopExhibition);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && S.exhibit) stopExhibition(); });
  // leaving full screen (Esc, a gesture) ends the exhibition, once it has been in full screen
  document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement && S.exhibit && S.exhibit.fsWas) stopExhibition(); if (document.fullscreenElement && S.exhibit) S.exhibit.fsWas = true; });
}
