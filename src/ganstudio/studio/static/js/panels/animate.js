/* Animate: keyframes (from the favourites, the viewer or, on a run that reads text, from a prompt: the walk
   between prompts moves through the text too, each frame's caption saying how much of each), a looping preview, a rendered GIF or MP4; with a
   sound file, a render that follows it (`ganstudio animate RUN --audio`: the MP4 carries the sound). */
import { api } from "../api.js";
import { $, el, fail, toast } from "../dom.js";
import { describe, onViewerAction, textLabel } from "../pictures.js";
import { onRunChange } from "../picker.js";
import { S } from "../state.js";
import { onEnter } from "../tabs.js";

function addKey(pic) {
  if (S.keys.length >= 32) { toast("At most 32 keyframes", true); return; }
  S.keys.push(pic); renderKeys();
}
export function renderKeys() {
  $("#keys").replaceChildren(...S.keys.map((p, i) => el("div", { class: "slot", title: describe(p.latent) },
    el("img", { src: p.image, alt: `Keyframe ${i + 1}` + (textLabel(p.latent) ? `, ${textLabel(p.latent)}` : "") }),
    textLabel(p.latent) ? el("div", { class: "caption", text: textLabel(p.latent) }) : null,
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
    // each frame's text (a run that reads text): "60% an apple + 40% a rocket" between prompted keyframes
    const show = (k) => { img.src = r.frames[k]; $("#anim-frame-text").textContent = textLabel((r.latents || [])[k]); };
    show(0); img.dataset.frames = String(r.frames.length);
    previewTimer = setInterval(() => { i = (i + 1) % r.frames.length; show(i); }, 1000 / Math.max(1, +f.fps.value));
  } catch (e) { fail(e); }
}

// a render that follows a sound file: multipart, the keyframes as JSON beside the file
function startAudioRender(f, file) {
  const form = new FormData();
  form.append("run", S.run); form.append("checkpoint", S.checkpoint);
  form.append("keys", JSON.stringify(S.keys.map((k) => k.latent)));
  form.append("fps", f.fps.value); form.append("size", f.size.value); form.append("format", f.format.value);
  form.append("file", file, file.name);
  return api("/api/animations/audio", { form });
}

async function renderAnim() {
  const f = $("#anim-form");
  const audio = $("#anim-audio").files && $("#anim-audio").files[0];
  if (S.keys.length < (audio ? 1 : 2)) { toast(audio ? "Choose at least one keyframe" : "Choose at least two keyframes", true); return; }
  const dl = $("#anim-download"); dl.hidden = true;
  const bar = $("#anim-progress");
  try {
    let t = audio ? await startAudioRender(f, audio) : await api("/api/animations", { body: { run: S.run, checkpoint: S.checkpoint,
      keys: S.keys.map((k) => k.latent), frames_per_key: +f.frames.value, fps: +f.fps.value, size: +f.size.value, format: f.format.value } });
    $("#anim-status").textContent = audio ? `Rendering a walk that follows ${audio.name}…` : "Rendering…";
    if (audio) bar.removeAttribute("value"); // indeterminate: an audio-reactive render reports only its end
    while (t.status === "running") {
      if (!audio) bar.value = t.progress;
      await new Promise((res) => setTimeout(res, 300));
      t = await api(`/api/animations/${t.id}`);
    }
    bar.value = t.status === "done" ? 1 : 0;
    if (t.status === "done") {
      dl.href = t.url; dl.hidden = false; dl.textContent = `Download ${f.format.value.toUpperCase()}`;
      $("#anim-status").textContent = "Done.";
    } else $("#anim-status").textContent = `Failed: ${t.error}`;
  } catch (e) { fail(e); }
}

// a run that reads text: a keyframe drawn from a prompt (`ganstudio animate RUN --prompts ... --seed S`)
async function addTextKey(ev) {
  ev.preventDefault();
  const f = $("#anim-text-form");
  const prompt = f.key_prompt.value.trim();
  if (!prompt) { toast("Describe the keyframe first", true); return; }
  try {
    const body = { run: S.run, checkpoint: S.checkpoint, prompts: [prompt], seed: f.key_seed.value === "" ? 0 : +f.key_seed.value };
    if (f.key_negative.value.trim()) body.negative = f.key_negative.value.trim();
    const r = await api("/api/animate/keys", { body });
    addKey(r.images[0]);
    f.key_prompt.value = "";
  } catch (e) { fail(e); }
}
function showTextKeys() {
  const text = !!(S.info && S.info.reads_text);
  $("#anim-text-form").hidden = !text; $("#anim-text-note").hidden = !text;
}

export function wire() {
  onEnter("animate", loadAnimFavs);
  onViewerAction("key", (pic) => { addKey(pic); toast("Added as a keyframe (Animate)"); });
  onRunChange(({ changed }) => { showTextKeys(); if (changed) renderKeys(); }); // keyframes belong to one run's model
  $("#anim-text-form").addEventListener("submit", addTextKey);
  $("#anim-preview").addEventListener("click", previewAnim);
  $("#anim-render").addEventListener("click", renderAnim);
  $("#keys-clear").addEventListener("click", () => { S.keys = []; renderKeys(); });
}
