"""The hand-written seed MLP step equals the autograd schedule, and keeps checkpoints resumable."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from ganstudio import runs
from ganstudio.models.mlp import MLPConfig
from ganstudio.training import Trainer, fast_mlp, prepare, schedules

from conftest import tiny_config


def _trainer(cfg, fast: bool) -> Trainer:
    cfg, ds = prepare(cfg)
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    t.fast_step = fast_mlp.step if fast else None
    return t


def _seed_sized(**train):
    """The seed's exact layer sizes (784-input D) on digits upscaled to 28x28."""
    cfg = tiny_config(**train)
    return dataclasses.replace(cfg, model_config=MLPConfig(resolution=28),
                               data=dataclasses.replace(cfg.data, resolution=28))


@pytest.mark.parametrize("make", [tiny_config, _seed_sized], ids=["tiny", "seed-sizes"])
def test_fast_step_equals_autograd_schedule(make):
    torch.set_flush_denormal(True)
    cfg = make(steps=8)
    ref, fast = _trainer(cfg, False), _trainer(cfg, True)
    assert fast_mlp.supports(fast)
    lr = cfg.train.lr_g
    for _ in range(8):
        a, b = schedules.simultaneous(ref), schedules.simultaneous(fast)
        assert a.keys() == b.keys() == {"d_loss", "g_loss", "d_real", "d_fake"}
        for k in a:
            assert torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6), (k, a[k], b[k])
            assert not b[k].requires_grad
    for m_ref, m_fast in ((ref.G, fast.G), (ref.D, fast.D)):
        for (name, p), q in zip(m_ref.named_parameters(), m_fast.parameters()):
            # Adam moves every weight by about lr per step; agree to 1% of one step
            assert (p - q).abs().max() < 1e-2 * lr, name
    for o_ref, o_fast in ((ref.opt_g, fast.opt_g), (ref.opt_d, fast.opt_d)):
        sa, sb = o_ref.state_dict()["state"], o_fast.state_dict()["state"]
        for i in sa:
            assert torch.equal(sa[i]["step"], sb[i]["step"])
            assert torch.allclose(sa[i]["exp_avg"], sb[i]["exp_avg"], rtol=1e-3, atol=1e-9)
            assert torch.allclose(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"], rtol=1e-3, atol=1e-12)
    assert ref.d_steps == fast.d_steps == 8
    # the same data order and latent noise were consumed
    assert torch.equal(ref.noise.get_state(), fast.noise.get_state())
    assert ref.sampler.pos == fast.sampler.pos


def test_checkpoint_resume_with_fast_step_is_exact(tmp_path):
    cfg = tiny_config(steps=10)
    one_go = _trainer(cfg, True)
    for _ in range(10):
        schedules.simultaneous(one_go)
    first = _trainer(cfg, True)
    first.run_dir = tmp_path
    for _ in range(6):
        schedules.simultaneous(first)
    first.progress.step = 6
    first.save_checkpoint()
    resumed = _trainer(cfg, True)
    resumed.load_checkpoint(runs.find_checkpoint(tmp_path))
    for _ in range(4):
        schedules.simultaneous(resumed)
    for name in ("G", "D", "opt_g", "opt_d", "rng_noise", "sampler"):
        ta, tb = one_go.stateful[name].state_tensors(), resumed.stateful[name].state_tensors()
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{name}.{k}"


@pytest.mark.parametrize("change", [
    {"loss": "hinge"}, {"label_smoothing": 0.1}, {"schedule": "alternating"}, {"ema_beta": 0.999},
    {"augment": ("translation",)}, {"r1_gamma": 1.0}, {"feature_matching": 1.0},
])
def test_fast_path_declines_what_it_does_not_compute(change):
    assert fast_mlp.supports(_trainer(tiny_config(), False))
    assert not fast_mlp.supports(_trainer(tiny_config(**change), False))


def test_fast_path_declines_conditional_models_and_changed_models():
    cfg = tiny_config()
    cond = dataclasses.replace(cfg, model_config=dataclasses.replace(cfg.model_config, num_classes=10))
    assert not fast_mlp.supports(_trainer(cond, False))
    t = _trainer(cfg, False)
    t.D.head = torch.nn.Sequential(torch.nn.Linear(32, 1), torch.nn.Sigmoid())  # not the seed's D any more
    t._fast_mlp_struct = None  # the trainer probed its models when built; models changed in place after that
    assert not fast_mlp.supports(t)
