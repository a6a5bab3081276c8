"""The ``pix2pix`` schedule: paired image-to-image training through the one loop.

Registered as ``SCHEDULES["pix2pix"]`` at import (``models.pix2pix`` imports this module). A step:

1. ``inp, real = t.next_pair()`` (same sampler, so data order is checkpointed as for any run);
   ``fake = G(inp, noise=t.noise)``: dropout masks come from the trainer's checkpointed noise generator.
2. With ``adv_weight > 0``: D's loss ``0.5 * (loss.d(D(inp, real), D(inp, fake.detach())))`` (pix2pix halves
   D's objective so it learns slower than G), one D update; then G's loss
   ``adv_weight * loss.g(D(inp, fake)) + l1_weight * |fake - real|`` through the updated D.
   Patch logits (B, 1, h, w) are flattened: every patch is one real/fake decision.
3. With ``adv_weight == 0`` (the L1-only U-Net baseline) D is neither run nor updated.

Returns detached scalars: d_loss, g_loss, l1 (mean absolute error in [-1, 1] units), d_real, d_fake.
"""
from __future__ import annotations

import torch

from .schedules import SCHEDULES, _apply


def pix2pix(t) -> dict[str, torch.Tensor]:
    mc = t.run_cfg.model_config
    inp, real = t.next_pair()
    with t.autocast():
        fake = t.G(inp, noise=t.noise).float()
    l1 = (fake - real).abs().mean()
    out: dict[str, torch.Tensor] = {"l1": l1.detach()}
    if mc.adv_weight > 0:
        with t.autocast():  # separate passes: D's batch statistics stay per kind
            real_l, fake_l = t.D(inp, real).flatten().float(), t.D(inp, fake.detach()).flatten().float()
        d_loss = 0.5 * t.loss.d(real_l, fake_l, t.cfg.label_smoothing)
        _apply(t.d_params, torch.autograd.grad(d_loss, t.d_params))
        t.sync_grads(t.d_params)
        t.opt_d.step()
        t.d_steps += 1
        with t.autocast():
            adv = t.loss.g(t.D(inp, fake).flatten().float())
        g_loss = mc.adv_weight * adv + mc.l1_weight * l1
        out.update(d_loss=d_loss.detach(), d_real=torch.sigmoid(real_l.detach()).mean(),
                   d_fake=torch.sigmoid(fake_l.detach()).mean(), g_adv=adv.detach())
    else:
        g_loss = mc.l1_weight * l1
        out["d_loss"] = torch.zeros((), device=l1.device)  # the log's columns stay the same for both
    _apply(t.g_params, torch.autograd.grad(g_loss, t.g_params))
    t.sync_grads(t.g_params)
    t.opt_g.step()
    if t.ema is not None:
        t.ema.update()
    out["g_loss"] = g_loss.detach()
    return out


SCHEDULES["pix2pix"] = pix2pix
