"""A fixed random-convolution network: a label-free, training-free description of how a picture looks.

Shared by the ``folder-rcf`` feature extractor (``features.randconv``: FID and friends on any folder) and by
``data.clusters`` (pictures grouped by look, so an unlabelled folder can train a conditional model). It lives
below both so the data layer need not import the evaluation's extractors.

Network (pictures in [0, 1], RGB, 64 x 64; callers resize): 4 blocks of Conv3x3 (3 -> 8 -> 16 -> 32 -> 64
channels, He-scaled normal weights from numpy's legacy ``RandomState``, a stream numpy guarantees never to
change, no bias; the first block's filters zero-mean, i.e. band-pass) + ReLU, with 2x average pooling before
blocks 2-4 (scales 64, 32, 16, 8 pixels). Features: per block and channel the log of the spatial mean and of
the standard deviation of the activations, each block scaled by 1/sqrt(channels) so that every scale weighs
alike (240 values), then the 4 x 4 x 3 average-pooled picture in [-1, 1] (48 values): D = 288.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20240601
WIDTHS = (8, 16, 32, 64)
SIZE = 64
LAYOUT = 4
EPS = 1e-3
DIMS = 2 * sum(WIDTHS) + 3 * LAYOUT * LAYOUT


def weights(seed: int = SEED) -> dict[str, torch.Tensor]:
    """The network's conv weights, the same on every machine for one seed."""
    rs = np.random.RandomState(seed)  # legacy stream: guaranteed stable across numpy versions
    out, c = {}, 3
    for i, w in enumerate(WIDTHS):
        a = rs.standard_normal((w, c, 3, 3))
        if i == 0:  # zero-mean first filters: band-pass, blind to overall brightness
            a -= a.mean(axis=(1, 2, 3), keepdims=True)
        out[f"conv{i}"] = torch.from_numpy((a * math.sqrt(2.0 / (c * 9))).astype(np.float32))
        c = w
    return out


def describe(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
    """float (N, 3, SIZE, SIZE) in [0, 1] -> (N, DIMS) features (see the module docstring)."""
    h = x * 2 - 1
    layout = F.adaptive_avg_pool2d(h, LAYOUT).flatten(1)
    parts = []
    for i, width in enumerate(WIDTHS):
        if i:
            h = F.avg_pool2d(h, 2)
        h = F.relu(F.conv2d(h, w[f"conv{i}"], padding=1))
        flat = h.flatten(2)
        scale = 1.0 / math.sqrt(width)
        parts += [torch.log(flat.mean(2) + EPS) * scale, torch.log(flat.std(2) + EPS) * scale]
    return torch.cat(parts + [layout], dim=1)
