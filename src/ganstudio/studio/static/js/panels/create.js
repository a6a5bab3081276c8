/* Create: a grid of pictures from seeds, a class or a text prompt; more like the favourites. */
import { api } from "../api.js";
import { $, fail } from "../dom.js";
import { fill } from "../pictures.js";
import { onRunChange } from "../picker.js";
import { S } from "../state.js";

let overURL = null; // the picture to draw the description over (a data: URL), runs that draw over one

export async function generate(ev) {
  if (ev) ev.preventDefault();
  if (!S.run) return;
  const f = $("#create-form");
  const body = { run: S.run, checkpoint: S.checkpoint, n: +f.n.value, truncation: +f.truncation.value };
  if (f.seed.value !== "") body.seed = +f.seed.value;
  // a class index, or a group's name (its classes in turn: "Food & Drink" on an emoji run of subgroups)
  if (f.class.value !== "") body.class = /^\d+$/.test(f.class.value) ? +f.class.value : f.class.value;
  if (f.prompt.value.trim()) body.prompt = f.prompt.value.trim();
  if (body.prompt && S.info && S.info.reads_text && +f.anchor.value > 0) body.anchor = +f.anchor.value;
  if (body.prompt && S.info && S.info.reads_text && f.negative.value.trim()) {
    body.negative = f.negative.value.trim();
    body.negative_weight = +f.negative_weight.value;
  }
  if (overURL && S.info && S.info.draws_over) {
    body.over = overURL;
    if (+f.over_strength.value < 1) body.over_strength = +f.over_strength.value;
  }
  $("#generate-btn").disabled = true;
  try {
    const r = await api("/api/generate", { body });
    fill($("#create-grid"), r.images);
    $("#create-note").textContent = (r.note ? r.note + " · " : "") + `${r.images.length} pictures from step ${r.step}`;
  } catch (e) { fail(e); } finally { $("#generate-btn").disabled = false; }
}

async function moreLike() {
  if (!S.run) return;
  try {
    const r = await api("/api/more-like", { body: { run: S.run, checkpoint: S.checkpoint, n: +$("#create-form").n.value } });
    fill($("#create-grid"), r.images);
    $("#create-note").textContent = r.note || "";
  } catch (e) { fail(e); }
}

// a run that reads text draws from the description itself; others map the text to their nearest class
function showPromptMode() {
  const text = !!(S.info && S.info.reads_text);
  $("#prompt-label").textContent = text ? "Describe the picture" : "Text prompt";
  $("#create-form").prompt.placeholder = text ? "e.g. a red apple (several: a red apple | a rocket)" : "optional, e.g. a striped shirt";
  $("#prompt-mode").textContent = (S.info && S.info.prompt_mode) || "";
  $("#anchor-label").hidden = !text;
  $("#negative-label").hidden = !text;
  $("#negative-weight-label").hidden = !(text && $("#create-form").negative.value.trim());
  $("#over-label").hidden = !(S.info && S.info.draws_over);
  $("#over-strength-label").hidden = !(S.info && S.info.draws_over && overURL);
}

function readOver(ev) {
  const file = ev.target.files && ev.target.files[0];
  if (!file) { clearOver(); return; }
  const reader = new FileReader();
  reader.onload = () => {
    overURL = reader.result;
    $("#over-preview").src = overURL;
    $("#over-preview").hidden = false;
    $("#over-clear").hidden = false;
    $("#over-strength-label").hidden = false;
  };
  reader.onerror = () => { clearOver(); fail(new Error(`cannot read ${file.name}`)); };
  reader.readAsDataURL(file);
}

function clearOver() {
  overURL = null;
  $("#create-form").over.value = "";
  $("#over-preview").hidden = true;
  $("#over-preview").removeAttribute("src");
  $("#over-clear").hidden = true;
  $("#over-strength-label").hidden = true;
}

export function wire() {
  $("#create-form").addEventListener("submit", generate);
  $("#create-form").truncation.addEventListener("input", (e) => { $("#create-form")["trunc-out"].value = (+e.target.value).toFixed(2); });
  $("#create-form").anchor.addEventListener("input", (e) => { $("#create-form")["anchor-out"].value = (+e.target.value).toFixed(2); });
  $("#more-like-btn").addEventListener("click", moreLike);
  $("#create-form").over.addEventListener("change", readOver);
  $("#over-clear").addEventListener("click", clearOver);
  $("#create-form").negative.addEventListener("input", showPromptMode);
  $("#create-form").negative_weight.addEventListener("input", (e) => { $("#create-form")["negative-weight-out"].value = (+e.target.value).toFixed(2); });
  $("#create-form").over_strength.addEventListener("input", (e) => { $("#create-form")["over-strength-out"].value = (+e.target.value).toFixed(2); });
  // a newly picked run shows its pictures at once, when the Create panel is open
  onRunChange(({ changed, quiet, sketch, sound }) => {
    showPromptMode();
    if (changed && !quiet && !sketch && !sound && S.info && S.info.step !== null && !$("#panel-create").hidden) generate();
  });
}
