"""scikit-learn's built-in 8x8 digits (1,797 images): the always-available fallback dataset."""

from __future__ import annotations

import numpy as np
import torch

from .base import ImageDataset

TEST_FRACTION = 0.2


def load(split: str = "train") -> ImageDataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (N, 1, 8, 8), 0..16 -> 0..255
    order = np.random.default_rng(0).permutation(len(images))  # fixed split, same on every machine
    n_test = int(len(images) * TEST_FRACTION)
    idx = order[n_test:] if split == "train" else order[:n_test]
    return ImageDataset(
        name="digits",
        images=torch.from_numpy(images[idx]),
        labels=torch.from_numpy(d.target[idx].astype(np.int64)),
        class_names=tuple(str(i) for i in range(10)),
        source="scikit-learn load_digits (built in)",
    )
