/* Explore: one picture with a slider per latent direction; the newest answer always wins. */
import { api } from "../api.js";
import { $, $$, el, fail, toast } from "../dom.js";
import { closeViewer, describe, downloadPng, onViewerAction } from "../pictures.js";
import { S } from "../state.js";
import { onEnter, showTab } from "../tabs.js";

const SHOWN_DIRECTIONS = 8;
async function loadDirections() {
  if (!S.run) return;
  const r = await api(`/api/runs/${S.run}/directions?checkpoint=${S.checkpoint}`);
  S.dirs = r.directions;
  S.dirsRef = r.ref;
  $("#direction-file").textContent = `Names are saved in the run's ${r.file}: use them with ganstudio generate --edit NAME:+2.`;
  renderDirections();
}

function renderDirections() {
  const list = $("#direction-list");
  const shown = S.dirs.filter((d) => S.showAllDirs || d.index < SHOWN_DIRECTIONS || d.named || S.edits[d.index]);
  $("#directions-more").hidden = shown.length === S.dirs.length && !S.showAllDirs;
  $("#directions-more").textContent = S.showAllDirs ? "Fewer directions" : `All ${S.dirs.length} directions`;
  list.replaceChildren(...shown.map((d) => {
    const name = el("input", { type: "text", value: d.named ? d.name : "", placeholder: d.name, maxlength: "40",
      "aria-label": `Name of direction ${d.index + 1}` });
    name.addEventListener("change", async () => {
      try {
        const r2 = await api("/api/directions/name", { body: { run: S.run, checkpoint: S.checkpoint, index: d.index, name: name.value } });
        d.name = r2.name; d.named = r2.named; name.value = r2.named ? r2.name : "";
        toast(r2.named ? `Named “${r2.name}”` : "Name removed");
      } catch (e) { fail(e); name.value = d.named ? d.name : ""; }
    });
    const slider = el("input", { type: "range", min: "-5", max: "5", step: "0.05", value: String(S.edits[d.index] || 0),
      "aria-label": `Amount of ${d.name}`, "data-index": String(d.index) });
    const out = el("output", { text: (+slider.value).toFixed(2) });
    slider.addEventListener("input", () => {
      out.textContent = (+slider.value).toFixed(2);
      S.edits[d.index] = +slider.value;
      renderExplore();
    });
    return el("div", { class: "dir" }, name, slider, out);
  }));
}

function exploreLatent() {
  const edits = {};
  for (const [k, v] of Object.entries(S.edits)) if (v) edits[k] = v;
  // the base latent with the sliders' edits (of the run's current directions); it changed, so no id
  const { id, directions, ...base } = S.explore;
  return { ...base, edits };
}

async function renderExplore() {
  if (!S.explore) return;
  const seq = ++S.seq;
  const t = performance.now();
  try {
    const r = await api("/api/explore", { body: { run: S.run, checkpoint: S.checkpoint, latent: exploreLatent(), seq } });
    if (r.seq <= S.shownSeq) return; // a newer answer is already on screen: drop this stale one
    S.shownSeq = r.seq;
    const img = $("#explore-img");
    img.src = r.image;
    img.dataset.seq = String(r.seq);
    $("#explore-ms").textContent = `${Math.round(performance.now() - t)} ms`;
  } catch (e) { fail(e); }
}

function startExplore(pic) {
  const lat = pic.latent;
  S.explore = { ...lat, edits: {} };
  delete S.explore.id; delete S.explore.directions;
  $("#explore-caption").textContent = describe(lat);
  loadDirections().then(() => {
    S.edits = {};
    if (Array.isArray(lat.edits)) {
      if (lat.directions === S.dirsRef) for (const [i, a] of lat.edits) S.edits[i] = a;
      else if (lat.edits.length) toast("Its edits were made with another checkpoint's directions; starting from the unedited picture", true);
    } else Object.assign(S.edits, lat.edits || {});
    renderDirections();
    return renderExplore();
  }).catch(fail);
}

const randomPicture = () => ({ latent: { seed: Math.floor(Math.random() * 1e6), truncation: 1, edits: {}, parents: [] } });

function ensureExplore() {
  if (!S.run || (S.info && S.info.step === null)) return;
  if (!S.explore) startExplore(randomPicture());
  else if (!S.dirs.length) loadDirections().then(renderExplore).catch(fail);
}

export function wire() {
  onEnter("explore", ensureExplore);
  onViewerAction("explore", (pic) => { closeViewer(); startExplore(pic); showTab("explore"); });
  $("#directions-more").addEventListener("click", () => { S.showAllDirs = !S.showAllDirs; renderDirections(); });
  $("#explore-random").addEventListener("click", () => startExplore(randomPicture()));
  $("#explore-reset").addEventListener("click", () => { S.edits = {}; $$("#direction-list input[type=range]").forEach((s) => { s.value = "0"; s.dispatchEvent(new Event("input")); }); });
  $("#explore-like").addEventListener("click", async () => {
    if (!S.explore) return;
    try { await api("/api/rate", { body: { run: S.run, latent: exploreLatent(), value: 1 } }); toast("Added to favourites"); } catch (e) { fail(e); }
  });
  $("#explore-download").addEventListener("click", () => S.explore && downloadPng(S.run, exploreLatent(), `${S.run}-explore.png`));
}
