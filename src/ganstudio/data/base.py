"""The dataset contract shared by every source.

An ``ImageDataset`` is one uint8 tensor ``images`` of shape (N, C, H, W) held in memory
(small datasets are batched by indexing, not by a per-item DataLoader), optional int64
``labels`` of shape (N,), the class names, and for paired (image-to-image) data the uint8
``inputs`` (N, Cin, H, W) whose targets are ``images``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..pixels import to_float, to_uint8

__all__ = ["ImageDataset", "to_float", "to_uint8"]  # the conversions live in ..pixels


@dataclass
class ImageDataset:
    name: str
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,)
    class_names: tuple[str, ...] = ()
    source: str = ""
    inputs: torch.Tensor | None = None  # uint8 (N, Cin, H, W): paired data's inputs; images are the targets
    # one text per picture where the source has them (emoji names, sidecar .txt files), else (); its lines are
    # that picture's several captions (``data.captions``: their embeddings for text-conditioned runs)
    captions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.images.dtype == torch.uint8 and self.images.ndim == 4, self.images.shape
        assert self.labels is None or len(self.labels) == len(self.images)
        assert not self.captions or len(self.captions) == len(self.images)
        assert self.inputs is None or (
            self.inputs.dtype == torch.uint8
            and self.inputs.ndim == 4
            and self.inputs.shape[0] == self.images.shape[0]
            and self.inputs.shape[2:] == self.images.shape[2:]
        ), self.inputs.shape

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        _, c, h, w = self.images.shape  # (N, C, H, W): checked in __post_init__
        return c, h, w

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index: torch.Tensor) -> ImageDataset:
        return dataclasses.replace(
            self,
            images=self.images[index],
            labels=None if self.labels is None else self.labels[index],
            inputs=None if self.inputs is None else self.inputs[index],
            captions=tuple(self.captions[i] for i in index.tolist()) if self.captions else (),
        )
