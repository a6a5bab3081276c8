"""The dataset contract shared by every source.

An ``ImageDataset`` is one uint8 tensor ``images`` of shape (N, C, H, W) held in memory
(small datasets are batched by indexing, not by a per-item DataLoader), optional int64
``labels`` of shape (N,), and the class names.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..configs import check


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on and how to shape them.

    name: a dataset name (``ganstudio datasets`` lists them) or a folder path.
    resolution: output side length in pixels; None keeps the source's own.
    channels: 1 (grayscale) or 3 (RGB); None keeps the source's own.
    limit: keep only the first ``limit`` images after a seeded shuffle (small-data runs).
    fit: how a folder image whose aspect differs from the output's is shaped: ``"crop"`` scales the
        short side to the output and center-crops the rest; ``"pad"`` scales the whole image to fit
        inside the output (aspect kept) and letterboxes it with black.
    flip: horizontal-flip augmentation. Only recorded here: the training loop flips images at batch
        time; no loader (the folder loader included) duplicates images for it.
    labels: folder datasets only: class labels from the names of the folder's first-level
        sub-folders (sorted); every image must then be inside one of them.
    height: output height in pixels for non-square output (width is ``resolution``, e.g. 64 x 48);
        None means square.
    pairs: image-to-image (pix2pix) data: each image becomes the target of an input made from it,
        ``"sketch"`` (strokes drawn from its edges; ``"sketch:W"`` sets the nominal stroke width W px),
        ``"grayscale"`` (colourisation), or ``"folders"`` (``name`` holds ``A/`` inputs and ``B/``
        targets with matching file names). None: plain images. See ``data.pairs``.
    """

    name: str = "fashion-mnist"
    split: str = "train"
    resolution: int | None = None
    channels: int | None = None
    limit: int | None = None
    subset_seed: int = 0
    fit: str = "crop"
    flip: bool = False
    labels: bool = False
    height: int | None = None
    pairs: str | None = None

    def __post_init__(self) -> None:
        check(self.split in ("train", "test"), f"data.split must be 'train' or 'test', got {self.split!r}")
        check(self.resolution is None or 4 <= self.resolution <= 1024,
              f"data.resolution must be between 4 and 1024, got {self.resolution}")
        check(self.channels in (None, 1, 3), f"data.channels must be 1 or 3, got {self.channels}")
        check(self.limit is None or self.limit > 0, f"data.limit must be positive, got {self.limit}")
        check(self.fit in ("crop", "pad"), f"data.fit must be 'crop' or 'pad', got {self.fit!r}")
        check(isinstance(self.flip, bool), f"data.flip must be true or false, got {self.flip!r}")
        check(isinstance(self.labels, bool), f"data.labels must be true or false, got {self.labels!r}")
        check(self.height is None or (isinstance(self.height, int) and 4 <= self.height <= 1024),
              f"data.height must be between 4 and 1024, got {self.height}")
        if self.pairs is not None:
            from .pairs import parse_pairs  # raises a one-line UserError for a bad spec

            parse_pairs(self.pairs)


@dataclass
class ImageDataset:
    name: str
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,)
    class_names: tuple[str, ...] = ()
    source: str = ""
    inputs: torch.Tensor | None = None  # uint8 (N, Cin, H, W): paired data's inputs; images are the targets

    def __post_init__(self) -> None:
        assert self.images.dtype == torch.uint8 and self.images.ndim == 4, self.images.shape
        assert self.labels is None or len(self.labels) == len(self.images)
        assert self.inputs is None or (self.inputs.dtype == torch.uint8 and self.inputs.ndim == 4 and
                                       self.inputs.shape[0] == self.images.shape[0] and
                                       self.inputs.shape[2:] == self.images.shape[2:]), self.inputs.shape

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index: torch.Tensor) -> "ImageDataset":
        return dataclasses.replace(
            self, images=self.images[index],
            labels=None if self.labels is None else self.labels[index],
            inputs=None if self.inputs is None else self.inputs[index])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1], the generators' output range."""
    return images.float().mul_(1 / 127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255] (rounded, clamped)."""
    return images.detach().add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)
