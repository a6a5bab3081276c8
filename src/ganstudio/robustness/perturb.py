"""What happens to a picture on its way around the web: JPEG, blur, resizing; and Wang et al.'s training augmentation.

Every function maps uint8 pictures (N, C, H, W), C in {1, 3}, to uint8 pictures of the same shape: the
detector sees stored pictures (a PNG or a JPEG is uint8), so the perturbations do too, and a generated
picture is rounded to uint8 before it is judged, as it would be on disk.

``PERTURBATIONS`` names the fixed test conditions (JPEG at quality 95/75/50, a Gaussian blur, a resize down
and back up); ``augment`` is the random training augmentation of Wang et al. (CVPR 2020): with probability
``p_blur`` a Gaussian blur of random sigma, then with probability ``p_jpeg`` a JPEG of random quality.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = ["PERTURBATIONS", "augment", "blur", "jpeg", "resize"]

_MODES = {1: "L", 3: "RGB"}


def _check(x: torch.Tensor) -> None:
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in _MODES:
        raise ValueError(f"expected uint8 pictures (N, 1 or 3, H, W), got {x.dtype} {tuple(x.shape)}")


def jpeg_one(picture: np.ndarray, quality: int) -> np.ndarray:
    """One uint8 (C, H, W) picture through a JPEG encode + decode in memory (Pillow, 4:2:0 for colour)."""
    c = picture.shape[0]
    im = Image.fromarray(picture[0] if c == 1 else picture.transpose(1, 2, 0), _MODES[c])
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as back:
        a = np.asarray(back.convert(_MODES[c]))
    return a[None] if c == 1 else a.transpose(2, 0, 1)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the same pictures after a JPEG round trip at ``quality`` (1-100)."""
    _check(x)
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1-100, got {quality}")
    a = x.numpy()
    return torch.from_numpy(np.stack([jpeg_one(p, quality) for p in a])) if len(a) else x.clone()


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))  # +-3 sigma holds 99.7 % of the weight
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _blur_float(u: torch.Tensor, sigma: float) -> torch.Tensor:
    """float (N, C, H, W) -> separable Gaussian blur with reflected edges (no dark border)."""
    k = _gaussian_kernel(sigma)
    r = len(k) // 2
    n, c, h, w = u.shape
    if r >= min(h, w):  # reflection needs the pad below the side: replicate instead for tiny pictures
        mode = "replicate"
    else:
        mode = "reflect"
    v = u.reshape(n * c, 1, h, w)
    v = F.conv2d(F.pad(v, (r, r, 0, 0), mode=mode), k.view(1, 1, 1, -1))
    v = F.conv2d(F.pad(v, (0, 0, r, r), mode=mode), k.view(1, 1, -1, 1))
    return v.reshape(n, c, h, w)


def _round(u: torch.Tensor) -> torch.Tensor:
    return u.round().clamp_(0, 255).to(torch.uint8)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """uint8 (N, C, H, W) -> Gaussian blur of standard deviation ``sigma`` pixels (0: unchanged)."""
    _check(x)
    if sigma < 0:
        raise ValueError(f"blur sigma must be >= 0, got {sigma}")
    if sigma == 0 or not len(x):
        return x.clone()
    return _round(_blur_float(x.float(), sigma))


def resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """uint8 (N, C, H, W) -> shrunk by ``scale`` (antialiased bilinear) and enlarged back to (H, W)."""
    _check(x)
    if not 0 < scale <= 1:
        raise ValueError(f"resize scale must be in (0, 1], got {scale}")
    h, w = x.shape[2:]
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    if small == (h, w) or not len(x):
        return x.clone()
    u = F.interpolate(x.float(), size=small, mode="bilinear", antialias=True, align_corners=False)
    u = F.interpolate(_round(u).float(), size=(h, w), mode="bilinear", align_corners=False)  # stored small
    return _round(u)


# The fixed test conditions: name -> uint8 (N, C, H, W) -> uint8 (N, C, H, W).
# Blur and resize are sized for small pictures (28-64 px): sigma 1 px, half size and back.
PERTURBATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "clean": lambda x: x.clone(),
    "jpeg95": lambda x: jpeg(x, 95),
    "jpeg75": lambda x: jpeg(x, 75),
    "jpeg50": lambda x: jpeg(x, 50),
    "blur1": lambda x: blur(x, 1.0),
    "resize0.5": lambda x: resize(x, 0.5),
}


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    p_blur: float = 0.5,
    p_jpeg: float = 0.5,
    sigma_max: float = 1.0,
    quality_min: int = 30,
) -> torch.Tensor:
    """Wang et al.'s "Blur+JPEG (0.5)" augmentation, picture by picture: with probability ``p_blur`` a blur
    of sigma ~ U(0, sigma_max), then with probability ``p_jpeg`` a JPEG of quality ~ U{quality_min..100}.

    Wang used sigma ~ U(0, 3) on 256 px pictures; ``sigma_max`` scales that to the pictures at hand
    (1 px suits 28-32 px). Deterministic given ``generator``.
    """
    _check(x)
    n = len(x)
    do_blur = torch.rand(n, generator=generator) < p_blur
    sigmas = torch.rand(n, generator=generator) * sigma_max
    do_jpeg = torch.rand(n, generator=generator) < p_jpeg
    qualities = torch.randint(quality_min, 101, (n,), generator=generator)
    out = x.clone()
    for i in torch.nonzero(do_blur).flatten().tolist():
        if sigmas[i] > 0:
            out[i : i + 1] = _round(_blur_float(out[i : i + 1].float(), float(sigmas[i])))
    if do_jpeg.any():
        a = out.numpy()
        for i in torch.nonzero(do_jpeg).flatten().tolist():
            a[i] = jpeg_one(a[i], int(qualities[i]))
    return out
