"""``folder-rcf``: fixed random-convolution features + pixel statistics, for unlabelled image folders.

Why this extractor (and not an autoencoder trained on the folder)
    * It needs no training and no labels: it works on a folder of 50 images as well as 50,000,
      where an encoder trained on a small folder would overfit it and take minutes per folder.
    * It is the same network for every folder and every machine: its weights come from numpy's
      legacy ``RandomState`` (a stream numpy guarantees never to change), so its ``id`` (a hash of
      the weights) is identical everywhere and numbers from different runs are comparable.
    * Random convolutional features are a known, reasonable embedding for non-ImageNet domains
      (Naeem et al. 2020, "Reliable fidelity and diversity metrics for generative models", use
      randomly initialised networks as embeddings; random conv nets preserve a lot of image
      structure). Taking mean *and* standard deviation of every channel at four scales makes it
      sensitive to what GAN samples get wrong: blur (lost fine-scale energy), noise / artefacts
      (extra fine-scale energy), colour and contrast, and which kinds of image occur (mode
      dropping moves the feature mean and shrinks the covariance).
    * The pixel-statistics part (a 4 x 4 average-pooled picture of the layout and colour) keeps
      global composition in view, which global pooling of conv features throws away.
    It is *not* semantic: it does not know that two photographs show the same object. Its numbers
    are only comparable with other numbers carrying the same name and id. ``benchmarks/eval_README.md``
    shows FID against a folder rising monotonically with blur, noise and dropped sub-folders.

Network (images are converted to RGB and resized to 64 x 64, mapped to [-1, 1]):
    4 blocks of Conv3x3 (3 -> 8 -> 16 -> 32 -> 64 channels, He-scaled normal weights, no bias; the
    first block's filters are made zero-mean, i.e. band-pass) + ReLU, with 2x average pooling
    before blocks 2-4 (scales 64, 32, 16, 8 pixels).
    Features: per block and channel the log of the spatial mean and of the standard deviation of
    the activations (log: a change of fine-scale energy by a factor counts the same for a faint
    and a contrasty image, which makes blur and noise stand out), each block scaled by
    1/sqrt(channels) so that every scale weighs alike (240 values), then
    the 4 x 4 x 3 average-pooled image in [-1, 1] (48 values): D = 288.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .base import Extractor, sha256_tensors

SEED = 20240601
WIDTHS = (8, 16, 32, 64)
SIZE = 64
LAYOUT = 4
EPS = 1e-3


def _weights(seed: int = SEED) -> dict[str, torch.Tensor]:
    rs = np.random.RandomState(seed)  # legacy stream: guaranteed stable across numpy versions
    out, c = {}, 3
    for i, w in enumerate(WIDTHS):
        a = rs.standard_normal((w, c, 3, 3))
        if i == 0:  # zero-mean first filters: band-pass, blind to overall brightness
            a -= a.mean(axis=(1, 2, 3), keepdims=True)
        out[f"conv{i}"] = torch.from_numpy((a * math.sqrt(2.0 / (c * 9))).astype(np.float32))
        c = w
    return out


class RandomConvExtractor(Extractor):
    """The ``folder-rcf`` extractor (see the module docstring)."""

    name = "folder-rcf"
    description = (
        "fixed random-conv features (seeded, untrained; log mean+std at 4 scales) + 4x4 pixel layout; "
        "any images, not semantic"
    )
    input_channels = 3
    input_size = (SIZE, SIZE)
    batch_size = 200

    def __init__(self, seed: int = SEED):
        self.seed = seed
        self.weights = _weights(seed)
        self.id = sha256_tensors(
            self.weights,
            {"widths": WIDTHS, "size": SIZE, "layout": LAYOUT, "eps": EPS, "stats": "log-mean-std", "version": 2},
        )[:12]

    def _forward(self, x: torch.Tensor):
        h = x * 2 - 1
        layout = F.adaptive_avg_pool2d(h, LAYOUT).flatten(1)
        parts = []
        for i, w in enumerate(WIDTHS):
            if i:
                h = F.avg_pool2d(h, 2)
            h = F.relu(F.conv2d(h, self.weights[f"conv{i}"], padding=1))
            flat = h.flatten(2)
            scale = 1.0 / math.sqrt(w)
            parts += [torch.log(flat.mean(2) + EPS) * scale, torch.log(flat.std(2) + EPS) * scale]
        return torch.cat(parts + [layout], dim=1), None

    def extra_info(self) -> dict:
        return {"seed": self.seed, "input": f"RGB {SIZE}x{SIZE}", "dims": 2 * sum(WIDTHS) + 3 * LAYOUT * LAYOUT}
