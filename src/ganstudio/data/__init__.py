"""Datasets by name or path: ``load_dataset(DataConfig(...)) -> ImageDataset``.

Named sources live in ``SOURCES`` (a registry, not an if/elif chain); a path to a folder of
images is handled by the folder loader. Everything is resized to the requested resolution and
channel count here, so models never see the source's own format. ``data.background="transparent"``
keeps alpha (RGBA, 4 channels) for the sources whose pictures have it (``Source.alpha``) and folders;
the others refuse it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config.data import DataConfig
from ..errors import UserError
from . import audio, clipart, clusters, digits, emoji, gm_notes, mnist, spoken_digits
from .base import ImageDataset, to_float, to_uint8

__all__ = [
    "SOURCES",
    "DataConfig",
    "ImageDataset",
    "available",
    "load_dataset",
    "resolve_auto",
    "to_float",
    "to_uint8",
]


@dataclass(frozen=True)
class Source:
    # (the data config, the size asked for or None) -> dataset; sources that draw their pictures (emoji)
    # draw them at that size, the others return their own and ``load_dataset`` resizes
    loader: Callable[[DataConfig, int | None], ImageDataset]
    locate: Callable[[], str | None]  # where it is on this machine, or None when not (yet) there
    native_resolution: int
    description: str
    alpha: bool = False  # its pictures can be transparent: data.background="transparent" keeps their alpha
    test_split: bool = True  # it has a held-out split (split="test"); without one, evaluation halves it as a folder
    native_height: int | None = None  # non-square sources (spectrograms: mel bins); None = square


def _idx_source(src: mnist.IdxSource, what: str) -> Source:
    def where() -> str | None:
        found = mnist.locate(src, "train")
        return str(found[0].parent) if found else None

    return Source(lambda cfg, size: mnist.load(src, cfg.split), where, 28, what)


SOURCES: dict[str, Source] = {
    "fashion-mnist": _idx_source(mnist.FASHION_MNIST, "Zalando's Fashion-MNIST, 28x28 grayscale, 10 classes"),
    "mnist": _idx_source(mnist.MNIST, "MNIST handwritten digits, 28x28 grayscale, 10 classes"),
    "digits": Source(
        lambda cfg, size: digits.load(cfg.split),
        lambda: "built into scikit-learn",
        28,
        "scikit-learn 8x8 digits (1,797 images) upscaled; always available",
    ),
    "emoji": Source(
        emoji.load,
        emoji.locate,
        emoji.NATIVE_RESOLUTION,
        "Noto Color Emoji glyphs in colour (~1,600 without skin tones and flags), classes = Unicode groups, "
        "names as captions (Debian's fonts-noto-color-emoji + unicode-data)",
        alpha=True,
    ),
    "clipart": Source(
        clipart.load,
        clipart.locate,
        clipart.NATIVE_RESOLUTION,
        "Open Clip Art Library pictures in colour (~8,100) on a background, classes = topic folders, titles, "
        "descriptions and keywords as captions (Debian's openclipart-png and openclipart-svg)",
        alpha=True,
        test_split=False,
    ),
    # Sounds as spectrogram pictures (data.audio): width = frames (64 = 1 s), height = mel bins.
    "gm-notes": Source(
        audio.load_gm_notes,
        gm_notes.locate,
        audio.NATIVE_FRAMES,
        "instrument notes from a General MIDI soundfont via FluidSynth: 112 programs x MIDI 36-84 x 3 velocities, "
        "1 s at 16 kHz, classes = pitch; test = 14 held-out instruments (Debian's fluidsynth + timgm6mb-soundfont)",
        native_height=audio.NATIVE_HEIGHT,
    ),
    "spoken-digits": Source(
        audio.load_spoken_digits,
        spoken_digits.locate,
        audio.NATIVE_FRAMES,
        "the words zero..nine spoken by espeak-ng over voices, speeds and pitches, 1 s at 16 kHz, classes = "
        "digit; test = held-out voice variants (Debian's espeak-ng)",
        native_height=audio.NATIVE_HEIGHT,
    ),
}


AUDIO_FOLDER = Source(
    lambda cfg, size: audio.load_folder(Path(cfg.name), cfg, size),
    lambda: None,
    audio.NATIVE_FRAMES,
    "a folder of WAV/FLAC/OGG sounds",
    native_height=audio.NATIVE_HEIGHT,
)  # not a named source: what a folder of sounds loads as


def coarse_classes(class_names: tuple[str, ...]) -> tuple[str, ...] | None:
    """Each class's coarser class where a source has a hierarchy (emoji subgroups -> their Unicode groups), else
    None. Lets a judge trained on the coarse classes (the emoji features' 8 groups) score a finer-conditioned run."""
    return emoji.group_of_subgroups(tuple(class_names))


def available() -> list[dict]:
    """One row per named dataset: name, where it was found (or None), description."""
    return [{"name": n, "found": s.locate(), "description": s.description} for n, s in SOURCES.items()]


def resolve_auto() -> tuple[str, str | None]:
    """The best dataset on this machine for a first run, and a note when falling back."""
    for name in ("fashion-mnist", "mnist"):
        if SOURCES[name].locate():
            return name, None
    return "digits", (
        "neither Fashion-MNIST nor MNIST was found here (install Debian's "
        "dataset-fashion-mnist for the real thing); using scikit-learn's built-in digits"
    )


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C, *size), antialiased bilinear; RGBA (C = 4) on premultiplied alpha, so the
    colours of transparent pixels do not bleed into the edges (no dark or coloured fringes)."""
    if x.shape[1] != 4:
        return to_uint8(
            F.interpolate(to_float(x), size=size, mode="bilinear", antialias=True, align_corners=False).clamp_(-1, 1)
        )
    u = x.float().div_(255.0)
    alpha = u[:, 3:]
    u = torch.cat([u[:, :3] * alpha, alpha], 1)
    u = F.interpolate(u, size=size, mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    alpha = u[:, 3:]
    rgb = torch.where(alpha > 0, u[:, :3] / alpha.clamp(min=1e-6), torch.zeros_like(u[:, :3])).clamp_(0, 1)
    return torch.cat([rgb, alpha], 1).mul_(255.0).round_().to(torch.uint8)


def _reshape(ds: ImageDataset, resolution: int | None, channels: int | None, height: int | None = None) -> ImageDataset:
    """Resize (antialiased bilinear) and convert channels; returns ``ds`` unchanged when nothing to do.

    The output is ``height`` x ``resolution`` (rows x columns) when ``height`` is set, else square;
    a None side keeps the source's own.
    """
    c, h, w = ds.shape
    x, inputs = ds.images, ds.inputs
    size = (
        height if height is not None else resolution if resolution is not None else h,
        resolution if resolution is not None else w,
    )
    if size != (h, w):
        x = _resize(x, size)
        if inputs is not None:  # paired data: inputs stay pixel-aligned with their targets
            inputs = _resize(inputs, size)
    if channels is not None and channels != c:
        if channels == 3:
            x = x.expand(-1, 3, -1, -1).contiguous()
        else:  # ITU-R 601 luma
            wts = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * wts).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    if x is ds.images:
        return ds
    return ImageDataset(ds.name, x, ds.labels, ds.class_names, ds.source, inputs, ds.captions)


def load_dataset(cfg: DataConfig, default_resolution: int | None = None) -> ImageDataset:
    """Load the images ``cfg`` names, shaped for a model (resolution defaults to the model's)."""
    src = SOURCES.get(cfg.name)
    if cfg.transparent and src is not None and not src.alpha:
        with_alpha = ", ".join(n for n, s in SOURCES.items() if s.alpha)
        raise UserError(
            f"data.background=transparent keeps the alpha of transparent pictures, but {cfg.name} has none: "
            f"use {with_alpha} or a folder of PNGs, or drop data.background"
        )
    if cfg.pairs == "folders":  # A/ inputs and B/ targets: a paired loader, not the plain folder one
        from . import pairs

        target = (
            cfg if cfg.resolution or not default_resolution else dataclasses.replace(cfg, resolution=default_resolution)
        )
        ds = pairs.load_folder_pairs(Path(cfg.name).expanduser(), target)
    elif src is not None:
        ds = src.loader(cfg, cfg.resolution or default_resolution)
    elif Path(cfg.name).expanduser().is_dir() and audio.is_audio_folder(Path(cfg.name).expanduser()):
        ds = audio.load_folder(Path(cfg.name).expanduser(), cfg, cfg.resolution or audio.NATIVE_FRAMES)
        src = AUDIO_FOLDER
    elif Path(cfg.name).expanduser().is_dir():
        from . import captions, folder  # imported lazily: only folder runs need them

        # Decode straight to the model's size so the folder is resized once, not twice.
        target = (
            cfg if cfg.resolution or not default_resolution else dataclasses.replace(cfg, resolution=default_resolution)
        )
        caps = captions.folder_captions(Path(cfg.name))  # sidecar .txt files or a manifest, else None
        ds = folder.load(Path(cfg.name).expanduser(), target, caption=caps)
        if caps is not None:
            caps.warn(len(ds))
    else:
        raise UserError(
            f"unknown dataset {cfg.name!r}: use one of {', '.join(SOURCES)} or a folder of images "
            "(`ganstudio datasets` lists what is available here)"
        )
    if cfg.limit is not None and cfg.limit < len(ds):
        g = torch.Generator().manual_seed(cfg.subset_seed)
        ds = ds.subset(torch.randperm(len(ds), generator=g)[: cfg.limit])
    if src is not None and src.native_height is not None:  # spectrograms: made at their size, never resized
        if cfg.clustered and cfg.clusters != clusters.AUTO:
            raise UserError(f"data.clusters groups pictures, not sounds ({cfg.name}): drop data.clusters")
        return ds
    ds = _reshape(ds, cfg.resolution or default_resolution, cfg.channels, cfg.height)
    if cfg.pairs is not None and ds.inputs is None:  # inputs made from the shaped targets (sketch, grayscale)
        from . import pairs

        ds = pairs.derive_pairs(ds, cfg.pairs)
    if cfg.clustered:  # after shaping: the groups are of the pictures the model sees
        assert cfg.clusters is not None
        ds = clusters.label_by_look(ds, cfg.clusters)
    return ds
