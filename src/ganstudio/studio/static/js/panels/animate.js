/* Animate: keyframes (from the favourites or the viewer), a looping preview, a rendered GIF or MP4. */
import { api } from "../api.js";
import { $, el, fail, toast } from "../dom.js";
import { onViewerAction } from "../pictures.js";
import { onRunChange } from "../picker.js";
import { S } from "../state.js";
import { onEnter } from "../tabs.js";

function addKey(pic) {
  if (S.keys.length >= 32) { toast("At most 32 keyframes", true); return; }
  S.keys.push(pic); renderKeys();
}
export function renderKeys() {
  $("#keys").replaceChildren(...S.keys.map((p, i) => el("div", { class: "slot" },
    el("img", { src: p.image, alt: `Keyframe ${i + 1}` }),
    el("button", { type: "button", "aria-label": `Remove keyframe ${i + 1}`, text: "×",
      onclick: () => { S.keys.splice(i, 1); renderKeys(); } }))));
  if (!S.keys.length) $("#keys").append(el("p", { class: "muted small", text: "No keyframes yet." }));
}
async function loadAnimFavs() {
  if (!S.run) return;
  try {
    const r = await api(`/api/favourites?run=${S.run}`);
    r.images = r.images.filter((p) => p.latent);
    $("#anim-favs").replaceChildren(...r.images.map((p, i) => el("div", { class: "slot" },
      el("button", { type: "button", class: "pick", "aria-label": `Add favourite ${i + 1} as a keyframe`,
        onclick: () => addKey(p) }, el("img", { src: p.image, alt: "" })))));
    if (!r.images.length) $("#anim-favs").append(el("p", { class: "muted small", text: "Like some pictures first (♥)." }));
  } catch (e) { fail(e); }
}

let previewTimer = null;
async function previewAnim() {
  if (S.keys.length < 2) { toast("Choose at least two keyframes", true); return; }
  const f = $("#anim-form");
  try {
    const r = await api("/api/animate/preview", { body: { run: S.run, checkpoint: S.checkpoint,
      keys: S.keys.map((k) => k.latent), frames_per_key: Math.min(30, +f.frames.value) } });
    const img = $("#anim-img"); img.hidden = false;
    let i = 0; clearInterval(previewTimer);
    img.src = r.frames[0]; img.dataset.frames = String(r.frames.length);
    previewTimer = setInterval(() => { i = (i + 1) % r.frames.length; img.src = r.frames[i]; }, 1000 / Math.max(1, +f.fps.value));
  } catch (e) { fail(e); }
}

async function renderAnim() {
  if (S.keys.length < 2) { toast("Choose at least two keyframes", true); return; }
  const f = $("#anim-form");
  const dl = $("#anim-download"); dl.hidden = true;
  try {
    let t = await api("/api/animations", { body: { run: S.run, checkpoint: S.checkpoint, keys: S.keys.map((k) => k.latent),
      frames_per_key: +f.frames.value, fps: +f.fps.value, size: +f.size.value, format: f.format.value } });
    $("#anim-status").textContent = "Rendering…";
    while (t.status === "running") {
      $("#anim-progress").value = t.progress;
      await new Promise((res) => setTimeout(res, 300));
      t = await api(`/api/animations/${t.id}`);
    }
    $("#anim-progress").value = t.status === "done" ? 1 : 0;
    if (t.status === "done") {
      dl.href = t.url; dl.hidden = false; dl.textContent = `Download ${f.format.value.toUpperCase()}`;
      $("#anim-status").textContent = "Done.";
    } else $("#anim-status").textContent = `Failed: ${t.error}`;
  } catch (e) { fail(e); }
}

export function wire() {
  onEnter("animate", loadAnimFavs);
  onViewerAction("key", (pic) => { addKey(pic); toast("Added as a keyframe (Animate)"); });
  onRunChange(({ changed }) => { if (changed) renderKeys(); }); // keyframes belong to one run's model
  $("#anim-preview").addEventListener("click", previewAnim);
  $("#anim-render").addEventListener("click", renderAnim);
  $("#keys-clear").addEventListener("click", () => { S.keys = []; renderKeys(); });
}
