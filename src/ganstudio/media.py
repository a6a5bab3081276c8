"""Image grids and files with numpy and Pillow (no torchvision). Knows nothing about GANs.

Images at this boundary are uint8 arrays/tensors shaped (N, C, H, W), C in {1, 3, 4}: grey, RGB or RGBA
(straight, not premultiplied, alpha). RGBA stays RGBA where the file format has alpha (PNG, WebP, TIFF:
grids get transparent gaps); where it has none (JPEG, BMP, ..., and the videos of ``media_video``) it is
composited over ``BACKGROUND`` (white) first, the way a transparent picture looks on a web page.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import UserError
from .fsutil import atomic_file

BACKGROUND = (255, 255, 255)  # what RGBA pictures are composited on for formats without alpha
ALPHA_FORMATS = frozenset({"PNG", "WEBP", "TIFF"})  # Pillow formats that keep RGBA as it is


def as_uint8_nchw(images) -> np.ndarray:
    """Accept a uint8 tensor/array (N,C,H,W) or a float one in [0, 1]; return uint8 numpy."""
    a = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if a.dtype != np.uint8:
        a = np.clip(np.round(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 3:
        a = a[:, None]
    return a


def flatten(images, background: tuple[int, int, int] = BACKGROUND) -> np.ndarray:
    """uint8 (N, 4, H, W) RGBA (straight alpha; or float in [0, 1]) -> uint8 (N, 3, H, W) RGB composited over
    ``background``; grey and RGB images come back as uint8, unchanged."""
    a = as_uint8_nchw(images)
    if a.shape[1] != 4:
        return a
    alpha = a[:, 3:].astype(np.float32) / 255.0
    bg = np.asarray(background, np.float32).reshape(1, 3, 1, 1)
    return np.clip(np.round(a[:, :3] * alpha + bg * (1.0 - alpha)), 0, 255).astype(np.uint8)


def flatten_pil(im: Image.Image, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """A PIL image with alpha (RGBA, LA, a transparent palette) -> RGB over ``background``; others unchanged."""
    if im.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in im.info:
        return im
    flat = Image.new("RGBA", im.size, (*background, 255))
    flat.alpha_composite(im.convert("RGBA"))
    return flat.convert("RGB")


def make_grid(images, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile N images into one (H, W), (H, W, 3) or (H, W, 4) uint8 array, ``nrow`` images per row.

    RGBA images keep their alpha and the gaps between them are transparent."""
    a = as_uint8_nchw(images)
    n, c, h, w = a.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value, np.uint8)
    if c == 4:
        grid[3] = 0  # transparent gaps
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
    """(H, W), (H, W, 3) or (H, W, 4) uint8 -> L, RGB or RGBA PIL image, optionally enlarged with crisp pixels."""
    im = Image.fromarray(array)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    return im


def save_image(image: Image.Image | np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Write a PNG (or any Pillow format) atomically: readers never see half a file. RGBA stays RGBA in a
    PNG (WebP, TIFF); other formats (JPEG, ...) get it composited over white."""
    path = Path(path)
    im = image if isinstance(image, Image.Image) else to_pil(image, scale)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    if fmt not in ALPHA_FORMATS:
        im = flatten_pil(im)
    with atomic_file(path, suffix=path.suffix or ".png") as tmp:
        im.save(tmp, format=fmt)
    return path


def save_grid(images, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
    return save_image(make_grid(images, nrow), path, scale)


PNG_DATA_URL = "data:image/png;base64,"


def png_data_url(chw: np.ndarray) -> str:
    """One uint8 (C, H, W) picture -> a PNG ``data:`` URL: lossless, so the pixels come back exactly, and any
    browser shows it (a latent's ``over`` picture travels in its JSON this way)."""
    buf = io.BytesIO()
    Image.fromarray(hwc(np.ascontiguousarray(chw))).save(buf, format="PNG", optimize=False)
    return PNG_DATA_URL + base64.b64encode(buf.getvalue()).decode()


def from_png_data_url(url: str, max_side: int = 1024, what: str = "the picture") -> np.ndarray:
    """A PNG ``data:`` URL -> uint8 (C, H, W) (C = 1, 3 or 4 as stored); a one-line UserError naming ``what``
    when it is not one, or is larger than ``max_side`` pixels a side (checked before the pixels are decoded)."""
    if not isinstance(url, str) or not url.startswith(PNG_DATA_URL):
        raise UserError(f"{what} is not a PNG data URL (it must start with {PNG_DATA_URL!r})")
    try:
        data = base64.b64decode(url[len(PNG_DATA_URL) :], validate=True)
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG" or max(im.size) > max_side:
                raise UserError(f"{what} is not a PNG of at most {max_side} px a side ({im.format}, {im.size})")
            if im.mode not in ("L", "RGB", "RGBA"):
                raise UserError(f"{what} is a {im.mode} PNG; expected grey, RGB or RGBA")
            a = np.asarray(im)
    except UserError:
        raise
    except (ValueError, binascii.Error, OSError, SyntaxError, zlib.error) as e:  # Pillow raises these on bad data
        raise UserError(f"{what} is damaged ({type(e).__name__}: {e})") from None
    return a[None] if a.ndim == 2 else np.ascontiguousarray(a.transpose(2, 0, 1))
