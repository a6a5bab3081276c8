"""What the Runs panel and the run picker show: run summaries, configs, loss curves and ETAs."""

from __future__ import annotations

import math
import time
from pathlib import Path

from .. import runs
from ..data import coarse_classes
from ..errors import UserError
from ..generate import prompt_mode
from ..models import FAMILIES
from .errors import NotFound
from .jobs import Jobs
from .run_index import RunIndex

MAX_POINTS = 400  # loss-curve points sent to the page: a run logs many more
METRIC_FIELDS = ("step", "epoch", "d_loss", "g_loss", "wall_s", "images_per_s")
# the pages a run's folder may hold, by the name of their route: ``ganstudio report RUN`` and
# ``ganstudio robustness report RUN`` (``report.build_report``, ``report.ROBUSTNESS_PAGE``) write them
REPORTS = {"evaluation": ("report.html", "Evaluation report"), "robustness": ("robustness.html", "Robustness report")}


class Catalog:
    """What the Runs panel and the run picker show: each run's summary, config and training progress."""

    def __init__(self, index: RunIndex, jobs: Jobs):
        self.index = index
        self.jobs = jobs

    def summaries(self) -> list[dict]:
        """Every run, newest first."""
        jobs = self.jobs.refresh()
        return [summary(p, jobs) for p in reversed(self.index.paths())]

    def detail(self, run: str) -> dict:
        p = self.index.path(run)
        return {**summary(p, self.jobs.refresh()), "config": runs.read_config_dict(p)}

    def metrics(self, run: str) -> dict:
        """Loss curves (at most MAX_POINTS rows, the last one always kept) and the ETA of a training."""
        p = self.index.path(run)
        rows = runs.read_metrics(p)
        every = max(1, math.ceil(len(rows) / MAX_POINTS))
        keep = rows[::every] + ([rows[-1]] if rows and (len(rows) - 1) % every else [])
        job = self.jobs.running_for(run)
        return {
            "run": run,
            "rows": [{k: r.get(k) for k in METRIC_FIELDS} for r in keep],
            "eta_s": eta(p, rows, job),
            "job": job and job["id"],
            "last": rows[-1] if rows else None,
        }

    def report(self, run: str, kind: str) -> Path:
        """The run's ``kind`` report page (a file directly in the run's folder, never outside it)."""
        p = self.index.path(run)
        if kind not in REPORTS:
            raise NotFound(f"no report {kind!r}; the studio shows {', '.join(REPORTS)}")
        f = report_file(p, kind)
        if f is None:
            cmd = "ganstudio report" if kind == "evaluation" else "ganstudio robustness report"
            raise NotFound(f"run {run} has no {REPORTS[kind][1].lower()} yet: write it with `{cmd} {p}`")
        return f

    def samples(self, run: str) -> Path:
        """The run's latest training sample grid."""
        f = self.index.path(run) / "samples" / "latest.png"
        if not f.is_file():
            raise NotFound(f"run {run} has no sample grid yet")
        return f


def report_file(run_dir: Path, kind: str) -> Path | None:
    """``run_dir``'s ``kind`` report when it is a file inside the run's folder (a link that leads out is none)."""
    root = run_dir.resolve()
    f = (root / REPORTS[kind][0]).resolve()
    return f if f.parent == root and f.is_file() else None


def reports(p: Path) -> list[dict]:
    """The report pages the run's folder holds, as the Runs panel links them."""
    return [
        {"kind": k, "title": title, "url": f"/api/runs/{p.name}/reports/{k}"}
        for k, (_, title) in REPORTS.items()
        if report_file(p, k) is not None
    ]


def class_groups(cfg: dict) -> list[str]:
    """The coarser classes a run's classes fall in, in order of first appearance (an emoji run conditioned
    on subgroups: its groups, "Smileys & Emotion", ...), which the Create panel offers beside the classes
    themselves (``Pipeline.class_weights`` draws a group's members in turn); [] when there are none."""
    return list(dict.fromkeys(coarse_classes(tuple(cfg.get("class_names") or ())) or ()))


def summary(p: Path, jobs: list[dict]) -> dict:
    """A run as the page lists it; a run whose config cannot be read is listed with what is known."""
    try:
        cfg = runs.read_config_dict(p)
    except UserError:
        cfg = {}
    mc = cfg.get("model_config") or {}
    ckpts = [int(c.name) for c in runs.list_checkpoints(p)]
    job = next((j for j in jobs if j["run"] == p.name and j["status"] in ("running", "stopping")), None)
    return {
        "name": p.name,
        "model": cfg.get("model"),
        "data": Path(str(cfg.get("data", {}).get("name", ""))).name,
        "resolution": mc.get("resolution"),
        "channels": mc.get("channels"),
        "classes": list(cfg.get("class_names") or []) if mc.get("num_classes") else [],
        "class_groups": class_groups(cfg) if mc.get("num_classes") else [],
        "checkpoints": ckpts,
        "step": ckpts[-1] if ckpts else None,
        "has_samples": (p / "samples" / "latest.png").is_file(),
        "training": job["id"] if job else None,
        "init_from": cfg.get("init_from") and Path(cfg["init_from"]).name,
        "sketch": cfg.get("model") == "pix2pix",
        # the Sound panel instead of the picture panels: the family's task makes sound
        "sound": fam.task.output == "audio" if (fam := FAMILIES.get(str(cfg.get("model")))) else False,
        # the Create panel's text box: a run that reads text draws from it, others map it to a class
        "reads_text": bool(mc.get("text_dim")),
        # ... and one that retrieves a single reference can draw the text over the user's own picture
        "draws_over": bool(mc.get("text_dim") and mc.get("retrieve") and mc.get("retrieve_pictures", 1) == 1),
        "prompt_mode": prompt_mode(p) if cfg else None,
        "reports": reports(p),
    }


def eta(p: Path, rows: list[dict], job: dict | None) -> float | None:
    """Seconds left of a running training: the sooner of its time budget and, at the recent step
    rate, its step or epoch budget."""
    if job is None:
        return None
    cands = []
    info = job["info"]
    if info.get("minutes"):
        cands.append(info["started"] + 60 * info["minutes"] - time.time())
    try:
        t = runs.read_config_dict(p).get("train", {})
    except UserError:
        t = {}
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        rate = (b["step"] - a["step"]) / max(b.get("wall_s", 0) - a.get("wall_s", 0), 1e-6)
        total = t.get("steps")
        if t.get("epochs") and b.get("epoch"):
            by_epochs = t["epochs"] * b["step"] / b["epoch"]
            total = min(total, by_epochs) if total else by_epochs
        if total and rate > 0:
            cands.append((total - b["step"]) / rate)
    return round(max(0.0, min(cands)), 1) if cands else None
