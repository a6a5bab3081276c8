"""SNGAN-style residual GAN (Miyato et al. 2018; Miyato & Koyama 2018), sized from the resolution.

G: z (B, z_dim) -> Linear -> (B, g*2^k, h0, w0) -> k up-blocks, halving channels
   [BN-ReLU-up-conv3-BN-ReLU-conv3 + up-conv1 shortcut] -> BN-ReLU-conv3 to C, tanh -> (B, C, H, W).
D: x (B, C, H, W) -> k down-blocks, doubling channels from d (the first is SNGAN's "optimised"
   block: conv-ReLU-conv-pool, pool-conv1 shortcut; the rest ReLU-conv-ReLU-conv-pool + pool-conv1)
   [-> minibatch std] -> one more block at the base grid -> ReLU -> global sum pool = features
   (B, F = d*2^(k-1)) -> linear head (+ projection / ACGAN) -> (B,) logits.
Base grid and k come from ``layers.base_grid`` (32 -> 4x4, k=3; 28 -> 7x7, k=2; 16 -> 4x4, k=2).
Channels are capped by ``max_channels``. Spectral norm on every D weight by default (SNGAN).

Conditioning (num_classes > 0): class-conditional BatchNorm in every G block (linear in y);
D conditions through its head (``conditioning``: projection, acgan or both).
"""

from __future__ import annotations

import itertools
import math
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config.models import ResNetConfig
from . import Family, register
from .layers import (
    ClassBatchNorm2d,
    DiscriminatorHead,
    FeatureDiscriminator,
    MinibatchStdDev,
    apply_spectral_norm,
    base_grid,
    check_image,
    check_y,
    g_input,
    g_input_dim,
    upsample_nearest,
    widths,
)
from .tasks import NOISE_TO_IMAGE

Tensor = torch.Tensor


# Init (SNGAN / Mimicry practice): Xavier-uniform, gain sqrt(2) on convs that feed a ReLU path and 1
# on shortcuts and heads. N(0, 0.02) (DCGAN) is far too small for 3x3 convs without a norm after
# them: the residual branches would start near zero and, in D, spectral norm would rescale a
# weight whose singular values are all tiny and alike. Xavier keeps activations' scale roughly
# constant through the blocks and gives SN a well-spread spectrum to normalise.
_RELU_GAIN = math.sqrt(2.0)


_Layer = TypeVar("_Layer", nn.Conv2d, nn.Linear)


def _xavier(m: _Layer, gain: float) -> _Layer:
    nn.init.xavier_uniform_(m.weight, gain)
    if m.bias is not None:
        nn.init.zeros_(m.bias)
    return m


class GBlock(nn.Module):
    """(B, cin, h, w), y -> (B, cout, 2h, 2w).

    No conv here has a bias: every output feeds a BatchNorm (this block's, the next block's or
    G's last), which subtracts the per-channel mean, so biases would be dead parameters.
    """

    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.b1, self.b2 = ClassBatchNorm2d(cin, num_classes), ClassBatchNorm2d(cout, num_classes)
        self.c1 = _xavier(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), _RELU_GAIN)
        self.c2 = _xavier(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), _RELU_GAIN)
        self.shortcut = _xavier(nn.Conv2d(cin, cout, 1, bias=False), 1.0)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = self.c1(upsample_nearest(F.relu(self.b1(x, y))))
        h = self.c2(F.relu(self.b2(h, y)))
        return h + self.shortcut(upsample_nearest(x))


class DBlock(nn.Module):
    """(B, cin, h, w) -> (B, cout, h/2, w/2) with ``down`` (else same size).

    ``first``: SNGAN's optimised first block, which skips the leading ReLU (the input is the image,
    and ReLU would discard its negative half before any conv sees it).
    """

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.c1 = _xavier(nn.Conv2d(cin, cout, 3, 1, 1), _RELU_GAIN)
        self.c2 = _xavier(nn.Conv2d(cout, cout, 3, 1, 1), _RELU_GAIN)
        # Learnable 1x1 shortcut only when the shape changes; pooling first is the same map as
        # conv-then-pool (both linear) at a quarter of the cost.
        self.shortcut = _xavier(nn.Conv2d(cin, cout, 1), 1.0) if (cin != cout or down) else None

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self.c2(F.relu(self.c1(h)))
        s = x
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        if self.shortcut is not None:
            s = self.shortcut(s)
        return h + s


class ResNetGenerator(nn.Module):
    """(B, z_dim), (B, K) class weights or None -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, cfg: ResNetConfig):
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = cfg.z_dim, cfg.num_classes, cfg.image_shape
        self.class_input = bool(cfg.class_input and cfg.num_classes)
        stages, self.base_h, self.base_w = base_grid(cfg.resolution, cfg.height or cfg.resolution)
        ch = widths(cfg.g_channels, stages + 1, cfg.max_channels)  # coarsest first; ch[-1] = g_channels
        self.project = _xavier(nn.Linear(g_input_dim(cfg), ch[0] * self.base_h * self.base_w, bias=False), 1.0)
        self.blocks = nn.ModuleList(GBlock(a, b, cfg.num_classes) for a, b in itertools.pairwise(ch))
        # SNGAN's last BN is unconditional: class information has already shaped every block.
        self.norm = ClassBatchNorm2d(ch[-1], 0)
        self.to_image = _xavier(nn.Conv2d(ch[-1], cfg.channels, 3, 1, 1), 1.0)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.num_classes:
            check_y(y, len(z), self.num_classes, "ResNetGenerator")
        h = self.project(g_input(z, y, self.class_input)).view(len(z), -1, self.base_h, self.base_w)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.to_image(F.relu(self.norm(h, None))))


class ResNetDiscriminator(FeatureDiscriminator):
    """(B, C, H, W), (B, K) or None -> (B,) logits; ``features`` -> (B, F); see FeatureDiscriminator."""

    def __init__(self, cfg: ResNetConfig):
        super().__init__()
        self.num_classes, self.in_shape = cfg.num_classes, cfg.image_shape
        stages, _, _ = base_grid(cfg.resolution, cfg.height or cfg.resolution)
        ch = widths(cfg.d_channels, stages, cfg.max_channels)[::-1]  # finest first; ch[0] = d_channels
        self.blocks = nn.Sequential(
            DBlock(cfg.channels, ch[0], down=True, first=True),
            *(DBlock(a, b, down=True) for a, b in itertools.pairwise(ch)),
        )
        self.mbstd = MinibatchStdDev(cfg.mbstd_group) if cfg.mbstd else None
        # One block at the base grid after the last downsampling (as SNGAN's CIFAR D), so that the
        # minibatch-std channel, when present, is mixed by convs before the pooling.
        self.last = DBlock(ch[-1] + cfg.mbstd, ch[-1], down=False)
        self.feature_dim = ch[-1]
        self.head = DiscriminatorHead(self.feature_dim, cfg.num_classes, cfg.conditioning)
        for m in self.head.modules():
            if isinstance(m, nn.Linear):
                _xavier(m, 1.0)
        self.has_aux = self.head.aux is not None
        if cfg.spectral_norm:
            apply_spectral_norm(self)  # after init: the parametrization wraps the initialised weights

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_image(x, self.in_shape, "ResNetDiscriminator")
        h = self.blocks(x)
        if self.mbstd is not None:
            h = self.mbstd(h)
        # Global *sum* pooling (SNGAN): with spectral norm the head's scale is fixed, and summing
        # keeps the logit's scale free to grow with the feature map instead of being averaged away.
        return F.relu(self.last(h)).sum((2, 3))


register(
    Family(
        "resnet",
        ResNetConfig,
        ResNetGenerator,
        ResNetDiscriminator,
        NOISE_TO_IMAGE,
        conditioning=("class",),
        description="SNGAN residual G/D with spectral norm and projection D; 32-128 px (8-28 px work too)",
    )
)
