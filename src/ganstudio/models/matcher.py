"""A text-image matching model: two towers meeting in one space, and the contrastive fit that trains it.

A small CNN over the picture ((B, C, 32, 32) in [-1, 1], larger pictures average-pooled to 32 px) and a linear
map of a *frozen* sentence embedding (``textembed``), both to ``dim``-d unit vectors, trained with CLIP's
symmetric InfoNCE (learned temperature) on captioned pictures, each step drawing one caption per picture and
shifting the pictures by up to 2 px (no flips: "left arrow" is not "right arrow").

Two users, on two sides of the layers: ``features.text_match`` trains one on every real emoji as the independent
judge of text-to-picture generators (R-precision), and ``training.guide`` trains one on a run's own training
pictures as a frozen guide for G (``train.text_guidance``). The fit takes tensors, not a dataset, so both can.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import textembed
from ..losses import contrastive

SIZE = 32  # the picture side the image tower reads


@dataclass(frozen=True)
class MatchConfig:
    text_model: str = textembed.DEFAULT_MODEL
    dim: int = 128  # the shared space
    widths: tuple[int, ...] = (32, 64, 128)
    epochs: int = 60
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


class ImageTower(nn.Module):
    """(B, C, H, W) in [-1, 1] (H = W = 32 * k) -> (B, dim) unit vectors."""

    def __init__(self, channels: int, widths: Sequence[int], dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        c = channels
        for w in widths:  # 32 -> 16 -> 8 -> 4
            layers += [nn.Conv2d(c, w, 3, 1, 1), nn.BatchNorm2d(w), nn.ReLU(), nn.Conv2d(w, w, 3, 2, 1), nn.ReLU()]
            c = w
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(c * (SIZE >> len(widths)) ** 2, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != SIZE:
            x = F.adaptive_avg_pool2d(x, SIZE)
        return F.normalize(self.head(self.convs(x).flatten(1)), dim=1)


class MatchModel(nn.Module):
    def __init__(self, channels: int, text_dim: int, cfg: MatchConfig):
        super().__init__()
        self.image = ImageTower(channels, cfg.widths, cfg.dim)
        self.text = nn.Linear(text_dim, cfg.dim)
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))

    def scale(self) -> torch.Tensor:
        """The learned inverse temperature, capped at 100 (CLIP's cap)."""
        return self.log_scale.clamp(max=np.log(100)).exp()

    def embed_text(self, e: torch.Tensor) -> torch.Tensor:
        """(B, text_dim) frozen sentence embeddings -> (B, dim) unit vectors."""
        return F.normalize(self.text(e), dim=1)


def _shift(x: torch.Tensor, g: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translations of up to ``pad`` px (edge-replicated), one per picture."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx, dy = torch.randint(2 * pad + 1, (2, b), generator=g)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])


def fit_matcher(
    images: torch.Tensor,
    embeddings: torch.Tensor,
    start: torch.Tensor,
    count: torch.Tensor,
    cfg: MatchConfig,
    log: Callable[[str], None] | None = None,
) -> tuple[MatchModel, list[float], float]:
    """Train a ``MatchModel`` on N captioned pictures: ``images`` (N, C, H, W) uint8 (H, W pooling to 32 px), and
    a caption table: ``embeddings`` (M, T) with picture i's captions at rows ``start[i] .. start[i] + count[i] - 1``.
    Deterministic for one config and data on one machine (seeded generators). -> (model in eval mode, per-step
    losses, seconds)."""
    n = len(images)
    torch.manual_seed(cfg.seed)
    model = MatchModel(images.shape[1], embeddings.shape[1], cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    steps_per_epoch = max(1, n // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total)
    t0, losses = time.monotonic(), []
    model.train()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(steps_per_epoch):
            idx = perm[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            x = _shift(images[idx].float() / 127.5 - 1, g)
            u = torch.rand(len(idx), generator=g)
            c = count[idx]
            e = embeddings[start[idx] + (u * c).long().clamp(max=c - 1)]
            a, b = model.image(x), model.embed_text(e)
            loss = contrastive(model.scale() * a @ b.T)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        if log is not None and (epoch + 1) % 10 == 0:
            log(f"text-match epoch {epoch + 1}/{cfg.epochs}: loss {np.mean(losses[-steps_per_epoch:]):.3f}")
    return model.eval(), losses, time.monotonic() - t0
