"""Personalisation: learn what a user likes from rated latents, then suggest more like it.

Preference model (``fit``): features are z (plus the class weights, times ``CLASS_SCALE``, for
conditional runs). With both liked and disliked examples, an L2-regularised logistic regression
(the L2 penalty is a Gaussian prior on the weights, strength ``prior``); with likes only, the
direction of the liked mean, shrunk toward 0 (the prior N(0, I) mean) by ``n / (n + prior)``.

Suggestions (``suggest``): candidates are drawn as children of liked latents with the
variance-preserving mutation of ``breed`` (z' = sqrt(1 - d^2) z_liked + d eps: ``diversity`` d in
(0, 1], so every candidate is still a typical N(0, I) sample and the neighbourhood of each liked
latent is explored), plus a share ``explore`` of fresh prior samples; then ranked by the preference
model, keeping at most ``ceil(2 n / likes)`` children per liked parent so one favourite cannot
take over. Suggestions keep the class weights of their liked parent but not its edits. Higher
``diversity`` = bolder, more varied suggestions; lower = close variations.

Measured with a simulated rater (benchmarks/taste_shift.py, benchmarks/creative_README.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import latents as L
from ..errors import UserError

CLASS_SCALE = 3.0


def features(latents: Sequence[L.Latent]) -> np.ndarray:
    """(N, F) preference features: z, then class weights * CLASS_SCALE when conditional."""
    z = np.asarray([l.z for l in latents], np.float64)
    if latents and latents[0].classes is not None:
        z = np.concatenate([z, CLASS_SCALE * np.asarray([l.classes for l in latents], np.float64)], 1)
    return z


@dataclass
class Taste:
    weight: np.ndarray  # (F,)
    bias: float
    liked: list[L.Latent]
    disliked: list[L.Latent]

    def score(self, latents: Sequence[L.Latent]) -> np.ndarray:
        """(N,) preference logits (higher = more liked)."""
        return features(latents) @ self.weight + self.bias


def fit(liked: Sequence[L.Latent], disliked: Sequence[L.Latent] = (), prior: float = 1.0) -> Taste:
    """Fit the preference model (see module docstring); needs at least one liked latent."""
    liked, disliked = list(liked), list(disliked)
    if not liked:
        raise UserError("like at least one picture first (--like FILES)")
    kinds = {(len(l.z), l.classes is None) for l in liked + disliked}
    if len(kinds) > 1:
        raise UserError("the rated latents come from different kinds of run; rate latents of one run")
    if prior <= 0:
        raise UserError(f"prior must be positive, got {prior}")
    if disliked:
        from sklearn.linear_model import LogisticRegression

        X = features(liked + disliked)
        y = np.r_[np.ones(len(liked)), np.zeros(len(disliked))]
        m = LogisticRegression(C=1.0 / prior, class_weight="balanced", max_iter=1000).fit(X, y)
        return Taste(m.coef_[0].astype(np.float64), float(m.intercept_[0]), liked, disliked)
    mu = features(liked).mean(0) * len(liked) / (len(liked) + prior)
    return Taste(mu, 0.0, liked, disliked)


def suggest(
    taste: Taste,
    n: int = 16,
    diversity: float = 0.5,
    explore: float = 0.1,
    oversample: int = 8,
    seed: int = 0,
    run: str | None = None,
    step: int | None = None,
) -> list[L.Latent]:
    """``n`` new latents the model expects the user to like (pure: same inputs, same output)."""
    if n <= 0:
        raise UserError(f"--n must be positive, got {n}")
    if not 0 < diversity <= 1:
        raise UserError(f"--diversity must be in (0, 1], got {diversity}")
    if not 0 <= explore <= 1:
        raise UserError(f"explore must be in [0, 1], got {explore}")
    gen = torch.Generator().manual_seed(seed)
    liked = taste.liked
    ref = liked[0]
    z_dim = len(ref.z)
    m = n * max(1, oversample)
    cands: list[L.Latent] = []
    parent_of: list[int] = []
    for _ in range(m):
        if float(torch.rand((), generator=gen)) < explore:
            z = torch.randn(z_dim, generator=gen)
            classes: tuple[float, ...] | None = None
            if ref.classes is not None:
                k = len(ref.classes)
                classes = tuple(torch.nn.functional.one_hot(torch.randint(k, (), generator=gen), k).float().tolist())
            p = -1
            parents: tuple[str, ...] = ()
            text, over, strength = ref.text_parts, ref.over, ref.over_strength  # a text run: the first liked's prompt
        else:
            p = int(torch.randint(len(liked), (), generator=gen))
            par = liked[p]
            z = math.sqrt(1 - diversity**2) * par.z_tensor + diversity * torch.randn(z_dim, generator=gen)
            classes, parents, text, over, strength = par.classes, (par.id,), par.text_parts, par.over, par.over_strength
        cand = L.Latent(
            z=tuple(z.tolist()),
            classes=classes,
            truncation=ref.truncation,
            parents=parents,
            origin={"op": "taste", "diversity": diversity, "seed": seed},
            run=run or ref.run,
            step=step if step is not None else ref.step,
        )
        # children keep their parent's prompt (and the picture it was drawn over)
        cands.append(L.with_text(cand, text).with_(over=over, over_strength=strength) if text else cand)
        parent_of.append(p)
    scores = taste.score(cands)
    cap = max(1, math.ceil(2 * n / len(liked)))
    used: dict[int, int] = {}
    out = []
    for i in np.argsort(-scores, kind="stable"):
        p = parent_of[i]
        if p >= 0 and used.get(p, 0) >= cap:
            continue
        used[p] = used.get(p, 0) + 1
        lat = cands[i]
        out.append(lat.with_(origin={**lat.origin, "score": round(float(scores[i]), 5)}))
        if len(out) == n:
            break
    return out


def taste_run(
    run_dir: str | Path,
    like: str,
    dislike: str | None = None,
    n: int = 16,
    diversity: float = 0.5,
    prior: float = 1.0,
    seed: int = 0,
    out_dir: str | Path | None = None,
    checkpoint: str = "latest",
    device: str = "cpu",
) -> list[Path]:
    """CLI entry: fit on liked/disliked latent files (comma-separated files or folders), write suggestions."""
    import hashlib

    from .. import media
    from ..pipeline import load

    liked = L.load_many(like)
    disliked = L.load_many(dislike) if dislike else []
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    from . import directions as D

    L.check_compatible(
        liked + disliked, pipe, D.for_latents(run_dir, {l.directions for l in liked + disliked}), exact=False
    )
    taste = fit(liked, disliked, prior)
    lats = suggest(taste, n, diversity, seed=seed, run=L.run_name(pipe), step=pipe.step)
    if out_dir is None:
        tag = hashlib.sha256("".join(l.id for l in liked + disliked).encode() + f"{seed}{diversity}".encode())
        out_dir = Path(run_dir) / "taste" / tag.hexdigest()[:8]
    out_dir = Path(out_dir)
    images = L.render(pipe, lats)
    written = L.save_with_latents(images, lats, out_dir, [f"suggestion{i:02d}-{lat.id}" for i, lat in enumerate(lats)])
    grid = media.save_grid(images, out_dir / "grid.png", scale=max(1, 96 // images.shape[-2]))
    return written + [grid, L.save_batch(lats, L.sidecar(grid, batch=True))]
