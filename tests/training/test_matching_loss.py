"""The matching-aware D loss of a run that reads text: a real picture with a wrong caption is a negative.

One D pass over [real; fake; real with the next picture's caption]; the loss is ``(d(real, fake) + d(real,
wrong)) / 2``, so raising D's score of mismatched pairs raises its loss (the right sign)."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch

from ganstudio.losses import LOSSES
from ganstudio.training import Trainer, prepare
from ganstudio.training.schedules import _d_pass, matching_d_loss, mismatched


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, captioned_squares, tiny_text_config):
    root = captioned_squares(tmp_path_factory.mktemp("captioned"), n=8, boxed=False)
    train = {"steps": 1, "loss": "hinge", "seed": 1, "checkpoint_every": None}
    cfg = tiny_text_config(root, model={"class_input": None}, **train)
    cfg, ds = prepare(cfg)
    return Trainer(cfg, ds, torch.device("cpu"), None)


def test_mismatched_pairs_each_picture_with_another_pictures_caption():
    y = torch.eye(4)
    w = mismatched(y)
    assert all(not torch.equal(w[i], y[i]) for i in range(4)) and sorted(w.argmax(1).tolist()) == [0, 1, 2, 3]


def test_wrong_caption_term_has_the_right_sign(trainer):
    ctx = trainer.ctx
    real_l, fake_l = torch.tensor([1.5, 0.2]), torch.tensor([-0.5, 0.3])
    wrong = torch.tensor([0.0, 0.1], requires_grad=True)
    loss = matching_d_loss(ctx, real_l, fake_l, wrong)
    (grad,) = torch.autograd.grad(loss, wrong)
    assert (grad >= 0).all() and grad.sum() > 0  # D lowers its score of a real picture with a wrong caption
    d = LOSSES["hinge"].d
    assert torch.allclose(loss, 0.5 * (d(real_l, fake_l, 0.0) + d(real_l, wrong.detach(), 0.0)))


def test_one_d_pass_includes_the_wrong_caption_rows(trainer):
    ctx = trainer.ctx
    assert ctx.reads_text
    real, y_real = ctx.next_real()
    z, y_fake = ctx.sample_latents(len(real))
    with torch.no_grad():
        fake = ctx.G(z, y_fake)
        d = _d_pass(ctx, real, y_real, fake, y_fake, d_index=1)
    d_loss, real_l, fake_l, recon, wrong_l = d.loss, d.real_l, d.fake_l, d.recon, d.wrong_l
    assert wrong_l is not None and wrong_l.shape == real_l.shape == fake_l.shape == (len(real),)
    expected = matching_d_loss(ctx, real_l, fake_l, wrong_l) + ctx.recon_weight * recon
    assert torch.allclose(d_loss, expected)
    assert not torch.equal(wrong_l, real_l)  # the same pictures, other captions: D sees the difference


# --- XMC-GAN's caption matching term (model.match_weight) ---------------------------------------------------

from ganstudio.losses import contrastive  # noqa: E402


def test_contrastive_is_log_b_at_chance_and_falls_when_the_diagonal_wins():
    b = 6
    chance = contrastive(torch.zeros(b, b))
    assert torch.allclose(chance, torch.log(torch.tensor(float(b))))
    assert contrastive(10 * torch.eye(b)) < 0.01 < chance
    # the same scores with the pairs swapped: it rises above chance
    assert contrastive(10 * torch.eye(b).roll(1, 0)) > chance


@pytest.fixture(scope="module")
def match_trainer(tmp_path_factory, captioned_squares, tiny_text_config):
    root = captioned_squares(tmp_path_factory.mktemp("captioned-match"), n=8, boxed=False)
    train = {"steps": 1, "loss": "hinge", "seed": 1, "checkpoint_every": None}
    cfg = tiny_text_config(root, model={"class_input": None, "match_weight": 0.5}, **train)
    cfg, ds = prepare(cfg)
    return Trainer(cfg, ds, torch.device("cpu"), None)


def test_match_term_is_added_to_d_loss_on_real_pictures(match_trainer):
    ctx = match_trainer.ctx
    assert ctx.match_weight == 0.5 and ctx.D.match is not None
    real, y_real = ctx.next_real()
    z, y_fake = ctx.sample_latents(len(real))
    with torch.no_grad():
        fake = ctx.G(z, y_fake)
        d = _d_pass(ctx, real, y_real, fake, y_fake, d_index=1)
    d_loss, real_l, fake_l, recon, wrong_l, match, fake_h = (
        d.loss,
        d.real_l,
        d.fake_l,
        d.recon,
        d.wrong_l,
        d.match,
        d.fake_h,
    )
    assert match is not None and fake_h is not None and fake_h.shape[0] == len(real)
    expected = matching_d_loss(ctx, real_l, fake_l, wrong_l) + ctx.recon_weight * recon + 0.5 * match
    assert torch.allclose(d_loss, expected)
    # a batch of B pictures: the untrained head is near chance (log B), far from 0
    assert 0.2 * torch.log(torch.tensor(float(len(real)))) < match < 3 * torch.log(torch.tensor(float(len(real))))


def test_match_term_reaches_g_and_the_log_reports_both_sides(match_trainer):
    ctx = match_trainer.ctx
    before = [p.detach().clone() for p in ctx.D.match.parameters()]
    out = match_trainer.step_fn(ctx)
    assert {"match", "g_match"} <= set(out) and torch.isfinite(out["g_match"])
    assert any(not torch.equal(a, p) for a, p in zip(before, ctx.D.match.parameters()))  # D's head learns
    # G's gradient from the term alone is non-zero: the term reaches G through D's features
    z, y = ctx.sample_latents(4)
    from ganstudio.training.schedules import _d_forward, match_loss

    _, _, _, h = _d_forward(ctx, ctx.G(z, y), y)
    g = torch.autograd.grad(match_loss(ctx, h, y), [p for p in ctx.g_params if p.requires_grad], allow_unused=True)
    assert any(t is not None and t.abs().sum() > 0 for t in g)


def test_match_weight_needs_a_run_that_reads_text():
    from ganstudio.config.models import LightweightConfig
    from ganstudio.errors import UserError

    with pytest.raises(UserError, match="needs a run that reads text"):
        LightweightConfig(match_weight=1.0)


# --- MSGAN's mode-seeking term (train.mode_seeking) -----------------------------------------------------------


@contextlib.contextmanager
def train_fields(ctx, **fields):
    """The step context with some train config fields changed, restored afterwards (the trainer is shared)."""
    cfg = ctx.cfg
    ctx.cfg = dataclasses.replace(cfg, **fields)
    try:
        yield
    finally:
        ctx.cfg = cfg


def test_mode_seeking_charges_a_generator_that_ignores_its_noise(match_trainer):
    from ganstudio.training.regularizers import mode_seeking

    ctx = match_trainer.ctx
    z, y = ctx.sample_latents(8)
    loss = mode_seeking(ctx, z, y)
    assert torch.isfinite(loss) and loss > 0
    # the same pictures whatever the noise: the far end of the scale (1 / 1e-5)
    g = ctx.G

    class Deaf(torch.nn.Module):
        def forward(self, z, y):
            return g(torch.zeros_like(z), y)

    ctx.G = Deaf()
    try:
        deaf = mode_seeking(ctx, z, y)
    finally:
        ctx.G = g
    assert deaf > 1e4 > loss
    (grad,) = torch.autograd.grad(loss, [ctx.G.project.weight])
    assert grad.abs().sum() > 0  # the term reaches G


def test_mode_seeking_is_logged_and_refuses_a_negative_weight(match_trainer):
    from ganstudio.config import TrainConfig
    from ganstudio.errors import UserError

    ctx = match_trainer.ctx
    with train_fields(ctx, mode_seeking=1.0):
        out = match_trainer.step_fn(ctx)
    assert "mode_seeking" in out and out["mode_seeking"] > 0
    with pytest.raises(UserError, match="mode_seeking must be >= 0"):
        TrainConfig(mode_seeking=-1.0)


# --- XMC-GAN's image-image term (model.match_real_weight) ---------------------------------------------------


def test_image_image_term_draws_the_real_captions_and_is_logged(tmp_path, captioned_squares, tiny_text_config):
    (tmp_path / "captioned").mkdir()
    root = captioned_squares(tmp_path / "captioned", n=8, boxed=False)
    model = {"class_input": None, "match_weight": 0.5, "match_real_weight": 1.0}
    cfg, ds = prepare(tiny_text_config(root, model=model, steps=1, loss="hinge", seed=1, checkpoint_every=None))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    ctx = t.ctx
    assert ctx.match_real_weight == 1.0
    real, y_real = ctx.next_real()
    with torch.no_grad():
        d = _d_pass(ctx, real, y_real, ctx.G(*ctx.sample_latents(len(real))), y_real, d_index=1)
    assert d.real_h is not None and d.real_h.shape[0] == len(real)
    # a fake that IS its caption's real picture scores below chance; shuffled, above
    same = contrastive(ctx.D.match.pictures(d.real_h, d.real_h))
    chance = torch.log(torch.tensor(float(len(real))))
    assert same < chance
    out = t.train_step()
    assert "g_match_real" in out and torch.isfinite(out["g_match_real"])


def test_image_image_term_needs_the_caption_matching_head():
    from ganstudio.config.models import LightweightConfig
    from ganstudio.errors import UserError

    with pytest.raises(UserError, match=r"set model\.match_weight > 0 too"):
        LightweightConfig(text_dim=8, match_real_weight=1.0)


# --- caption noise on G's side (train.caption_noise) -----------------------------------------------------------


def test_caption_noise_moves_g_captions_by_about_its_fraction_and_keeps_their_norm(match_trainer):
    from ganstudio.config import TrainConfig

    ctx = match_trainer.ctx
    _, y = ctx.sample_latents(8)
    assert ctx.g_captions(y) is y  # off by default: untouched
    with train_fields(ctx, caption_noise=0.3):
        noisy = ctx.g_captions(y)
    assert torch.allclose(noisy.norm(dim=1), y.norm(dim=1), rtol=1e-5)
    # relative distance ~ 0.3 (the noise's norm concentrates around 0.3 |y| in 64 dimensions; renormalising
    # shrinks it a little): between 0.15 and 0.45 for every caption, never zero
    rel = (noisy - y).norm(dim=1) / y.norm(dim=1)
    assert ((rel > 0.15) & (rel < 0.45)).all(), rel
    from ganstudio.errors import UserError

    with pytest.raises(UserError, match="caption_noise must be >= 0"):
        TrainConfig(caption_noise=-0.1)


# --- GAN-INT: G on interpolated captions (train.caption_mix) ---------------------------------------------------


def test_interpolated_captions_lie_between_two_of_the_batch_and_keep_the_norm(match_trainer):
    from ganstudio.training.schedules import interpolated_captions

    ctx = match_trainer.ctx
    _, y = ctx.sample_latents(8)
    state = ctx.noise.get_state()
    t = interpolated_captions(ctx, y)
    ctx.noise.set_state(state)
    assert torch.equal(t, interpolated_captions(ctx, y))  # drawn from the checkpointed generator
    assert t.shape == (4, y.shape[1])
    a, b = y[:4], y.roll(-1, 0)[:4]
    assert torch.allclose(t.norm(dim=1), (a.norm(dim=1) + b.norm(dim=1)) / 2, rtol=1e-5)
    # each mixed caption is a non-negative combination of its pair: least squares on [a_i, b_i] fits it
    # exactly (up to float32 rounding of unit vectors: 1e-4) with both weights >= 0
    for i in range(4):
        basis = torch.stack([a[i], b[i]], 1).double()
        w = torch.linalg.lstsq(basis, t[i].double().unsqueeze(1)).solution.squeeze(1)
        assert (w >= -1e-6).all() and torch.allclose(basis @ w, t[i].double(), atol=1e-4)
    assert not torch.allclose(t, a) and not torch.allclose(t, b)  # weights drawn in (0, 1), not the ends


def test_caption_mix_trains_g_only_and_is_logged(match_trainer):
    from ganstudio.config import TrainConfig
    from ganstudio.errors import UserError
    from ganstudio.training.schedules import caption_mix_loss

    ctx = match_trainer.ctx
    z, y = ctx.sample_latents(8)
    loss = caption_mix_loss(ctx, z, y)
    assert loss.shape == () and torch.isfinite(loss)
    g_grads = torch.autograd.grad(loss, ctx.g_params, retain_graph=True, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in g_grads)  # the term reaches G
    with train_fields(ctx, caption_mix=1.0):
        out = match_trainer.step_fn(ctx)
    assert "caption_mix" in out and torch.isfinite(out["caption_mix"])
    with pytest.raises(UserError, match="caption_mix must be >= 0"):
        TrainConfig(caption_mix=-1.0)


# --- a pooled L1 pull toward the caption's real picture (train.caption_recon) ----------------------------------


def test_caption_recon_compares_pooled_pictures():
    from types import SimpleNamespace

    from ganstudio.training.schedules import caption_recon_loss

    real = torch.rand(2, 3, 16, 16) * 2 - 1
    ctx = SimpleNamespace(cfg=SimpleNamespace(caption_recon_px=8))
    both = torch.tensor([True, True])
    assert caption_recon_loss(ctx, real, real, both) == 0
    assert torch.isclose(caption_recon_loss(ctx, real + 0.5, real, both), torch.tensor(0.5))
    # a +-1 checkerboard: detail finer than 8 px averages away when pooled, and is all there at full size
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1
    assert caption_recon_loss(ctx, real + checker, real, both) < 1e-6
    ctx.cfg.caption_recon_px = 0
    assert torch.isclose(caption_recon_loss(ctx, real + checker, real, both), torch.tensor(1.0))
    # rows whose caption other pictures share are left out: the mean is over the picture's own captions only
    off = torch.tensor([0.0, 0.5]).view(2, 1, 1, 1)
    assert torch.isclose(caption_recon_loss(ctx, real + off, real, torch.tensor([False, True])), torch.tensor(0.5))
    assert caption_recon_loss(ctx, real + off, real, torch.tensor([False, False])) == 0


def test_caption_recon_draws_the_real_batchs_captions_and_is_logged(match_trainer, monkeypatch):
    from ganstudio.config import TrainConfig
    from ganstudio.errors import UserError

    ctx = match_trainer.ctx
    reals, drawn = [], []
    next_real = ctx.next_real

    def recording_next_real():
        x, y = next_real()
        reals.append(y.clone())
        return x, y

    monkeypatch.setattr(ctx, "next_real", recording_next_real)
    hook = ctx.G.register_forward_pre_hook(lambda m, args: drawn.append(args[1].detach().clone()))
    try:
        with train_fields(ctx, caption_recon=2.0):
            assert ctx.draws_real_captions
            out = match_trainer.step_fn(ctx)
    finally:
        hook.remove()
    assert torch.equal(drawn[-1], reals[-1])  # G's update drew the real batch's captions
    # these 8 squares share 4 captions ("a red square" twice): no caption names one picture, so nothing is pulled
    assert "caption_recon" in out and out["caption_recon"] == 0 and not ctx.batches.own_captions().any()
    assert not ctx.draws_real_captions  # off again: G draws random pictures' captions
    with pytest.raises(UserError, match="caption_recon must be >= 0"):
        TrainConfig(caption_recon=-1.0)
    with pytest.raises(UserError, match="caption_recon_px must be >= 0"):
        TrainConfig(caption_recon_px=-1)


def test_caption_recon_pulls_pictures_whose_caption_is_their_own(tmp_path, captioned_squares, tiny_text_config):
    """4 squares, one per colour: each caption names one picture, so every row is pulled (the term is > 0);
    the caption table marks a text shared exactly when another picture has it too."""
    from ganstudio.data.captions import caption_table

    root = captioned_squares(tmp_path, n=4, boxed=False)
    train = {"steps": 1, "loss": "hinge", "seed": 1, "checkpoint_every": None, "caption_recon": 2.0, "batch_size": 4}
    cfg, ds = prepare(tiny_text_config(root, model={"class_input": None}, **train))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    out = t.step_fn(t.ctx)
    assert t.ctx.batches.own_captions().all() and out["caption_recon"] > 0
    two = dataclasses.replace(ds, captions=(ds.captions[0], ds.captions[0], ds.captions[1], ""))
    table = caption_table(two, "words-64")
    assert table.shared.tolist() == [True, True, False, True]  # the empty text is no picture's own caption
