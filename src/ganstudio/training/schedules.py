"""Training step schedules, registered by name: ``SCHEDULES[name] -> Schedule(step, tasks, d_updates)``.

``step(ctx) -> dict of detached scalar tensors`` (the contract is in ``training.step``): a schedule pulls
real batches with ``ctx.next_real()`` and latents with ``ctx.sample_latents(B)``, computes losses with
``ctx.loss`` and applies the optimizer updates.

Optional parts (each off unless configured): DiffAugment on real and fake images in both D and G
passes (``ctx.augment``), R1 / gradient penalties, LeCam, feature matching, ACGAN's auxiliary classifier,
D's self-supervised reconstruction of its real inputs (``lightweight``), for runs that read text the
matching-aware D term and XMC-GAN's caption matching (sentence-image) and image-image terms, MSGAN's mode
seeking, the EMA update and the ADA controller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, cast

import torch
import torch.nn.functional as F

from .. import losses
from ..models.layers import CaptionMatch
from . import regularizers
from .step import Schedule, StepContext, apply_grads


def _d_forward(ctx: StepContext, x: torch.Tensor, y: torch.Tensor | None, n_real: int = 0):
    """D's float32 logits on augmented ``x``, ACGAN class logits when the model has them (else None), D's
    reconstruction loss on the first ``n_real`` rows (None when ``n_real`` is 0), and D's features (B, F)
    when the caption matching term is on (``ctx.match_weight``; else None)."""
    x = ctx.augment(x)
    recon = h = None
    with ctx.autocast():
        if ctx.match_weight:  # the matching head reads the features of the same single pass
            parts = cast(Callable, ctx.D.forward_parts)  # a Module attribute: mypy sees Tensor | Module
            logits, aux, recon, h = parts(x, y, n_real, ctx.noise)
        elif n_real:  # the same single pass, plus the decoders on the real rows
            reconstruct = cast(Callable, ctx.D.forward_and_reconstruct)
            logits, aux, recon = reconstruct(x, y, n_real, ctx.noise)
        elif ctx.acgan:
            logits, aux = ctx.D(x, y, return_aux=True)
        else:
            logits, aux = ctx.D(x, y), None
    # Losses in float32 whatever the forward ran in (bf16 autocast): their sums need the mantissa.
    return logits.float(), _f32(aux), _f32(recon), _f32(h)


def _f32(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.float()


def _matching_head(ctx: StepContext) -> CaptionMatch:
    return cast(CaptionMatch, ctx.D.match)  # a Module attribute: mypy sees Tensor | Module


def match_loss(ctx: StepContext, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """XMC-GAN's sentence-image term: D's matching head scores each picture (features (B, F)) against every
    caption of the batch (B, T); InfoNCE asks each picture to pick its own caption and each caption its own
    picture. On real pictures it trains D's head (and features); on fakes, through D, it trains G."""
    with ctx.autocast():
        similarity = _matching_head(ctx)(h, y).float()
    return losses.contrastive(similarity)


def match_real_loss(ctx: StepContext, fake_h: torch.Tensor, real_h: torch.Tensor) -> torch.Tensor:
    """XMC-GAN's image-image term: each fake (features (B, F), drawn from real picture i's caption) must pick out
    real picture i among the batch's (features (B, F), detached: this term trains G only) in the same space."""
    with ctx.autocast():
        similarity = _matching_head(ctx).pictures(fake_h, real_h.detach()).float()
    return losses.contrastive(similarity)


def _g_forward(ctx: StepContext, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    with ctx.autocast():
        return ctx.G(z, y).float()


def _aux_loss(aux: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | float:
    if aux is None or y is None:
        return 0.0
    return torch.sum(-y * F.log_softmax(aux, 1), 1).mean()  # soft-label cross-entropy


def mismatched(y: torch.Tensor) -> torch.Tensor:
    """(B, D) captions of a real batch -> each picture paired with the next picture's caption (a wrong one)."""
    return y.roll(1, 0)


def matching_d_loss(ctx: StepContext, real_l, fake_l, wrong_l) -> torch.Tensor:
    """The matching-aware D loss of text-to-image GANs (Reed et al. 2016; DF-GAN's weights): real pictures with
    their own captions are positives; fakes and real pictures with a *wrong* caption are negatives, half each:
    ``(loss.d(real, fake) + loss.d(real, wrong)) / 2``."""
    s = ctx.cfg.label_smoothing
    return 0.5 * (ctx.loss.d(real_l, fake_l, s) + ctx.loss.d(real_l, wrong_l, s))


class DPass(NamedTuple):
    """What one D pass over [real; fake (; real with wrong captions)] gives the schedules."""

    loss: torch.Tensor  # D's loss ()
    real_l: torch.Tensor  # (B,) logits of the real pictures
    fake_l: torch.Tensor  # (B,) logits of the fakes
    fake_aux: torch.Tensor | None  # (B, K) the fakes' ACGAN class logits
    recon: torch.Tensor | None  # () D's reconstruction loss on the real pictures
    wrong_l: torch.Tensor | None  # (B,) logits of the real pictures with wrong captions (text runs)
    match: torch.Tensor | None  # () D's caption matching loss on the real pictures
    real_h: torch.Tensor | None  # (B, F) D's features of the real pictures (caption matching on)
    fake_h: torch.Tensor | None  # (B, F) D's features of the fakes (caption matching on)
    lecam: torch.Tensor | None  # () LeCam's weighted penalty (train.lecam on)


def _d_pass(ctx: StepContext, real: torch.Tensor, y_real, fake: torch.Tensor, y_fake, d_index: int) -> DPass:
    """One D pass over [real; fake] (B each; for a run that reads text, also the real pictures with wrong
    captions) and D's loss from it, with every optional term that is on (or due: D update number ``d_index``)."""
    b = real.shape[0]
    recon_weight = ctx.recon_weight_at(d_index)
    text = ctx.reads_text and y_real is not None
    y = None if y_real is None else torch.cat([y_real, y_fake] + ([mismatched(y_real)] if text else []))
    x = torch.cat([real, fake, real] if text else [real, fake])
    logits, aux, recon, h = _d_forward(ctx, x, y, n_real=b if recon_weight else 0)
    real_l, fake_l = logits[:b], logits[b : 2 * b]
    wrong_l = logits[2 * b :] if text else None
    if wrong_l is not None:
        d_loss = matching_d_loss(ctx, real_l, fake_l, wrong_l)
    else:
        d_loss = ctx.loss.d(real_l, fake_l, ctx.cfg.label_smoothing)
    if aux is not None:
        d_loss = d_loss + ctx.cfg.aux_weight * _aux_loss(aux, y)
    if recon is not None:
        d_loss = d_loss + recon_weight * recon
    lecam = ctx.lecam_term(real_l, fake_l)  # real pictures with their own captions against the fakes
    if lecam is not None:
        d_loss = d_loss + lecam
    match = None
    if h is not None and y_real is not None:  # real pictures only: D must not learn to match G's pictures
        match = match_loss(ctx, h[:b], y_real)
        d_loss = d_loss + ctx.match_weight * match
    real_h, fake_h = (None, None) if h is None else (h[:b], h[b : 2 * b])
    fake_aux = None if aux is None else aux[b : 2 * b]
    return DPass(d_loss, real_l, fake_l, fake_aux, recon, wrong_l, match, real_h, fake_h, lecam)


def interpolated_captions(ctx: StepContext, y: torch.Tensor) -> torch.Tensor:
    """Captions (B, T) -> (k, T), k = B // 2 (at least 2): row i mixes caption i with caption i + 1 (the batch is
    shuffled, so a random pair) by a weight drawn uniformly from the checkpointed generator for the global batch,
    rescaled to the pair's mean norm (the sentence model's embeddings are unit vectors; a midpoint is shorter)."""
    k = max(2, len(y) // 2)
    beta = ctx.draw_rows(torch.rand, k, 1, y.device)
    a, b = y[:k], y.roll(-1, 0)[:k]
    mixed = beta * a + (1 - beta) * b
    norm = (a.norm(dim=1, keepdim=True) + b.norm(dim=1, keepdim=True)) / 2
    return F.normalize(mixed, dim=1) * norm


def caption_mix_loss(ctx: StepContext, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Reed et al.'s GAN-INT for G: one extra G forward from the first k noises and ``interpolated_captions``,
    through D: G's adversarial loss on them, plus (with the matching term on) InfoNCE asking each of these
    pictures to pick out its own mixed caption in D's matching head. D is never trained on them (there is no
    real picture for a mixed caption); what D learned on real pairs is what teaches G the space between."""
    t = interpolated_captions(ctx, y)
    with ctx.autocast():
        pictures = ctx.G(z[: len(t)], t)
    logits, _, _, h = _d_forward(ctx, pictures, t)
    loss = ctx.loss.g(logits)
    if h is not None:
        loss = loss + ctx.match_weight * match_loss(ctx, h, t)
    return loss


def caption_recon_loss(ctx: StepContext, fake: torch.Tensor, real: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """``train.caption_recon``: mean |G's picture - the real picture of the same caption|, both (B, C, H, W) in
    [-1, 1], average-pooled to ``caption_recon_px`` (0 or >= H: full size), in float32 (bf16 rounding would
    swamp a small error), over the rows whose caption names their picture alone (``own`` (B,) bool): a caption
    several pictures share ("a cat") has no one picture to regress to, and pulling toward one of them at random
    would teach G their blurred average. 0 when no row qualifies."""
    px = ctx.cfg.caption_recon_px
    f, r = fake.float(), real.float()
    if 0 < px < f.shape[-1]:
        f, r = F.adaptive_avg_pool2d(f, px), F.adaptive_avg_pool2d(r, px)
    w = own.to(f.dtype)
    return ((f - r).abs().mean((1, 2, 3)) * w).sum() / w.sum().clamp(min=1.0)


def _g_loss(
    ctx: StepContext, fake_l: torch.Tensor, fake_aux, real, y_real, fake, y_fake, fake_h=None, z=None, real_h=None
) -> tuple[torch.Tensor, dict[str, tuple[torch.Tensor, float]]]:
    """G's loss from D's logits on its fakes, plus ACGAN's class term and feature matching when on, and the terms
    logged apart, each when on -> (g_loss, {name: (unweighted value, weight)}): ``g_match`` the caption matching
    term (on the fakes' D features ``fake_h``), ``g_match_real`` the image-image term (the fakes drawn from the
    real batch's captions, against the real pictures' features ``real_h``, detached), ``mode_seeking`` (with the
    fakes' noise ``z``), ``caption_recon`` (G's pictures against the real ones of their captions), ``text_guidance``
    (G's pictures against their captions in the frozen guide's space) and ``detail``
    the super-resolution stage's loss on the (unaugmented) real batch."""
    g_loss = ctx.loss.g(fake_l)
    if fake_aux is not None:
        g_loss = g_loss + ctx.cfg.aux_weight * _aux_loss(fake_aux, y_fake)
    if ctx.cfg.feature_matching:
        g_loss = g_loss + ctx.cfg.feature_matching * regularizers.feature_matching(ctx, real, y_real, fake, y_fake)
    apart: dict[str, tuple[torch.Tensor, float]] = {}
    if fake_h is not None and y_fake is not None:
        apart["g_match"] = (match_loss(ctx, fake_h, y_fake), ctx.match_weight)
    if fake_h is not None and real_h is not None and ctx.match_real_weight:
        apart["g_match_real"] = (match_real_loss(ctx, fake_h, real_h), ctx.match_real_weight)
    if ctx.cfg.mode_seeking and z is not None:
        apart["mode_seeking"] = (regularizers.mode_seeking(ctx, z, y_fake), ctx.cfg.mode_seeking)
    if ctx.cfg.caption_mix and ctx.reads_text and z is not None and y_fake is not None:
        apart["caption_mix"] = (caption_mix_loss(ctx, z, y_fake), ctx.cfg.caption_mix)
    if ctx.guide is not None and y_fake is not None:  # the frozen guide: each picture nearest its own caption
        rows = ctx.batches.real_rows if ctx.draws_real_captions else None  # the caption rows fake was drawn from
        apart["text_guidance"] = (ctx.guide.loss(fake, y_fake, ctx.noise, rows), ctx.cfg.text_guidance)
    if ctx.cfg.caption_recon and ctx.reads_text:  # fake drawn from the real batch's captions (draws_real_captions)
        apart["caption_recon"] = (
            caption_recon_loss(ctx, fake, real, ctx.batches.own_captions()),
            ctx.cfg.caption_recon,
        )
    if ctx.learns_detail:  # its own parameters only: the adversarial term never reaches the stage
        with ctx.autocast():
            apart["detail"] = (cast(Callable, ctx.G.detail_loss)(real).float(), 1.0)
    for value, weight in apart.values():
        g_loss = g_loss + weight * value
    return g_loss, apart


def _outputs(
    ctx: StepContext, d_loss, g_loss, real_l, fake_l, recon=None, wrong_l=None, match=None, g_apart=None, lecam=None
) -> dict[str, torch.Tensor]:
    """The step's log: losses, D's mean probabilities, and each optional term that is on. ``g_loss`` is logged
    without the terms in ``g_apart`` (``_g_loss``'s), which are logged under their own names."""
    g_apart = g_apart or {}
    adversarial = g_loss - sum(weight * value for value, weight in g_apart.values())
    out = {
        "d_loss": d_loss.detach(),
        "g_loss": adversarial.detach(),
        "d_real": torch.sigmoid(real_l.detach()).mean(),
        "d_fake": torch.sigmoid(fake_l.detach()).mean(),
    }
    if wrong_l is not None:  # text: D on real pictures with wrong captions (falls as D learns to match)
        out["d_wrong"] = torch.sigmoid(wrong_l.detach()).mean()
    if match is not None:  # caption matching (InfoNCE) on real pictures: log B at chance, falls as D learns
        out["match"] = match.detach()
    if recon is not None:  # D's self-supervised reconstruction error (lightweight): falls as D learns to describe
        out["recon"] = recon.detach()
    if lecam is not None:  # LeCam's weighted penalty: grows as D pulls its real and fake logits apart
        out["lecam"] = lecam.detach()
    # g_match: G's pictures' caption matching; mode_seeking: 1 / how far a picture moves per unit of noise;
    # caption_mix: G's loss (adversarial + matching) on pictures drawn from interpolated captions;
    # caption_recon: G's pooled L1 distance to the real pictures of the captions it drew;
    # text_guidance: InfoNCE of G's pictures and their captions in the frozen guide's space (log B at chance);
    # detail: G's super-resolution error on real pictures (lightweight, upscale > 1)
    out.update({name: value.detach() for name, (value, _) in g_apart.items()})
    if ctx.augmenter is not None and ctx.augmenter.ada:  # the adaptive probability's trajectory, for the log
        out["ada_p"] = ctx.augmenter.p.clone()
    return out


def _after_step(ctx: StepContext, real_l: torch.Tensor) -> None:
    if ctx.ema is not None:
        ctx.ema.update()
    if ctx.augmenter is not None:
        ctx.augmenter.observe(real_l)


def simultaneous(ctx: StepContext) -> dict[str, torch.Tensor]:
    """The seed's train_step: one G forward and one D pass over [real; fake] feed both updates.

    D's gradient comes from d_loss, G's from g_loss through D, both from the same forward
    graph (as the seed's two GradientTapes do), then both Adam steps are applied. Reusing the
    G forward saves about a fifth of the FLOPs of separate D and G passes.
    """
    real, y_real = ctx.next_real()
    b = real.shape[0]
    z, y_fake = ctx.sample_latents(b)
    if ctx.draws_real_captions:  # the image-image and caption_recon terms pair G's pictures with the real ones
        y_fake = y_real
    y_fake = ctx.g_captions(y_fake)
    fake = _g_forward(ctx, z, y_fake)
    d = _d_pass(ctx, real, y_real, fake, y_fake, ctx.d_steps + 1)
    d_loss, real_l, fake_l = d.loss, d.real_l, d.fake_l
    g_loss, g_apart = _g_loss(ctx, fake_l, d.fake_aux, real, y_real, fake, y_fake, d.fake_h, z, d.real_h)
    d_grads = torch.autograd.grad(d_loss, ctx.d_params, retain_graph=True, allow_unused=ctx.lazy_decoders)
    apply_grads(ctx.g_params, torch.autograd.grad(g_loss, ctx.g_params))
    d_grads = regularizers.add_d_penalties(ctx, d_grads, real, y_real, fake.detach(), y_fake, ctx.d_steps + 1)
    apply_grads(ctx.d_params, d_grads)
    ctx.sync_grads()
    ctx.opt_d.step()
    ctx.opt_g.step()
    _after_step(ctx, real_l)
    return _outputs(ctx, d_loss, g_loss, real_l, fake_l, d.recon, d.wrong_l, d.match, g_apart, d.lecam)


def alternating(ctx: StepContext) -> dict[str, torch.Tensor]:
    """The common schedule: n_dis D updates on detached fakes, then one G update."""
    for i in range(ctx.cfg.n_dis):
        real, y_real = ctx.next_real()
        b = real.shape[0]
        with torch.no_grad():
            z, y_fake = ctx.sample_latents(b)
            y_fake = ctx.g_captions(y_fake)
            fake = _g_forward(ctx, z, y_fake)
        d = _d_pass(ctx, real, y_real, fake, y_fake, ctx.d_steps + i + 1)
        d_loss, real_l = d.loss, d.real_l
        d_grads = torch.autograd.grad(d_loss, ctx.d_params, allow_unused=ctx.lazy_decoders)
        d_grads = regularizers.add_d_penalties(ctx, d_grads, real, y_real, fake, y_fake, ctx.d_steps + i + 1)
        apply_grads(ctx.d_params, d_grads)
        ctx.sync_grads(ctx.d_params)
        ctx.opt_d.step()
        if ctx.augmenter is not None:
            ctx.augmenter.observe(real_l)
    z, y_fake = ctx.sample_latents(b)
    if ctx.draws_real_captions:  # the image-image and caption_recon terms: G draws the last real batch's captions
        y_fake = y_real
    y_fake = ctx.g_captions(y_fake)
    fake = _g_forward(ctx, z, y_fake)
    fake_l, fake_aux, _, fake_h = _d_forward(ctx, fake, y_fake)
    g_loss, g_apart = _g_loss(ctx, fake_l, fake_aux, real, y_real, fake, y_fake, fake_h, z, d.real_h)
    apply_grads(ctx.g_params, torch.autograd.grad(g_loss, ctx.g_params))
    ctx.sync_grads(ctx.g_params)
    ctx.opt_g.step()
    if ctx.ema is not None:
        ctx.ema.update()
    return _outputs(ctx, d_loss, g_loss, real_l, d.fake_l, d.recon, d.wrong_l, d.match, g_apart, d.lecam)


SCHEDULES: dict[str, Schedule] = {}


def register(schedule: Schedule) -> Schedule:
    SCHEDULES[schedule.name] = schedule
    return schedule


register(
    Schedule(
        "simultaneous",
        simultaneous,
        tasks=("noise-to-image", "noise-to-sound"),
        d_updates=lambda cfg, mc: 1,
        description="the seed's step: one forward, both gradients from it, both updates",
    )
)
register(
    Schedule(
        "alternating",
        alternating,
        tasks=("noise-to-image", "noise-to-sound"),
        d_updates=lambda cfg, mc: cfg.n_dis,
        description="n_dis D updates on detached fakes, then one G update",
    )
)

from .paired import SCHEDULE as _PIX2PIX  # noqa: E402  (the image-to-image schedule)

register(_PIX2PIX)
