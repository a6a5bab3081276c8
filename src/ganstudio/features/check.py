"""Does an extractor notice damage? FID against real data under blur, noise and dropped modes.

A feature space worth computing FID in must rank "the data itself" best and get steadily worse
as the images are blurred, noised, or as whole modes (classes / sub-folders) go missing. This
module makes those damaged copies and measures FID for each, so any extractor (``folder-rcf``,
``classifier``, a user's ``onnx:PATH``) can be checked on any labelled data:

    ganstudio features check --features folder-rcf --data path/to/folder-with-subfolders

Shapes: images uint8 (N, C, H, W); labels int64 (N,) (mode = label).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import LinAlgWarning

from ..metrics.functional import fid
from .base import Extractor, to_unit_float

BLUR_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)  # pixels
NOISE_STDS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)  # in [0, 1] pixel units
DROP_FRACTIONS = (0.0, 0.2, 0.4, 0.6, 0.8)  # share of the modes removed


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """uint8 (N, C, H, W) -> blurred uint8 (separable Gaussian, reflect padding); sigma 0 = unchanged."""
    if sigma <= 0:
        return images
    x = to_unit_float(images)
    r = max(1, math.ceil(3 * sigma))
    r = min(r, min(x.shape[-2:]) - 1)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return x.mul(255).round_().clamp_(0, 255).to(torch.uint8)


def add_noise(images: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """uint8 (N, C, H, W) + Gaussian noise of ``std`` (in [0, 1] units), clipped; std 0 = unchanged."""
    if std <= 0:
        return images
    g = torch.Generator().manual_seed(seed)
    x = to_unit_float(images) + std * torch.randn(images.shape, generator=g)
    return x.clamp_(0, 1).mul_(255).round_().to(torch.uint8)


def drop_modes(
    images: torch.Tensor, labels: torch.Tensor, fraction: float, n: int | None = None, seed: int = 0
) -> torch.Tensor:
    """``n`` images (default: as many as given) drawn only from the modes left after removing
    ``fraction`` of them (the highest-numbered first, so the kept modes nest), with replacement
    only when the kept modes hold fewer than ``n`` images."""
    modes = torch.unique(labels)
    keep_count = max(1, len(modes) - round(fraction * len(modes) + 1e-9))
    keep = modes[:keep_count]
    pool = torch.nonzero(torch.isin(labels, keep)).flatten()
    n = len(images) if n is None else n
    g = torch.Generator().manual_seed(seed)
    if len(pool) >= n:
        idx = pool[torch.randperm(len(pool), generator=g)[:n]]
    else:
        idx = pool[torch.randint(len(pool), (n,), generator=g)]
    return images[idx]


def sensitivity(
    extractor: Extractor,
    images: torch.Tensor,
    labels: torch.Tensor,
    reference: torch.Tensor,
    blur: Sequence[float] = BLUR_SIGMAS,
    noise: Sequence[float] = NOISE_STDS,
    drop: Sequence[float] = DROP_FRACTIONS,
    seed: int = 0,
) -> dict:
    """FID(reference, damaged ``images``) for each damage level; reference (M, C, H, W) uint8 is
    real data not in ``images``. Returns {"blur": [[sigma, fid], ...], "noise": ..., "drop": ...,
    "monotonic": {kind: bool}, "extractor": describe()}."""
    ref = extractor.extract(reference).feats

    def score(x: torch.Tensor) -> float:
        with warnings.catch_warnings():  # singular covariances (n < D) are expected and handled by fid
            warnings.simplefilter("ignore", LinAlgWarning)
            return float(fid(ref, extractor.extract(x).feats))

    out: dict = {"extractor": extractor.describe(), "n": len(images), "n_reference": len(reference)}
    out["blur"] = [[s, score(gaussian_blur(images, s))] for s in blur]
    out["noise"] = [[s, score(add_noise(images, s, seed))] for s in noise]
    k = len(torch.unique(labels))
    counts = sorted({min(k - 1, round(f * k)) for f in drop})  # fractions -> whole modes, each once
    out["drop"] = [[c / k, score(drop_modes(images, labels, c / k, seed=seed))] for c in counts]
    out["modes"] = k
    out["monotonic"] = {k: bool(np.all(np.diff([v for _, v in out[k]]) > 0)) for k in ("blur", "noise", "drop")}
    return out
