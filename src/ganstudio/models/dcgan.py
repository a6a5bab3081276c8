"""DCGAN (Radford et al. 2016), generalised to any size reachable by doubling a small base grid.

G: z (B, z_dim) -> Linear -> (B, g*2^(k-1), h0, w0) -> [up-conv, BN, ReLU] x (k-1) -> up-conv to C, tanh
   -> (B, C, H, W) in [-1, 1]. The base grid (h0, w0) and the number of doublings k come from
   ``layers.base_grid``: 64 -> 4x4 and 4 doublings, 28 -> 7x7 and 2 (7 -> 14 -> 28), 64x48 -> 4x3.
D: x (B, C, H, W) -> strided 4x4 convs (C -> d -> 2d -> ...) with LeakyReLU 0.2, no norm on the
   first, ``d_norm`` on the others -> (B, d*2^(k-1), h0, w0) [-> minibatch std] -> flatten = features
   (B, F) -> linear head (+ projection / ACGAN) -> (B,) logits. The flattened linear head is DCGAN's
   final "4x4 valid conv" for any base grid, square or not.
Channel counts are capped by ``max_channels``.

Conditioning (num_classes > 0): G's BatchNorms are class-conditional (gain/bias linear in y), and with
``class_input`` y also joins z at G's input; D conditions through its head (``conditioning``: projection,
acgan or both); see ``layers``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config.models import G_UPSAMPLE_NAMES, DCGANConfig
from . import Family, register
from .layers import (
    D_NORMS,
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
    widths,
)
from .tasks import NOISE_TO_IMAGE

Tensor = torch.Tensor


def _convtranspose(cin: int, cout: int, bias: bool) -> nn.Module:
    return nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)  # DCGAN's own: k4 s2 p1 doubles H and W


def _nearest(cin: int, cout: int, bias: bool) -> nn.Module:
    # Odena et al. 2016: resize-then-conv avoids the checkerboard of uneven transposed-conv overlap.
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=bias))


# (in channels, out channels, bias) -> a module that doubles H and W.
UPSAMPLERS: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "convtranspose": _convtranspose,
    "nearest": _nearest,
}
assert tuple(UPSAMPLERS) == G_UPSAMPLE_NAMES  # the config validates names; this maps them to modules


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's init: conv/linear weights N(0, 0.02), norm gains N(1, 0.02), biases 0.

    Radford et al. found this small fixed scale trains stably with Adam(2e-4, beta1 0.5); with
    BatchNorm after (almost) every layer the weight scale barely matters for the forward signal.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, ClassBatchNorm2d):
            m.reset_parameters()


class DCGANGenerator(nn.Module):
    """(B, z_dim), (B, K) class weights or None -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = cfg.z_dim, cfg.num_classes, cfg.image_shape
        self.class_input = bool(cfg.class_input and cfg.num_classes)
        stages, self.base_h, self.base_w = base_grid(cfg.resolution, cfg.height or cfg.resolution)
        ch = widths(cfg.g_channels, stages, cfg.max_channels)  # coarsest first; ch[-1] = g_channels
        up = UPSAMPLERS[cfg.g_upsample]
        # Every layer but the last is followed by BatchNorm, which subtracts the per-channel mean:
        # biases there would be dead parameters, so none are created.
        self.project = nn.Linear(g_input_dim(cfg), ch[0] * self.base_h * self.base_w, bias=False)
        self.norm0 = ClassBatchNorm2d(ch[0], cfg.num_classes)
        self.ups = nn.ModuleList(up(a, b, False) for a, b in itertools.pairwise(ch))
        self.norms = nn.ModuleList(ClassBatchNorm2d(b, cfg.num_classes) for b in ch[1:])
        self.to_image = up(ch[-1], cfg.channels, True)
        dcgan_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.num_classes:
            check_y(y, len(z), self.num_classes, "DCGANGenerator")
        h = self.project(g_input(z, y, self.class_input)).view(len(z), -1, self.base_h, self.base_w)
        h = F.relu(self.norm0(h, y))
        for up, norm in zip(self.ups, self.norms):
            h = F.relu(norm(up(h), y))
        return torch.tanh(self.to_image(h))


class DCGANDiscriminator(FeatureDiscriminator):
    """(B, C, H, W), (B, K) or None -> (B,) logits; ``features`` -> (B, F); see FeatureDiscriminator."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.num_classes, self.in_shape = cfg.num_classes, cfg.image_shape
        stages, bh, bw = base_grid(cfg.resolution, cfg.height or cfg.resolution)
        ch = widths(cfg.d_channels, stages, cfg.max_channels)[::-1]  # finest first; ch[0] = d_channels
        norm = D_NORMS[cfg.d_norm]
        # No norm on the first layer (DCGAN): normalising the raw image batch destabilises training.
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, ch[0], 4, 2, 1), nn.LeakyReLU(cfg.negative_slope)]
        for a, b in itertools.pairwise(ch):
            layers += [
                nn.Conv2d(a, b, 4, 2, 1, bias=not norm.absorbs_bias),
                norm.make(b),
                nn.LeakyReLU(cfg.negative_slope),
            ]
        self.body = nn.Sequential(*layers)
        self.mbstd = MinibatchStdDev(cfg.mbstd_group) if cfg.mbstd else None
        self.feature_dim = (ch[-1] + cfg.mbstd) * bh * bw
        self.head = DiscriminatorHead(self.feature_dim, cfg.num_classes, cfg.conditioning)
        self.has_aux = self.head.aux is not None
        dcgan_init(self)
        if cfg.spectral_norm:
            apply_spectral_norm(self)  # after init: the parametrization wraps the initialised weights

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_image(x, self.in_shape, "DCGANDiscriminator")
        h = self.body(x)
        if self.mbstd is not None:
            h = self.mbstd(h)
        return h.flatten(1)


register(
    Family(
        "dcgan",
        DCGANConfig,
        DCGANGenerator,
        DCGANDiscriminator,
        NOISE_TO_IMAGE,
        conditioning=("class",),
        description="DCGAN: transposed-conv G with BatchNorm, strided-conv D; 28-128 px, non-square, conditional",
    )
)
