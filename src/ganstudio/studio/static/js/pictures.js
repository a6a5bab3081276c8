/* Pictures as every panel shows them: a card with like/dislike, and the viewer dialog a card opens.
   Latents are ganstudio.latents.Latent JSON (see docs/creative.md); the page also builds a short form
   ({seed, truncation, edits: {index: amount}}) for pictures it asks for by seed. Sketch paintings
   have no latent. Panels add their own viewer buttons' actions with onViewerAction. */
import { api } from "./api.js";
import { $, $$, el, fail, saveBlob, toast } from "./dom.js";
import { S } from "./state.js";

// the text a picture of a run that reads text was drawn from: its prompt, or a mix of prompts (a walk's
// in-between, a child of prompted parents) as "70% an apple + 30% a rocket", negative parts after it as
// ", not red (50%)" (ganstudio.latents' text_label)
export function textLabel(latent) {
  if (!latent) return "";
  if (latent.prompt) return `“${latent.prompt}”`;
  const mix = latent.text_mix || [];
  if (!mix.length) return "";
  const pos = mix.filter((m) => m[2] > 0), neg = mix.filter((m) => m[2] < 0);
  const sum = (ms) => ms.reduce((a, m) => a + Math.abs(m[2]), 0);
  const total = sum(pos) || sum(neg) || 1;
  const pct = (m) => Math.round(100 * Math.abs(m[2]) / total);
  const label = pos.length === 1 ? pos[0][0] : pos.map((m) => `${pct(m)}% ${m[0]}`).join(" + ");
  return [...(pos.length ? [label] : []), ...neg.map((m) => `not ${m[0]} (${pct(m)}%)`)].join(", ");
}

export function describe(latent) {
  const text = textLabel(latent);
  return text ? `${describeRecipe(latent)}, ${text}` : describeRecipe(latent);
}

function describeRecipe(latent) {
  if (!latent) return "sketch painting";
  const nEdits = Array.isArray(latent.edits) ? latent.edits.length : Object.keys(latent.edits || {}).length;
  const edits = nEdits ? `, ${nEdits} edit${nEdits > 1 ? "s" : ""}` : "";
  const o = latent.origin || {};
  const seed = latent.seed ?? (o.op === "seed" ? o.seed : undefined);
  if (seed !== undefined && seed !== null) return `seed ${seed}` + edits;
  const ops = { breed: "bred", taste: "suggested", project: "your picture", interpolate: "in-between", explore: "explored" };
  if (latent.parents && latent.parents.length) return `${ops[o.op] || "child"} of ${latent.parents.length}` + edits;
  return (ops[o.op] || "custom latent") + edits;
}
export const isSketch = (pic) => !pic.latent;

function rateBody(pic, run, value) {
  return isSketch(pic) ? { run, id: pic.id, value } : { run, checkpoint: S.checkpoint, latent: pic.latent, value };
}

// ---- cards -----------------------------------------------------------------------------------------
export function card(pic, opts = {}) {
  const run = pic.run || S.run;
  const like = el("button", { type: "button", "aria-pressed": pic.rating === 1 ? "true" : "false",
    "aria-label": `Like ${describe(pic.latent)}`, title: "Like", text: "♥" });
  const dislike = el("button", { type: "button", "aria-pressed": pic.rating === -1 ? "true" : "false",
    "aria-label": `Dislike ${describe(pic.latent)}`, title: "Dislike", text: "✕" });
  const setRating = async (v) => {
    try {
      const r = await api("/api/rate", { body: rateBody(pic, run, pic.rating === v ? 0 : v) });
      pic.rating = r.rating;
      like.setAttribute("aria-pressed", pic.rating === 1 ? "true" : "false");
      dislike.setAttribute("aria-pressed", pic.rating === -1 ? "true" : "false");
      toast(pic.rating === 1 ? "Added to favourites" : pic.rating === -1 ? "Disliked" : "Cleared");
    } catch (e) { fail(e); }
  };
  like.addEventListener("click", () => setRating(1));
  dislike.addEventListener("click", () => setRating(-1));
  const extra = opts.extra ? opts.extra(pic) : null;
  const text = textLabel(pic.latent); // a prompted picture: its text as a caption, the whole recipe as a tooltip
  return el("figure", { class: "card", "data-id": pic.id },
    el("button", { type: "button", class: "thumb", "aria-label": `Open ${describe(pic.latent)}`, title: describe(pic.latent),
      onclick: () => openViewer(pic) }, el("img", { src: pic.image, alt: `Generated picture, ${describe(pic.latent)}` })),
    el("div", { class: "acts" }, like, dislike, extra),
    opts.label || text ? el("figcaption", { class: "label", text: opts.label || text }) : null);
}

export function fill(container, pics, opts) {
  container.replaceChildren(...pics.map((p) => card(p, opts)));
}

// ---- viewer ------------------------------------------------------------------------------------------
const LATENT_ACTS = ["explore", "breed", "key", "lineage", "json"]; // hidden for sketch paintings
const panelActs = {};
// fn(pic, run) runs when the viewer's [data-act=name] button is pressed
export function onViewerAction(name, fn) { panelActs[name] = fn; }

export function openViewer(pic) {
  S.viewing = pic;
  $("#viewer-img").src = pic.image;
  $("#viewer-caption").textContent = `${pic.run || S.run} · ${describe(pic.latent)}` +
    (pic.latent ? ` · truncation ${(+pic.latent.truncation).toFixed(2)}` + (pic.latent.step !== undefined ? ` · step ${pic.latent.step}` : "") : "");
  for (const act of LATENT_ACTS) $(`#viewer [data-act=${act}]`).hidden = isSketch(pic);
  $("#viewer").showModal();
}
export const closeViewer = () => $("#viewer").close();

export async function downloadPng(run, latent, name) {
  try {
    const r = await api("/api/render", { body: { run, checkpoint: S.checkpoint, latent, size: 512 }, raw: true });
    saveBlob(await r.blob(), name || "ganstudio.png");
  } catch (e) { fail(e); }
}

async function viewerAction(act) {
  const pic = S.viewing;
  if (!pic) return;
  const run = pic.run || S.run;
  switch (act) {
    case "close": closeViewer(); break;
    case "like": case "dislike":
      try {
        const r = await api("/api/rate", { body: rateBody(pic, run, act === "like" ? 1 : -1) });
        pic.rating = r.rating; toast(act === "like" ? "Added to favourites" : "Disliked");
      } catch (e) { fail(e); }
      break;
    case "png":
      if (isSketch(pic)) saveBlob(await (await fetch(pic.image)).blob(), `${run}-${pic.id}.png`);
      else downloadPng(run, pic.latent, `${run}-${pic.id}.png`);
      break;
    case "json": // the latent itself: `ganstudio generate RUN --from this.json` remakes the picture
      saveBlob(new Blob([JSON.stringify(pic.latent, null, 2)], { type: "application/json" }), `${run}-${pic.id}.json`);
      break;
    default:
      if (panelActs[act]) panelActs[act](pic, run);
  }
}

export function wireViewer() {
  for (const b of $$("#viewer [data-act]")) b.addEventListener("click", () => viewerAction(b.dataset.act));
}
