"""Building blocks shared by the convolutional families (``dcgan``, ``resnet``).

Shapes at the boundaries:
  ClassBatchNorm2d(x: (B, C, H, W), y: (B, K) class weights or None) -> (B, C, H, W)
  MinibatchStdDev(x: (B, C, H, W)) -> (B, C + 1, H, W)
  DiscriminatorHead(h: (B, F), y: (B, K) or None) -> (B,) logits, and (B, K) class logits with ACGAN
  FeatureDiscriminator: subclasses implement ``features(x, y) -> (B, F)``; ``forward`` adds the head.

Class conditioning always goes through *linear* maps of the class-weight vector y (never an
embedding lookup by index), so soft vectors and blends (0.5 cat + 0.5 dog) are meaningful inputs:
G's BatchNorm gains and D's projection embedding are linear in y.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from ..config.models import CONDITIONINGS, D_NORM_NAMES, Conditioning, base_grid  # noqa: F401 (re-exported)

Tensor = torch.Tensor

# ---------------------------------------------------------------------------------------------
# Geometry: how many doublings from a small base grid reach the requested image size.


def widths(base: int, stages: int, cap: int) -> list[int]:
    """Channel counts from the coarsest (base grid) to the finest stage: ``base * 2**i`` capped.

    ``widths(64, 4, 512) == [512, 256, 128, 64]``: the DCGAN/SNGAN habit of halving the channels at
    each doubling of resolution, so every stage costs roughly the same compute.
    """
    return [min(base * 2**i, cap) for i in reversed(range(stages))]


def check_y(y: Tensor | None, batch: int, num_classes: int, who: str) -> None:
    if y is None:
        raise ValueError(
            f"{who}: this model is class-conditional ({num_classes} classes); pass y of shape "
            f"({batch}, {num_classes}) class weights (one-hot or a soft blend)"
        )
    if y.shape != (batch, num_classes):
        raise ValueError(f"{who}: y must have shape ({batch}, {num_classes}), got {tuple(y.shape)}")


def g_input_dim(cfg: Any) -> int:
    """Width of G's first layer's input: z, plus the class weights when ``cfg.class_input``."""
    return cfg.z_dim + (cfg.num_classes if cfg.class_input else 0)


def g_input(z: Tensor, y: Tensor | None, class_input: bool) -> Tensor:
    """(B, z_dim), (B, K) -> (B, z_dim [+ K]): the first layer's input.

    Why feed y twice (here and through the conditional BatchNorms)? The BN modulations start near
    zero (N(0, 0.02)) and a projection D's class signal is weak early on, so G takes thousands of
    steps to follow the class; a class vector at the input, as in Mirza & Osindero's conditional GAN
    and BigGAN's shared embedding, gives G a class-specific layout from the first steps. Linear in
    y, so soft blends stay meaningful.
    """
    if not class_input:
        return z
    if y is None:
        raise ValueError("class_input: this generator takes the class weights y at its input; pass y")
    return torch.cat([z, y], 1)


class ClassBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are linear in the class weights y (conditional BN).

    ``out = BN(x) * (1 + W_g y) + W_b y`` as in BigGAN's ccbn. Linear in y (no lookup by index), so a
    soft blend of classes blends the per-class modulations; ``y = 0`` gives plain BatchNorm (no
    bias on the maps for that reason: a class-independent shift would be one more thing for
    ``y = 0`` to mean). Without classes (``num_classes == 0``) it is an ordinary affine BatchNorm.
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Linear(num_classes, channels, bias=False)
            self.bias = nn.Linear(num_classes, channels, bias=False)
        self._seeded: bool | None = None  # cache of "bn.num_batches_tracked > 0"; None = unknown
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Small random class modulations (DCGAN's N(1, 0.02) BN-gain habit, BigGAN's 1 + linear):
        # classes differ from step 0, yet every class starts as almost plain BatchNorm.
        if self.num_classes:
            nn.init.normal_(self.gain.weight, 0.0, 0.02)
            nn.init.normal_(self.bias.weight, 0.0, 0.02)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._seeded = None  # loaded statistics may or may not have seen a batch
        super()._load_from_state_dict(*args, **kwargs)

    @torch.no_grad()
    def _seed_running_stats(self, x: Tensor) -> None:
        """Set the running statistics to the first training batch's own, instead of blending it
        into the defaults (mean 0, var 1) at momentum 0.1.

        Why: with small inits (DCGAN's N(0, 0.02)) pre-BN activations have variance ~1e-3, so for
        the first ~100 steps eval-mode G (previews, the divergence guard, early checkpoints) divides
        by a running var that is still ~1 and draws near-constant images: a healthy run looks
        mode-collapsed. Data-dependent and once per layer; state lives in ``num_batches_tracked``
        (checkpointed), so resume and fine-tuning never re-seed. The Python cache avoids a device
        sync per step.
        """
        bn = self.bn
        # Built with track_running_stats (the default), so the buffers exist.
        assert bn.num_batches_tracked is not None and bn.running_mean is not None and bn.running_var is not None
        if self._seeded is None:
            self._seeded = bool(bn.num_batches_tracked > 0)
        if not self._seeded:
            bn.running_mean.copy_(x.mean((0, 2, 3)))
            bn.running_var.copy_(x.var((0, 2, 3)))  # unbiased, as BatchNorm's own update
            self._seeded = True

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        if self.training:
            self._seed_running_stats(x)
        h = self.bn(x)
        if not self.num_classes:
            return h
        return h * (1 + self.gain(y))[:, :, None, None] + self.bias(y)[:, :, None, None]


# ---------------------------------------------------------------------------------------------
# Discriminator extras.


class MinibatchStdDev(nn.Module):
    """ProGAN's minibatch standard deviation: append one channel holding, for each group of
    ``group`` samples, the mean over (C, H, W) of the per-feature std across the group.

    A collapsed G makes samples alike, so their std is low and D can see it from a single batch.
    Groups are strided as in StyleGAN (sample i belongs to group i % (B / group)); when B is not
    divisible by ``group`` the largest divisor of B below it is used (so any batch size works).
    (B, C, H, W) -> (B, C + 1, H, W).
    """

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        g = min(self.group, b)
        while b % g:
            g -= 1
        s = x.reshape(g, b // g, c, h, w)
        s = (s - s.mean(0)).square().mean(0).add(1e-8).sqrt()  # (B/g, C, H, W)
        s = s.mean((1, 2, 3)).reshape(b // g, 1, 1, 1).repeat(g, 1, h, w)  # (B, 1, H, W)
        return torch.cat([x, s], 1)


@dataclass(frozen=True)
class Norm:
    make: Callable[[int], nn.Module]  # channels -> module
    # True when the norm subtracts a per-channel mean: a conv bias before it is then redundant
    # (it would only ever receive a zero gradient), so the conv is built without one.
    absorbs_bias: bool


# D normalisations by name. "none"/"layer" are the ones to pair with wgan-gp: its gradient penalty
# is per sample, and BatchNorm makes each sample's output depend on the rest of the batch.
D_NORMS: dict[str, Norm] = {
    "batch": Norm(nn.BatchNorm2d, absorbs_bias=True),
    "instance": Norm(lambda ch: nn.InstanceNorm2d(ch, affine=True), absorbs_bias=True),
    "layer": Norm(lambda ch: nn.GroupNorm(1, ch), absorbs_bias=False),  # one mean over (C, H, W)
    "none": Norm(lambda ch: nn.Identity(), absorbs_bias=False),
}
assert tuple(D_NORMS) == D_NORM_NAMES  # the config validates names; this maps them to modules


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalise every conv and linear weight in ``module`` (Miyato et al. 2018).

    Call *after* weight init: the parametrization keeps the initialised weight as ``original``.
    Uses the parametrizations API, so weights live at ``...parametrizations.weight.original`` and
    the power-iteration vectors ``_u``/``_v`` are buffers (saved in state_dict, hence checkpointed).
    """
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            _sn(m)
    return module


def has_spectral_norm(m: nn.Module) -> bool:
    return nn.utils.parametrize.is_parametrized(m, "weight")


class DiscriminatorHead(nn.Module):
    """The last layer of every conv D: an adversarial logit plus the chosen conditioning.

    logit = w . h + b  [+ <E y, h> with projection]; aux = A h + c with ACGAN.  h: (B, F).
    """

    def __init__(self, features: int, num_classes: int, conditioning: str):
        super().__init__()
        cond = CONDITIONINGS[conditioning]
        self.num_classes = num_classes
        self.linear = nn.Linear(features, 1)
        # E is a linear map of the class *weights* (equal to an embedding row for one-hot y), so
        # soft class vectors project onto the matching blend of class embeddings.
        self.embed = nn.Linear(num_classes, features, bias=False) if num_classes and cond.projection else None
        self.aux = nn.Linear(features, num_classes) if num_classes and cond.aux else None

    def forward(self, h: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor | None]:
        logits = self.linear(h).squeeze(1)
        if self.embed is not None and y is not None:
            logits = logits + (self.embed(y) * h).sum(1)
        return logits, (self.aux(h) if self.aux is not None else None)


class CaptionMatch(nn.Module):
    """D's sentence-image matching head (XMC-GAN): D's features (B, F) and caption embeddings (N, T) -> (B, N)
    cosine similarities of their projections into a shared ``dim``-space, divided by a fixed temperature
    (XMC-GAN's 0.1: cosines span [-1, 1], so the logits span [-10, 10], enough for a confident softmax)."""

    def __init__(self, features: int, text_dim: int, dim: int, temperature: float = 0.1):
        super().__init__()
        self.image = nn.Linear(features, dim)
        self.text = nn.Linear(text_dim, dim)
        self.temperature = temperature

    def forward(self, h: Tensor, e: Tensor) -> Tensor:
        return self._cosines(self.image(h), self.text(e))

    def pictures(self, h: Tensor, h_other: Tensor) -> Tensor:
        """(B, F), (N, F) features of two sets of pictures -> (B, N) scaled cosines of their image projections."""
        return self._cosines(self.image(h), self.image(h_other))

    def _cosines(self, a: Tensor, b: Tensor) -> Tensor:
        """(B, D), (N, D) projections -> (B, N) cosines / temperature."""
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).t() / self.temperature


class FeatureDiscriminator(nn.Module):
    """The D API shared by the conv families.

    ``features(x, y=None) -> (B, F)``: the penultimate features (before the head), for feature
    matching. They depend on x only (projection and ACGAN condition in the head); y is accepted
    so that every family has the same signature.

    ``forward(x, y=None, return_aux=False)``: (B,) logits; with ``return_aux=True`` a pair
    ``(logits (B,), class_logits (B, K) or None)`` from the same single pass. ``class_logits`` is
    None when the D has no ACGAN head (``has_aux`` False). With projection, ``y=None`` drops the
    projection term (the unconditional part of the logit).
    """

    num_classes: int
    has_aux: bool
    feature_dim: int
    head: DiscriminatorHead

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def forward(
        self, x: Tensor, y: Tensor | None = None, return_aux: bool = False
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        if self.num_classes and y is not None:
            check_y(y, len(x), self.num_classes, type(self).__name__)
        logits, aux = self.head(self.features(x, y), y)
        return (logits, aux) if return_aux else logits


def check_image(x: Tensor, shape: tuple[int, int, int], who: str) -> None:
    if tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"{who}: expected images of shape (B, {', '.join(map(str, shape))}), got {tuple(x.shape)}")


def upsample_nearest(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")
