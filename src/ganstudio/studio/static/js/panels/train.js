/* Train: upload a folder or a zip, start a training (its own process on the server), watch the jobs. */
import { api } from "../api.js";
import { $, el, fail, toast } from "../dom.js";
import { loadRuns, selectRun } from "../picker.js";
import { S } from "../state.js";
import { onEnter, showTab } from "../tabs.js";

const JOBS_EVERY_MS = 2000;
const JOBS_SHOWN = 12;

async function loadDatasets(select) {
  const d = await api("/api/datasets");
  const sel = $("#train-data");
  const opts = [...d.uploads.slice().reverse().map((u) => el("option", { value: u.id, text: `${u.name || "upload"} (${u.images} pictures)` })),
    ...d.named.filter((n) => n.found).map((n) => el("option", { value: n.id, text: n.id }))];
  sel.replaceChildren(...opts);
  if (select) sel.value = select;
  $("#train-preset").replaceChildren(...d.presets.map((p) => el("option", { value: p, text: p === "seed" ? "seed — the article's model" : p })));
  // Start on the recipe that measured best for the chosen data (the seed MLP stays one click away).
  recommended = Object.fromEntries([...d.named, ...d.uploads].map((x) => [x.id, x.preset]));
  pickRecipe();
}

let recommended = {};
function pickRecipe() {
  const p = recommended[$("#train-data").value];
  if (p) $("#train-preset").value = p;
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
  const groups = $("#train-clusters").value;
  if (groups) body.clusters = groups === "auto" || groups === "none" ? groups : +groups;
  try {
    const job = await api("/api/train", { body });
    toast("Training started: it runs on even if you close this tab");
    refreshTrain(); watchJobs();
    return job;
  } catch (e) { fail(e); }
}

export function fmtEta(s) {
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
    const rows = await Promise.all(jobs.slice(0, JOBS_SHOWN).map(async (j) => {
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

// Poll the jobs while any is running (the list when the Train panel is open); at the end, reload the runs.
export function watchJobs() {
  if (S.jobsTimer) return;
  S.jobsTimer = setInterval(async () => {
    const visible = !$("#panel-train").hidden;
    const jobs = visible ? await refreshTrain() : await api("/api/jobs").catch(() => []);
    if (jobs && !jobs.some((j) => j.status === "running" || j.status === "stopping")) {
      clearInterval(S.jobsTimer); S.jobsTimer = null; loadRuns().catch(() => {});
    }
  }, JOBS_EVERY_MS);
}

export function wire() {
  onEnter("train", refreshTrain);
  $("#upload-folder").addEventListener("change", (e) => {
    const files = Array.from(e.target.files);
    const top = files.length && files[0].webkitRelativePath ? files[0].webkitRelativePath.split("/")[0] : "folder";
    upload(files, top);
  });
  $("#upload-zip").addEventListener("change", (e) => upload(Array.from(e.target.files), (e.target.files[0] || {}).name || "zip"));
  $("#train-start").addEventListener("click", startTraining);
  $("#train-data").addEventListener("change", pickRecipe);
}
