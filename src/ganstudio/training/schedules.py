"""Training step schedules: ``SCHEDULES[name](trainer) -> dict of detached scalar tensors``.

A schedule pulls real batches with ``t.next_real()`` and latents with ``t.sample_latents(B)``,
computes losses with ``t.loss`` and applies the optimizer updates. It never syncs with the host
(no ``.item()``): the loop reads the returned tensors only when it logs.

Optional parts (each off unless configured): DiffAugment on real and fake images in both D and G
passes (``t.augment``), R1 / gradient penalties, feature matching, ACGAN's auxiliary classifier,
the EMA update and the ADA controller.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from . import regularizers


def _apply(params: list[torch.nn.Parameter], grads) -> None:
    for p, g in zip(params, grads):
        p.grad = g


def _d_forward(t, x: torch.Tensor, y: torch.Tensor | None):
    """D's float32 logits on augmented ``x`` (and ACGAN class logits when the model has them)."""
    x = t.augment(x)
    with t.autocast():
        logits, aux = t.D(x, y, return_aux=True) if t.acgan else (t.D(x, y), None)
    # Losses in float32 whatever the forward ran in (bf16 autocast): their sums need the mantissa.
    return logits.float(), None if aux is None else aux.float()


def _g_forward(t, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    with t.autocast():
        return t.G(z, y).float()


def _aux_loss(aux: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | float:
    if aux is None or y is None:
        return 0.0
    return torch.sum(-y * F.log_softmax(aux, 1), 1).mean()  # soft-label cross-entropy


def _d_pass(t, real: torch.Tensor, y_real, fake: torch.Tensor, y_fake):
    """One D pass over [real; fake] (B each) -> (d_loss, real logits (B,), fake logits (B,), the fakes'
    ACGAN class logits (B, K) or None)."""
    b = real.shape[0]
    y = None if y_real is None else torch.cat([y_real, y_fake])
    logits, aux = _d_forward(t, torch.cat([real, fake]), y)
    real_l, fake_l = logits[:b], logits[b:]
    d_loss = t.loss.d(real_l, fake_l, t.cfg.label_smoothing)
    if aux is not None:
        d_loss = d_loss + t.cfg.aux_weight * _aux_loss(aux, y)
    return d_loss, real_l, fake_l, None if aux is None else aux[b:]


def _g_loss(t, fake_l: torch.Tensor, fake_aux, real, y_real, fake, y_fake) -> torch.Tensor:
    """G's loss from D's logits on its fakes, plus ACGAN's class term and feature matching when on."""
    g_loss = t.loss.g(fake_l)
    if fake_aux is not None:
        g_loss = g_loss + t.cfg.aux_weight * _aux_loss(fake_aux, y_fake)
    if t.cfg.feature_matching:
        g_loss = g_loss + t.cfg.feature_matching * regularizers.feature_matching(t, real, y_real, fake, y_fake)
    return g_loss


def _outputs(t, d_loss, g_loss, real_l, fake_l) -> dict[str, torch.Tensor]:
    out = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
           "d_real": torch.sigmoid(real_l.detach()).mean(), "d_fake": torch.sigmoid(fake_l.detach()).mean()}
    if t.augmenter is not None and t.augmenter.ada:  # the adaptive probability's trajectory, for the log
        out["ada_p"] = t.augmenter.p.clone()
    return out


def _after_step(t, real_l: torch.Tensor) -> None:
    if t.ema is not None:
        t.ema.update()
    if t.augmenter is not None:
        t.augmenter.observe(real_l)


def simultaneous(t) -> dict[str, torch.Tensor]:
    """The seed's train_step: one G forward and one D pass over [real; fake] feed both updates.

    D's gradient comes from d_loss, G's from g_loss through D, both from the same forward
    graph (as the seed's two GradientTapes do), then both Adam steps are applied. Reusing the
    G forward saves about a fifth of the FLOPs of separate D and G passes.
    """
    if t.fast_step is not None:
        return t.fast_step(t)
    real, y_real = t.next_real()
    b = real.shape[0]
    z, y_fake = t.sample_latents(b)
    fake = _g_forward(t, z, y_fake)
    d_loss, real_l, fake_l, fake_aux = _d_pass(t, real, y_real, fake, y_fake)
    g_loss = _g_loss(t, fake_l, fake_aux, real, y_real, fake, y_fake)
    d_grads = torch.autograd.grad(d_loss, t.d_params, retain_graph=True)
    _apply(t.g_params, torch.autograd.grad(g_loss, t.g_params))
    d_grads = regularizers.add_d_penalties(t, d_grads, real, y_real, fake.detach(), y_fake)
    _apply(t.d_params, d_grads)
    t.sync_grads()
    t.opt_d.step()
    t.opt_g.step()
    _after_step(t, real_l)
    return _outputs(t, d_loss, g_loss, real_l, fake_l)


def alternating(t) -> dict[str, torch.Tensor]:
    """The common schedule: n_dis D updates on detached fakes, then one G update."""
    for _ in range(t.cfg.n_dis):
        real, y_real = t.next_real()
        b = real.shape[0]
        with torch.no_grad():
            z, y_fake = t.sample_latents(b)
            fake = _g_forward(t, z, y_fake)
        d_loss, real_l, fake_l, _ = _d_pass(t, real, y_real, fake, y_fake)
        d_grads = torch.autograd.grad(d_loss, t.d_params)
        _apply(t.d_params, regularizers.add_d_penalties(t, d_grads, real, y_real, fake, y_fake))
        t.sync_grads(t.d_params)
        t.opt_d.step()
        if t.augmenter is not None:
            t.augmenter.observe(real_l)
    z, y_fake = t.sample_latents(b)
    fake = _g_forward(t, z, y_fake)
    fake_l, fake_aux = _d_forward(t, fake, y_fake)
    g_loss = _g_loss(t, fake_l, fake_aux, real, y_real, fake, y_fake)
    _apply(t.g_params, torch.autograd.grad(g_loss, t.g_params))
    t.sync_grads(t.g_params)
    t.opt_g.step()
    if t.ema is not None:
        t.ema.update()
    return _outputs(t, d_loss, g_loss, real_l, fake_l)


SCHEDULES: dict[str, Callable] = {"simultaneous": simultaneous, "alternating": alternating}
