"""The lightweight (FastGAN-style) family's own parts: skip-layer excitation, the per-sample quadrant crop,
the self-supervised reconstruction that only real rows feed, and that one training step trains the decoders."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ganstudio.config import LightweightConfig, RunConfig
from ganstudio.errors import UserError
from ganstudio.models import build
from ganstudio.models.lightweight import quadrants
from ganstudio.training import Trainer, prepare

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


def test_config_refuses_negative_weights_and_gaps():
    with pytest.raises(UserError, match="recon_weight"):
        LightweightConfig(recon_weight=-1)
    with pytest.raises(UserError, match="sle_gap"):
        LightweightConfig(sle_gap=-1)


def _run(recon_weight: float) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": "lightweight",
            "model_config": {**TINY, "recon_weight": recon_weight},
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
