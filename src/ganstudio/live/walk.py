"""Where a live walk is at a phase: the latent z and the walk's own class weights.

``phase`` counts loops (a float; its whole part is the number of loops done). The paths:

- ``circle``: ``creative.animate``'s seamless great-circle loop, z = a cos(2 pi phase) + b sin(2 pi phase)
  with a, b the latents of seeds ``seed`` and ``seed + 1``; every point is an exact N(0, I) sample.
- ``drift``: an endless walk through seeds ``seed``, ``seed + 1``, ... (slerp with cosine easing, as
  ``creative.interpolate.path``), one keyframe per loop: it never repeats (attract mode walks this).
- ``still``: the latent of ``seed``.

Class weights of the walk itself (conditional runs, when the class mix is all zero): seed s shows class
``s % K``, the pipeline's own order, blended along ``drift`` like the latents.

With keyframes (``Keys``: latents given, e.g. the studio's favourites) "seed" s stands for keyframe
``s % N`` instead: ``drift`` is an endless loop through them (the studio's exhibition), ``circle``
swings between two of them, ``still`` holds one. A keyframe is its latent's effective z (truncation and
edits applied) and class weights, so with the piece's own truncation at 1 and its sliders at rest the
walk passes through exactly the pictures the latents make.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import latents as L
from ..creative import directions as D
from ..creative.interpolate import get_easing, lerp, slerp
from ..errors import UserError
from .params import PATHS


@dataclass(frozen=True)
class Keys:
    """Keyframes of a walk: effective latents z (N, z_dim) and class weights y (N, K) or None."""

    z: torch.Tensor
    y: torch.Tensor | None = None

    @classmethod
    def of(cls, latents: Sequence[L.Latent], pipe, run_dir: str | Path | None, directions=None) -> Keys:
        """The keyframes of ``latents`` for ``pipe`` (refused in one line when they do not fit it); edits
        are applied with the directions each latent names: ``directions`` (the piece's own) or a file
        read from ``run_dir``."""
        if not latents:
            raise UserError("a walk through latents needs at least one")
        files: dict[str, Any] = {} if directions is None else {directions.ref: directions}
        zs = []
        for lat in latents:
            ref = lat.directions if lat.edits else None
            if ref is not None and ref not in files:
                files[ref] = None if run_dir is None else D.for_latents(run_dir, [ref])
            dirs = None if ref is None else files[ref]
            L.check_compatible([lat], pipe, dirs, exact=False)
            zs.append(L.effective_z([lat], dirs)[0])
        return cls(torch.stack(zs), L.condition_matrix(pipe, latents))

    def to_dict(self) -> dict[str, Any]:
        return {"z": self.z.tolist(), "y": None if self.y is None else self.y.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Keys:
        y = d.get("y")
        return cls(
            torch.tensor(d["z"], dtype=torch.float32), None if y is None else torch.tensor(y, dtype=torch.float32)
        )


class Walk:
    def __init__(self, pipe, keys: Keys | None = None, cache: int = 16):
        self.pipe = pipe
        self.keys = keys
        self.num_classes = int(pipe.num_classes or 0)
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._size = cache
        self._ease = get_easing("cosine")

    def z_of(self, seed: int) -> torch.Tensor:
        """The latent of ``seed`` (the pipeline's own seeding: ``pipe(n=1, seed=s)`` draws this z), or
        keyframe ``seed % N``."""
        if self.keys is not None:
            return self.keys.z[seed % len(self.keys.z)]
        z = self._cache.get(seed)
        if z is None:
            z = self.pipe.latents(1, seed)[0]
            self._cache[seed] = z
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(seed)
        return z

    def one_hot(self, seed: int) -> torch.Tensor:
        """The walk's own class weights at ``seed``: its class, or keyframe ``seed % N``'s weights."""
        if self.keys is not None and self.keys.y is not None:
            return self.keys.y[seed % len(self.keys.y)]
        y = torch.zeros(self.num_classes)
        y[seed % self.num_classes] = 1.0
        return y

    def at(self, path: str, seed: int, phase: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(z (z_dim,), class weights (K,) or None) of ``path`` at ``phase``."""
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        k = self.num_classes
        if path == "circle":
            theta = 2.0 * math.pi * (phase % 1.0)
            z = self.z_of(seed) * math.cos(theta) + self.z_of(seed + 1) * math.sin(theta)
            return z, self.one_hot(seed) if k else None
        if path == "drift":
            whole = math.floor(phase)
            t = self._ease(phase - whole)
            a, b = seed + int(whole), seed + int(whole) + 1
            z = slerp(self.z_of(a), self.z_of(b), t)
            return z, lerp(self.one_hot(a), self.one_hot(b), t) if k else None
        return self.z_of(seed).clone(), self.one_hot(seed) if k else None
