/* Sketch (pix2pix runs): a drawing canvas; the drawing goes to /api/translate as PNG while you draw
   (throttled, newest answer wins). */
import { api } from "../api.js";
import { $, fail, saveBlob, toast } from "../dom.js";
import { onRunChange } from "../picker.js";
import { S } from "../state.js";
import { onEnter } from "../tabs.js";

export const SK = { tool: "pen", undo: [], drawing: false, last: null, timer: null, seq: 0, shown: -1, result: null };
const THROTTLE_MS = 150;
const MAX_UNDO = 30;

function sketchCtx() { return $("#sketch-canvas").getContext("2d"); }

function clearCanvas() {
  const c = $("#sketch-canvas"), ctx = sketchCtx();
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
}

export async function enterSketch() {
  if (!S.run || !(S.info && S.info.sketch) || S.sketch) return;
  try {
    const info = await api(`/api/runs/${S.run}/translator?checkpoint=${S.checkpoint}`);
    S.sketch = info;
    const c = $("#sketch-canvas");
    const width = Math.max(1, Math.round(info.line_width * c.width / info.resolution));
    $("#sketch-size").value = String(width); $("#sketch-size-out").textContent = String(width);
    $("#sketch-hint").textContent = `${info.input_kind} model at ${info.resolution} px; it was trained on ${info.line_width} px lines, ` +
      `so the brush starts at ${width} px on this ${c.width} px canvas.`;
  } catch (e) { fail(e); $("#sketch-hint").textContent = e.message; }
}

function canvasPoint(ev) {
  const c = $("#sketch-canvas"), r = c.getBoundingClientRect();
  return [(ev.clientX - r.left) * c.width / r.width, (ev.clientY - r.top) * c.height / r.height];
}

function strokeTo(p) {
  const ctx = sketchCtx();
  ctx.strokeStyle = SK.tool === "pen" ? "#000" : "#fff";
  ctx.fillStyle = ctx.strokeStyle;
  ctx.lineWidth = +$("#sketch-size").value; ctx.lineCap = "round"; ctx.lineJoin = "round";
  const [x0, y0] = SK.last || p;
  ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(p[0], p[1]); ctx.stroke();
  SK.last = p;
}

function pushUndo() {
  const c = $("#sketch-canvas");
  SK.undo.push(sketchCtx().getImageData(0, 0, c.width, c.height));
  if (SK.undo.length > MAX_UNDO) SK.undo.shift();
}

function scheduleTranslate(now = false) {
  if (now) { clearTimeout(SK.timer); SK.timer = null; translateSketch(); return; }
  if (!SK.timer) SK.timer = setTimeout(() => { SK.timer = null; translateSketch(); }, THROTTLE_MS);
}

async function translateSketch() {
  if (!S.run || !(S.info && S.info.sketch)) return;
  const seq = ++SK.seq;
  const t = performance.now();
  try {
    const r = await api("/api/translate", { body: { run: S.run, checkpoint: S.checkpoint, image: $("#sketch-canvas").toDataURL("image/png"), seq } });
    if (r.seq <= SK.shown) return; // a newer answer is already shown
    SK.shown = r.seq;
    SK.result = { id: r.id, run: r.run, image: r.image, latent: null, rating: 0, kind: "translate" };
    const img = $("#sketch-out"); img.src = r.image; img.dataset.seq = String(r.seq);
    $("#sketch-caption").textContent = "The model's painting";
    $("#sketch-ms").textContent = `${Math.round(performance.now() - t)} ms`;
    for (const b of ["#sketch-like", "#sketch-dislike", "#sketch-download"]) $(b).disabled = false;
  } catch (e) { fail(e); }
}

function setTool(tool) {
  SK.tool = tool;
  $("#sketch-pen").setAttribute("aria-pressed", tool === "pen" ? "true" : "false");
  $("#sketch-eraser").setAttribute("aria-pressed", tool === "eraser" ? "true" : "false");
}

async function loadDrawing(file) {
  if (!file) return;
  if (file.size > 25 * 2 ** 20) { toast("That drawing is larger than 25 MB", true); return; } // the server's limit
  try {
    const bmp = await createImageBitmap(file);
    const c = $("#sketch-canvas"), ctx = sketchCtx();
    pushUndo(); clearCanvas();
    const s = Math.min(c.width / bmp.width, c.height / bmp.height);
    const w = bmp.width * s, h = bmp.height * s;
    ctx.drawImage(bmp, (c.width - w) / 2, (c.height - h) / 2, w, h);
    bmp.close();
    scheduleTranslate(true);
  } catch (e) { toast("That file is not a picture this browser can read", true); }
}

export function wire() {
  onEnter("sketch", enterSketch);
  // a newly picked pix2pix run while the Sketch panel stays open: load what it expects
  onRunChange(({ changed, sketch, tab, switched }) => { if (changed && sketch && tab === "sketch" && !switched) enterSketch(); });
  const c = $("#sketch-canvas");
  clearCanvas();
  c.addEventListener("pointerdown", (ev) => {
    ev.preventDefault(); c.setPointerCapture(ev.pointerId);
    pushUndo(); SK.drawing = true; SK.last = null; strokeTo(canvasPoint(ev)); scheduleTranslate();
  });
  c.addEventListener("pointermove", (ev) => { if (SK.drawing) { strokeTo(canvasPoint(ev)); scheduleTranslate(); } });
  const end = () => { if (SK.drawing) { SK.drawing = false; SK.last = null; scheduleTranslate(true); } };
  c.addEventListener("pointerup", end); c.addEventListener("pointercancel", end);
  $("#sketch-pen").addEventListener("click", () => setTool("pen"));
  $("#sketch-eraser").addEventListener("click", () => setTool("eraser"));
  $("#sketch-size").addEventListener("input", (e) => { $("#sketch-size-out").textContent = e.target.value; });
  $("#sketch-undo").addEventListener("click", () => {
    const prev = SK.undo.pop(); if (!prev) return;
    sketchCtx().putImageData(prev, 0, 0); scheduleTranslate(true);
  });
  $("#sketch-clear").addEventListener("click", () => { pushUndo(); clearCanvas(); scheduleTranslate(true); });
  $("#sketch-file").addEventListener("change", (e) => loadDrawing(e.target.files[0]));
  const rateSketch = async (v) => {
    if (!SK.result) return;
    try {
      const r = await api("/api/rate", { body: { run: SK.result.run, id: SK.result.id, value: v } });
      SK.result.rating = r.rating; toast(v === 1 ? "Added to favourites" : "Disliked");
    } catch (e) { fail(e); }
  };
  $("#sketch-like").addEventListener("click", () => rateSketch(1));
  $("#sketch-dislike").addEventListener("click", () => rateSketch(-1));
  $("#sketch-download").addEventListener("click", async () => {
    if (SK.result) saveBlob(await (await fetch(SK.result.image)).blob(), `${SK.result.run}-${SK.result.id}.png`);
  });
}
