"""Any folder of images as a dataset: ``load(path, cfg) -> ImageDataset``.

What is read
    Every ``.jpg .jpeg .png .webp .bmp .gif`` file (extension case-insensitive) in the folder and its
    sub-folders, in sorted order of the path relative to the folder. Hidden files and folders (names
    starting with ``.``, e.g. macOS ``._x.jpg`` resource forks) are ignored; symlinked folders are
    followed once. A GIF contributes its first frame only.

How each image is decoded
    With Pillow: images over ``MAX_PIXELS`` are refused before any pixel is decoded (decompression
    bombs), the EXIF orientation is applied, palette images are expanded, and transparent images are
    composited onto ``cfg.background``, **white** by default (the way a transparent PNG or GIF looks on
    a web page or in a viewer; a dark drawing on a transparent background would vanish on black).
    16-bit grayscale is scaled to 8 bits. The image is then shaped to ``resolution`` x ``height or
    resolution`` (width x height; ``resolution`` defaults to ``DEFAULT_RESOLUTION``) with Lanczos
    resampling: ``fit="crop"`` scales the short side and center-crops, ``fit="pad"`` scales to fit
    inside and letterboxes with black. Channels: ``cfg.channels`` when set; else 1 when every image is
    grayscale, 3 otherwise.

    ``cfg.background="transparent"`` keeps the alpha instead: every image becomes RGBA (4 channels,
    straight alpha; images without alpha are opaque, grey ones RGB), resized on premultiplied alpha
    (Pillow's RGBA resampling, so transparent pixels' colours do not fringe the edges), and ``pad``
    letterboxes with transparent pixels.

Unreadable files
    Files that fail to decode are skipped and reported in one ``SkippedFilesWarning`` line per load
    (count and the first few names). No image found, or none decodable, is a ``UserError``.

Labels
    With ``cfg.labels`` each image's class is its first-level sub-folder (``class_names`` is the
    sorted list of sub-folders holding at least one image file); images lying directly in the folder
    are then an error (they would have no class). Without it, ``labels`` is None.

Cache
    The decoded, resized images are cached in ``<cache_root()>/folders/<key>.npz`` (plain ``np.savez``
    arrays, read back with ``allow_pickle=False``), so a second run with the same files and options
    skips decoding. ``key`` hashes the cache format version, the folder's absolute path, each file's
    relative path, size and mtime_ns, and the decoding options (resolution, height, channels, fit,
    labels, background, letterbox): any changed, added or removed file, or any changed option, misses
    the cache. Writes are
    atomic (temporary file + ``os.replace``); an unreadable cache file is ignored, deleted and rebuilt;
    a successful write deletes the stale entries of the same folder and options.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageColor, ImageOps

from ..cache import cache_root, discard, read_npz, write_npz
from ..config.data import TRANSPARENT, DataConfig
from ..errors import UserError
from .base import ImageDataset

__all__ = ["DEFAULT_RESOLUTION", "EXTENSIONS", "MAX_PIXELS", "SkippedFilesWarning", "cache_path", "load"]

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
DEFAULT_RESOLUTION = 64
# Pillow's own decompression-bomb threshold (about 9,459 x 9,459): larger images are refused from the
# header alone. Checked here rather than by changing Pillow's process-wide Image.MAX_IMAGE_PIXELS.
MAX_PIXELS = 89_478_485
BACKGROUND = (255, 255, 255)  # transparent pixels are composited onto this
CACHE_VERSION = 1  # bump whenever decoding changes what the same file and options produce
SHOW_SKIPPED = 5  # names listed in the skipped-files warning
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


class SkippedFilesWarning(UserWarning):
    """Some image files in a folder dataset could not be decoded and were left out."""


# ---------------------------------------------------------------------------------------------
# listing


def _list_files(root: Path) -> list[tuple[str, int, int]]:
    """(relative posix path, size, mtime_ns) of every candidate image file under ``root``, sorted."""
    out = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop or a folder linked twice
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            if fn.startswith(".") or os.path.splitext(fn)[1].lower() not in EXTENSIONS:
                continue
            full = os.path.join(dirpath, fn)
            try:
                st = os.stat(full)
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError:  # broken symlink: listed, so that it is reported as not decodable
                size, mtime = -1, 0
            out.append((Path(full).relative_to(root).as_posix(), size, mtime))
    out.sort()
    return out


# ---------------------------------------------------------------------------------------------
# decoding


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    """16/32-bit integer or float grayscale -> 8-bit L (16-bit values scaled, not clipped)."""
    a = np.asarray(im).astype(np.float64)
    if im.mode.startswith("I;16") or (im.mode == "I" and a.size and a.max() > 255):
        a = a / 257.0
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")


def _flatten(im: Image.Image, background: tuple[int, int, int] | None = BACKGROUND) -> tuple[Image.Image, bool | None]:
    """Any Pillow mode -> L or RGB (alpha composited onto ``background``, white unless data.background says),
    or, with ``background=None`` (data.background="transparent"), RGBA keeping the alpha (opaque if none).

    Returns the image and whether the source is grayscale (None: decide from the pixels, for palette
    images whose palette may be all greys).
    """
    mode = im.mode
    gray: bool | None = mode in _GRAY_MODES
    if mode in ("P", "PA"):
        gray = None
    if mode.startswith("I") or mode == "F":
        im = _to_8bit_gray(im)  # any tRNS transparency of 16-bit images is ignored
    elif mode == "1":
        im = im.convert("L")
    if background is None:  # keep the alpha: every picture RGBA, grey or not
        return im.convert("RGBA"), False
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*background, 255))
        flat.alpha_composite(rgba)
        if background[0] == background[1] == background[2]:  # a grey background keeps grey pictures grey
            im = flat.convert("L" if gray else "RGB")
        else:  # a coloured background makes any drawing a colour picture
            im, gray = flat.convert("RGB"), False
    elif im.mode not in ("L", "RGB"):  # P, CMYK, YCbCr, LAB, HSV, ...
        im = im.convert("RGB")
    return im, gray


def _fit(im: Image.Image, size: tuple[int, int], fit: str, letterbox: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """Scale ``im`` to exactly ``size`` (w, h): center-crop ("crop") or letterbox ("pad"; black for folders,
    the background colour for sources of cut-out pictures such as clip art; transparent for RGBA ``im``).
    Pillow resamples RGBA on premultiplied alpha (RGBa), so transparent pixels do not bleed into edges."""
    tw, th = size
    w, h = im.size
    if fit == "crop":
        if w * th > h * tw:  # wider than the target: keep the middle columns
            cw = h * tw / th
            box = ((w - cw) / 2, 0.0, (w + cw) / 2, float(h))
        else:  # taller: keep the middle rows
            ch = w * th / tw
            box = (0.0, (h - ch) / 2, float(w), (h + ch) / 2)
        return im.resize((tw, th), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    scale = min(tw / w, th / h)
    nw, nh = min(tw, max(1, round(w * scale))), min(th, max(1, round(h * scale)))
    small = im.resize((nw, nh), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if (nw, nh) == (tw, th):
        return small
    fill: int | tuple[int, ...] = (
        (0, 0, 0, 0)
        if im.mode == "RGBA"
        else letterbox
        if im.mode == "RGB"
        else round(0.299 * letterbox[0] + 0.587 * letterbox[1] + 0.114 * letterbox[2])
    )
    canvas = Image.new(im.mode, (tw, th), fill)
    canvas.paste(small, ((tw - nw) // 2, (th - nh) // 2))
    return canvas


def fit_picture(
    im: Image.Image, size: tuple[int, int], channels: int, background: tuple[int, int, int] | None = BACKGROUND
) -> np.ndarray:
    """One picture (any Pillow mode) -> uint8 (C, H, W) at ``size`` (w, h), shaped as a folder's pictures are
    (alpha over ``background``, scaled and center-cropped with Lanczos); ``channels`` 1, 3 or 4 (4: RGBA,
    ``background`` None keeps the alpha)."""
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise UserError(f"the picture is {w}x{h} pixels, over the {MAX_PIXELS:,} pixel limit; make it smaller")
    flat, _ = _flatten(im, None if channels == 4 else background)
    out = _fit(flat, size, "crop").convert({1: "L", 3: "RGB", 4: "RGBA"}[channels])
    a = np.asarray(out)
    return a[None] if a.ndim == 2 else np.ascontiguousarray(a.transpose(2, 0, 1))


def _decode(
    path: Path,
    size: tuple[int, int],
    fit: str,
    channels: int | None,
    background: tuple[int, int, int] | None = BACKGROUND,
    letterbox: tuple[int, int, int] = (0, 0, 0),
) -> tuple[np.ndarray, bool]:
    """One image file -> (H, W, C) uint8 array (C = ``channels``, or 1/3 as the source is gray or not;
    4, RGBA, when ``background`` is None) and whether the source is grayscale. Raises on anything unreadable."""
    with Image.open(path) as f:
        im: Image.Image = f
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise ValueError(f"{w}x{h} pixels is over the {MAX_PIXELS:,} pixel limit")
        if im.format == "JPEG":  # let libjpeg downscale by 2/4/8 while decoding: much faster
            side = max(size)  # both sides >= the output's, whatever the EXIF rotation
            im.draft("L" if channels == 1 and im.mode == "RGB" else None, (side, side))
        try:
            im = ImageOps.exif_transpose(im)
        except Exception:  # malformed EXIF: keep the image unrotated rather than lose it
            im.load()
        im, gray = _flatten(im, background)
    out = _fit(im, size, fit, letterbox)
    if out.mode == "RGB" and (channels == 1 or gray is None):
        a = np.asarray(out)
        if gray is None:
            gray = bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())
        if channels == 1 or (gray and channels is None):
            out = out.convert("L")
    a = np.asarray(out)
    if a.ndim == 2:
        a = a[:, :, None]
    if channels == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return a, bool(gray)


def _try_decode(args: tuple) -> tuple[np.ndarray, bool] | None:
    try:
        return _decode(*args)
    except Exception:  # corrupt, truncated, not an image, unsupported, too large, unreadable
        return None


# ---------------------------------------------------------------------------------------------
# cache


def _options(cfg: DataConfig, letterbox: tuple[int, int, int] = (0, 0, 0)) -> dict:
    width = cfg.resolution or DEFAULT_RESOLUTION
    return {
        "width": width,
        "height": cfg.height or width,
        "channels": cfg.channels,
        "fit": cfg.fit,
        "labels": cfg.labels,
        "background": TRANSPARENT if cfg.transparent else list(ImageColor.getrgb(cfg.background)[:3]),
        "letterbox": list(letterbox),
    }


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _key(root: Path, files: list[tuple[str, int, int]], options: dict) -> str:
    """``<folder+options hash>-<files hash>``: entries sharing the prefix are stale versions of each other."""
    prefix = _digest({"version": CACHE_VERSION, "root": str(root), "options": options})[:20]
    return f"{prefix}-{_digest({'prefix': prefix, 'files': files})[:24]}"


def cache_path(key: str) -> Path:
    return cache_root() / "folders" / f"{key}.npz"


def _read_cache(path: Path, key: str, options: dict):
    """The cached (images, labels, class_names, skipped, total), or None when missing or unusable."""
    z = read_npz(path)
    if z is None:
        return None
    try:
        meta = json.loads(str(z["meta"][()]))
        images = z["images"]
        labels = z["labels"]
        class_names = tuple(str(c) for c in z["class_names"])
        skipped = [str(s) for s in z["skipped"]]
        c = images.shape[1] if images.ndim == 4 else 0
        want = options["channels"] or (4 if options["background"] == TRANSPARENT else None)
        ok = (
            meta.get("version") == CACHE_VERSION
            and meta.get("key") == key
            and images.dtype == np.uint8
            and images.ndim == 4
            and len(images) > 0
            and images.shape[2:] == (options["height"], options["width"])
            and (c == want or (want is None and c in (1, 3)))
            and labels.dtype == np.int64
            and labels.ndim == 1
            and (len(labels) == len(images) if options["labels"] else len(labels) == 0)
            and (not len(labels) or 0 <= labels.min() <= labels.max() < len(class_names))
        )
        if not ok:
            raise ValueError("cache entry does not match")
        return images, (labels if options["labels"] else None), class_names, skipped, int(meta["total"])
    except Exception:  # another version's fields, ...: rebuild it
        discard(path)
        return None


def _write_cache(
    path: Path,
    key: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    class_names: tuple[str, ...],
    skipped: list[str],
    total: int,
) -> None:
    """Write atomically, then drop stale entries of the same prefix."""
    arrays = {
        "images": images,
        "labels": labels if labels is not None else np.zeros(0, np.int64),
        "class_names": np.array(class_names, dtype=np.str_).reshape(-1),
        "skipped": np.array(skipped, dtype=np.str_).reshape(-1),
        "meta": np.array(json.dumps({"version": CACHE_VERSION, "key": key, "total": total})),
    }
    if not write_npz(path, arrays, "dataset cache"):  # read-only or full disk: only slower next time
        return
    prefix = key.split("-")[0]
    for old in path.parent.glob(f"{prefix}-*.npz"):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()


# ---------------------------------------------------------------------------------------------
# loading


def _warn_skipped(root: Path, skipped: list[str], total: int) -> None:
    if not skipped:
        return
    names = ", ".join(skipped[:SHOW_SKIPPED])
    more = f" and {len(skipped) - SHOW_SKIPPED} more" if len(skipped) > SHOW_SKIPPED else ""
    warnings.warn(
        f"skipped {len(skipped)} of {total} files in {root} that could not be decoded: {names}{more}",
        SkippedFilesWarning,
        stacklevel=3,
    )


def sorted_into_classes(root: Path) -> bool:
    """Whether every picture under ``root`` lies in a first-level sub-folder and there are at least two of
    them: a folder sorted into classes (``data.clusters=auto`` then keeps them as its labels)."""
    rels = [r for r, _, _ in _list_files(root)]
    return bool(rels) and all("/" in r for r in rels) and len({r.split("/", 1)[0] for r in rels}) >= 2


def _classes(root: Path, rels: list[str]) -> tuple[tuple[str, ...], np.ndarray]:
    loose = [r for r in rels if "/" not in r]
    if loose:
        raise UserError(
            f"labels need every image inside a class sub-folder of {root}, but {len(loose)} "
            f"lie directly in it (e.g. {loose[0]}): move them into a sub-folder or turn labels off"
        )
    tops = [r.split("/", 1)[0] for r in rels]
    class_names = tuple(sorted(set(tops)))
    index = {c: i for i, c in enumerate(class_names)}
    return class_names, np.array([index[t] for t in tops], dtype=np.int64)


def _build(root: Path, rels: list[str], options: dict, labels: np.ndarray | None):
    size = (options["width"], options["height"])
    keep_alpha = options["background"] == TRANSPARENT
    colours = (None if keep_alpha else tuple(options["background"])), tuple(options["letterbox"])
    jobs = [(root / r, size, options["fit"], options["channels"], *colours) for r in rels]
    workers = max(1, min(16, os.cpu_count() or 1, len(jobs)))
    # Pillow warns once per picture over its threshold (MAX_PIXELS) before _decode refuses it: the refusal is counted
    # in the one skipped-files warning below, so Pillow's would only repeat it (Debian's clip art has a few 13,000 px
    # drawings). Filtered here, around the pool, because catch_warnings inside each worker thread is not thread-safe.
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=workers) as pool:
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        results = list(pool.map(_try_decode, jobs))  # Pillow releases the GIL while decoding
    ok = [i for i, r in enumerate(results) if r is not None]
    skipped = [rels[i] for i, r in enumerate(results) if r is None]
    if not ok:
        shown = ", ".join(rels[:SHOW_SKIPPED])
        raise UserError(
            f"none of the {len(rels)} image files in {root} could be decoded (e.g. {shown}): "
            "check that they are valid JPEG/PNG/WebP/BMP/GIF images"
        )
    channels = options["channels"]
    if channels is None:
        channels = 4 if keep_alpha else 1 if all(r[1] for r in results if r is not None) else 3
    images = np.empty((len(ok), channels, options["height"], options["width"]), np.uint8)
    for j, i in enumerate(ok):
        r = results[i]
        assert r is not None  # ok: the indices of the decoded files
        a = r[0]
        images[j] = (a if a.shape[2] == channels else np.repeat(a, channels, axis=2)).transpose(2, 0, 1)
        results[i] = None  # free as we go
    return images, (None if labels is None else labels[ok]), skipped


def load(
    path: Path,
    cfg: DataConfig,
    letterbox: tuple[int, int, int] = (0, 0, 0),
    caption: Callable[[str], str] | None = None,
) -> ImageDataset:
    """The images of folder ``path`` shaped as ``cfg`` asks (see the module docstring). ``caption`` maps a
    picture's path relative to the folder to its caption (clip-art titles from file names), if given."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"{path} is not a folder")
    files = _list_files(root)
    if not files:
        raise UserError(
            f"no images found in {root}: put .jpg, .png, .webp, .bmp or .gif files in it (sub-folders are searched too)"
        )
    rels = [f[0] for f in files]
    class_names, all_labels = _classes(root, rels) if cfg.labels else ((), None)
    options = _options(cfg, letterbox)
    key = _key(root, files, options)
    cpath = cache_path(key)
    cached = _read_cache(cpath, key, options)
    if cached is not None:
        images, labels, class_names, skipped, total = cached
    else:
        images, labels, skipped = _build(root, rels, options, all_labels)
        total = len(rels)
        _write_cache(cpath, key, images, labels, class_names, skipped, total)
    _warn_skipped(root, skipped, total)
    gone = set(skipped)
    captions = tuple(caption(r) for r in rels if r not in gone) if caption is not None else ()
    return ImageDataset(
        name=root.name,
        images=torch.from_numpy(np.ascontiguousarray(images)),
        labels=None if labels is None else torch.from_numpy(np.ascontiguousarray(labels)),
        class_names=tuple(class_names),
        source=str(path),
        captions=captions,
    )
