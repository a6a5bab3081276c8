"""Image grids and files with numpy and Pillow (no torchvision). Knows nothing about GANs.

Images at this boundary are uint8 arrays/tensors shaped (N, C, H, W), C in {1, 3}.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from .fsutil import atomic_file


def as_uint8_nchw(images) -> np.ndarray:
    """Accept a uint8 tensor/array (N,C,H,W) or a float one in [0, 1]; return uint8 numpy."""
    a = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if a.dtype != np.uint8:
        a = np.clip(np.round(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 3:
        a = a[:, None]
    return a


def make_grid(images, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile N images into one (H, W) or (H, W, 3) uint8 array, ``nrow`` images per row."""
    a = as_uint8_nchw(images)
    n, c, h, w = a.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, y : y + h, x : x + w] = a[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def hwc(chw: np.ndarray) -> np.ndarray:
    """One uint8 (C, H, W) image -> (H, W) if grey, (H, W, C) if colour: the layout Pillow and image files use."""
    return chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0)


def to_pils(images) -> list[Image.Image]:
    """(N, C, H, W) uint8, or float in [0, 1] -> N PIL images."""
    return [Image.fromarray(hwc(a)) for a in as_uint8_nchw(images)]


def to_pil(array: np.ndarray, scale: int = 1) -> Image.Image:
    """(H, W) or (H, W, 3) uint8 -> PIL image, optionally enlarged with crisp pixels."""
    im = Image.fromarray(array)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    return im


def save_image(image: Image.Image | np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write a PNG (or any Pillow format) atomically: readers never see half a file."""
    path = Path(path)
    im = image if isinstance(image, Image.Image) else to_pil(image, scale)
    with atomic_file(path, suffix=path.suffix or ".png") as tmp:
        im.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path


def save_grid(images, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
    return save_image(make_grid(images, nrow), path, scale)
