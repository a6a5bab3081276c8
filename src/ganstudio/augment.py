"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) with an adaptive probability (ADA).

Pure functions over image batches (B, C, H, W) in [-1, 1]: every random number comes from the
``torch.Generator`` passed in, so augmentation is reproducible and its RNG state checkpointable.
Applied to real *and* fake images, in both the D and the G step, so D never sees a distribution
that G cannot match: that is what lets a GAN train on a few hundred pictures.

``p`` is a per-sample probability (a 0-d tensor, so the ADA controller can change it without a
host sync): each image is augmented by each op with probability p, otherwise passed through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Tensor = torch.Tensor


def _rand(x: Tensor, g: torch.Generator, *shape: int) -> Tensor:
    return torch.rand(*shape, device=x.device, generator=g, dtype=x.dtype)


def _gate(x: Tensor, out: Tensor, p: Tensor, g: torch.Generator) -> Tensor:
    """Keep ``out`` for a random p-fraction of the batch and ``x`` for the rest."""
    keep = (_rand(x, g, x.shape[0], 1, 1, 1) < p).to(x.dtype)
    return x + keep * (out - x)


def color(x: Tensor, p: Tensor, g: torch.Generator) -> Tensor:
    """Brightness, saturation and contrast jitter (DiffAugment's 'color'); RGBA keeps its alpha."""
    if x.shape[1] == 4:  # RGBA (data.background="transparent"): jitter the colours, not the transparency
        return torch.cat([color(x[:, :3], p, g), x[:, 3:]], 1)
    b = x.shape[0]
    out = x + (_rand(x, g, b, 1, 1, 1) - 0.5)
    if x.shape[1] > 1:
        mean = out.mean(1, keepdim=True)
        out = (out - mean) * (_rand(x, g, b, 1, 1, 1) * 2) + mean
    mean = out.mean((1, 2, 3), keepdim=True)
    out = (out - mean) * (_rand(x, g, b, 1, 1, 1) + 0.5) + mean
    return _gate(x, out, p, g)


def translation(x: Tensor, p: Tensor, g: torch.Generator, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to ``ratio`` of its size, zero-padded (integer pixel shifts)."""
    b, _, h, w = x.shape
    sy, sx = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = (torch.floor(_rand(x, g, b) * (2 * sy + 1)) - sy).long()
    dx = (torch.floor(_rand(x, g, b) * (2 * sx + 1)) - sx).long()
    ys = torch.arange(h, device=x.device).view(1, h, 1) - dy.view(b, 1, 1)  # source row per output row
    xs = torch.arange(w, device=x.device).view(1, 1, w) - dx.view(b, 1, 1)
    valid = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1).to(x.dtype)
    idx = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).view(b, 1, h * w).expand(-1, x.shape[1], -1)
    out = x.flatten(2).gather(2, idx).view_as(x) * valid + (valid - 1)  # outside -> -1 (black)
    return _gate(x, out, p, g)


def cutout(x: Tensor, p: Tensor, g: torch.Generator, ratio: float = 0.5) -> Tensor:
    """Blank a random square of ``ratio`` of the image size (to -1, black)."""
    b, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    cy = torch.floor(_rand(x, g, b) * (h + 1 - ch % 2)).long()
    cx = torch.floor(_rand(x, g, b) * (w + 1 - cw % 2)).long()
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - cy.view(b, 1, 1)).abs() <= ch // 2) & ((xs - cx.view(b, 1, 1)).abs() <= cw // 2)
    m = inside.unsqueeze(1).to(x.dtype)
    out = x * (1 - m) - m
    return _gate(x, out, p, g)


def flip(x: Tensor, p: Tensor, g: torch.Generator) -> Tensor:
    """Horizontal flip (for data whose mirror image is as valid as the original)."""
    return _gate(x, x.flip(3), p, g)


OPS: dict[str, Callable[..., Tensor]] = {"color": color, "translation": translation, "cutout": cutout, "flip": flip}


def diff_augment(x: Tensor, policy: tuple[str, ...], p: Tensor, g: torch.Generator) -> Tensor:
    """Apply each op of ``policy`` in order, each to a p-fraction of the batch."""
    for name in policy:
        x = OPS[name](x, p, g)
    return x


def ada_adjust(p: Tensor, rt: Tensor, target: float, step_images: int, speed_images: int) -> Tensor:
    """StyleGAN2-ADA's controller: move p by sign(r_t - target), at most 1 over ``speed_images`` images.

    r_t = E[sign(D(real))] is D's overfitting signal: near 1 when D is sure every real image is real.
    """
    return (p + torch.sign(rt - target) * (step_images / speed_images)).clamp_(0.0, 1.0)
