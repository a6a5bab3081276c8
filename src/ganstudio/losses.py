"""GAN losses as pure functions over D's logits. ``LOSSES[name] -> Loss(d, g)``.

Each ``d(real_logits, fake_logits, smooth)`` and ``g(fake_logits)`` returns a scalar tensor;
logits are (B,) raw scores (no sigmoid applied: that was the seed's bug).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _bce(logits: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def d_bce(real: Tensor, fake: Tensor, smooth: float = 0.0) -> Tensor:
    """The seed's D loss: BCE(real, 1) + BCE(fake, 0). ``smooth`` is one-sided label smoothing
    (Salimans et al. 2016): real targets become 1 - smooth; fake targets stay 0."""
    return _bce(real, 1.0 - smooth) + _bce(fake, 0.0)


def g_nonsaturating(fake: Tensor) -> Tensor:
    """The seed's G loss: -log D(G(z)), i.e. BCE(fake, 1)."""
    return _bce(fake, 1.0)


def g_minimax(fake: Tensor) -> Tensor:
    """The seed's section-4 objective for G taken literally: minimise log(1 - D(G(z))).
    Saturates early in training (why the non-saturating form exists); kept for study."""
    return -F.softplus(fake).mean()  # log(1 - sigmoid(l)) = -softplus(l)


def d_hinge(real: Tensor, fake: Tensor, smooth: float = 0.0) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_hinge(fake: Tensor) -> Tensor:
    return -fake.mean()


def d_wgan(real: Tensor, fake: Tensor, smooth: float = 0.0) -> Tensor:
    """Wasserstein critic loss; pair it with the gradient penalty (loss 'wgan-gp')."""
    return fake.mean() - real.mean()


def g_wgan(fake: Tensor) -> Tensor:
    return -fake.mean()


def d_lsgan(real: Tensor, fake: Tensor, smooth: float = 0.0) -> Tensor:
    """Least squares GAN (Mao et al. 2017), targets 1 for real, 0 for fake."""
    return 0.5 * ((real - (1.0 - smooth)) ** 2).mean() + 0.5 * (fake**2).mean()


def g_lsgan(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


def contrastive(similarity: Tensor) -> Tensor:
    """InfoNCE over a batch's (B, B) picture-caption similarities (row i: picture i against every caption; the
    diagonal holds the matching pairs): the mean of the picture->caption and caption->picture cross-entropies
    (CLIP's symmetric form; XMC-GAN's sentence-image term). log B when the scores ignore which pair matches."""
    target = torch.arange(len(similarity), device=similarity.device)
    return 0.5 * (F.cross_entropy(similarity, target) + F.cross_entropy(similarity.t(), target))


@dataclass(frozen=True)
class Loss:
    d: Callable[..., Tensor]
    g: Callable[[Tensor], Tensor]
    needs_gradient_penalty: bool = False


LOSSES: dict[str, Loss] = {
    "ns": Loss(d_bce, g_nonsaturating),
    "minimax": Loss(d_bce, g_minimax),
    "hinge": Loss(d_hinge, g_hinge),
    "wgan-gp": Loss(d_wgan, g_wgan, needs_gradient_penalty=True),
    "lsgan": Loss(d_lsgan, g_lsgan),
}
