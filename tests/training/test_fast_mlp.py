"""The hand-written seed MLP step equals the autograd schedule, and keeps checkpoints resumable."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from ganstudio import runs
from ganstudio.models.mlp import MLPConfig
from ganstudio.training import Trainer, fast_mlp, prepare


def _trainer(cfg, fast: bool) -> Trainer:
    """A trainer that steps with the fused seed step (``fast``) or with autograd's ``schedules.simultaneous``."""
    cfg, ds = prepare(cfg)
    t = Trainer(cfg, ds, torch.device("cpu"), None, fast_step=fast)
    assert isinstance(t.step_fn, fast_mlp.FastStep) == fast
    return t


def _seed_sized(tiny_config, **train):
    """The seed's exact layer sizes (784-input D) on digits upscaled to 28x28."""
    cfg = tiny_config(**train)
    return dataclasses.replace(
        cfg, model_config=MLPConfig(resolution=28), data=dataclasses.replace(cfg.data, resolution=28)
    )


# ---- one fast step against the autograd step ----------------------------------------------------
#
# Why not compare the weights after a few steps: Adam moves a weight by lr * m^/(sqrt(v^) + eps). Where
# |g| is as small as float32 rounding noise (eps = 1e-7 is far below it), m^/sqrt(v^) is a ratio of two
# noise terms, so a different, equally correct rounding moves that weight by up to ~lr per step: any bound
# tighter than that depends on which GEMM kernels the CPU runs (AVX-512 failed 1e-2 * lr). So both steps
# start every step from the same state, and the step is checked in its two well-conditioned halves:
#
# 1. Gradients. Both compute every entry g = sum(delta * a) (delta: the loss gradient at a Linear's output,
#    a: its input) in float32, in different orders. The inner-product error bound (Higham, Accuracy and
#    Stability of Numerical Algorithms, 3.1), chained from the loss to the parameter, gives
#    |g^ - g| <= gamma_N * S for each, with u = 2^-24, gamma_N = N u / (1 - N u), S = sum(|delta| * |a|)
#    (recorded from the autograd step) and N the roundings on the longest path: at most each Linear's
#    fan-in (forward) and fan-out (backward), 2B for the batch sum and a few elementwise operations per
#    layer. So |g_fast - g_autograd| <= 2 gamma_N S (+ 2 N tiny for flushed denormals). Rounding errors grow
#    like sqrt(N) in practice: measured <= 1.3% of this bound (ATen default/AVX2/AVX-512, MKL AVX2 and
#    AVX-512), while a LeakyReLU slope 1% off in the backward exceeds it 5-100x.
# 2. The update. Given its gradient, the fast step's weights and Adam state must be bitwise what the
#    trainer's own Adam computes from the same state with that gradient (same kernel, same inputs).
_U = 2.0**-24
_TINY = torch.finfo(torch.float32).tiny


def _params(t) -> list[torch.Tensor]:
    return [*t.G.parameters(), *t.D.parameters()]


def _state(t):
    """A copy of t's weights and both optimizers' state."""
    return (
        [p.detach().clone() for p in _params(t)],
        copy.deepcopy(t.opt_g.state_dict()),
        copy.deepcopy(t.opt_d.state_dict()),
    )


def _load(t, state) -> None:
    weights, opt_g, opt_d = state
    with torch.no_grad():
        for p, w in zip(_params(t), weights, strict=True):
            p.copy_(w)
    # copies: load_state_dict may keep the very tensors it is given, which the fused step updates in place
    t.opt_g.load_state_dict(copy.deepcopy(opt_g))
    t.opt_d.load_state_dict(copy.deepcopy(opt_d))


class _AbsTerms:
    """S = |delta|^T |a| per Linear weight (sum of |delta| per bias), recorded while ``t`` steps."""

    def __init__(self, t):
        self.linears = [m for M in (t.G, t.D) for m in M.modules() if isinstance(m, torch.nn.Linear)]
        self.s: dict[torch.Tensor, torch.Tensor] = {}
        for m in self.linears:
            m.register_forward_hook(self._forward)

    def _forward(self, mod, inputs, out) -> None:
        if not out.requires_grad:
            return
        a = inputs[0].detach().abs().reshape(-1, mod.in_features)

        def backward(grad):
            d = grad.detach().abs().reshape(-1, mod.out_features)
            for p, s in ((mod.weight, d.t() @ a), (mod.bias, d.sum(0))):
                # D is passed twice (d_loss, then g_loss): a larger S, still a bound
                self.s[p] = self.s.get(p, 0) + s

        out.register_hook(backward)


class _Lockstep:
    """The autograd schedule (``ref``) and the fast step (``fast``), compared step by step."""

    def __init__(self, cfg):
        self.ref, self.fast = _trainer(cfg, False), _trainer(cfg, True)
        self.names = [f"{g}.{n}" for g, m in (("G", self.ref.G), ("D", self.ref.D)) for n, _ in m.named_parameters()]
        self.terms = _AbsTerms(self.ref)
        # roundings on any path: fan-in and fan-out of every Linear, 8 elementwise ones per layer (bias,
        # activation and its derivative, the loss-gradient scale, tanh/sigmoid), the 2B-row batch sum
        self.n = 2 * cfg.train.batch_size + sum(m.in_features + m.out_features + 8 for m in self.terms.linears)
        self.gamma = self.n * _U / (1 - self.n * _U)

    def step(self) -> list[str]:
        """One step of each from the fast step's state; the mismatches found (none: the steps agree)."""
        ref, fast = self.ref, self.fast
        before = _state(fast)
        _load(ref, before)
        self.terms.s = {}
        self.out = a, b = ref.train_step(), fast.train_step()
        bad = []
        for k in a.keys() & b.keys():  # the same forward pass: losses agree to the loss function's rounding
            if not torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6):
                bad.append(f"{k}: {a[k].item()} != {b[k].item()}")
        for name, p, q in zip(self.names, _params(ref), _params(fast), strict=True):
            if p.grad is None or q.grad is None or p not in self.terms.s:
                bad.append(f"{name}: no gradient to compare (or the reference step did not run through autograd)")
                continue
            bound = 2 * self.gamma * self.terms.s[p] + 2 * self.n * _TINY
            over = ((p.grad - q.grad).abs() / bound).max().item()
            if not over <= 1:
                bad.append(f"{name}: gradient differs by {over:.3g}x its float32 rounding bound")
        _load(ref, before)  # the trainer's Adam, from the same state, with the fast step's gradient
        for p, q in zip(_params(ref), _params(fast), strict=True):
            p.grad = None if q.grad is None else q.grad.clone()
        ref.opt_d.step()
        ref.opt_g.step()
        for name, p, q in zip(self.names, _params(ref), _params(fast), strict=True):
            if not torch.equal(p, q):
                bad.append(f"{name}: the update is not Adam's for its gradient")
        for opt in ("opt_g", "opt_d"):
            sa, sb = getattr(ref, opt).state_dict()["state"], getattr(fast, opt).state_dict()["state"]
            for i in sa:
                for k in sa[i]:
                    if i not in sb or not torch.equal(sa[i][k], sb[i][k]):
                        bad.append(f"{opt} state {i}.{k} is not Adam's")
        return bad


@pytest.mark.numerics
@pytest.mark.parametrize("sizes", ["tiny", "seed-sizes"])
def test_fast_step_equals_autograd_schedule(tiny_config, sizes):
    torch.set_flush_denormal(True)
    cfg = tiny_config(steps=8) if sizes == "tiny" else _seed_sized(tiny_config, steps=8)
    steps = _Lockstep(cfg)
    ref, fast = steps.ref, steps.fast
    assert fast_mlp.supports(fast.ctx) and isinstance(fast.step_fn, fast_mlp.FastStep)
    for i in range(8):
        assert steps.step() == [], f"step {i}"
        a, b = steps.out
        assert a.keys() == b.keys() == {"d_loss", "g_loss", "d_real", "d_fake"}
        assert not any(v.requires_grad for v in b.values())
    assert ref.d_steps == fast.d_steps == 8
    # the same data order and latent noise were consumed
    assert torch.equal(ref.noise.get_state(), fast.noise.get_state())
    assert ref.sampler.pos == fast.sampler.pos


def _lrelu_slope_off(monkeypatch, t):
    lrelu_bwd = fast_mlp._lrelu_bwd
    monkeypatch.setattr(
        fast_mlp,
        "_lrelu_bwd",
        lambda grad, x, slope, is_result, grad_input: lrelu_bwd(
            grad, x, 0.99 * slope, is_result, grad_input=grad_input
        ),
    )


def _tanh_derivative_dropped(monkeypatch, t):
    monkeypatch.setattr(fast_mlp, "_tanh_bwd", lambda grad, y, grad_input: grad_input.copy_(grad))


def _d_weight_sign_flipped(monkeypatch, t):
    w = next(t.D.parameters())

    def flip(*_):
        w.grad.neg_()

    t.opt_d.register_step_pre_hook(flip)


def _d_bias_gradients_dropped(monkeypatch, t):
    biases = [p for p in t.D.parameters() if p.dim() == 1]

    def drop(*_):
        for p in biases:
            p.grad.zero_()

    t.opt_d.register_step_pre_hook(drop)


def _g_update_skipped(monkeypatch, t):
    monkeypatch.setattr(t.opt_g, "step", lambda *a, **k: None)


@pytest.mark.numerics
@pytest.mark.parametrize(
    "sabotage, expected",
    [
        (_lrelu_slope_off, ["G.net.0.weight: gradient", "D.body.0.weight: gradient"]),
        (_tanh_derivative_dropped, ["G.net.0.weight: gradient", "G.net.4.bias: gradient"]),
        (_d_weight_sign_flipped, ["D.body.0.weight: gradient"]),
        (_d_bias_gradients_dropped, ["D.body.0.bias: gradient", "D.head.bias: gradient"]),
        (_g_update_skipped, ["G.net.0.weight: the update", "opt_g state 0.exp_avg "]),
    ],
    ids=[
        "lrelu-slope-1%-off",
        "tanh-derivative-dropped",
        "d-weight-sign-flipped",
        "d-bias-gradients-dropped",
        "g-update-skipped",
    ],
)
def test_lockstep_check_reports_a_sabotaged_fast_step(monkeypatch, tiny_config, sabotage, expected):
    """The comparison has power: a fast step with one term wrong fails it, where the wrong term shows."""
    steps = _Lockstep(tiny_config(steps=2))
    assert steps.step() == []  # the real fast step passes, then
    sabotage(monkeypatch, steps.fast)
    bad = steps.step()
    for e in expected:
        assert any(m.startswith(e) for m in bad), (e, bad)
    if sabotage is _d_weight_sign_flipped or sabotage is _d_bias_gradients_dropped:
        assert not any(m.startswith("G.") for m in bad), bad  # and the parts it did not touch still pass


@pytest.mark.numerics
def test_checkpoint_resume_with_fast_step_is_exact(tmp_path, tiny_config):
    cfg = tiny_config(steps=10)
    one_go = _trainer(cfg, True)
    for _ in range(10):
        one_go.train_step()
    first = _trainer(cfg, True)
    first.run_dir = tmp_path
    for _ in range(6):
        first.train_step()
    first.save_checkpoint()
    resumed = _trainer(cfg, True)
    resumed.load_checkpoint(runs.find_checkpoint(tmp_path))
    for _ in range(4):
        resumed.train_step()
    for name in ("G", "D", "opt_g", "opt_d", "rng_noise", "sampler"):
        ta, tb = one_go.stateful[name].state_tensors(), resumed.stateful[name].state_tensors()
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{name}.{k}"


@pytest.mark.parametrize(
    "change",
    [
        {"loss": "hinge"},
        {"label_smoothing": 0.1},
        {"schedule": "alternating"},
        {"ema_beta": 0.999},
        {"augment": ("translation",)},
        {"r1_gamma": 1.0},
        {"feature_matching": 1.0},
    ],
)
def test_fast_path_declines_what_it_does_not_compute(tiny_config, change):
    assert fast_mlp.supports(_trainer(tiny_config(), False).ctx)
    assert not fast_mlp.supports(_trainer(tiny_config(**change), False).ctx)
    # left to choose (fast_step=None), the trainer takes the fused step only where it computes the same thing
    assert isinstance(Trainer(*prepare(tiny_config()), torch.device("cpu"), None).step_fn, fast_mlp.FastStep)
    declined = Trainer(*prepare(tiny_config(**change)), torch.device("cpu"), None)
    assert declined.step_fn is declined.schedule.step


def test_fast_path_declines_conditional_models_and_changed_models(tiny_config):
    cfg = tiny_config()
    cond = dataclasses.replace(cfg, model_config=dataclasses.replace(cfg.model_config, num_classes=10))
    assert not fast_mlp.supports(_trainer(cond, False).ctx)
    t = _trainer(cfg, False)
    t.D.head = torch.nn.Sequential(torch.nn.Linear(32, 1), torch.nn.Sigmoid())  # not the seed's D any more
    assert not fast_mlp.supports(t.ctx)  # the structure is probed whenever supports() is asked
