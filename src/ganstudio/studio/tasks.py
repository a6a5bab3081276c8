"""Animation renders: looping GIFs and MP4s made in background threads, polled by the page.

A render can take minutes, longer than a request should wait, so ``start`` checks the request and
prepares the path under the model's lock (a bad request fails at once, not in the worker), then
renders in a daemon thread (``creative_bridge.render_video`` takes the model's lock per chunk, so
the model stays responsive). At most ``MAX_RUNNING`` renders run at once: each holds a CPU.
The registry lives in memory: a restarted studio forgets its renders (their files stay in
``<runs>/.studio/renders/``).

Training jobs are separate processes and have their own registry, ``jobs.Jobs``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from . import creative_bridge as cb
from .engine import Engine, LatentLike
from .errors import NotFound

MAX_RUNNING = 2
MIME = {"gif": "image/gif", "mp4": "video/mp4"}


class Animations:
    def __init__(self, engine: Engine, out_dir: Path):
        self.engine = engine
        self.out_dir = Path(out_dir)
        self._tasks: dict[str, dict] = {}
        self._lock = threading.Lock()

    def start(
        self, run: str, checkpoint: str, keys: Sequence[LatentLike], frames_per_key: int, fmt: str, fps: int, size: int
    ) -> dict:
        """Start rendering the loop through ``keys``; returns the task (id, status, progress)."""
        pipe, lock = self.engine.pipeline(run, checkpoint)
        with lock:
            lats = cb.loop_path([self.engine.resolve(pipe, run, k) for k in keys], frames_per_key)
            refs = {lat.directions for lat in lats if lat.edits}
            dirs = self.engine.directions_for(run, pipe, refs.pop() if refs else None)
        tid = secrets.token_hex(6)
        task = {"id": tid, "status": "running", "progress": 0.0, "error": None, "url": None}
        with self._lock:
            if sum(t["status"] == "running" for t in self._tasks.values()) >= MAX_RUNNING:
                raise UserError(f"{MAX_RUNNING} animations are already rendering; wait for one to finish")
            self._tasks[tid] = task
        path = self.out_dir / f"{tid}.{fmt}"
        threading.Thread(target=self._render, args=(task, pipe, lock, lats, dirs, path, fps, size), daemon=True).start()
        return task

    def _render(self, task: dict, pipe, lock, lats, dirs, path: Path, fps: int, size: int) -> None:
        try:
            cb.render_video(pipe, lats, dirs, path, fps, size, lambda p: task.update(progress=round(p, 3)), lock=lock)
            task.update(status="done", progress=1.0, url=f"/api/animations/{task['id']}/file")
        except Exception as e:  # reported to the page, never raised into the thread
            task.update(status="failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__)

    def get(self, tid: str) -> dict:
        t = self._tasks.get(tid)
        if t is None:
            raise NotFound(f"unknown render {tid!r}")
        return t

    def file(self, tid: str) -> tuple[Path, str]:
        """(path, MIME type) of a finished render."""
        t = self._tasks.get(tid)
        if t is None or t["status"] != "done":
            raise NotFound(f"render {tid!r} is not ready")
        for ext, mime in MIME.items():
            f = self.out_dir / f"{tid}.{ext}"
            if f.is_file():
                return f, mime
        raise NotFound(f"render {tid!r} is gone")
