"""The pix2pix schedule through the one loop: a step and its preview, the L1-only baseline, and resume
bit-exact against uninterrupted training."""

import pytest
import torch

from ganstudio.errors import UserError
from ganstudio.training import Trainer, prepare


def test_one_step_preview_and_wrong_schedule(cache_env, tiny_p2p):
    cfg, ds = prepare(tiny_p2p(1))
    assert ds.inputs is not None and cfg.model_config.in_channels == 1
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    g0 = [p.detach().clone() for p in t.g_params]
    out = t.train_step()
    assert {"d_loss", "g_loss", "l1", "d_real", "d_fake"} <= out.keys()
    assert all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(g0, t.g_params))
    preview = t.preview()
    grid = preview.images
    assert grid.shape == (24, 1, 8, 8) and grid.dtype == torch.uint8 and preview.nrow == 8
    fixed = torch.randperm(len(ds.images), generator=torch.Generator().manual_seed(1234))[:8]
    assert torch.equal(grid[16:], ds.images[fixed]) and torch.equal(grid[:8], ds.inputs[fixed])
    with pytest.raises(
        UserError,
        match="schedule 'simultaneous' trains noise-to-image / noise-to-sound models, but 'pix2pix' is image-to-image",
    ):
        Trainer(cfg.replace_train(schedule="simultaneous"), ds, torch.device("cpu"), None)


def test_l1_only_baseline_never_touches_d(cache_env, tiny_p2p):
    cfg, ds = prepare(tiny_p2p(3, model={"adv_weight": 0}))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    d0 = {k: v.clone() for k, v in t.D.state_dict().items()}
    for _ in range(3):
        out = t.train_step()
    assert float(out["d_loss"]) == 0.0 and "d_real" not in out
    assert all(torch.equal(d0[k], v) for k, v in t.D.state_dict().items())  # weights and BN statistics
    assert not t.opt_d.state and t.d_steps == 0


def test_resume_equals_uninterrupted_pix2pix_training(pix2pix_resumed, tiny_p2p):
    _, a, b = pix2pix_resumed
    assert a.step == b.step == 40
    cfg, ds = prepare(tiny_p2p(1, ema_beta=0.9))
    components = list(Trainer(cfg, ds, torch.device("cpu"), None).stateful)
    assert {"G", "D", "opt_g", "opt_d", "rng_noise", "sampler", "G_ema"} <= set(components)
    for comp in components:
        if comp in ("G", "D", "G_ema"):
            ta, tb = a.tensors(comp), b.tensors(comp)
        else:
            ta = {k: v for k, v in a.tensors("train_state").items() if k.startswith(comp + ".")}
            tb = {k: v for k, v in b.tensors("train_state").items() if k.startswith(comp + ".")}
        assert ta.keys() == tb.keys(), comp
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{comp}.{k} differs after resume"
        assert a.state.get(comp) == b.state.get(comp), comp
