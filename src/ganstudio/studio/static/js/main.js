/* ganstudio studio: native ES modules, no build step, nothing loaded from outside the app.
   This module wires the page: the tabs, the run and checkpoint picker, every panel; then opens the
   newest run on the panel named in the address (#explore, ...) or Create. */
import { api } from "./api.js";
import { $, fail } from "./dom.js";
import { wireEnlarge } from "./enlarge.js";
import { wireViewer } from "./pictures.js";
import { loadRuns, selectRun } from "./picker.js";
import { S } from "./state.js";
import { showTab, wireTabs } from "./tabs.js";
import * as animate from "./panels/animate.js";
import * as breed from "./panels/breed.js";
import * as create from "./panels/create.js";
import * as exhibition from "./panels/exhibition.js";
import * as explore from "./panels/explore.js";
import * as favourites from "./panels/favourites.js";
import * as runs from "./panels/runs.js";
import * as sketch from "./panels/sketch.js";
import * as sound from "./panels/sound.js";
import * as train from "./panels/train.js";

// The page's state stays reachable from the console (and from the browser tests), as it was before
// the script became modules.
window.S = S;
window.SK = sketch.SK;
window.SND = sound.SND;

function wire() {
  wireTabs();
  wireEnlarge();
  wireViewer();
  $("#run-select").addEventListener("change", (e) => selectRun(e.target.value).catch(fail));
  $("#ckpt-select").addEventListener("change", (e) => {
    S.checkpoint = e.target.value; S.dirs = []; S.sketch = null;
    if (!$("#panel-sketch").hidden) sketch.enterSketch();
  });
  for (const panel of [create, explore, breed, animate, favourites, exhibition, sketch, sound, train, runs]) panel.wire();
}

async function main() {
  wire();
  breed.renderParents(); animate.renderKeys();
  try { await loadRuns(false); } catch (e) { fail(e); }
  const hash = location.hash.slice(1);
  const fallback = S.info && S.info.sketch ? "sketch" : S.info && S.info.sound ? "sound" : "create";
  const start = $(`#tab-${hash}`) && !$(`#tab-${hash}`).hidden ? hash : fallback;
  showTab(start);
  if (start === "create" && S.info && S.info.step !== null) create.generate();
  api("/api/jobs").then((jobs) => { if (jobs.some((j) => j.status === "running")) train.watchJobs(); }).catch(() => {});
  document.body.dataset.ready = "true";
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
else main();
