"""Training jobs: ``python -m ganstudio train ...`` in its own process, tracked across restarts.

The web server never trains. Each job is a child process in its own session (a closed tab or a
stopped studio does not stop it), logging to ``<runs>/.studio/jobs/<id>.log``. Jobs live in the
studio's SQLite table and, once its run folder is known, in ``<run>/studio-job.json`` (the pid file),
so a restarted studio finds a training that is still going. Stop = SIGTERM: the trainer finishes its
step, saves a checkpoint and exits.
"""
from __future__ import annotations

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
from ..errors import UserError
from .store import Store

PID_FILE = "studio-job.json"


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


class Jobs:
    def __init__(self, runs_dir: Path, store: Store, python: str = sys.executable):
        self.runs_dir = Path(runs_dir).resolve()
        self.store = store
        self.python = python
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
            p = subprocess.Popen([self.python, "-m", "ganstudio", "train", *args, "--quiet"],
                                 stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=self.runs_dir, env=env, start_new_session=True)
        with self._lock:
            self._children[p.pid] = p
        job = {"id": jid, "kind": kind, "run": run, "pid": p.pid, "status": "running",
               "created": time.time(), "info": {**info, "started": time.time()}}
        self.store.put_job(job)
        if run:
            self._write_pid_file(job)
        return job

    def start(self, config: dict, minutes: float, label: str) -> dict:
        """A new run from a complete RunConfig dict, for ``minutes`` of wall-clock time."""
        cfg_path = self.dir / f"config-{secrets.token_hex(4)}.json"
        runs.atomic_write_json(cfg_path, config)
        args = ["--config", str(cfg_path), "--out", str(self.runs_dir), "--minutes", f"{minutes:g}"]
        return self._spawn("train", args, None, {"minutes": minutes, "label": label,
                                                  "data": config["data"]["name"],
                                                  "init_from": config.get("init_from"),
                                                  "known_runs": [p.name for p in runs.list_runs(self.runs_dir)]})

    def resume(self, run: str, minutes: float) -> dict:
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
            from .engine import NotFound

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
                return line[len("error:"):].strip()
            if line.startswith("Traceback"):
                return "training crashed; see " + str(self.dir / f"{jid}.log")
        return None

    def _find_run(self, job: dict) -> str | None:
        """The run folder a new job created: a run born after it started, on its data, not claimed."""
        info = job["info"]
        claimed = {j["run"] for j in self.store.jobs() if j["run"]}
        for p in runs.list_runs(self.runs_dir):
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
        try:
            runs.atomic_write_json(self.runs_dir / job["run"] / PID_FILE,
                                   {"pid": job["pid"], "job": job["id"], "started": job["info"].get("started")})
        except OSError:
            pass
