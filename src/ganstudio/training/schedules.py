"""Training step schedules: ``SCHEDULES[name](trainer) -> dict of detached scalar tensors``.

A schedule pulls real batches with ``t.next_real()`` and latents with ``t.sample_latents(B)``,
computes losses with ``t.loss`` and applies the optimizer updates. It never syncs with the host
(no ``.item()``): the loop reads the returned tensors only when it logs.
"""
from __future__ import annotations

from typing import Callable

import torch


def _set_grads(params: list[torch.nn.Parameter], grads: tuple[torch.Tensor, ...]) -> None:
    for p, g in zip(params, grads):
        p.grad = g


def simultaneous(t) -> dict[str, torch.Tensor]:
    """The seed's train_step: one G forward and one D pass over [real; fake] feed both updates.

    D's gradient comes from d_loss, G's from g_loss through D, both from the same forward
    graph (as the seed's two GradientTapes do), then both Adam steps are applied. Reusing the
    G forward saves about a fifth of the FLOPs of separate D and G passes.
    """
    real, y_real = t.next_real()
    b = real.shape[0]
    z, y_fake = t.sample_latents(b)
    fake = t.G(z, y_fake)
    y = None if y_real is None else torch.cat([y_real, y_fake])
    logits = t.D(torch.cat([real, fake]), y)
    real_l, fake_l = logits[:b], logits[b:]
    d_loss = t.loss.d(real_l, fake_l, t.cfg.label_smoothing)
    g_loss = t.loss.g(fake_l)
    _set_grads(t.d_params, torch.autograd.grad(d_loss, t.d_params, retain_graph=True))
    _set_grads(t.g_params, torch.autograd.grad(g_loss, t.g_params))
    t.opt_d.step()
    t.opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_l.detach()).mean(), "d_fake": torch.sigmoid(fake_l.detach()).mean()}


def alternating(t) -> dict[str, torch.Tensor]:
    """The common schedule: n_dis D updates on detached fakes, then one G update."""
    for _ in range(t.cfg.n_dis):
        real, y_real = t.next_real()
        b = real.shape[0]
        with torch.no_grad():
            z, y_fake = t.sample_latents(b)
            fake = t.G(z, y_fake)
        y = None if y_real is None else torch.cat([y_real, y_fake])
        logits = t.D(torch.cat([real, fake]), y)
        real_l, fake_l = logits[:b], logits[b:]
        d_loss = t.loss.d(real_l, fake_l, t.cfg.label_smoothing)
        _set_grads(t.d_params, torch.autograd.grad(d_loss, t.d_params))
        t.opt_d.step()
    z, y_fake = t.sample_latents(b)
    fake_l = t.D(t.G(z, y_fake), y_fake)
    g_loss = t.loss.g(fake_l)
    _set_grads(t.g_params, torch.autograd.grad(g_loss, t.g_params))
    t.opt_g.step()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_l.detach()).mean(), "d_fake": torch.sigmoid(fake_l.detach()).mean()}


SCHEDULES: dict[str, Callable] = {"simultaneous": simultaneous, "alternating": alternating}
