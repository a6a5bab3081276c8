"""Training jobs: ``python -m ganstudio train ...`` in its own process, tracked across restarts.

The web server never trains. Each job is a child process in its own session (a closed tab or a
stopped studio does not stop it), logging to ``<runs>/.studio/jobs/<id>.log``. Jobs live in the
studio's SQLite table and, once its run folder is known, in ``<run>/studio-job.json`` (the pid file),
so a restarted studio finds a training that is still going. Stop = SIGTERM: the trainer finishes its
step, saves a checkpoint and exits.

A new run's RunConfig is made by ``training.options.build_run_config``, the function behind the CLI's
``ganstudio train``, from the same options a CLI user would give (see ``Jobs.train``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .. import runs
from ..data import SOURCES, available
from ..errors import UserError
from ..training.options import build_run_config
from ..training.presets import PRESETS, recommended_preset
from .errors import NotFound
from .run_index import RunIndex
from .store import Store
from .uploads import list_uploads, upload_info, upload_path

PID_FILE = "studio-job.json"
UPLOAD_BATCH = 64  # an upload's batch size unless one is asked for; never more than its pictures


def _alive(pid: int | None) -> bool:
    """Is ``pid`` a live (not zombie) ganstudio process?"""
    if not pid:
        return False
    proc = Path(f"/proc/{pid}")
    if proc.exists():  # Linux: also guards against a recycled pid
        try:
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                return False
            return b"ganstudio" in (proc / "cmdline").read_bytes()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def training_choices(runs_dir: Path) -> dict:
    """What a training can start from: named datasets, uploaded picture folders, presets; each dataset
    and upload names the preset that measured best for its kind of data (``preset``)."""
    return {
        "named": [
            {
                "id": d["name"],
                "found": bool(d["found"]),
                "description": d["description"],
                "preset": recommended_preset(d["name"]),
            }
            for d in available()
        ],
        "uploads": [
            {
                "id": u["id"],
                "name": u.get("name") or u["id"],
                "images": u["images"],
                "skipped": u.get("skipped", []),
                "preset": recommended_preset(u["id"]),
            }
            for u in list_uploads(runs_dir)
        ],
        "presets": list(PRESETS),
    }


class Jobs:
    def __init__(self, runs_dir: Path, store: Store, python: str = sys.executable, *, index: RunIndex | None = None):
        self.runs_dir = Path(runs_dir).resolve()
        self.store = store
        self.python = python
        self.index = index or RunIndex(self.runs_dir)
        self.dir = self.runs_dir / ".studio" / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    # ---- starting ------------------------------------------------------------------------------
    def _spawn(self, kind: str, args: list[str], run: str | None, info: dict) -> dict:
        jid = secrets.token_hex(6)
        log = self.dir / f"{jid}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as f:
            p = subprocess.Popen(
                [self.python, "-m", "ganstudio", "train", *args, "--quiet"],
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.runs_dir,
                env=env,
                start_new_session=True,
            )
        with self._lock:
            self._children[p.pid] = p
        job = {
            "id": jid,
            "kind": kind,
            "run": run,
            "pid": p.pid,
            "status": "running",
            "created": time.time(),
            "info": {**info, "started": time.time()},
        }
        self.store.put_job(job)
        if run:
            self._write_pid_file(job)
        return job

    def train(
        self,
        data: str,
        preset: str,
        minutes: float,
        steps: int | None = None,
        batch_size: int | None = None,
        resolution: int | None = None,
        init_from: str | None = None,
        clusters: int | str | None = None,
    ) -> dict:
        """A new run on ``data`` (a named dataset or an upload id) with a preset, for ``minutes``;
        ``init_from``: a run of this folder to fine-tune; ``clusters``: ``data.clusters`` (None: the preset's).
        A bad choice is refused here, before any process or run folder is made."""
        budget: dict = {"minutes": minutes}  # the TrainConfig fields given, as the CLI's flags give them
        if steps:
            budget["steps"] = steps
        if data.startswith("upload-"):
            up = upload_info(self.runs_dir, data)
            data_name, label = str(upload_path(self.runs_dir, data)), up.get("name") or data
            budget["batch_size"] = min(batch_size or UPLOAD_BATCH, int(up["images"]))  # a small upload: one batch
        elif data in SOURCES:
            data_name, label = data, data
            if batch_size:
                budget["batch_size"] = batch_size
        else:
            raise UserError(f"unknown data {data!r}; choose a dataset or upload pictures")
        source = str(self.index.path(init_from)) if init_from else None  # a run of this folder, never a path
        cfg = build_run_config(
            data=data_name,
            preset=preset,
            train=budget,
            resolution=resolution,
            init_from=source,
            data_options=None if clusters is None else {"clusters": clusters},
        )
        return self.start(cfg.to_dict(), minutes, label)

    def start(self, config: dict, minutes: float, label: str) -> dict:
        """A new run from a complete RunConfig dict, for ``minutes`` of wall-clock time."""
        cfg_path = self.dir / f"config-{secrets.token_hex(4)}.json"
        runs.atomic_write_json(cfg_path, config)
        args = ["--config", str(cfg_path), "--out", str(self.runs_dir), "--minutes", f"{minutes:g}"]
        return self._spawn(
            "train",
            args,
            None,
            {
                "minutes": minutes,
                "label": label,
                "data": config["data"]["name"],
                "init_from": config.get("init_from"),
                "known_runs": self.index.names(),
            },
        )

    def resume(self, run: str, minutes: float) -> dict:
        """Continue a run of this folder from its latest checkpoint for ``minutes`` more."""
        if runs.find_checkpoint(self.index.path(run), "latest") is None:
            raise UserError(f"run {run} has no checkpoint to resume from")
        if self.running_for(run):
            raise UserError(f"run {run} is already training; stop it first")
        args = ["--resume", str(self.runs_dir / run), "--minutes", f"{minutes:g}"]
        return self._spawn("resume", args, run, {"minutes": minutes, "label": f"resume {run}"})

    # ---- watching ------------------------------------------------------------------------------
    def refresh(self) -> list[dict]:
        """Update every running job (find its run folder, notice its end); returns all jobs."""
        for job in self.store.jobs("running") + self.store.jobs("stopping"):
            changed = False
            if job["run"] is None:
                run = self._find_run(job)
                if run:
                    job["run"] = run
                    changed = True
                    self._write_pid_file(job)
            child = self._children.get(job["pid"])
            ended = child.poll() is not None if child is not None else not _alive(job["pid"])
            if ended:
                if child is not None:
                    job["info"]["returncode"] = child.returncode
                    self._children.pop(job["pid"], None)
                if job["run"] is None:
                    job["run"] = self._find_run(job)
                err = self._error(job["id"])
                if job["status"] == "stopping" and not err:
                    job["status"] = "stopped"  # SIGTERM: a checkpoint was saved (or nothing had started)
                elif err or (child is not None and child.returncode not in (0, None)):
                    job["status"] = "failed"
                else:
                    job["status"] = "finished"
                if err:
                    job["info"]["error"] = err
                job["info"]["ended"] = time.time()
                changed = True
                if job["run"]:
                    (self.runs_dir / job["run"] / PID_FILE).unlink(missing_ok=True)
            if changed:
                self.store.put_job(job)
        return self.store.jobs()

    def get(self, jid: str) -> dict:
        self.refresh()
        job = self.store.job(jid)
        if job is None:
            raise NotFound(f"unknown job {jid!r}")
        return job

    def running_for(self, run: str) -> dict | None:
        for job in self.refresh():
            if job["run"] == run and job["status"] in ("running", "stopping"):
                return job
        return None

    def stop(self, jid: str) -> dict:
        job = self.get(jid)
        if job["status"] not in ("running", "stopping"):
            raise UserError(f"job {jid} is not running ({job['status']})")
        if _alive(job["pid"]):
            os.kill(job["pid"], signal.SIGTERM)
        job["status"] = "stopping"
        self.store.put_job(job)
        return job

    def log_tail(self, jid: str, n: int = 4000) -> str:
        path = self.dir / f"{jid}.log"
        if not path.is_file():
            return ""
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - n))
            return f.read().decode("utf-8", "replace")

    def _error(self, jid: str) -> str | None:
        for line in reversed(self.log_tail(jid).splitlines()):
            if line.startswith("error:"):
                return line[len("error:") :].strip()
            if line.startswith("Traceback"):
                return "training crashed; see " + str(self.dir / f"{jid}.log")
        return None

    def _find_run(self, job: dict) -> str | None:
        """The run folder a new job created: a run born after it started, on its data, not claimed."""
        info = job["info"]
        claimed = {j["run"] for j in self.store.jobs() if j["run"]}
        for p in self.index.paths():
            if p.name in info.get("known_runs", ()) or p.name in claimed:
                continue
            try:
                cfg = json.loads((p / "config.json").read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if cfg.get("data", {}).get("name") == info.get("data") and cfg.get("init_from") == info.get("init_from"):
                return p.name
        return None

    def _write_pid_file(self, job: dict) -> None:
        with contextlib.suppress(OSError):  # the marker only helps other studios see the job; never fatal
            runs.atomic_write_json(
                self.runs_dir / job["run"] / PID_FILE,
                {"pid": job["pid"], "job": job["id"], "started": job["info"].get("started")},
            )
