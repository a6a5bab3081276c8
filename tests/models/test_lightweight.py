"""The lightweight (FastGAN-style) family's own parts: skip-layer excitation, the per-sample quadrant crop,
the self-supervised reconstruction that only real rows feed, that one training step trains the decoders, and
"draw small, enlarge with learned detail" (upscale): what D judges, what the detail stage learns from, resume."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import ganstudio
from ganstudio import runs
from ganstudio.config import LightweightConfig, RunConfig
from ganstudio.config.models import RECON_LOSSES
from ganstudio.errors import UserError
from ganstudio.models import build
from ganstudio.models.lightweight import RECON_DISTANCES, DetailStage, laplacian_l1, quadrants
from ganstudio.training import Trainer, prepare, train

TINY = {"z_dim": 8, "g_channels": 4, "d_channels": 4, "max_channels": 16, "decoder_channels": 4}


def test_quadrants_pick_each_rows_own_quarter():
    x = torch.arange(2 * 1 * 4 * 6, dtype=torch.float32).reshape(2, 1, 4, 6)
    q = torch.tensor([3, 1])
    got = quadrants(x, q)
    assert got.shape == (2, 1, 2, 3)
    assert torch.equal(got[0], x[0, :, 2:, 3:])  # quadrant 3: bottom right
    assert torch.equal(got[1], x[1, :, :2, 3:])  # quadrant 1: top right


@pytest.mark.parametrize(("res", "gated"), [(16, {}), (32, {3: 0}), (64, {3: 0, 4: 1}), (128, {3: 0, 4: 1, 5: 2})])
def test_skip_layer_excitation_gates_fine_stages_from_coarse_ones(res, gated):
    G, _ = build("lightweight", LightweightConfig(resolution=res, **TINY))
    assert G.gated_by == gated
    if not gated:
        return
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # train mode: BatchNorm on the batch's own statistics
        before = G(z)
        for m in G.sle.values():  # a gate's last conv bias -> +inf: every gate opens fully
            torch.nn.init.zeros_(m.net[3].weight)
            torch.nn.init.constant_(m.net[3].bias, 50.0)
        after = G(z)
    assert not torch.allclose(before, after, rtol=1e-3, atol=0)  # the gates were shaping the output


def test_no_gates_when_sle_off_and_no_decoders_without_reconstruction():
    G, D = build("lightweight", LightweightConfig(resolution=64, sle_gap=0, recon_weight=0.0, **TINY))
    assert G.gated_by == {} and len(G.sle) == 0
    assert not D.reconstructs and not hasattr(D, "decode_whole")
    with pytest.raises(ValueError, match="recon_weight 0"):
        D.forward_and_reconstruct(torch.zeros(2, 3, 64, 64), None, 2)


@pytest.mark.parametrize(("res", "height"), [(16, None), (64, None), (64, 48)])
def test_reconstruction_loss_comes_from_the_real_rows_only(res, height):
    _, D = build("lightweight", LightweightConfig(resolution=res, height=height, **TINY))
    x = torch.rand(4, 3, height or res, res, requires_grad=True)
    logits, aux, recon = D.forward_and_reconstruct(x * 2 - 1, None, 2, torch.Generator().manual_seed(0))
    assert logits.shape == (4,) and aux is None and recon.ndim == 0 and recon > 0
    (grad,) = torch.autograd.grad(recon, x)
    assert grad[:2].abs().sum() > 0  # the real rows are reconstructed...
    assert grad[2:].abs().sum() == 0  # ...and the fakes never feed the decoders


def test_laplacian_l1_weighs_each_band_the_same():
    a = torch.rand(2, 3, 16, 16)
    assert laplacian_l1(a, a) == 0
    # A constant offset lives in the low-pass band alone: its size, whatever the picture.
    torch.testing.assert_close(laplacian_l1(a + 0.25, a), torch.tensor(0.25))
    # A +-1 checkerboard of 1-px squares lives in the finest band alone (its 2x2 means are 0): 1.
    board = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1
    torch.testing.assert_close(laplacian_l1(a + board, a), torch.tensor(1.0))
    # The same checkerboard of 4-px squares is one band coarser (two levels down): 1 again, where MSE says 1
    # for both and cannot tell fine from coarse structure either; a 2x brighter one counts 2x.
    coarse = board[::4, ::4].repeat_interleave(4, 0).repeat_interleave(4, 1)
    torch.testing.assert_close(laplacian_l1(a + 2 * coarse, a), torch.tensor(2.0))


def test_lap1_reconstruction_trains_the_decoders():
    _, D = build("lightweight", LightweightConfig(resolution=32, recon_loss="lap1", **TINY))
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    _, _, recon = D.forward_and_reconstruct(x, None, 4, torch.Generator().manual_seed(0))
    recon.backward()
    grads = [p.grad for p in D.decode_whole.parameters()]
    assert recon > 0 and all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    with pytest.raises(UserError, match="recon_loss"):
        LightweightConfig(recon_loss="lpips")
    assert set(RECON_DISTANCES) == set(RECON_LOSSES)  # every name the config accepts has a distance


def test_config_refuses_negative_weights_and_gaps():
    with pytest.raises(UserError, match="recon_weight"):
        LightweightConfig(recon_weight=-1)
    with pytest.raises(UserError, match="sle_gap"):
        LightweightConfig(sle_gap=-1)


def _run(recon_weight: float, recon_every: int = 1) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": "lightweight",
            "model_config": {**TINY, "recon_weight": recon_weight, "recon_every": recon_every},
            "data": {"name": "digits", "resolution": 16, "limit": 32},
            "train": {"steps": 1, "batch_size": 8, "threads": 1, "device": "cpu", "seed": 1, "loss": "hinge"},
        }
    )


def test_one_step_trains_the_decoders_and_the_weight_scales_the_term():
    cfg, ds = prepare(_run(1.0))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    assert t.ctx.recon_weight == 1.0 and t.schedule.name == "alternating"
    before = {k: v.clone() for k, v in t.D.state_dict().items() if "decode_" in k}
    out = t.train_step()
    assert out["recon"] > 0  # logged beside d_loss
    after = t.D.state_dict()
    assert before and all(not torch.equal(v, after[k]) for k, v in before.items() if k.endswith("original"))
    # with the term off the same step makes a different D: the term is really in D's loss
    cfg0, ds0 = prepare(dataclasses.replace(_run(0.0)))
    t0 = Trainer(cfg0, ds0, torch.device("cpu"), None)
    assert t0.ctx.recon_weight == 0.0
    assert "recon" not in t0.train_step()
    w = "stem.0.parametrizations.weight.original"
    assert not torch.equal(t0.D.state_dict()[w], after[w])


def test_lazy_reconstruction_runs_on_every_kth_d_update_with_k_times_the_weight():
    cfg, ds = prepare(_run(0.5, recon_every=3))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    # D update number 1, 2, 3, ... (counted over the run, as lazy R1's): due on 3, 6, ... at 0.5 x 3
    assert [t.ctx.recon_weight_at(i) for i in range(1, 7)] == [0.0, 0.0, 1.5, 0.0, 0.0, 1.5]
    decoders = lambda: {k: v.clone() for k, v in t.D.state_dict().items() if "decode_" in k and "original" in k}
    logged = []
    for _ in range(3):
        before = decoders()
        out = t.train_step()
        logged.append("recon" in out)
        # Adam moves the decoders only on steps whose loss reached them (their gradients are None otherwise)
        moved = any(not torch.equal(v, t.D.state_dict()[k]) for k, v in before.items())
        assert moved == logged[-1]
    assert logged == [False, False, True] and t.d_steps == 3


def test_lazy_reconstruction_refuses_an_interval_below_one():
    with pytest.raises(UserError, match="recon_every must be >= 1"):
        LightweightConfig(recon_every=0)


# ---- upscale: draw small, enlarge with learned detail ----------------------------------------------------------
EPS32 = torch.finfo(torch.float32).eps


@pytest.mark.parametrize("scale", [2, 4])
def test_detail_stage_adds_detail_that_pools_back_to_its_input(scale):
    torch.manual_seed(0)
    stage = DetailStage(3, scale, width=8)
    x = torch.rand(2, 3, 6, 5) * 2 - 1
    with torch.no_grad():
        out = stage(x)
        r = stage.residual(x)
    assert out.shape == (2, 3, 6 * scale, 5 * scale)
    assert r.abs().max() > 1e-3  # there is detail...
    # ...whose s x s block means vanish: pooling returns x up to float32 rounding of the few sums involved
    # (each block mean and its subtraction: a handful of roundings of values of size |x| + |r|)
    bound = 4 * scale * scale * EPS32 * float(x.abs().max() + r.abs().max())
    assert (F.avg_pool2d(out, scale) - x).abs().max() <= bound


def test_upscale_g_draws_small_and_d_judges_the_pooled_drawing():
    cfg = LightweightConfig(resolution=32, upscale=2, **TINY)
    G, D = build("lightweight", cfg)
    assert cfg.drawn_shape == (3, 16, 16) and G.out_shape == (3, 32, 32) and G.learns_detail
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        shown = G(z)  # training mode: the drawing, each pixel repeated 2 x 2 (what D pools back exactly)
        drawing = F.avg_pool2d(shown, 2)
        assert torch.equal(shown, F.interpolate(drawing, scale_factor=2, mode="nearest"))
        G.eval()
        sampled = G(z)  # sampling: the detail stage enlarges the same drawing (BatchNorm now uses running stats)
        assert sampled.shape == (4, 3, 32, 32) and sampled.abs().max() <= 1
        assert not torch.equal(sampled, F.interpolate(F.avg_pool2d(sampled, 2), scale_factor=2, mode="nearest"))
        # D judges the drawing: a picture and its 2x2-repeated pooling get the same logits
        x = torch.rand(4, 3, 32, 32) * 2 - 1
        flat = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        torch.testing.assert_close(D(x), D(flat), rtol=0, atol=1e-5)


def test_detail_loss_trains_only_the_detail_stage_and_the_adversarial_path_skips_it():
    G, _ = build("lightweight", LightweightConfig(resolution=32, upscale=2, **TINY))
    detail = {n for n, _ in G.named_parameters() if n.startswith("detail.")}
    assert detail
    G.detail_loss(torch.rand(3, 3, 32, 32) * 2 - 1).backward()
    got = {n for n, p in G.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert got == detail
    G.zero_grad(set_to_none=True)
    G(torch.randn(3, 8)).square().mean().backward()  # what D's loss reaches in training mode
    assert all(p.grad is None for n, p in G.named_parameters() if n in detail)
    G1, _ = build("lightweight", LightweightConfig(resolution=32, **TINY))
    assert not G1.learns_detail and G1.detail is None
    with pytest.raises(ValueError, match="upscale 1"):
        G1.detail_loss(torch.zeros(1, 3, 32, 32))


def test_config_refuses_an_upscale_it_cannot_build():
    with pytest.raises(UserError, match="upscale must be one of"):
        LightweightConfig(resolution=64, upscale=3)
    with pytest.raises(UserError, match="must divide the size"):
        LightweightConfig(resolution=24, height=18, upscale=4)
    with pytest.raises(UserError, match="cannot be built"):  # 16 px / 4 = a 4 px drawing
        LightweightConfig(resolution=16, upscale=4)


def _upscale_run(steps: int) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": "lightweight",
            # lazy reconstruction due on D update 3: the resume at step 2 must carry its clock (counters.d_steps)
            "model_config": {**TINY, "upscale": 2, "recon_every": 3},
            "data": {"name": "digits", "resolution": 32, "limit": 32},
            "train": {
                "steps": steps,
                "batch_size": 8,
                "threads": 1,
                "device": "cpu",
                "seed": 3,
                "loss": "hinge",
                "ema_beta": 0.9,
                "checkpoint_every": 2,
                "keep_checkpoints": 10,
            },
        }
    )


def test_upscale_run_logs_detail_resumes_bit_exactly_and_samples_full_size(tmp_path):
    cfg, ds = prepare(_upscale_run(1))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    assert t.ctx.learns_detail
    before = {n: p.detach().clone() for n, p in t.G.named_parameters() if n.startswith("detail.")}
    out = t.train_step()
    assert out["detail"] > 0 and "g_loss" in out
    assert all(not torch.equal(p, before[n]) for n, p in t.G.named_parameters() if n in before)
    one = train(_upscale_run(4), out=tmp_path / "one", progress=False)
    part = train(_upscale_run(2), out=tmp_path / "two", progress=False)
    train(resume=part, overrides={"steps": 4}, progress=False)
    a, b = runs.find_checkpoint(one), runs.find_checkpoint(part)
    for f in sorted(p.name for p in a.path.glob("*.safetensors")):
        ta, tb = load_file(str(a.path / f)), load_file(str(b.path / f))
        assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta), f
    images = ganstudio.load(one)(n=2, seed=0).images
    assert images.shape[-2:] == (32, 32)
