"""Folders of colour crops from scikit-image's sample photographs (real photos, offline, no download).

``make_crops(folder, size=64, per_image=100, columns=(0.0, 1.0), seed=0)`` writes ``per_image`` random
square crops, resized to ``size`` px, from the horizontal band ``columns`` (fractions of each photo's
width) of every colour sample photo. Two disjoint bands give a training folder and a held-out folder
whose pixels never overlap: ``columns=(0, 0.75)`` and ``(0.75, 1)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHOTOS = [
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "retina",
    "motorcycle_left",
    "hubble_deep_field",
    "colorwheel",
    "cat",
]


def make_crops(
    folder: Path, size: int = 64, per_image: int = 100, columns: tuple[float, float] = (0.0, 1.0), seed: int = 0
) -> Path:
    """Write the crops (once: an existing non-empty folder is reused as it is); returns the folder."""
    from PIL import Image
    from skimage import data as skdata

    folder = Path(folder)
    if folder.is_dir() and any(folder.glob("*.png")):
        return folder
    tmp = folder.with_name(folder.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    k = 0
    for name in PHOTOS:
        try:
            img = getattr(skdata, name)()
        except Exception:  # a sample missing from this scikit-image build: skip it
            continue
        if img.ndim != 3:
            continue
        img = img[..., :3]
        h, w = img.shape[:2]
        x_lo, x_hi = int(columns[0] * w), int(columns[1] * w)
        band = x_hi - x_lo
        for _ in range(per_image):
            s = int(rng.integers(max(8, min(h, band) // 4), max(9, min(h, band) // 2)))
            y, x = int(rng.integers(0, h - s)), int(rng.integers(x_lo, x_hi - s))
            Image.fromarray(img[y : y + s, x : x + s]).resize((size, size), Image.LANCZOS).save(
                tmp / f"{name}-{k:04d}.png"
            )
            k += 1
    tmp.rename(folder)
    return folder
