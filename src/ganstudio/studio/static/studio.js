/* ganstudio studio: plain JavaScript, no build step, nothing loaded from outside the app. */
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const S = {
  runs: [], run: null, checkpoint: "latest", info: null, dirs: [],
  explore: null, edits: {}, seq: 0, shownSeq: -1, dirsRef: null, showAllDirs: false,
  sketch: null,
  parents: [], keys: [], favs: [], viewing: null,
  exhibit: null, jobsTimer: null, runTimer: null,
};

// ---- helpers -------------------------------------------------------------------------------------
async function api(path, opts = {}) {
  const init = { method: opts.method || (opts.body || opts.form ? "POST" : "GET"), headers: {} };
  if (opts.body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(opts.body); }
  if (opts.form) init.body = opts.form;
  const r = await fetch(path, init);
  const type = r.headers.get("content-type") || "";
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    if (type.includes("json")) { const j = await r.json(); msg = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); }
    throw new Error(msg);
  }
  if (opts.raw) return r;
  return type.includes("json") ? r.json() : r;
}

let toastTimer = null;
function toast(msg, error = false) {
  const t = $("#toast");
  t.textContent = msg;
  t.className = "toast show" + (error ? " error" : "");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = "toast"; }, error ? 6000 : 2500);
}
const fail = (e) => toast(e.message || String(e), true);

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k) e.append(k);
  return e;
}

// Latents are ganstudio.latents.Latent JSON (see docs/creative.md); the page also builds a short form
// ({seed, truncation, edits: {index: amount}}) for pictures it asks for by seed.
function describe(latent) {
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
const isSketch = (pic) => !pic.latent;

function saveBlob(blob, name) {
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 4000);
}

// ---- cards -----------------------------------------------------------------------------------------
function card(pic, opts = {}) {
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
  return el("figure", { class: "card", "data-id": pic.id },
    el("button", { type: "button", class: "thumb", "aria-label": `Open ${describe(pic.latent)}`,
      onclick: () => openViewer(pic) }, el("img", { src: pic.image, alt: `Generated picture, ${describe(pic.latent)}` })),
    el("div", { class: "acts" }, like, dislike, extra),
    opts.label ? el("div", { class: "label", text: opts.label }) : null);
}

function fill(container, pics, opts) {
  container.replaceChildren(...pics.map((p) => card(p, opts)));
}

function rateBody(pic, run, value) {
  return isSketch(pic) ? { run, id: pic.id, value } : { run, checkpoint: S.checkpoint, latent: pic.latent, value };
}

// ---- viewer ------------------------------------------------------------------------------------------
function openViewer(pic) {
  S.viewing = pic;
  $("#viewer-img").src = pic.image;
  $("#viewer-caption").textContent = `${pic.run || S.run} · ${describe(pic.latent)}` +
    (pic.latent ? ` · truncation ${(+pic.latent.truncation).toFixed(2)}` + (pic.latent.step !== undefined ? ` · step ${pic.latent.step}` : "") : "");
  for (const act of ["explore", "breed", "key", "lineage", "json"]) $(`#viewer [data-act=${act}]`).hidden = isSketch(pic);
  $("#viewer").showModal();
}

async function downloadPng(run, latent, name) {
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
    case "close": $("#viewer").close(); break;
    case "like": case "dislike":
      try {
        const r = await api("/api/rate", { body: rateBody(pic, run, act === "like" ? 1 : -1) });
        pic.rating = r.rating; toast(act === "like" ? "Added to favourites" : "Disliked");
      } catch (e) { fail(e); }
      break;
    case "explore": $("#viewer").close(); startExplore(pic); showTab("explore"); break;
    case "breed": addParent(pic); toast("Added as a parent (Breed)"); break;
    case "key": addKey(pic); toast("Added as a keyframe (Animate)"); break;
    case "lineage": $("#viewer").close(); showTab("breed"); showLineage(pic.id); break;
    case "png":
      if (isSketch(pic)) saveBlob(await (await fetch(pic.image)).blob(), `${run}-${pic.id}.png`);
      else downloadPng(run, pic.latent, `${run}-${pic.id}.png`);
      break;
    case "json": // the latent itself: `ganstudio generate RUN --from this.json` remakes the picture
      saveBlob(new Blob([JSON.stringify(pic.latent, null, 2)], { type: "application/json" }), `${run}-${pic.id}.json`);
      break;
  }
}

// ---- tabs ------------------------------------------------------------------------------------------
function showTab(name) {
  for (const t of $$("[role=tab]")) {
    const on = t.id === `tab-${name}`;
    t.setAttribute("aria-selected", on ? "true" : "false");
    t.tabIndex = on ? 0 : -1;
    $(`#${t.getAttribute("aria-controls")}`).hidden = !on;
  }
  location.hash = name;
  const enter = { favourites: loadFavourites, animate: loadAnimFavs, train: refreshTrain, runs: renderRuns, explore: ensureExplore, sketch: enterSketch };
  if (enter[name]) enter[name]();
}

// ---- runs ------------------------------------------------------------------------------------------
const LATENT_TABS = ["create", "explore", "breed", "animate", "exhibition"];
async function loadRuns(keep = true) {
  S.runs = await api("/api/runs");
  const sel = $("#run-select");
  const prev = keep ? S.run : null;
  sel.replaceChildren(...S.runs.map((r) => el("option", { value: r.name, text: `${r.name}${r.training ? " (training)" : ""}` })));
  const usable = S.runs.filter((r) => r.step !== null);
  $("#empty-note").hidden = usable.length > 0;
  const pick = (prev && S.runs.find((r) => r.name === prev)) ? prev : (usable[0] || S.runs[0] || {}).name;
  if (pick) { sel.value = pick; await selectRun(pick, prev === pick); }
  const init = $("#train-init");
  init.replaceChildren(el("option", { value: "", text: "nothing (start fresh)" }),
    ...usable.map((r) => el("option", { value: r.name, text: r.name })));
}

async function selectRun(name, quiet = false) {
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
  $("select[name=class]").replaceChildren(el("option", { value: "", text: "any" }),
    ...classes.map((c, i) => el("option", { value: String(i), text: c })));
  if (changed) { S.dirs = []; S.explore = null; S.edits = {}; S.parents = []; S.keys = []; S.sketch = null; renderParents(); renderKeys(); }
  // pix2pix runs turn drawings into pictures: the Sketch panel instead of the latent panels
  const sketch = !!(S.info && S.info.sketch);
  for (const t of LATENT_TABS) $(`#tab-${t}`).hidden = sketch;
  $("#tab-sketch").hidden = !sketch;
  const current = ($$("[role=tab]").find((t) => t.getAttribute("aria-selected") === "true") || {}).id;
  if (current && $(`#${current}`).hidden) showTab(sketch ? "sketch" : "create");
  else if (changed && sketch && current === "tab-sketch") enterSketch();
  if (changed && !quiet && !sketch && S.info && S.info.step !== null && !$("#panel-create").hidden) generate();
}

// ---- create -------------------------------------------------------------------------------------------
async function generate(ev) {
  if (ev) ev.preventDefault();
  if (!S.run) return;
  const f = $("#create-form");
  const body = { run: S.run, checkpoint: S.checkpoint, n: +f.n.value, truncation: +f.truncation.value };
  if (f.seed.value !== "") body.seed = +f.seed.value;
  if (f.class.value !== "") body.class = +f.class.value;
  if (f.prompt.value.trim()) body.prompt = f.prompt.value.trim();
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

// ---- explore -----------------------------------------------------------------------------------------
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

function ensureExplore() {
  if (!S.run || (S.info && S.info.step === null)) return;
  if (!S.explore) startExplore({ latent: { seed: Math.floor(Math.random() * 1e6), truncation: 1, edits: {}, parents: [] } });
  else if (!S.dirs.length) loadDirections().then(renderExplore).catch(fail);
}

// ---- breed -------------------------------------------------------------------------------------------
function addParent(pic) {
  if (S.parents.find((p) => p.id === pic.id)) return;
  if (S.parents.length >= 8) { toast("At most 8 parents", true); return; }
  S.parents.push(pic); renderParents();
}
function renderParents() {
  $("#parents").replaceChildren(...S.parents.map((p, i) => el("div", { class: "slot" },
    el("img", { src: p.image, alt: `Parent ${i + 1}, ${describe(p.latent)}` }),
    el("button", { type: "button", "aria-label": `Remove parent ${i + 1}`, text: "×",
      onclick: () => { S.parents.splice(i, 1); renderParents(); } }))));
  if (!S.parents.length) $("#parents").append(el("p", { class: "muted small", text: "No parents yet." }));
}

async function breed(ev) {
  ev.preventDefault();
  if (S.parents.length < 2) { toast("Choose at least two parents", true); return; }
  const f = $("#breed-form");
  try {
    const r = await api("/api/breed", { body: { run: S.run, checkpoint: S.checkpoint,
      parents: S.parents.map((p) => p.latent), n: +f.n.value, mutation: +f.mutation.value, mode: f.mode.value } });
    fill($("#children"), r.images, { extra: (pic) => el("span", {},
      el("button", { type: "button", text: "Parent", "aria-label": "Use as a parent", onclick: () => addParent(pic) }),
      el("button", { type: "button", text: "Lineage", "aria-label": "Show lineage", onclick: () => showLineage(pic.id) })) });
    $("#breed-note").textContent = `${r.images.length} children of ${S.parents.length} parents (${f.mode.value}, mutation ${(+f.mutation.value).toFixed(2)})`;
  } catch (e) { fail(e); }
}

async function project() {
  const file = $("#project-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("run", S.run); form.append("checkpoint", S.checkpoint); form.append("file", file);
  $("#breed-note").textContent = "Finding your picture in the model…";
  try {
    const r = await api("/api/project", { form });
    addParent(r.images[0]);
    $("#breed-note").textContent = r.note || "Projected";
  } catch (e) { fail(e); $("#breed-note").textContent = ""; }
}

async function showLineage(id) {
  try {
    const r = await api(`/api/lineage/${id}`);
    const byId = Object.fromEntries(r.nodes.map((n) => [n.id, n]));
    const gens = []; let level = [id]; const seen = new Set();
    while (level.length && gens.length < 12) {
      gens.push(level.filter((x) => byId[x]));
      level.forEach((x) => seen.add(x));
      level = [...new Set(level.flatMap((x) => (byId[x] ? byId[x].parents : [])).filter((x) => !seen.has(x)))];
    }
    $("#lineage-tree").replaceChildren(...gens.map((g, i) => el("div", { class: "gen" },
      el("span", { class: "who", text: i === 0 ? "this picture" : i === 1 ? "parents" : i === 2 ? "grandparents" : `${i} generations up` }),
      ...g.map((x) => el("img", { src: byId[x].image || "", alt: `Ancestor, ${describe(byId[x].latent)}` })))));
    $("#lineage").hidden = false;
  } catch (e) { fail(e); }
}

// ---- animate ------------------------------------------------------------------------------------------
function addKey(pic) {
  if (S.keys.length >= 32) { toast("At most 32 keyframes", true); return; }
  S.keys.push(pic); renderKeys();
}
function renderKeys() {
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

// ---- favourites ------------------------------------------------------------------------------------------
async function loadFavourites() {
  const value = $("#fav-filter").value;
  const scope = $("#fav-scope").value === "run" && S.run ? `&run=${S.run}` : "";
  try {
    const r = await api(`/api/favourites?value=${value}${scope}`);
    fill($("#fav-grid"), r.images, { label: true });
    for (const [i, c] of $$("#fav-grid .card").entries()) {
      const lab = c.querySelector(".label"); if (lab) lab.textContent = r.images[i].run;
    }
    if (!r.images.length) $("#fav-grid").append(el("p", { class: "muted", text: value === "1" ? "No favourites yet: press ♥ under a picture." : "Nothing disliked." }));
  } catch (e) { fail(e); }
}

// ---- exhibition ----------------------------------------------------------------------------------------
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
      // Motion is measured here, on a 32x24 copy of the frame; only two numbers reach the server.
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

// ---- train -------------------------------------------------------------------------------------------------
async function loadDatasets(select) {
  const d = await api("/api/datasets");
  const sel = $("#train-data");
  const opts = [...d.uploads.slice().reverse().map((u) => el("option", { value: u.id, text: `${u.name || "upload"} (${u.images} pictures)` })),
    ...d.named.filter((n) => n.found).map((n) => el("option", { value: n.id, text: n.id }))];
  sel.replaceChildren(...opts);
  if (select) sel.value = select;
  $("#train-preset").replaceChildren(...d.presets.map((p) => el("option", { value: p, text: p === "seed" ? "seed — the article's model" : p })));
}

async function upload(files, name) {
  if (!files.length) return;
  const form = new FormData();
  form.append("name", name);
  for (const f of files) form.append("files", f, f.webkitRelativePath || f.name);
  $("#upload-report").textContent = `Uploading ${files.length} file${files.length > 1 ? "s" : ""}…`;
  try {
    const r = await api("/api/uploads", { form });
    $("#upload-report").textContent = `${r.images} pictures ready` +
      (r.skipped.length ? `; skipped ${r.skipped.length}: ${r.skipped.slice(0, 6).join(", ")}${r.skipped.length > 6 ? "…" : ""}` : "");
    await loadDatasets(r.id);
  } catch (e) { $("#upload-report").textContent = e.message; fail(e); }
}

async function startTraining() {
  const body = { data: $("#train-data").value, preset: $("#train-preset").value, minutes: +$("#train-minutes").value };
  if (!body.data) { toast("Choose or upload pictures first", true); return; }
  if ($("#train-init").value) body.init_from = $("#train-init").value;
  if ($("#train-res").value) body.resolution = +$("#train-res").value;
  try {
    const job = await api("/api/train", { body });
    toast("Training started: it runs on even if you close this tab");
    refreshTrain(); watchJobs();
    return job;
  } catch (e) { fail(e); }
}

function fmtEta(s) {
  if (s === null || s === undefined) return "";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s left` : `${s} s left`;
}

async function refreshTrain() {
  try {
    if (!$("#train-data").options.length) await loadDatasets();
    const jobs = await api("/api/jobs");
    const list = $("#job-list");
    if (!jobs.length) { list.replaceChildren(el("p", { class: "muted", text: "No trainings yet." })); return jobs; }
    const rows = await Promise.all(jobs.slice(0, 12).map(async (j) => {
      let metrics = null;
      if (j.run && (j.status === "running" || j.status === "stopping")) {
        try { metrics = await api(`/api/runs/${j.run}/metrics`); } catch (e) { /* the run may be brand new */ }
      }
      const last = metrics && metrics.last;
      const img = j.run ? el("img", { src: `/api/runs/${j.run}/samples/latest.png?t=${Date.now()}`, alt: `Latest samples of ${j.run}` })
        : el("div", { class: "noimg", "aria-hidden": "true" });
      img.addEventListener("error", () => img.replaceWith(el("div", { class: "noimg", "aria-hidden": "true" })));
      const status = el("span", { class: `badge ${j.status}`, text: j.status });
      const text = el("div", {},
        el("div", {}, el("strong", { text: j.run || (j.info.label || "new run") }), " ", status),
        el("div", { class: "muted small", text: [
          j.run ? null : (j.status === "running" ? "starting: reading the pictures…" : null),
          last ? `step ${last.step} · D ${(last.d_loss ?? 0).toFixed(3)} · G ${(last.g_loss ?? 0).toFixed(3)}` : null,
          metrics ? fmtEta(metrics.eta_s) : null, j.info.error ? `error: ${j.info.error}` : null,
        ].filter(Boolean).join(" · ") }));
      const acts = el("div", { class: "buttons" });
      if (j.status === "running") acts.append(el("button", { type: "button", text: "Stop", "aria-label": `Stop ${j.run || "training"}`,
        onclick: async () => { try { await api(`/api/jobs/${j.id}/stop`, { method: "POST" }); toast("Stopping: saving a checkpoint"); refreshTrain(); } catch (e) { fail(e); } } }));
      if (j.run) acts.append(el("button", { type: "button", text: "Monitor", "aria-label": `Monitor ${j.run}`,
        onclick: async () => { await loadRuns(); $("#run-select").value = j.run; await selectRun(j.run, true); showTab("runs"); } }));
      return el("div", { class: "job", "data-job": j.id, "data-status": j.status }, img, text, acts);
    }));
    list.replaceChildren(...rows);
    return jobs;
  } catch (e) { fail(e); }
}

function watchJobs() {
  if (S.jobsTimer) return;
  S.jobsTimer = setInterval(async () => {
    const visible = !$("#panel-train").hidden;
    const jobs = visible ? await refreshTrain() : await api("/api/jobs").catch(() => []);
    if (jobs && !jobs.some((j) => j.status === "running" || j.status === "stopping")) {
      clearInterval(S.jobsTimer); S.jobsTimer = null; loadRuns().catch(() => {});
    }
  }, 2000);
}

// ---- runs panel -------------------------------------------------------------------------------------------
async function renderRuns() {
  try { await loadRuns(); } catch (e) { fail(e); return; }
  $("#run-cards").replaceChildren(...S.runs.map((r) => {
    const img = r.has_samples ? el("img", { src: `/api/runs/${r.name}/samples/latest.png?t=${Date.now()}`, alt: `Samples of ${r.name}` })
      : el("img", { alt: `${r.name} has no samples yet` });
    return el("button", { type: "button", class: "run-card", "aria-current": r.name === S.run ? "true" : "false",
      onclick: async () => { $("#run-select").value = r.name; await selectRun(r.name, true); renderRuns(); } },
    img, el("span", { class: "meta" }, el("strong", { text: r.name }), el("br"),
      el("span", { class: "muted small", text: `${r.data || ""} · ${r.resolution}px · step ${r.step ?? "–"}${r.training ? " · training" : ""}` })));
  }));
  await renderRunDetail();
  clearInterval(S.runTimer);
  S.runTimer = setInterval(() => { if (!$("#panel-runs").hidden) renderRunDetail(); else clearInterval(S.runTimer); }, 2500);
}

async function renderRunDetail() {
  if (!S.run) { $("#run-detail").hidden = true; return; }
  $("#run-detail").hidden = false;
  $("#run-title").textContent = S.run;
  try {
    const m = await api(`/api/runs/${S.run}/metrics`);
    const info = S.runs.find((r) => r.name === S.run) || {};
    $("#run-samples").src = `/api/runs/${S.run}/samples/latest.png?t=${Date.now()}`;
    const last = m.last;
    $("#run-status").textContent = (m.job ? "Training now. " + fmtEta(m.eta_s) : "Not training.") +
      (last ? ` Step ${last.step}, epoch ${last.epoch}.` : "") + (info.init_from ? ` Fine-tuned from ${info.init_from}.` : "");
    $("#run-stop").hidden = !m.job; $("#run-resume").hidden = !!m.job;
    $("#run-stop").dataset.job = m.job || "";
    drawLoss(m.rows);
  } catch (e) { fail(e); }
}

function drawLoss(rows) {
  const c = $("#loss-chart"), ctx = c.getContext("2d");
  const W = c.width, H = c.height, pad = 34;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#a9a7a0"; ctx.font = "12px system-ui, sans-serif";
  if (!rows.length) { ctx.fillText("no metrics yet", pad, H / 2); return; }
  const xs = rows.map((r) => r.step);
  const ys = rows.flatMap((r) => [r.d_loss, r.g_loss]).filter((v) => typeof v === "number");
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1), y0 = Math.min(...ys, 0), y1 = Math.max(...ys, 1);
  const X = (v) => pad + (W - 2 * pad) * (v - x0) / (x1 - x0), Y = (v) => H - pad - (H - 2 * pad) * (v - y0) / (y1 - y0);
  ctx.strokeStyle = "#2c2c33"; ctx.strokeRect(pad, pad / 2, W - 2 * pad, H - 1.5 * pad);
  ctx.fillText(`step ${x0}`, pad, H - 10); ctx.fillText(`step ${x1}`, W - pad - 60, H - 10);
  ctx.fillText(y1.toFixed(2), 2, pad / 2 + 10); ctx.fillText(y0.toFixed(2), 2, H - pad);
  for (const [key, color] of [["g_loss", "#e2b96f"], ["d_loss", "#7fb0ff"]]) {
    ctx.strokeStyle = color; ctx.lineWidth = 1.6; ctx.beginPath();
    rows.forEach((r, i) => { if (typeof r[key] !== "number") return; (i ? ctx.lineTo : ctx.moveTo).call(ctx, X(r.step), Y(r[key])); });
    ctx.stroke();
  }
  const l = rows[rows.length - 1];
  $("#loss-summary").textContent = `Loss curves to step ${l.step}: generator ${(l.g_loss ?? 0).toFixed(3)} (gold), discriminator ${(l.d_loss ?? 0).toFixed(3)} (blue)`;
  c.setAttribute("aria-label", $("#loss-summary").textContent);
}

async function resumeRun() {
  try {
    await api("/api/train/resume", { body: { run: S.run, minutes: +$("#resume-minutes").value } });
    toast("Training continues"); watchJobs(); renderRunDetail();
  } catch (e) { fail(e); }
}
async function stopRun() {
  const job = $("#run-stop").dataset.job;
  if (!job) return;
  try { await api(`/api/jobs/${job}/stop`, { method: "POST" }); toast("Stopping: saving a checkpoint"); renderRunDetail(); } catch (e) { fail(e); }
}

// ---- sketch (pix2pix runs) ---------------------------------------------------------------------------------
// A drawing canvas; the drawing goes to /api/translate as PNG while you draw (throttled, newest answer wins).
const SK = { tool: "pen", undo: [], drawing: false, last: null, timer: null, seq: 0, shown: -1, result: null };

function sketchCtx() { return $("#sketch-canvas").getContext("2d"); }

function clearCanvas() {
  const c = $("#sketch-canvas"), ctx = sketchCtx();
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
}

async function enterSketch() {
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
  if (SK.undo.length > 30) SK.undo.shift();
}

function scheduleTranslate(now = false) {
  if (now) { clearTimeout(SK.timer); SK.timer = null; translateSketch(); return; }
  if (!SK.timer) SK.timer = setTimeout(() => { SK.timer = null; translateSketch(); }, 150);
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
  if (file.size > 25 * 2 ** 20) { toast("That drawing is larger than 25 MB", true); return; }
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

function wireSketch() {
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

// ---- wiring ------------------------------------------------------------------------------------------------
function wire() {
  for (const t of $$("[role=tab]")) {
    t.addEventListener("click", () => showTab(t.id.slice(4)));
    t.addEventListener("keydown", (e) => {
      const tabs = $$("[role=tab]").filter((x) => !x.hidden); const i = tabs.indexOf(t);
      const j = e.key === "ArrowRight" ? (i + 1) % tabs.length : e.key === "ArrowLeft" ? (i - 1 + tabs.length) % tabs.length : -1;
      if (j >= 0) { tabs[j].focus(); showTab(tabs[j].id.slice(4)); }
    });
  }
  $("#run-select").addEventListener("change", (e) => selectRun(e.target.value).catch(fail));
  $("#ckpt-select").addEventListener("change", (e) => { S.checkpoint = e.target.value; S.dirs = []; S.sketch = null; if (!$("#panel-sketch").hidden) enterSketch(); });
  $("#directions-more").addEventListener("click", () => { S.showAllDirs = !S.showAllDirs; renderDirections(); });
  wireSketch();
  $("#create-form").addEventListener("submit", generate);
  $("#create-form").truncation.addEventListener("input", (e) => { $("#create-form")["trunc-out"].value = (+e.target.value).toFixed(2); });
  $("#more-like-btn").addEventListener("click", moreLike);
  $("#explore-random").addEventListener("click", () => startExplore({ latent: { seed: Math.floor(Math.random() * 1e6), truncation: 1, edits: {}, parents: [] } }));
  $("#explore-reset").addEventListener("click", () => { S.edits = {}; $$("#direction-list input[type=range]").forEach((s) => { s.value = "0"; s.dispatchEvent(new Event("input")); }); });
  $("#explore-like").addEventListener("click", async () => {
    if (!S.explore) return;
    try { await api("/api/rate", { body: { run: S.run, latent: exploreLatent(), value: 1 } }); toast("Added to favourites"); } catch (e) { fail(e); }
  });
  $("#explore-download").addEventListener("click", () => S.explore && downloadPng(S.run, exploreLatent(), `${S.run}-explore.png`));
  $("#breed-form").addEventListener("submit", breed);
  $("#parents-clear").addEventListener("click", () => { S.parents = []; renderParents(); });
  $("#project-file").addEventListener("change", project);
  $("#anim-preview").addEventListener("click", previewAnim);
  $("#anim-render").addEventListener("click", renderAnim);
  $("#keys-clear").addEventListener("click", () => { S.keys = []; renderKeys(); });
  $("#fav-filter").addEventListener("change", loadFavourites);
  $("#fav-scope").addEventListener("change", loadFavourites);
  $("#exhibit-start").addEventListener("click", () => startExhibition(false));
  $("#exhibit-camera").addEventListener("click", () => startExhibition(true));
  $("#exhibit-stop").addEventListener("click", stopExhibition);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && S.exhibit) stopExhibition(); });
  document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement && S.exhibit && S.exhibit.fsWas) stopExhibition(); if (document.fullscreenElement && S.exhibit) S.exhibit.fsWas = true; });
  $("#upload-folder").addEventListener("change", (e) => {
    const files = Array.from(e.target.files);
    const top = files.length && files[0].webkitRelativePath ? files[0].webkitRelativePath.split("/")[0] : "folder";
    upload(files, top);
  });
  $("#upload-zip").addEventListener("change", (e) => upload(Array.from(e.target.files), (e.target.files[0] || {}).name || "zip"));
  $("#train-start").addEventListener("click", startTraining);
  $("#run-resume").addEventListener("click", resumeRun);
  $("#run-stop").addEventListener("click", stopRun);
  $("#run-use").addEventListener("click", () => { showTab("create"); generate(); });
  for (const b of $$("#viewer [data-act]")) b.addEventListener("click", () => viewerAction(b.dataset.act));
}

async function main() {
  wire();
  renderParents(); renderKeys();
  try { await loadRuns(false); } catch (e) { fail(e); }
  const hash = location.hash.slice(1);
  const fallback = S.info && S.info.sketch ? "sketch" : "create";
  const start = $(`#tab-${hash}`) && !$(`#tab-${hash}`).hidden ? hash : fallback;
  showTab(start);
  if (start === "create" && S.info && S.info.step !== null) generate();
  api("/api/jobs").then((jobs) => { if (jobs.some((j) => j.status === "running")) watchJobs(); }).catch(() => {});
  document.body.dataset.ready = "true";
}
document.addEventListener("DOMContentLoaded", main);
