/* Sound (sound runs): players for generated notes, the instrument (a seed, or a morph between two seeds),
   a keyboard of the run's pitches, and MIDI files played through the instrument. A note's URL is its
   recipe (/api/sound/note.wav?run&seed&blend&mix&pitch&velocity): an <audio> element's src renders it. */
import { api } from "../api.js";
import { $, el, fail } from "../dom.js";
import { onRunChange } from "../picker.js";
import { S } from "../state.js";
import { onEnter } from "../tabs.js";

export const SND = { info: null, key: null, loadedFor: null, morphTimer: null };

export function noteUrl(q) {
  const p = new URLSearchParams({ run: S.run, checkpoint: S.checkpoint });
  for (const [k, v] of Object.entries(q)) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  return `/api/sound/note.wav?${p}`;
}

function instrument() {
  const f = $("#instrument-form");
  const q = { seed: +f.a.value || 0, velocity: +f.velocity.value };
  if (f.b.value !== "" && +f.mix.value > 0) { q.blend = +f.b.value; q.mix = +f.mix.value; }
  return q;
}
const pitched = () => !!(SND.info && SND.info.pitches.length);

// the key last played (a pitch, or a class for sound runs not conditioned on pitch), as a query
function keyQuery() {
  if (SND.key === null) return {}; // the server plays the middle pitch, or the note as drawn
  return pitched() ? { pitch: SND.key } : { class: SND.key };
}
function keyName() {
  if (!SND.info) return "";
  if (SND.key === null) return pitched() ? SND.info.pitch_names[Math.floor(SND.info.pitches.length / 2)] : "as drawn";
  return pitched() ? SND.info.pitch_names[SND.info.pitches.indexOf(SND.key)] : SND.info.classes[SND.key];
}

function playNote(autoplay = true) {
  const q = { ...instrument(), ...keyQuery() };
  const a = $("#sound-morph");
  a.src = noteUrl(q);
  a.dataset.pitch = q.pitch !== undefined ? String(q.pitch) : "";
  const f = $("#instrument-form");
  $("#sound-now").textContent = `${keyName()} · instrument ${q.seed}` + (q.blend !== undefined ? ` → ${q.blend} at ${(+f.mix.value).toFixed(2)}` : "");
  if (autoplay) a.play().catch(() => {}); // no sound device, or autoplay refused: the player still holds the note
}

function renderKeyboard() {
  const kb = $("#keyboard");
  const info = SND.info;
  if (!info) { kb.replaceChildren(); return; }
  const keys = pitched()
    ? info.pitches.map((p, i) => ({ value: p, name: info.pitch_names[i], black: info.pitch_names[i].includes("#") }))
    : info.classes.map((c, i) => ({ value: i, name: c, black: false }));
  kb.replaceChildren(...keys.map((k) => el("button", {
    type: "button", class: "key" + (k.black ? " black" : "") + (pitched() ? "" : " class-key"),
    "data-value": String(k.value), "aria-pressed": String(SND.key === k.value),
    "aria-label": pitched() ? `Play ${k.name}` : `Play class ${k.name}`, text: k.name,
    onclick: (ev) => {
      SND.key = k.value;
      for (const b of kb.querySelectorAll(".key")) b.setAttribute("aria-pressed", String(b === ev.currentTarget));
      playNote();
    },
  })));
  if (!keys.length) kb.append(el("p", { class: "muted small", text: "This run is not conditioned on pitch or class: the player plays the instrument as drawn." }));
}

async function loadInfo() {
  if (!S.run || !(S.info && S.info.sound)) return;
  const key = `${S.run}@${S.checkpoint}`;
  if (SND.loadedFor === key) return;
  try {
    SND.info = await api(`/api/sound?run=${encodeURIComponent(S.run)}&checkpoint=${encodeURIComponent(S.checkpoint)}`);
    SND.loadedFor = key; SND.key = null;
    const f = $("#sound-form");
    $("#sound-pitch-label").hidden = !pitched();
    f.pitch.replaceChildren(...SND.info.pitches.map((p, i) => el("option", { value: String(p), text: SND.info.pitch_names[i] })));
    if (pitched()) f.pitch.value = String(SND.info.pitches[Math.floor(SND.info.pitches.length / 2)]);
    renderKeyboard();
    playNote(false);
    await generateNotes();
  } catch (e) { fail(e); }
}

export async function generateNotes(ev) {
  if (ev) ev.preventDefault();
  if (!SND.info) return;
  const f = $("#sound-form");
  const first = +f.seed.value || 0;
  const pitch = pitched() ? +f.pitch.value : null;
  const cards = [];
  for (let i = 0; i < +f.n.value; i++) {
    const seed = first + i;
    const label = `Seed ${seed}` + (pitch !== null ? ` at ${SND.info.pitch_names[SND.info.pitches.indexOf(pitch)]}` : "");
    cards.push(el("div", { class: "note-card" },
      el("div", { class: "small", text: label }),
      el("audio", { controls: true, preload: "auto", src: noteUrl({ seed, pitch }), "aria-label": label, "data-seed": String(seed) }),
      el("div", { class: "acts" },
        el("button", { type: "button", text: "Use as A", "aria-label": `Use as A (instrument A = seed ${seed})`,
          onclick: () => { $("#instrument-form").a.value = String(seed); playNote(); } }),
        el("button", { type: "button", text: "Use as B", "aria-label": `Use as B (instrument B = seed ${seed})`,
          onclick: () => { $("#instrument-form").b.value = String(seed); playNote(); } }))));
  }
  $("#sound-notes").replaceChildren(...cards);
  $("#sound-note").textContent = `${cards.length} notes of ${SND.info.seconds} s at ${SND.info.sample_rate} Hz, from step ${SND.info.step}`;
}

async function playMidi() {
  const input = $("#midi-file");
  const file = input.files && input.files[0];
  if (!file || !S.run) return;
  const inst = instrument();
  const form = new FormData();
  form.append("run", S.run); form.append("checkpoint", S.checkpoint);
  form.append("seed", String(inst.seed));
  if (inst.blend !== undefined) { form.append("blend", String(inst.blend)); form.append("mix", String(inst.mix)); }
  form.append("transpose", String(+$("#midi-transpose").value || 0));
  form.append("file", file, file.name);
  const status = $("#midi-status"); const audio = $("#midi-audio"); const dl = $("#midi-download");
  status.textContent = `Playing ${file.name}…`;
  try {
    const r = await api("/api/sound/play", { form });
    audio.src = r.url; audio.hidden = false; audio.dataset.seconds = String(r.seconds);
    dl.href = r.url; dl.hidden = false; dl.setAttribute("download", `${r.name}.wav`);
    status.textContent = `${r.name}: ${r.notes} notes, ${r.seconds.toFixed(2)} s at ${r.sample_rate} Hz`;
  } catch (e) { status.textContent = `Could not play ${file.name}: ${e.message}`; fail(e); }
  finally { input.value = ""; }
}

export function wire() {
  onEnter("sound", loadInfo);
  onRunChange(({ changed }) => {
    if (changed) { SND.info = null; SND.loadedFor = null; $("#sound-notes").replaceChildren(); }
    if (!$("#panel-sound").hidden) loadInfo();
  });
  $("#ckpt-select").addEventListener("change", () => { SND.loadedFor = null; if (!$("#panel-sound").hidden) loadInfo(); });
  $("#sound-form").addEventListener("submit", generateNotes);
  const f = $("#instrument-form");
  f.addEventListener("submit", (e) => e.preventDefault());
  f.mix.addEventListener("input", () => {
    f["mix-out"].value = (+f.mix.value).toFixed(2);
    clearTimeout(SND.morphTimer); SND.morphTimer = setTimeout(() => playNote(), 150); // the note re-renders
  });
  f.velocity.addEventListener("input", () => { f["vel-out"].value = f.velocity.value; });
  f.velocity.addEventListener("change", () => playNote());
  f.a.addEventListener("change", () => playNote());
  f.b.addEventListener("change", () => playNote());
  $("#midi-file").addEventListener("change", playMidi);
}
