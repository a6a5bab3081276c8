"""``load_translator(run_dir) -> Translator``: a trained pix2pix run as ``PIL image -> PIL image``.

    tr = load_translator("runs/00007-pix2pix-fashion-mnist")
    out = tr(Image.open("my-sketch.png"))      # same size (and aspect) as the input
    tr.resolution, tr.line_width, tr.input_kind  # 28, 1, "sketch"

Any input size: the image is flattened (EXIF orientation applied, transparency composited onto white,
so a canvas with transparent background works), converted to the model's input channels, scaled so
that it fits inside the model's ``resolution`` x ``height`` (aspect kept) and padded: with white for
sketches, by repeating the edge pixels otherwise. The output's matching region is cropped and resized
back to the input's size (``size="model"`` keeps it at model scale instead).

Sketch inputs are re-binarised after downscaling: the model saw binary strokes in training, while a
thin line drawn at 512 px and shrunk to 32 px becomes a faint grey smear. Pixels darker than 40 % of
the darkest stroke become stroke, the rest paper.

``translate_folder(run_dir, src, out)`` does every image of a folder (recursively; names kept, PNG
out) with a progress bar; unreadable files are skipped and listed in one warning.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from . import media, runs
from .config import RunConfig
from .data.folder import EXTENSIONS
from .data.pairs import input_kind as _input_kind
from .data.pairs import sketch_line_width
from .errors import UserError
from .models import build

__all__ = ["SIZES", "Translator", "load_translator", "translate_folder"]

SIZES = ("input", "model")
STROKE_FRACTION = 0.4  # re-binarising: a pixel is stroke when darker than this share of the darkest one
MIN_INK = 24  # darkness (0-255) below which a downscaled sketch counts as blank paper, not faint strokes
WHITE = 255


def _flatten(im: Image.Image, channels: int) -> Image.Image:
    """Any PIL image -> 'L' or 'RGB', EXIF-rotated, transparency composited onto white."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (WHITE, WHITE, WHITE, 255))
        bg.alpha_composite(rgba)
        im = bg
    return im.convert("L" if channels == 1 else "RGB")


@dataclass
class Translator:
    """A pix2pix generator (eval mode) with its input conventions; call it on PIL images."""

    G: torch.nn.Module
    config: RunConfig
    run_dir: Path | None
    step: int
    device: torch.device

    def __post_init__(self) -> None:
        self.G.eval()
        mc = self.config.model_config
        self.resolution: int = mc.resolution  # model width in pixels
        self.height: int = mc.height or mc.resolution
        self.in_channels: int = mc.in_channels
        self.channels: int = mc.channels
        self.input_kind: str = _input_kind(self.config.data.pairs)
        # pixels at the model's resolution; for non-sketch runs the nominal width at that size
        self.line_width: int = sketch_line_width(
            self.config.data.pairs if self.input_kind == "sketch" else None, self.resolution
        )

    # ---- tensors ----------------------------------------------------------------------------
    @torch.no_grad()
    def translate_tensor(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """float (N, in_channels, H, W) in [0, 1] at the model's size -> float (N, channels, H, W) in [0, 1]."""
        out = []
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(self.device).float().mul(2).sub(1)
            out.append(self.G(xb).float().add(1).mul(0.5).clamp(0, 1).cpu())
        return torch.cat(out) if out else torch.empty(0, self.channels, self.height, self.resolution)

    # ---- PIL ----------------------------------------------------------------------------------
    def prepare(self, image: Image.Image) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        """PIL image -> (float (1, in_channels, height, resolution) in [0, 1], content box (x0, y0, x1, y1))."""
        im = _flatten(image, self.in_channels)
        w, h = im.size
        scale = min(self.resolution / w, self.height / h)
        nw, nh = max(1, min(self.resolution, round(w * scale))), max(1, min(self.height, round(h * scale)))
        small = np.asarray(im.resize((nw, nh), Image.Resampling.LANCZOS, reducing_gap=3.0), dtype=np.float32)
        if small.ndim == 2:
            small = small[:, :, None]
        if self.input_kind == "sketch":
            ink = 255.0 - small.min(axis=2, keepdims=True)
            darkest = float(ink.max())
            stroke = ink > STROKE_FRACTION * darkest if darkest >= MIN_INK else np.zeros_like(ink, bool)
            small = np.where(stroke, 0.0, 255.0).astype(np.float32).repeat(small.shape[2], axis=2)
        x0, y0 = (self.resolution - nw) // 2, (self.height - nh) // 2
        pads = ((y0, self.height - nh - y0), (x0, self.resolution - nw - x0), (0, 0))
        if self.input_kind == "sketch":
            canvas = np.pad(small, pads, mode="constant", constant_values=WHITE)
        else:  # photos: continue the border rather than frame it in a colour the model never saw
            canvas = np.pad(small, pads, mode="edge")
        x = torch.from_numpy(np.ascontiguousarray(canvas.transpose(2, 0, 1))).div_(255.0)[None]
        return x, (x0, y0, x0 + nw, y0 + nh)

    def __call__(self, image: Image.Image, size: str = "input") -> Image.Image:
        """Translate one PIL image; the output has the input's size (``size="model"``: the model's scale)."""
        if size not in SIZES:
            raise UserError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
        x, (x0, y0, x1, y1) = self.prepare(image)
        y = self.translate_tensor(x)[0, :, y0:y1, x0:x1]
        out = media.to_pils(y[None])[0]
        if size == "input":
            w, h = ImageOps.exif_transpose(image).size
            if (w, h) != out.size:
                out = out.resize((w, h), Image.Resampling.BICUBIC)
        return out


def load_translator(run_dir: str | Path, checkpoint: str | int = "latest", device: str = "cpu") -> Translator:
    """Rebuild a pix2pix run's generator (the EMA copy when there is one) as a Translator."""
    from .devices import resolve_device

    run_dir = runs.require_run(run_dir)
    cfg = RunConfig.from_dict(runs.read_config_dict(run_dir))
    if cfg.model != "pix2pix":
        raise UserError(
            f"{run_dir} is a {cfg.model} run; translate needs a pix2pix run "
            "(train one with --model pix2pix --schedule pix2pix --set data.pairs=sketch)"
        )
    ckpt = runs.find_checkpoint(run_dir, checkpoint)
    if ckpt is None:
        raise UserError(f"run {run_dir} has no checkpoint yet; train it first (or wait for its first save)")
    G, _ = build(cfg.model, cfg.model_config)
    try:
        G.load_state_dict(ckpt.tensors("G_ema" if ckpt.has("G_ema") else "G"))
    except RuntimeError as e:
        raise UserError(f"checkpoint {ckpt.path} does not match the run's model ({str(e).splitlines()[0]})") from None
    dev = resolve_device(device)
    return Translator(G.to(dev), cfg, run_dir, ckpt.step, dev)


def _images_in(src: Path) -> list[Path]:
    return sorted(
        p
        for p in src.rglob("*")
        if p.is_file()
        and p.suffix.lower() in EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(src).parts)
    )


def translate_folder(
    run_dir: str | Path | Translator,
    src: str | Path,
    out: str | Path,
    checkpoint: str | int = "latest",
    size: str = "input",
    device: str = "cpu",
    progress: bool = True,
) -> list[Path]:
    """Translate an image file or every image under a folder; returns the written PNG paths.

    A file with ``out`` ending in an image extension is written there; otherwise outputs go to the
    folder ``out`` as ``<relative path>.png``.
    """
    tr = run_dir if isinstance(run_dir, Translator) else load_translator(run_dir, checkpoint, device)
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if src.is_file():
        files, base = [src], src.parent
    elif src.is_dir():
        files, base = _images_in(src), src
        if not files:
            raise UserError(f"no images found in {src} (.jpg, .png, .webp, .bmp, .gif; sub-folders too)")
    else:
        raise UserError(f"{src} does not exist")
    if src.is_file() and out.suffix.lower() in EXTENSIONS:
        targets = [out]
    else:
        targets = [out / f.relative_to(base).with_suffix(".png") for f in files]
    bar = None
    if progress and len(files) > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), unit="img", file=sys.stderr, desc="translate")
    written, skipped = [], []
    for f, t in zip(files, targets):
        try:
            with Image.open(f) as im:
                im.load()
                res = tr(im, size=size)
        except (OSError, ValueError, Image.DecompressionBombError):  # corrupt, truncated, not an image
            skipped.append(str(f.relative_to(base)))
        else:
            written.append(media.save_image(res, t))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if skipped:
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): {', '.join(skipped[:5])}{more}", stacklevel=2)
    if not written:
        raise UserError(f"none of the images in {src} could be read")
    return written
