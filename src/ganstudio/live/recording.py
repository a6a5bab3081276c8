"""Record a control stream and replay it: the same frames, bit for bit.

A recording holds the show's state when it started (``show.LiveState``: values, targets, phase, the
shown latent, ...), the parameters' specs (range, curve, slew, deadzone: they decide the motion), and
every event with the number of the frame that applied it, counted from the first recorded frame. Time
is the frame clock, never the wall clock, so a replay steps the same ``Show`` through the same events at
the same frames and gets the same pictures, however fast or slow the machine renders. What happened
on the wall clock (the watchdog's switch to attract mode) is itself a recorded event.

File (JSON)::

    {"format": "ganstudio.live-recording/1", "run": "...", "step": 30, "backend": "torch", "fps": 30,
     "directions": "sefa-30.json#...", "params": [...], "start": {...}, "frames": 300,
     "events": [[0, "set", "truncation", 0.7], [41, "scene", "calm", {"speed": 2.0}], [90, "mode", "attract", null]]}

plus ``"keys": {"z": [[...]], "y": [[...]] | null}`` when the show walks through given latents (``walk.Keys``;
also ``"text"``, each keyframe's ``[[prompt, text_hash, weight], ...]``, for a run that reads text). A prompt
given to a run that reads text is a ``text`` event: ``[12, "text", "prompt", [["a red square", "<hash>", 1.0]]]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..fsutil import atomic_write_json
from .bus import Event
from .params import ParamSpec, Registry
from .show import Frame, Show
from .walk import Keys, parts_of

FORMAT = "ganstudio.live-recording/1"
EVENT_KINDS = ("set", "scene", "mode", "text")


@dataclass(frozen=True)
class Recording:
    run: str | None
    step: int
    backend: str
    fps: float
    directions: str | None
    params: tuple[dict, ...]
    start: dict
    frames: int
    events: tuple[tuple[int, str, str, Any], ...]
    keys: dict | None = None  # the walk's keyframes (``walk.Keys.to_dict``), when it walks through latents

    def registry(self) -> Registry:
        specs = []
        for p in self.params:
            d = {k: v for k, v in p.items() if k != "value"}
            d["choices"] = tuple(d.get("choices", ()))
            specs.append(ParamSpec(**d))
        return Registry(specs)

    def events_by_frame(self) -> dict[int, list[Event]]:
        out: dict[int, list[Event]] = {}
        for f, kind, name, value in self.events:
            out.setdefault(int(f), []).append(Event(kind, name, value))
        return out

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "run": self.run,
            "step": self.step,
            "backend": self.backend,
            "fps": self.fps,
            "directions": self.directions,
            "params": list(self.params),
            "start": self.start,
            "frames": self.frames,
            "events": [list(e) for e in self.events],
            **({} if self.keys is None else {"keys": self.keys}),
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "recording") -> Recording:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise UserError(f"{where} is not a ganstudio live recording ({FORMAT})")
        known = {"format", "run", "step", "backend", "fps", "directions", "params", "start", "frames", "events", "keys"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(unknown)}")
        try:
            events = tuple((int(f), str(k), str(n), v) for f, k, n, v in d["events"])
            rec = cls(
                run=d.get("run"),
                step=int(d["step"]),
                backend=str(d["backend"]),
                fps=float(d["fps"]),
                directions=d.get("directions"),
                params=tuple(dict(p) for p in d["params"]),
                start=dict(d["start"]),
                frames=int(d["frames"]),
                events=events,
                keys=None if d.get("keys") is None else dict(d["keys"]),
            )
            if rec.keys is not None:
                Keys.from_dict(rec.keys)  # damaged keyframes are refused here, not in the middle of a replay
            for e in events:
                if e[1] == "text":
                    parts_of(e[3])  # so are damaged texts
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{where} is damaged ({type(e).__name__}: {e})") from None
        bad = [e for e in events if e[1] not in EVENT_KINDS or not 0 <= e[0] < max(rec.frames, 1)]
        if bad:
            raise UserError(
                f"{where} is damaged: event {list(bad[0])} is not a set/scene/mode event of a recorded frame"
            )
        return rec


class Recorder:
    """Collects a live show's events from the frame it is made on."""

    def __init__(self, show: Show):
        self.show = show
        self.first = show.state.frame
        self.start = show.snapshot()
        self.events: list[tuple[int, str, str, Any]] = []
        self.frames = 0

    def add(self, frame_index: int, events: Sequence[Event]) -> None:
        """Call before the frame ``frame_index`` is made, with the events it applies."""
        rel = frame_index - self.first
        for e in events:
            value = dict(e.value) if isinstance(e.value, dict) else e.value
            self.events.append((rel, e.kind, e.name, value))
        self.frames = rel + 1

    def finish(self) -> Recording:
        show = self.show
        return Recording(
            run=show.run,
            step=int(show.pipe.step),
            backend=show.renderer.name,
            fps=show.fps,
            directions=None if show.directions is None else show.directions.ref,
            params=tuple(s.describe() for s in show.registry),
            start=self.start,
            frames=self.frames,
            events=tuple(self.events),
            keys=None if show.walk.keys is None else show.walk.keys.to_dict(),
        )


def save_recording(rec: Recording, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_json(path, rec.to_dict())
    return path


def load_recording(path: str | Path) -> Recording:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"recording {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read recording {path} ({e})") from None
    return Recording.from_dict(data, str(path))


def replay(rec: Recording, pipe, renderer, directions=None) -> Iterator[Frame]:
    """The recorded show's frames, made again from its start state and events."""
    if rec.step != pipe.step or (rec.run and pipe.run_dir is not None and rec.run != Path(pipe.run_dir).name):
        raise UserError(
            f"this recording was made with run {rec.run} at step {rec.step}, not {Path(pipe.run_dir or '?').name} "
            f"at step {pipe.step}; pass that run (and --checkpoint {rec.step})"
        )
    here = None if directions is None else directions.ref
    if rec.directions != here:
        raise UserError(f"this recording used directions {rec.directions}, this run now has {here}")
    if renderer.name != rec.backend:
        raise UserError(f"this recording was rendered with --backend {rec.backend}; replay it with the same backend")
    registry = rec.registry()
    keys = None if rec.keys is None else Keys.from_dict(rec.keys)
    show = Show(pipe, registry, renderer, directions, fps=rec.fps, keys=keys)
    show.restore(rec.start)
    by_frame = rec.events_by_frame()
    for i in range(rec.frames):
        yield show.step(by_frame.get(i, []))
