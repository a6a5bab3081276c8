"""The piece itself: parameter state on a frame clock, turned into one frame per step. No threads, no I/O.

``Show.step(events)`` is the whole show: apply the frame's events (new targets, a scene, a mode
switch), move every value toward its target by its slew, find the walk's latent at the current phase,
glide the shown latent toward it, render, then advance the phase by ``speed`` loops per minute. Time is
the frame clock: every frame is ``1 / fps`` seconds, whatever the wall clock did, so the same start
state and the same events at the same frame numbers give the same frames bit for bit (``recording``).

Attract mode (``watchdog``): the targets a performer set are put aside and the walk drifts through new
seeds at ``attract_speed`` with the direction sliders at rest and the walk's own classes; leaving it
brings the performer's targets back (each value slews there).

Text (runs that read text): the shown text follows the walk's own (``walk.text_at``: the keyframes' prompts,
slerped) or, in live mode, the performer's prompt (a ``text`` event: ``LiveSession.prompt``); it glides like z
(``walk.glide_text``) and each frame's ``Latent`` carries it (its prompt, or a ``text_mix`` of prompts), so
``ganstudio generate RUN --from`` remakes the frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import latents as L
from ..creative.interpolate import slerp
from ..errors import UserError
from .bus import Event
from .params import PATHS, Registry, slew_step
from .walk import Keys, Parts, Walk, parts_of

MODES = ("live", "attract")


@dataclass
class LiveState:
    """Everything that decides the next frame (with the registry, the run and the renderer)."""

    values: dict[str, float]
    targets: dict[str, float]
    phase: float = 0.0
    frame: int = 0
    mode: str = "live"
    scene: str | None = None
    saved: dict[str, float] | None = None  # the performer's targets while in attract mode
    z: torch.Tensor | None = None  # the shown (glided) latent, float32 (z_dim,)
    y: torch.Tensor | None = None  # the shown class weights, float32 (K,)
    text: Parts | None = None  # the shown text (runs that read text): (prompt, text_hash, weight) parts
    prompt: Parts | None = None  # the performer's text (a ``text`` event); None: the walk's own

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": dict(self.values),
            "targets": dict(self.targets),
            "phase": self.phase,
            "frame": self.frame,
            "mode": self.mode,
            "scene": self.scene,
            "saved": None if self.saved is None else dict(self.saved),
            "z": None if self.z is None else self.z.tolist(),
            "y": None if self.y is None else self.y.tolist(),
            "text": None if self.text is None else [list(p) for p in self.text],
            "prompt": None if self.prompt is None else [list(p) for p in self.prompt],
        }

    @classmethod
    def from_dict(cls, d: dict, registry: Registry) -> LiveState:
        try:
            names = set(registry.names())
            for key in ("values", "targets"):
                if set(d[key]) != names:
                    raise UserError(f"the saved {key} are for other parameters than this piece has")
            return cls(
                values={k: float(v) for k, v in d["values"].items()},
                targets={k: float(v) for k, v in d["targets"].items()},
                phase=float(d["phase"]),
                frame=int(d["frame"]),
                mode=str(d["mode"]),
                scene=d.get("scene"),
                saved=None if d.get("saved") is None else {k: float(v) for k, v in d["saved"].items()},
                z=None if d.get("z") is None else torch.tensor(d["z"], dtype=torch.float32),
                y=None if d.get("y") is None else torch.tensor(d["y"], dtype=torch.float32),
                text=parts_of(d.get("text")),
                prompt=parts_of(d.get("prompt")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"damaged live state ({type(e).__name__}: {e})") from None


@dataclass
class Frame:
    index: int
    image: np.ndarray  # (H, W, C) uint8, C in {1, 3, 4}
    latent: L.Latent
    events: list[tuple[str, Any]] = field(default_factory=list)  # what happened: frame, loop, scene, mode
    values: dict[str, float] = field(default_factory=dict)
    mode: str = "live"
    scene: str | None = None


class Show:
    def __init__(
        self,
        pipe,
        registry: Registry,
        renderer,
        directions=None,
        fps: float = 30.0,
        attract_speed: float = 6.0,
        state: LiveState | None = None,
        keys: Keys | None = None,
    ):
        if not (math.isfinite(fps) and fps > 0):
            raise UserError(f"fps must be a positive number, got {fps}")
        self.pipe, self.registry, self.renderer, self.directions = pipe, registry, renderer, directions
        self.fps = float(fps)
        self.dt = 1.0 / self.fps
        self.walk = Walk(pipe, keys)
        self.dir_names = registry.names("directions")
        self.class_names = registry.names("classes")
        self.attract_targets = {n: 0.0 for n in self.dir_names}
        self.attract_targets["path"] = float(PATHS.index("drift"))
        self.attract_targets["speed"] = registry["speed"].quantise(attract_speed)
        self.state = state or LiveState(values=registry.defaults(), targets=registry.defaults())
        self.run = L.run_name(pipe)

    # ---- events --------------------------------------------------------------------------------
    def apply(self, ev: Event) -> list[tuple[str, Any]]:
        s = self.state
        if ev.kind == "set":
            s.targets[ev.name] = float(ev.value)
            if s.saved is not None:
                s.saved[ev.name] = float(ev.value)
            return []
        if ev.kind == "scene":
            for k, v in dict(ev.value).items():
                s.targets[k] = float(v)
                if s.saved is not None:
                    s.saved[k] = float(v)
            s.scene = ev.name
            return [("scene", ev.name)]
        if ev.kind == "mode":
            if ev.name not in MODES:
                raise ValueError(f"unknown mode {ev.name!r}")
            if ev.name == s.mode:
                return []
            if ev.name == "attract":
                s.saved = dict(s.targets)
                s.targets.update(ev.value if isinstance(ev.value, dict) else self.attract_targets)
            else:
                if s.saved is not None:
                    s.targets = s.saved
                s.saved = None
            s.mode = ev.name
            return [("mode", ev.name)]
        if ev.kind == "text":
            if not self.walk.reads_text:
                raise ValueError("this run does not read text")
            s.prompt = parts_of(ev.value)
            return []
        raise ValueError(f"unknown event kind {ev.kind!r}")

    # ---- one frame -----------------------------------------------------------------------------
    def step(self, events: Sequence[Event] = ()) -> Frame:
        s = self.state
        out: list[tuple[str, Any]] = [("frame", s.frame)]
        for ev in events:
            out += self.apply(ev)
        for spec in self.registry:
            if spec.kind == "float":
                s.values[spec.name] = slew_step(s.values[spec.name], s.targets[spec.name], spec.slew, self.dt)
            else:
                s.values[spec.name] = s.targets[spec.name]
        v = s.values
        path = PATHS[int(v["path"])]
        at = (int(v["seed"]), s.phase + v["offset"])
        z, y = self.walk.at(path, *at)
        if s.mode == "live" and self.class_names:
            w = torch.tensor([v[n] for n in self.class_names], dtype=torch.float32)
            total = float(w.sum())
            if total > 1e-6:
                y = w / total
        text = None
        if self.walk.reads_text:
            text = s.prompt if s.mode == "live" and s.prompt is not None else self.walk.text_at(path, *at)
        glide = v["glide"]
        if s.z is None or glide <= 0:
            s.z, s.y, s.text = z, y, text
        else:
            a = -math.expm1(-self.dt / glide)
            s.z = slerp(s.z, z, a)
            s.y = None if y is None or s.y is None else s.y + a * (y - s.y)
            s.text = self.walk.glide_text(s.text, text, a)
        latent = self.latent()
        image = self.renderer.render(latent)
        frame = Frame(s.frame, image, latent, out, dict(v), s.mode, s.scene)
        before = math.floor(s.phase)
        s.phase += v["speed"] / 60.0 * self.dt
        if math.floor(s.phase) != before:
            out.append(("loop", math.floor(s.phase)))
        s.frame += 1
        return frame

    def latent(self) -> L.Latent:
        """The ``Latent`` of the shown frame (``ganstudio generate --from`` remakes it)."""
        s = self.state
        assert s.z is not None
        edits = tuple((int(n.split("/")[1]), s.values[n]) for n in self.dir_names if s.values[n] != 0.0)
        lat = L.Latent(
            z=tuple(s.z.tolist()),
            classes=None if s.y is None else tuple(s.y.tolist()),
            truncation=s.values["truncation"],
            edits=edits,
            directions=self.directions.ref if edits and self.directions is not None else None,
            origin={"op": "live", "frame": s.frame},
            run=self.run,
            step=self.pipe.step,
        )
        return L.with_text(lat, s.text) if s.text else lat

    def snapshot(self) -> dict[str, Any]:
        return self.state.to_dict()

    def restore(self, d: dict) -> None:
        self.state = LiveState.from_dict(d, self.registry)
