"""The seed's MLP GAN, exactly (article sections 3.2 and 5.2), with its loss bug fixed.

G: z (100) -> Dense 256 -> 512 -> 1024 (LeakyReLU 0.2 each) -> Dense C*H*W, tanh.
D: x (C*H*W) -> Dense 1024 -> 512 -> 256 (LeakyReLU 0.2 each) -> Dense 1.
Keras defaults: Glorot-uniform weights, zero biases.

The fix: the seed ends D in ``Dense(1, activation='sigmoid')`` yet builds its loss with
``BinaryCrossentropy(from_logits=True)``, so a sigmoid is applied twice. Current Keras
notices and repairs it silently; a literal PyTorch port trains on squashed logits and
collapses. Here D returns raw logits and the loss is BCE-with-logits: the seed's intent.

Conditioning (num_classes > 0): class weights are concatenated to z in G and to the
flattened image in D, the classic conditional GAN of Mirza & Osindero (2014).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ..config.models import MLPConfig
from . import Family, register
from .tasks import NOISE_TO_IMAGE

__all__ = ["MLPConfig", "MLPDiscriminator", "MLPGenerator", "keras_init"]


def _mlp(sizes: list[int], slope: float) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.LeakyReLU(slope)]
    return layers


def keras_init(module: nn.Module) -> None:
    """Keras Dense defaults: Glorot-uniform kernel, zero bias."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


class MLPGenerator(nn.Module):
    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = cfg.z_dim, cfg.num_classes, cfg.image_shape
        n_out = cfg.image_shape[0] * cfg.image_shape[1] * cfg.image_shape[2]
        sizes = [cfg.z_dim + cfg.num_classes, *cfg.g_hidden]
        self.net = nn.Sequential(*_mlp(sizes, cfg.negative_slope), nn.Linear(sizes[-1], n_out), nn.Tanh())
        keras_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError(f"MLPGenerator: this model is class-conditional ({self.num_classes} classes); pass y")
            z = torch.cat([z, y], 1)
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.num_classes = cfg.num_classes
        n_in = cfg.image_shape[0] * cfg.image_shape[1] * cfg.image_shape[2]
        sizes = [n_in + cfg.num_classes, *cfg.d_hidden]
        self.body = nn.Sequential(*_mlp(sizes, cfg.negative_slope))
        self.head = nn.Linear(sizes[-1], 1)  # logits: the seed's loss bug fixed
        keras_init(self)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Penultimate activations (B, d_hidden[-1]), for feature matching."""
        h = x.flatten(1)
        if self.num_classes:
            if y is None:
                raise ValueError(
                    f"MLPDiscriminator: this model is class-conditional ({self.num_classes} classes); pass y"
                )
            h = torch.cat([h, y], 1)
        return self.body(h)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, y)).squeeze(1)


register(
    Family(
        "mlp",
        MLPConfig,
        MLPGenerator,
        MLPDiscriminator,
        NOISE_TO_IMAGE,
        conditioning=("class",),
        description="the seed's MLP GAN (100-d noise, G 256-512-1024-784, D 1024-512-256-1)",
    )
)
