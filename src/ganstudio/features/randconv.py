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

Network: ``ganstudio.randconv`` (shared with ``data.clusters``); images are converted to RGB and resized
to 64 x 64, mapped to [-1, 1], and described by 288 values (log mean and std of 4 conv scales + a 4 x 4 layout).
"""

from __future__ import annotations

import torch

from .. import randconv
from ..randconv import EPS, LAYOUT, SEED, SIZE, WIDTHS
from .base import Extractor, sha256_tensors


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
        self.weights = randconv.weights(seed)
        self.id = sha256_tensors(
            self.weights,
            {"widths": WIDTHS, "size": SIZE, "layout": LAYOUT, "eps": EPS, "stats": "log-mean-std", "version": 2},
        )[:12]

    def _forward(self, x: torch.Tensor):
        return randconv.describe(x, self.weights), None

    def extra_info(self) -> dict:
        return {"seed": self.seed, "input": f"RGB {SIZE}x{SIZE}", "dims": randconv.DIMS}
