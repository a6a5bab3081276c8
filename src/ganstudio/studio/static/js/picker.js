/* The run and checkpoint picker in the header. Panels that keep something per run register with
   onRunChange; they hear of every selection after the tabs fit the new run. */
import { api } from "./api.js";
import { $, $$, el } from "./dom.js";
import { S } from "./state.js";
import { showTab } from "./tabs.js";

const LATENT_TABS = ["create", "explore", "breed", "animate", "exhibition"];
const runHooks = [];
// fn({changed, quiet, sketch, sound, tab, switched}): tab is the panel shown before, switched whether it had to change
export function onRunChange(fn) { runHooks.push(fn); }

export async function loadRuns(keep = true) {
  S.runs = await api("/api/runs");
  const sel = $("#run-select");
  const prev = keep ? S.run : null;
  sel.replaceChildren(...S.runs.map((r) => el("option", { value: r.name, text: `${r.name}${r.training ? " (training)" : ""}` })));
  const usable = S.runs.filter((r) => r.step !== null);
  $("#empty-note").hidden = usable.length > 0;
  const pick = (prev && S.runs.find((r) => r.name === prev)) ? prev : (usable[0] || S.runs[0] || {}).name;
  if (pick) { sel.value = pick; await selectRun(pick, prev === pick); }
  const init = $("#train-init"); // the Train panel's fine-tuning sources: the runs with a checkpoint
  init.replaceChildren(el("option", { value: "", text: "nothing (start fresh)" }),
    ...usable.map((r) => el("option", { value: r.name, text: r.name })));
}

export async function selectRun(name, quiet = false) {
  const changed = S.run !== name;
  S.run = name;
  S.info = S.runs.find((r) => r.name === name) || null;
  const ck = $("#ckpt-select");
  const steps = (S.info && S.info.checkpoints) || [];
  ck.replaceChildren(el("option", { value: "latest", text: "latest" }),
    ...steps.slice().reverse().map((s) => el("option", { value: String(s), text: `step ${s}` })));
  if (!steps.map(String).includes(S.checkpoint)) S.checkpoint = "latest";
  ck.value = S.checkpoint;
  const classes = (S.info && S.info.classes) || [];
  $("#class-label").hidden = classes.length === 0;
  // a run of fine classes (emoji subgroups) also offers their groups, first: a group draws its classes in turn
  const groups = (S.info && S.info.class_groups) || [];
  const options = classes.map((c, i) => el("option", { value: String(i), text: c }));
  $("select[name=class]").replaceChildren(el("option", { value: "", text: "any" }),
    ...(groups.length
      ? [el("optgroup", { label: "groups" }, ...groups.map((g) => el("option", { value: g, text: g }))),
        el("optgroup", { label: "classes" }, ...options)]
      : options));
  if (changed) { S.dirs = []; S.explore = null; S.edits = {}; S.parents = []; S.keys = []; S.sketch = null; }
  // pix2pix runs turn drawings into pictures: the Sketch panel instead of the latent panels;
  // sound runs make notes: the Sound panel instead of them
  const sketch = !!(S.info && S.info.sketch);
  const sound = !!(S.info && S.info.sound);
  for (const t of LATENT_TABS) $(`#tab-${t}`).hidden = sketch || sound;
  $("#tab-sketch").hidden = !sketch;
  $("#tab-sound").hidden = !sound;
  const current = ($$("[role=tab]").find((t) => t.getAttribute("aria-selected") === "true") || {}).id;
  const switched = !!current && $(`#${current}`).hidden;
  if (switched) showTab(sketch ? "sketch" : sound ? "sound" : "create");
  for (const fn of runHooks) fn({ changed, quiet, sketch, sound, tab: current && current.slice(4), switched });
}
