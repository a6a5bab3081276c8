"""Discriminator penalties and the feature-matching loss, as functions of a step's context.

- R1 (Mescheder et al. 2018): gamma/2 * E||grad_x D(x_real)||^2, applied lazily every r1_every
  D steps and scaled by r1_every so its strength does not depend on the interval (StyleGAN2).
- Gradient penalty (Gulrajani et al. 2017) for WGAN-GP: weight * E(||grad_x D(x_hat)|| - 1)^2 on
  random interpolates of real and fake images.
- Feature matching (Salimans et al. 2016): || E f(real) - E f(fake) ||^2 on D's penultimate features.
- LeCam (Tseng et al. 2021): E[relu(D(real) - a_fake)^2] + E[relu(a_real - D(fake))^2], a_real and a_fake the
  moving averages of D's logits on real pictures and on fakes (``components.LeCamAnchors``): D may not push its
  real logits above where its fakes have lately been, nor its fake logits below where the reals have been,
  without paying; on little data this is what keeps D from memorising the training pictures.
- Mode seeking (MSGAN, Mao et al. 2019): 1 / (mean|G(z1, y) - G(z2, y)| / mean|z1 - z2| + 1e-5) for a
  quarter of G's batch drawn twice, with its own noise and with fresh noise, the same conditions.
"""

from __future__ import annotations

import torch


def _grad_norm_sq(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return g.pow(2).flatten(1).sum(1)


def r1_penalty(ctx, real: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    x = ctx.augment(real.detach()).requires_grad_(True)
    return 0.5 * ctx.cfg.r1_gamma * _grad_norm_sq(ctx.D(x, y), x).mean()


def gradient_penalty(ctx, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, generator=ctx.noise)
    x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    norm = _grad_norm_sq(ctx.D(ctx.augment(x), y), x).add(1e-12).sqrt()
    return ctx.cfg.gp_weight * (norm - 1).pow(2).mean()


def add_d_penalties(ctx, d_grads, real, y_real, fake, y_fake, d_index: int):
    """D's gradients plus those of whichever penalties are due for D update number ``d_index`` (from 1,
    counted over the whole run: lazy R1 is due every ``r1_every``-th update)."""
    penalty = None
    if ctx.loss.needs_gradient_penalty:
        penalty = gradient_penalty(ctx, real, fake, y_real)
    if ctx.cfg.r1_gamma and d_index % ctx.cfg.r1_every == 0:
        r1 = r1_penalty(ctx, real, y_real) * ctx.cfg.r1_every
        penalty = r1 if penalty is None else penalty + r1
    if penalty is None:
        return d_grads
    extra = torch.autograd.grad(penalty, ctx.d_params, allow_unused=True)
    return tuple(g if e is None else g + e for g, e in zip(d_grads, extra))


def lecam_penalty(real_logits: torch.Tensor, fake_logits: torch.Tensor, anchors) -> torch.Tensor:
    """(B,) logits on real pictures and on fakes, the anchors (``.real``, ``.fake``: () tensors) -> () penalty."""
    over = torch.relu(real_logits - anchors.fake).pow(2).mean()
    under = torch.relu(anchors.real - fake_logits).pow(2).mean()
    return over + under


def feature_matching(ctx, real, y_real, fake, y_fake) -> torch.Tensor:
    with torch.no_grad():
        f_real = ctx.D.features(ctx.augment(real), y_real).mean(0)
    f_fake = ctx.D.features(ctx.augment(fake), y_fake).mean(0)
    return (f_real - f_fake).pow(2).sum()


def mode_seeking(ctx, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """MSGAN's term for G's batch (z (B, Z), conditions y): the first quarter of the rows (at least one) is drawn
    twice in one extra forward, with its own noise and with fresh noise from the checkpointed generator (one
    batch, so BatchNorm's batch statistics are shared and cannot fake a difference); the loss is the inverse of
    how far the pictures moved per unit of noise moved, so a G that ignores z pays (up to 1e5)."""
    k = max(1, len(z) // 4)
    z2 = ctx.draw_rows(torch.randn, k, z.shape[1], z.device)
    yy = None if y is None else torch.cat([y[:k], y[:k]])
    with ctx.autocast():
        pair = ctx.G(torch.cat([z[:k], z2]), yy).float()
    moved = (pair[:k] - pair[k:]).abs().mean() / (z[:k] - z2).abs().mean()
    return 1.0 / (moved + 1e-5)
