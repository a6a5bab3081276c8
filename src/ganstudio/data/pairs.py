"""Paired data for image-to-image translation (pix2pix) without manual labelling.

``DataConfig.pairs`` picks how each training image (the *target*) gets its *input*:

``sketch`` / ``sketch:W``
    Strokes drawn from the target's edges, made to look like a freehand drawing rather than an
    edge map: Sobel gradients of the (slightly blurred) luma, thinned to one-pixel ridges by
    non-maximum suppression, kept by a hysteresis threshold whose level varies per image (some
    sketches are sparse outlines, some show inner detail), cut by random breaks, displaced by a
    smooth random field of about a pixel (wobbly, slightly offset lines), then dilated to a random
    width around the nominal width ``W``. Black strokes (0) on white (255), one channel.
    ``W`` defaults to ``nominal_line_width(resolution)`` (1 px at 28-47 px, 2 at 48-79, 4 at 128).
    The nominal width is what the studio canvas should draw with; ``sketch_line_width`` gives it.
``grayscale``
    The target's ITU-R 601 luma (colourisation); the targets must be colour.
``folders``
    ``DataConfig.name`` is a folder holding ``A/`` (inputs) and ``B/`` (targets); files pair up by
    their path relative to ``A/`` or ``B/`` without the extension (``A/cat.png`` <-> ``B/cat.jpg``).
    Both sides are decoded by the folder loader (so they are cached like any folder) at the same
    size and crop; unmatched names are a one-line ``UserError`` naming them.

Shapes: inputs uint8 (N, Cin, H, W) pixel-aligned with the targets uint8 (N, C, H, W).

Sketches are deterministic (the transform's own seeded generator, never the global RNG) and cached
in ``<cache_root()>/pairs/<key>.npz`` (``np.savez``, read back with ``allow_pickle=False``); ``key``
hashes the cache version, the transform parameters and the target images' bytes, so a different
source, subset, resolution or parameter misses the cache. Grayscale inputs are one weighted sum:
cheaper to recompute than to read back, so they are not cached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import cache_root, discard, read_npz, write_npz
from ..config.data import PAIR_KINDS, DataConfig, parse_pairs
from ..errors import UserError
from .base import ImageDataset

__all__ = [
    "PAIR_KINDS",
    "SketchParams",
    "derive_pairs",
    "grayscale",
    "input_kind",
    "load_folder_pairs",
    "nominal_line_width",
    "parse_pairs",
    "sketch",
    "sketch_line_width",
    "sketch_params",
]

CACHE_VERSION = 1  # bump whenever the sketch transform changes what the same parameters produce
CHUNK = 2048  # images per vectorised sketch batch: bounded memory at 128 px
SHOW_MISMATCHED = 5
_LUMA = (0.299, 0.587, 0.114)


def input_kind(spec: str | None) -> str:
    """What a run's inputs are, as the studio names them: ``sketch``, ``grayscale`` or ``paired``."""
    if spec is None:
        raise UserError("this run was not trained on paired data (data.pairs is unset)")
    kind, _ = parse_pairs(spec)
    return "paired" if kind == "folders" else kind


def nominal_line_width(resolution: int) -> int:
    """Default stroke width in pixels for images ``resolution`` wide: about 1/32 of the side, at least 1."""
    return max(1, int(resolution / 32 + 0.5))


@dataclass(frozen=True)
class SketchParams:
    """The sketch transform's parameters (all in pixels of the data's resolution)."""

    width: int  # nominal stroke width; per-image widths are drawn around it
    blur_sigma: float  # pre-smoothing: suppresses fabric texture and JPEG noise
    hi_range: tuple[float, float] = (0.12, 0.35)  # strong-edge threshold, fraction of the image's max gradient
    lo_ratio: float = 0.45  # weak edges above lo_ratio * hi join when connected to strong ones
    break_max: float = 0.15  # up to this share of the stroke length is cut away per image
    jitter_px: float = 0.8  # amplitude of the smooth displacement field
    seed: int = 0

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def sketch_params(width: int | None, resolution: int) -> SketchParams:
    w = width or nominal_line_width(resolution)
    return SketchParams(width=w, blur_sigma=round(0.5 + 0.25 * w, 3), jitter_px=round(0.6 + 0.2 * w, 3))


def sketch_line_width(spec: str | None, resolution: int) -> int:
    """The nominal stroke width (pixels at ``resolution``) of a run's sketch inputs."""
    _, width = parse_pairs(spec) if spec else ("sketch", None)
    return width or nominal_line_width(resolution)


# ---------------------------------------------------------------------------------------------
# transforms (pure functions of uint8 tensors)


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> uint8 (N, 1, H, W) ITU-R 601 luma."""
    if images.shape[1] != 3:
        raise UserError(
            "grayscale pairs need colour images (the inputs would equal the targets); "
            "use data.pairs=sketch for grey data"
        )
    w = torch.tensor(_LUMA).view(1, 3, 1, 1)
    return (images.float() * w).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)


def _gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x
    r = max(1, math.ceil(2.5 * sigma))
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=torch.float32) ** 2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x shifted so that out[i, j] = x[i + dy, j + dx] (zeros outside)."""
    h, w = x.shape[-2:]
    p = F.pad(x, (1, 1, 1, 1))
    return p[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def _thin_edges(gray: torch.Tensor, g: torch.Generator, p: SketchParams) -> torch.Tensor:
    """float (B, 1, H, W) in [0, 1] -> bool (B, 1, H, W) one-pixel edge ridges (Canny-like)."""
    x = _gaussian(gray, p.blur_sigma)
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    gx, gy = F.conv2d(xp, kx), F.conv2d(xp, kx.transpose(2, 3))
    mag = torch.sqrt(gx * gx + gy * gy)
    # Non-maximum suppression along the gradient direction, quantised to 0/45/90/135 degrees;
    # ">" on one side and ">=" on the other so that a two-pixel plateau keeps exactly one pixel.
    ang = torch.remainder(torch.atan2(gy, gx) * (180 / math.pi), 180.0)
    sector = torch.remainder(torch.round(ang / 45.0), 4).long()
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for s, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        m = (mag >= _shift(mag, dy, dx)) & (mag > _shift(mag, -dy, -dx))
        keep |= (sector == s) & m
    nms = mag * keep
    peak = mag.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    lo_hi = p.hi_range
    hi = (lo_hi[0] + (lo_hi[1] - lo_hi[0]) * torch.rand(len(x), 1, 1, 1, generator=g)) * peak
    strong, weak = nms > hi, nms > p.lo_ratio * hi
    edges = strong
    for _ in range(max(2, x.shape[-1] // 8)):  # hysteresis: grow strong edges along weak ones
        edges = weak & (F.max_pool2d(edges.float(), 3, 1, 1) > 0)
    # flat images (no edge above a tiny absolute level) give blank sketches, not amplified noise
    return edges & (peak > 0.02)


def _breaks(edges: torch.Tensor, g: torch.Generator, p: SketchParams) -> torch.Tensor:
    """Cut random gaps: a smooth random field thresholded per image removes up to ``break_max`` of the strokes."""
    b, _, h, w = edges.shape
    cells = torch.rand(b, 1, max(2, h // 3), max(2, w // 3), generator=g)
    field = F.interpolate(cells, size=(h, w), mode="bilinear", align_corners=False)
    share = p.break_max * torch.rand(b, 1, 1, 1, generator=g)
    return edges & (field >= share)


def _jitter(strokes: torch.Tensor, g: torch.Generator, p: SketchParams) -> torch.Tensor:
    """Displace by a smooth random field of about ``jitter_px`` pixels: wobbly, slightly offset lines."""
    b, _, h, w = strokes.shape
    amp = p.jitter_px * torch.rand(b, 1, 1, 1, generator=g)
    coarse = torch.randn(b, 2, 3, 3, generator=g) * amp
    disp = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)  # pixels
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    gx = (xs + disp[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + disp[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(strokes, grid, mode="nearest", padding_mode="zeros", align_corners=True)


def _widths(b: int, nominal: int, g: torch.Generator) -> torch.Tensor:
    """Per-image stroke widths around the nominal one (mean about ``nominal``): varied line weights."""
    u = torch.rand(b, generator=g)
    if nominal == 1:
        return 1 + (u < 0.25).long()  # mostly 1 px, some 2 px
    return nominal + (u > 0.75).long() - (u < 0.25).long()


def _dilate(x: torch.Tensor, width: int) -> torch.Tensor:
    if width <= 1:
        return x
    a, b = (width - 1) // 2, width // 2
    return F.max_pool2d(F.pad(x, (a, b, a, b)), width, 1)


def sketch(images: torch.Tensor, params: SketchParams) -> torch.Tensor:
    """uint8 (N, C, H, W) targets -> uint8 (N, 1, H, W) sketches: black strokes (0) on white (255).

    Deterministic for the same images and parameters (its own generator seeded ``params.seed``).
    """
    g = torch.Generator().manual_seed(params.seed)
    out = torch.empty((len(images), 1, *images.shape[2:]), dtype=torch.uint8)
    luma = torch.tensor(_LUMA).view(1, 3, 1, 1)
    for i in range(0, len(images), CHUNK):
        x = images[i : i + CHUNK].float().div_(255.0)
        gray = (x * luma).sum(1, keepdim=True) if x.shape[1] == 3 else x
        edges = _breaks(_thin_edges(gray, g, params), g, params).float()
        strokes = _jitter(edges, g, params)
        widths = _widths(len(x), params.width, g)
        for w in widths.unique().tolist():  # one max-pool per distinct width
            sel = widths == w
            strokes[sel] = _dilate(strokes[sel], w)
        out[i : i + CHUNK] = ((1.0 - strokes) * 255).to(torch.uint8)
    return out


# ---------------------------------------------------------------------------------------------
# cache


def _cache_key(images: torch.Tensor, params: SketchParams) -> str:
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {"v": CACHE_VERSION, "kind": "sketch", "params": params.to_dict(), "shape": list(images.shape)},
            sort_keys=True,
        ).encode()
    )
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def _cache_path(key: str) -> Path:
    return cache_root() / "pairs" / f"sketch-{key}.npz"


def _read_cache(path: Path, key: str, shape: tuple[int, ...]) -> torch.Tensor | None:
    z = read_npz(path)
    if z is None:
        return None
    try:
        meta, inputs = json.loads(str(z["meta"][()])), z["inputs"]
        if meta.get("key") == key and inputs.dtype == np.uint8 and inputs.shape == shape:
            return torch.from_numpy(np.ascontiguousarray(inputs))
    except (KeyError, ValueError):  # another version's fields
        pass
    discard(path)  # stale: rebuild
    return None


def _write_cache(path: Path, key: str, inputs: torch.Tensor, params: SketchParams) -> None:
    write_npz(
        path,
        {
            "inputs": inputs.numpy(),
            "meta": np.array(
                json.dumps(
                    {
                        "key": key,
                        "version": CACHE_VERSION,
                        "params": params.to_dict(),
                        "nominal_line_width": params.width,
                    }
                )
            ),
        },
        "pairs cache",
    )  # read-only or full disk: still works, only slower next time


def cached_sketch(images: torch.Tensor, params: SketchParams) -> torch.Tensor:
    """``sketch(images, params)``, read from / written to the pairs cache."""
    key = _cache_key(images, params)
    path = _cache_path(key)
    shape = (len(images), 1, *images.shape[2:])
    hit = _read_cache(path, key, shape)
    if hit is not None:
        return hit
    out = sketch(images, params)
    _write_cache(path, key, out, params)
    return out


# ---------------------------------------------------------------------------------------------
# datasets


def derive_pairs(ds: ImageDataset, spec: str) -> ImageDataset:
    """``ds`` with ``inputs`` made from its (already shaped) images by the ``sketch``/``grayscale`` transform."""
    kind, width = parse_pairs(spec)
    if kind == "grayscale":
        inputs = grayscale(ds.images)
    elif kind == "sketch":
        inputs = cached_sketch(ds.images, sketch_params(width, ds.shape[2]))
    else:
        raise UserError("data.pairs=folders is read from a folder with A/ and B/ sub-folders, not derived")
    return dataclasses.replace(ds, inputs=inputs)


def _stems(root: Path) -> dict[str, str]:
    """relative path without extension -> relative path, for every image file under ``root``."""
    from .folder import _list_files

    out: dict[str, str] = {}
    for rel, _, _ in _list_files(root):
        stem = os.path.splitext(rel)[0]
        if stem in out:
            raise UserError(
                f"{root} holds two images named {stem} ({out[stem]}, {rel}): pairs are matched by name, so keep one"
            )
        out[stem] = rel
    return out


def _names(items: list[str]) -> str:
    more = f" and {len(items) - SHOW_MISMATCHED} more" if len(items) > SHOW_MISMATCHED else ""
    return ", ".join(items[:SHOW_MISMATCHED]) + more


def load_folder_pairs(root: Path, cfg: DataConfig) -> ImageDataset:
    """Inputs from ``root/A``, targets from ``root/B``, paired by file name (see the module doc).

    Both sides are shaped as ``cfg`` asks (resolution, height, fit); targets take ``cfg.channels``,
    inputs their own (1 when every A image is grey, else 3).
    """
    from . import folder

    root = Path(root).expanduser()
    a_dir, b_dir = root / "A", root / "B"
    if not (a_dir.is_dir() and b_dir.is_dir()):
        raise UserError(
            f"data.pairs=folders needs {root}/A (inputs) and {root}/B (targets) sub-folders with matching file names"
        )
    a, b = _stems(a_dir), _stems(b_dir)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        parts = ([f"only in A: {_names([a[s] for s in only_a])}"] if only_a else []) + (
            [f"only in B: {_names([b[s] for s in only_b])}"] if only_b else []
        )
        raise UserError(
            f"A/ and B/ of {root} do not pair up by name ({'; '.join(parts)}); rename or remove those files"
        )
    base = dataclasses.replace(cfg, pairs=None, labels=False, limit=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        targets = folder.load(b_dir, base)
        inputs = folder.load(a_dir, dataclasses.replace(base, channels=None))
    skipped = [str(w.message) for w in caught if issubclass(w.category, folder.SkippedFilesWarning)]
    if skipped or len(inputs) != len(targets):
        raise UserError(
            f"some paired images in {root} could not be decoded, so A/ and B/ no longer pair up: "
            + " | ".join(skipped)
            + "; fix or remove those files (both sides)"
        )
    # The folder loader orders files by relative path *with* extension, which can differ between the
    # sides (x.c.png < x.png but x.bmp < x.c.bmp): reorder the targets to the inputs' names.
    b_pos = {os.path.splitext(r)[0]: i for i, r in enumerate(sorted(b.values()))}
    order = torch.tensor([b_pos[os.path.splitext(r)[0]] for r in sorted(a.values())], dtype=torch.long)
    return ImageDataset(
        name=root.name,
        images=targets.images[order],
        labels=None,
        class_names=(),
        source=str(root),
        inputs=inputs.images,
    )
