"""The feature-extractor contract shared by every extractor in ``EXTRACTORS``.

An extractor turns images into feature vectors (and, when it is a classifier, class
probabilities). Shapes at the boundary:

    images  (N, C, H, W): uint8 in [0, 255] or float in [0, 1], any C in {1, 3, 4}, any H, W; RGBA
            (4, straight alpha) is composited over white first (``fit_images``), so every extractor
            sees grey or RGB pictures and metrics work on runs trained with transparent pictures
    feats   (N, D) float32 numpy
    probs   (N, K) float32 numpy softmax outputs, or None for extractors without classes

Every extractor has a ``name`` (what it is, e.g. ``classifier-fashion-mnist``) and an ``id`` (a
hash of its weights and configuration). Numbers computed with different extractors, or with the
same name but a different id, are not comparable; every report carries both.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class Features:
    feats: np.ndarray  # float32 (N, D)
    probs: np.ndarray | None  # float32 (N, K), rows sum to 1; None without a classifier head

    def __len__(self) -> int:
        return len(self.feats)


def to_unit_float(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 [0, 255] or float [0, 1] images -> float32 tensor in [0, 1] (no copy when already so)."""
    x = torch.as_tensor(images)
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    return x.float()


def composite(x: torch.Tensor, background: float = 1.0) -> torch.Tensor:
    """Float (B, 4, H, W) RGBA in [0, 1] (straight alpha) -> (B, 3, H, W) RGB over a grey level (white);
    any other channel count is returned as it is."""
    if x.shape[1] != 4:
        return x
    alpha = x[:, 3:]
    return x[:, :3] * alpha + background * (1 - alpha)


def fit_images(x: torch.Tensor, channels: int | None, size: tuple[int, int] | None) -> torch.Tensor:
    """Float (B, C, H, W) in [0, 1] -> (B, channels, *size): RGBA composited over white, antialiased
    bilinear resize, then grey -> RGB by repetition or RGB -> grey by ITU-R 601 luma. None keeps that
    property (but RGBA always becomes RGB: no extractor reads alpha)."""
    if x.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
    x = composite(x)
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    c = x.shape[1]
    if channels is not None and channels != c:
        if channels == 3 and c == 1:
            x = x.expand(-1, 3, -1, -1)
        elif channels == 1 and c == 3:
            w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
            x = (x * w).sum(1, keepdim=True)
        else:
            raise ValueError(f"cannot convert {c}-channel images to {channels} channels")
    return x


def sha256_tensors(tensors: dict[str, torch.Tensor], extra: Any = None) -> str:
    """A hash of named tensors (names, dtypes, shapes and bytes, in sorted name order) plus ``extra``."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    if extra is not None:
        h.update(repr(extra).encode())
    return h.hexdigest()


class Extractor(ABC):
    """Base class: subclasses set the attributes below and implement ``_forward``."""

    name: str = "extractor"  # what it is; reports print it next to every number
    id: str = ""  # 12 hex digits: hash of weights + configuration
    description: str = ""  # one line for humans
    num_classes: int = 0  # > 0 when ``probs`` are class predictions
    class_names: tuple[str, ...] = ()
    input_channels: int | None = None  # images are converted to this many channels (None: as given)
    input_size: tuple[int, int] | None = None  # and resized to this (H, W) (None: as given)
    batch_size: int = 256
    modality: str = "pictures"  # "sound": ``extract`` reads waveforms (N, samples) instead (features.sound)

    @abstractmethod
    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray | None]:
        """x float (B, input_channels, *input_size) in [0, 1] -> (feats (B, D), probs (B, K) or None)."""

    @property
    def label(self) -> str:
        """``name@id``, the form printed next to numbers."""
        return f"{self.name}@{self.id}"

    def extract(self, images: torch.Tensor | np.ndarray, batch_size: int | None = None) -> Features:
        """Features of ``images`` (N, C, H, W) (uint8 or float in [0, 1]), computed in batches."""
        bs = batch_size or self.batch_size
        n = len(images)
        feats, probs = [], []
        with torch.inference_mode():
            for i in range(0, n, bs):
                x = fit_images(to_unit_float(images[i : i + bs]), self.input_channels, self.input_size)
                f, p = self._forward(x.contiguous())
                feats.append(
                    np.asarray(f.detach().cpu() if torch.is_tensor(f) else f, dtype=np.float32).reshape(len(x), -1)
                )
                if p is not None:
                    probs.append(np.asarray(p.detach().cpu() if torch.is_tensor(p) else p, dtype=np.float32))
        if not feats:
            raise ValueError("no images to extract features from")
        return Features(np.concatenate(feats), np.concatenate(probs) if probs else None)

    def describe(self) -> dict:
        """JSON-ready identity of this extractor: goes into every evaluation result."""
        return {
            "name": self.name,
            "id": self.id,
            "description": self.description,
            "num_classes": self.num_classes,
            **self.extra_info(),
        }

    def extra_info(self) -> dict:
        return {}
