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

Text (runs that read text): a keyframe keeps its text (``Latent.text_parts``: its prompt, or its mix of
prompts) and ``text_at`` walks it like ``creative.animate`` does: ``drift`` slerps the sentence embedding
from one keyframe's text to the next (``interpolate.interpolate_text`` with the run's embeddings), recorded
as a mix of their prompts whose weights give that embedding, so every frame's latent remakes its picture
with ``ganstudio generate RUN --from``; ``circle`` and ``still`` hold keyframe ``seed``'s text. A keyframe
without text shows the empty caption (G reads zeros); to or from it the text switches halfway (no mix of a
prompt with nothing can be written down). ``glide_text`` moves a shown text toward another the same way.
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
from ..creative.animate import text_embed_of
from ..creative.interpolate import get_easing, interpolate_text, lerp, slerp, slerp_weights
from ..errors import UserError
from .params import PATHS

Parts = tuple[tuple[str, str, float], ...]  # (prompt, text_hash, weight) per part: ``Latent.text_parts``
SNAP = 1e-4  # a gliding text this close to its target (embedding distance) becomes the target itself
PRUNE = 1e-7  # mix weights smaller than this are dropped (nothing a picture shows)


def parts_of(value: Any) -> Parts | None:
    """Text parts from JSON (lists) or tuples: ``[[prompt, hash, weight], ...]`` -> Parts; None or [] -> None.
    Raises ValueError for anything else."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return None
    try:
        out = tuple((str(p), str(h), float(w)) for p, h, w in value)
    except (TypeError, ValueError):
        raise ValueError("text must be a list of [prompt, text_hash, weight]") from None
    if not all(math.isfinite(w) for _, _, w in out):
        raise ValueError("text weights must be finite numbers")
    return out


def _carrier(parts: Parts) -> L.Latent:
    """A latent that only carries ``parts`` (what ``interpolate_text`` reads)."""
    return L.with_text(L.Latent(z=(0.0,)), parts)


@dataclass(frozen=True)
class Keys:
    """Keyframes of a walk: effective latents z (N, z_dim), class weights y (N, K) or None, and for a run that
    reads text each keyframe's text parts (``()``: no text, the empty caption), or None when none has text."""

    z: torch.Tensor
    y: torch.Tensor | None = None
    text: tuple[Parts, ...] | None = None

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
        text = None
        if getattr(pipe, "reads_text", False) and any(lat.has_text for lat in latents):
            embed = text_embed_of(pipe)
            for lat in latents:  # each keyframe's text checked now (its hash), not at the first frame that shows it
                if lat.has_text:
                    embed(lat.text_parts)
            text = tuple(lat.text_parts for lat in latents)
        # what G reads beside z: class weights here (a text run's embeddings come from ``text`` frame by frame)
        return cls(torch.stack(zs), L.class_matrix(latents), text)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"z": self.z.tolist(), "y": None if self.y is None else self.y.tolist()}
        if self.text is not None:
            d["text"] = [[list(p) for p in parts] for parts in self.text]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Keys:
        y, text = d.get("y"), d.get("text")
        z = torch.tensor(d["z"], dtype=torch.float32)
        if text is not None:
            if not isinstance(text, list) or len(text) != len(z):
                raise ValueError("keys: one text per keyframe")
            text = tuple(parts_of(t) or () for t in text)
        return cls(z, None if y is None else torch.tensor(y, dtype=torch.float32), text)


class Walk:
    def __init__(self, pipe, keys: Keys | None = None, cache: int = 16):
        self.pipe = pipe
        self.keys = keys
        self.num_classes = int(pipe.num_classes or 0)
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._size = cache
        self._ease = get_easing("cosine")
        self.reads_text = bool(getattr(pipe, "reads_text", False))
        self.text_embed = text_embed_of(pipe) if self.reads_text else None

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

    # ---- text (runs that read text) ------------------------------------------------------------
    def text_at(self, path: str, seed: int, phase: float) -> Parts | None:
        """The walk's own text at ``phase`` (None: no text, the empty caption): the keyframes' texts, slerped
        along ``drift`` with the same easing as z, held by ``circle`` and ``still``."""
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r}")
        if self.keys is None or self.keys.text is None:
            return None
        texts = self.keys.text
        if path != "drift":
            return texts[seed % len(texts)] or None
        whole = math.floor(phase)
        t = self._ease(phase - whole)
        a, b = texts[(seed + int(whole)) % len(texts)], texts[(seed + int(whole) + 1) % len(texts)]
        return self.mix(a, b, t)

    def mix(self, a: Parts | None, b: Parts | None, t: float) -> Parts | None:
        """The text a fraction ``t`` of the way from ``a`` to ``b``: the slerp of their embeddings, as a mix of
        their prompts (``creative.interpolate.interpolate_text``); to or from no text it switches at t = 1/2."""
        if not a or not b:
            return (a if t < 0.5 else b) or None
        return interpolate_text(_carrier(a), _carrier(b), t, "slerp", self.text_embed)

    def glide_text(self, shown: Parts | None, target: Parts | None, a: float) -> Parts | None:
        """One glide step of the shown text: a fraction ``a`` of the way to ``target`` along the slerp of the
        embeddings (like z's glide); it becomes ``target`` itself once within ``SNAP``, and jumps to or from
        no text."""
        if shown == target or not shown or not target or a >= 1.0 or self.text_embed is None:
            return target
        ea, eb = self.text_embed(shown), self.text_embed(target)
        ca, cb = slerp_weights(ea, eb, a)
        parts = tuple(p for p in L.merge_parts([(shown, ca), (target, cb)]) if abs(p[2]) > PRUNE)
        if len(parts) < 2 or float((self.text_embed(parts) - eb).double().norm()) < SNAP:
            return target
        return parts
