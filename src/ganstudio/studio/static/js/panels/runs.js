/* Runs: every run and its latest samples; a live monitor (loss curves, time left) of the open run. */
import { api } from "../api.js";
import { $, el, fail, toast } from "../dom.js";
import { loadRuns, selectRun } from "../picker.js";
import { S } from "../state.js";
import { onEnter, showTab } from "../tabs.js";
import { generate } from "./create.js";
import { fmtEta, watchJobs } from "./train.js";

const MONITOR_EVERY_MS = 2500;

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
  S.runTimer = setInterval(() => { if (!$("#panel-runs").hidden) renderRunDetail(); else clearInterval(S.runTimer); }, MONITOR_EVERY_MS);
}

async function renderRunDetail() {
  if (!S.run) { $("#run-detail").hidden = true; return; }
  $("#run-detail").hidden = false;
  $("#run-title").textContent = S.run;
  try {
    const [m, info] = await Promise.all([api(`/api/runs/${S.run}/metrics`), api(`/api/runs/${S.run}`)]);
    renderReports(info.reports || []);
    $("#run-samples").src = `/api/runs/${S.run}/samples/latest.png?t=${Date.now()}`;
    const last = m.last;
    $("#run-status").textContent = (m.job ? "Training now. " + fmtEta(m.eta_s) : "Not training.") +
      (last ? ` Step ${last.step}, epoch ${last.epoch}.` : "") + (info.init_from ? ` Fine-tuned from ${info.init_from}.` : "");
    $("#run-stop").hidden = !m.job; $("#run-resume").hidden = !!m.job;
    $("#run-stop").dataset.job = m.job || "";
    drawLoss(m.rows);
  } catch (e) { fail(e); }
}

// the run's report pages (RUN/report.html, RUN/robustness.html) as links, when its folder holds them
function renderReports(reports) {
  const p = $("#run-reports");
  const key = reports.map((r) => r.url).join(" ");
  p.hidden = !reports.length;
  if (p.dataset.key === key) return; // unchanged: keep the links (and any keyboard focus on them)
  p.dataset.key = key;
  p.replaceChildren(...reports.flatMap((r, i) => [i ? " · " : "",
    el("a", { href: r.url, target: "_blank", rel: "noopener", class: `report-${r.kind}`, text: r.title })]));
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

export function wire() {
  onEnter("runs", renderRuns);
  $("#run-resume").addEventListener("click", resumeRun);
  $("#run-stop").addEventListener("click", stopRun);
  $("#run-use").addEventListener("click", () => { showTab("create"); generate(); });
}
