"""The ``pix2pix`` schedule: paired image-to-image training through the one loop.

Registered as ``SCHEDULES["pix2pix"]`` for the image-to-image task (``training.schedules`` imports this
module). A step:

1. ``inp, real = ctx.next_pair()`` (same sampler, so data order is checkpointed as for any run);
   ``fake = G(inp, noise=ctx.noise)``: dropout masks come from the trainer's checkpointed noise generator.
2. With ``adv_weight > 0``: D's loss ``0.5 * (loss.d(D(inp, real), D(inp, fake.detach())))`` (pix2pix halves
   D's objective so it learns slower than G), one D update; then G's loss
   ``adv_weight * loss.g(D(inp, fake)) + l1_weight * |fake - real|`` through the updated D.
   Patch logits (B, 1, h, w) are flattened: every patch is one real/fake decision.
3. With ``adv_weight == 0`` (the L1-only U-Net baseline) D is neither run nor updated.

Returns detached scalars: d_loss, g_loss, l1 (mean absolute error in [-1, 1] units), d_real, d_fake.
"""

from __future__ import annotations

import torch

from .step import Schedule, StepContext, apply_grads


def pix2pix(ctx: StepContext) -> dict[str, torch.Tensor]:
    mc = ctx.model_config
    inp, real = ctx.next_pair()
    with ctx.autocast():
        fake = ctx.G(inp, noise=ctx.noise).float()
    l1 = (fake - real).abs().mean()
    out: dict[str, torch.Tensor] = {"l1": l1.detach()}
    if mc.adv_weight > 0:
        with ctx.autocast():  # separate passes: D's batch statistics stay per kind
            real_l, fake_l = ctx.D(inp, real).flatten().float(), ctx.D(inp, fake.detach()).flatten().float()
        d_loss = 0.5 * ctx.loss.d(real_l, fake_l, ctx.cfg.label_smoothing)
        lecam = ctx.lecam_term(real_l, fake_l)  # every patch is one decision, for the anchors too
        if lecam is not None:
            d_loss = d_loss + lecam
            out["lecam"] = lecam.detach()
        apply_grads(ctx.d_params, torch.autograd.grad(d_loss, ctx.d_params))
        ctx.sync_grads(ctx.d_params)
        ctx.opt_d.step()
        with ctx.autocast():
            adv = ctx.loss.g(ctx.D(inp, fake).flatten().float())
        g_loss = mc.adv_weight * adv + mc.l1_weight * l1
        out.update(
            d_loss=d_loss.detach(),
            d_real=torch.sigmoid(real_l.detach()).mean(),
            d_fake=torch.sigmoid(fake_l.detach()).mean(),
            g_adv=adv.detach(),
        )
    else:
        g_loss = mc.l1_weight * l1
        out["d_loss"] = torch.zeros((), device=l1.device)  # the log's columns stay the same for both
    apply_grads(ctx.g_params, torch.autograd.grad(g_loss, ctx.g_params))
    ctx.sync_grads(ctx.g_params)
    ctx.opt_g.step()
    if ctx.ema is not None:
        ctx.ema.update()
    out["g_loss"] = g_loss.detach()
    return out


# Imported by ``training.schedules``, which registers it (this module cannot import that one back).
SCHEDULE = Schedule(
    "pix2pix",
    pix2pix,
    tasks=("image-to-image",),
    d_updates=lambda cfg, mc: 1 if mc.adv_weight > 0 else 0,
    description="pix2pix: D on (input, real) vs (input, fake) pairs, G by adversarial + L1",
)
