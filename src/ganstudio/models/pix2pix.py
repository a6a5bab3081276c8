"""pix2pix (Isola et al. 2017): a U-Net generator and a PatchGAN discriminator on (input, output) pairs.

G: x (B, in_channels, H, W) in [-1, 1] -> (B, channels, H, W) in [-1, 1].
   The input is edge-padded up to a multiple of 2^depth (28 px Fashion-MNIST runs at 32 inside the
   model), encoded by ``depth`` stride-2 4x4 convs (LeakyReLU 0.2, BatchNorm except on the first and
   the innermost), decoded by transposed convs (ReLU, BatchNorm) with a skip connection from the
   encoder stage of the same size, then cropped back to H x W. The innermost ``dropout_stages``
   decoder stages use dropout: pix2pix's only source of noise (G has no latent: ``z_dim`` is 0).
   In training, pass ``noise`` (a torch.Generator) and the dropout masks come from it, so a run's
   dropout is checkpointed with the trainer's noise generator and resume stays bit-exact.
   In eval mode there is no dropout: translation is deterministic.
D: (x (B, in_channels, H, W), y (B, channels, H, W)) -> (B, 1, h, w) patch logits. A stack of 4x4
   convs on the channel-concatenated pair: ``d_layers`` stride-2 convs then two stride-1 convs,
   so each logit judges one overlapping patch (receptive field 16 px with one stride-2 layer, 34 with
   two, 70 with three: pix2pix's 70x70 PatchGAN at 128 px).

Training: the ``pix2pix`` schedule (``training.paired``): D's loss on real and fake pairs, G's loss
``adv_weight * adversarial + l1_weight * L1``; ``adv_weight = 0`` is the L1-only U-Net baseline, whose D
is never updated.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config.models import PIX2PIX_D_NORM_NAMES, Pix2PixConfig
from ..errors import UserError
from . import Family, register
from .tasks import IMAGE_TO_IMAGE

Tensor = torch.Tensor


D_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    "instance": lambda c: nn.InstanceNorm2d(c, affine=True),
    "none": nn.Identity,
}
assert tuple(D_NORMS) == PIX2PIX_D_NORM_NAMES  # the config validates names; this maps them to modules


def _init(module: nn.Module) -> None:
    """pix2pix's init: conv weights N(0, 0.02), norm gains N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _dropout(x: Tensor, p: float, training: bool, gen: torch.Generator | None) -> Tensor:
    if not training or p == 0:
        return x
    if gen is None:
        return F.dropout(x, p, True)
    keep = torch.rand(x.shape, generator=gen, device=x.device) >= p
    return x * keep / (1 - p)


class UNetGenerator(nn.Module):
    """(B, in_channels, H, W) in [-1, 1] -> (B, channels, H, W) in [-1, 1]; see the module doc."""

    def __init__(self, cfg: Pix2PixConfig):
        super().__init__()
        self.z_dim, self.num_classes = 0, 0
        self.in_channels, self.out_shape = cfg.in_channels, cfg.image_shape
        self.depth, self.p, self.dropout_stages = cfg.unet_depth, cfg.dropout, cfg.dropout_stages
        ch = [min(cfg.g_channels * 2**i, cfg.max_channels) for i in range(self.depth)]
        self.down = nn.ModuleList()
        for i in range(self.depth):
            cin = cfg.in_channels if i == 0 else ch[i - 1]
            # No norm on the first stage (raw pixels) nor the innermost (1-2 px: batch statistics of
            # a single pixel per image are noise), as in pix2pix.
            norm = 0 < i < self.depth - 1
            self.down.append(
                nn.Sequential(
                    *([] if i == 0 else [nn.LeakyReLU(0.2)]),
                    nn.Conv2d(cin, ch[i], 4, 2, 1, bias=not norm),
                    *([nn.BatchNorm2d(ch[i])] if norm else []),
                )
            )
        self.up = nn.ModuleList()
        for i in reversed(range(self.depth)):  # innermost first
            cin = ch[i] if i == self.depth - 1 else 2 * ch[i]
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, cfg.channels, 4, 2, 1), nn.Tanh()))
            else:
                self.up.append(
                    nn.Sequential(
                        nn.ReLU(), nn.ConvTranspose2d(cin, ch[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(ch[i - 1])
                    )
                )
        _init(self)

    def forward(self, x: Tensor, noise: torch.Generator | None = None) -> Tensor:
        if x.ndim != 4:
            raise UserError(
                "pix2pix translates images: train it with --schedule pix2pix and use it with "
                "`ganstudio translate RUN_DIR input.png` (it has no latent to generate from)"
            )
        if x.shape[1] != self.in_channels or tuple(x.shape[2:]) != self.out_shape[1:]:
            raise UserError(
                f"pix2pix model expects inputs of {self.in_channels} x {self.out_shape[1]} x "
                f"{self.out_shape[2]} (channels x height x width), got {tuple(x.shape[1:])}; for "
                f"colour A/ folders set --set model_config.in_channels={x.shape[1]}"
            )
        h, w = x.shape[2:]
        m = 2**self.depth
        ph, pw = -h % m, -w % m
        # Edge padding keeps the border's colour (white paper for sketches) instead of inventing a frame.
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate") if ph or pw else x
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        skips.pop()  # the innermost output feeds the decoder directly
        for j, up in enumerate(self.up):
            x = up(x)
            if j < len(self.up) - 1:
                if j < self.dropout_stages:
                    x = _dropout(x, self.p, self.training, noise)
                x = torch.cat([x, skips.pop()], 1)
        return x[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]


class PatchDiscriminator(nn.Module):
    """(x (B, in_channels, H, W), y (B, channels, H, W)) -> (B, 1, h, w) patch logits."""

    def __init__(self, cfg: Pix2PixConfig):
        super().__init__()
        self.num_classes, self.has_aux = 0, False
        norm = D_NORMS[cfg.d_norm]
        bias = cfg.d_norm == "none"  # a following norm subtracts the mean: a bias would be dead
        d, n = cfg.d_channels, cfg.patch_layers
        layers: list[nn.Module] = [nn.Conv2d(cfg.in_channels + cfg.channels, d, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = d
        for i in range(1, n):
            nc = min(d * 2**i, cfg.max_channels)
            layers += [nn.Conv2d(c, nc, 4, 2, 1, bias=bias), norm(nc), nn.LeakyReLU(0.2)]
            c = nc
        nc = min(d * 2**n, cfg.max_channels)
        layers += [nn.Conv2d(c, nc, 4, 1, 1, bias=bias), norm(nc), nn.LeakyReLU(0.2), nn.Conv2d(nc, 1, 4, 1, 1)]
        self.body = nn.Sequential(*layers)
        _init(self)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.body(torch.cat([x, y], 1))


register(
    Family(
        "pix2pix",
        Pix2PixConfig,
        UNetGenerator,
        PatchDiscriminator,
        IMAGE_TO_IMAGE,
        description="pix2pix: U-Net G + PatchGAN D for paired image-to-image (sketch -> image, colourisation); "
        "8-128 px",
    )
)
