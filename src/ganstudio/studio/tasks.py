"""Animation renders: looping GIFs and MP4s made in background threads, polled by the page.

A render can take minutes, longer than a request should wait, so ``start`` checks the request and
prepares the path under the model's lock (a bad request fails at once, not in the worker), then
renders in a daemon thread (``creative_bridge.render_video`` takes the model's lock per chunk, so
the model stays responsive). At most ``MAX_RUNNING`` renders run at once: each holds a CPU.
The registry lives in memory: a restarted studio forgets its renders (their files stay in
``<runs>/.studio/renders/``).

An audio-reactive render (``start_audio``: keyframes and an uploaded sound file, checked first) loads
its own copy of the model and renders the whole walk without the studio's lock; its progress moves from 0
to 1 when it is done. Its sound file is kept beside the video (``<id>-sound.<ext>``).

Training jobs are separate processes and have their own registry, ``jobs.Jobs``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from ..pipeline import load as load_pipeline
from . import creative_bridge as cb
from .engine import Engine, LatentLike
from .errors import NotFound

MAX_RUNNING = 2
MAX_AUDIO_FRAMES = 9000  # an audio-reactive render: 5 minutes at 30 frames per second
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
            lats = cb.loop_path(pipe, [self.engine.resolve(pipe, run, k) for k in keys], frames_per_key)
            refs = {lat.directions for lat in lats if lat.edits}
            dirs = self.engine.directions_for(run, pipe, refs.pop() if refs else None)
        task = self._register()
        path = self.out_dir / f"{task['id']}.{fmt}"
        threading.Thread(target=self._render, args=(task, pipe, lock, lats, dirs, path, fps, size), daemon=True).start()
        return task

    def start_audio(
        self,
        run: str,
        checkpoint: str,
        keys: Sequence[LatentLike],
        sound: bytes,
        suffix: str,
        seconds: float,
        fmt: str,
        fps: int,
        size: int,
    ) -> dict:
        """Start rendering the walk through ``keys`` that follows ``sound`` (a file's bytes, already checked
        with ``uploads.check_sound``; ``seconds`` its length); returns the task."""
        if round(seconds * fps) > MAX_AUDIO_FRAMES:
            raise UserError(
                f"{seconds:.0f} s at {fps} frames per second is more than {MAX_AUDIO_FRAMES} frames; "
                "lower the frame rate or cut the sound"
            )
        pipe, lock = self.engine.pipeline(run, checkpoint)
        with lock:
            lats = [self.engine.resolve(pipe, run, k) for k in keys]
            refs = {lat.directions for lat in lats if lat.edits}
            dirs = self.engine.directions_for(run, pipe, refs.pop() if refs else None)
        task = self._register()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        audio = self.out_dir / f"{task['id']}-sound{suffix}"
        audio.write_bytes(sound)
        path = self.out_dir / f"{task['id']}.{fmt}"
        args = (task, pipe.run_dir, pipe.step, lats, dirs, audio, path, fps, size)
        threading.Thread(target=self._render_audio, args=args, daemon=True).start()
        return task

    def _register(self) -> dict:
        tid = secrets.token_hex(6)
        task = {"id": tid, "status": "running", "progress": 0.0, "error": None, "url": None}
        with self._lock:
            if sum(t["status"] == "running" for t in self._tasks.values()) >= MAX_RUNNING:
                raise UserError(f"{MAX_RUNNING} animations are already rendering; wait for one to finish")
            self._tasks[tid] = task
        return task

    def _render_audio(self, task: dict, run_dir, step: int, lats, dirs, audio: Path, path: Path, fps, size) -> None:
        try:
            pipe = load_pipeline(run_dir, checkpoint=str(step), device="cpu")  # its own copy: no lock held
            cb.render_audio_video(pipe, lats, dirs, audio, path, fps, size)
            task.update(status="done", progress=1.0, url=f"/api/animations/{task['id']}/file")
        except Exception as e:  # reported to the page, never raised into the thread
            task.update(status="failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__)

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
