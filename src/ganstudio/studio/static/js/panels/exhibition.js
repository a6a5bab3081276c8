/* Exhibition: a full-screen, endless walk between favourites. Installation mode steers it with the
   camera: motion is measured here, on a 32x24 copy of each frame; only a speed and a direction
   reach the server. */
import { api } from "../api.js";
import { $, el, fail, toast } from "../dom.js";
import { S } from "../state.js";

function startExhibition(camera = false) {
  if (!S.run) return;
  const box = $("#exhibit");
  box.hidden = false;
  if (box.requestFullscreen && !document.fullscreenElement) box.requestFullscreen().catch(() => {});
  const ex = S.exhibit = { t: 0, dt: 0.012, speed: 1, steer: 0, frames: [], fetching: false, timer: null, cam: null, shown: 0 };
  $("#exhibit-caption").textContent = `${S.run} · an endless walk between favourites`;
  const fetchMore = async () => {
    if (ex.fetching || S.exhibit !== ex) return;
    ex.fetching = true;
    try {
      const dt = ex.dt * ex.speed;
      const r = await api("/api/walk", { body: { run: S.run, checkpoint: S.checkpoint, t0: ex.t, dt, count: 24, steer: ex.steer } });
      ex.t = (ex.t + 24 * dt) % (r.keys * 1000);
      ex.frames.push(...r.frames);
    } catch (e) { fail(e); }
    ex.fetching = false;
  };
  ex.timer = setInterval(() => {
    if (ex.frames.length) { $("#exhibit-img").src = ex.frames.shift(); ex.shown += 1; $("#exhibit-img").dataset.shown = String(ex.shown); }
    if (ex.frames.length < 12) fetchMore();
  }, 1000 / 15);
  fetchMore();
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
        $("#motion-readout").textContent = `motion ${mean.toFixed(3)} · speed ${ex.speed.toFixed(2)} · steer ${ex.steer.toFixed(2)}`;
        $("#motion-readout").dataset.speed = ex.speed.toFixed(3);
      }
      prev = g;
    }, 100) };
    $("#exhibit-caption").textContent = `${S.run} · installation mode: move to steer`;
  } catch (e) {
    toast("The camera is not available (" + e.message + "); the walk goes on by itself", true);
  }
}

function stopExhibition() {
  const ex = S.exhibit;
  if (!ex) return;
  clearInterval(ex.timer);
  if (ex.cam) { clearInterval(ex.cam.timer); ex.cam.stream.getTracks().forEach((t) => t.stop()); }
  S.exhibit = null;
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
