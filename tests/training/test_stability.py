"""Augmentation, EMA, regularisers, losses and the divergence guard, on tiny runs."""

import dataclasses
import math
import warnings

import pytest
import torch

from ganstudio import runs
from ganstudio.augment import ada_adjust, color, cutout, diff_augment, translation
from ganstudio.training import Trainer, prepare, train
from ganstudio.training.components import EMA


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.numerics
def test_augment_identity_at_p0_and_changes_at_p1():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    zero, one = torch.tensor(0.0), torch.tensor(1.0)
    for op in (color, translation, cutout):
        assert torch.equal(op(x, zero, _g()), x)
        y = op(x, one, _g())
        assert y.shape == x.shape and not torch.equal(y, x)
    # same generator seed, same augmentation: reproducible and checkpointable
    pol = ("color", "translation", "cutout")
    assert torch.equal(diff_augment(x, pol, one, _g(5)), diff_augment(x, pol, one, _g(5)))


def test_translation_moves_content_by_whole_pixels():
    x = -torch.ones(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    y = translation(x, torch.tensor(1.0), _g(1))
    for img in y:
        bright = (img[0] == 1).nonzero()
        assert len(bright) == 1  # moved, not blurred
        dy, dx = (bright[0] - 8).tolist()
        assert abs(dy) <= 2 and abs(dx) <= 2
    assert len({tuple((img[0] == 1).nonzero()[0].tolist()) for img in y}) > 5


def test_cutout_blanks_a_square_and_augment_is_differentiable():
    x = torch.ones(4, 1, 16, 16, requires_grad=True)
    y = cutout(x, torch.tensor(1.0), _g(2))
    frac = (y == -1).float().mean().item()
    assert 0.1 < frac < 0.4  # about (0.5)^2 of the image, clipped at borders
    diff_augment(x, ("color", "translation", "cutout"), torch.tensor(1.0), _g()).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ada_controller_direction_and_bounds():
    p = torch.tensor(0.5)
    assert ada_adjust(p, torch.tensor(0.9), 0.6, 100, 1000) == pytest.approx(0.6)
    assert ada_adjust(p, torch.tensor(0.1), 0.6, 100, 1000) == pytest.approx(0.4)
    assert ada_adjust(torch.tensor(0.99), torch.tensor(1.0), 0.6, 100, 10) == 1.0
    assert ada_adjust(torch.tensor(0.01), torch.tensor(-1.0), 0.6, 100, 10) == 0.0


def test_ema_tracks_generator():
    G = torch.nn.Linear(4, 4)
    ema = EMA(G, beta=0.9)
    before = ema.module.weight.clone()
    with torch.no_grad():
        G.weight.add_(1.0)
    for _ in range(3):
        ema.update()
    w = ema.module.weight
    assert (w > before).all() and (w < G.weight).all()  # moved toward G, not all the way
    assert not ema.module.weight.requires_grad


@pytest.mark.parametrize(
    "loss, schedule, extra",
    [
        ("ns", "simultaneous", {"label_smoothing": 0.1}),
        ("minimax", "alternating", {}),
        ("hinge", "alternating", {"n_dis": 2}),
        ("wgan-gp", "alternating", {"n_dis": 2}),
        ("lsgan", "simultaneous", {"r1_gamma": 1.0, "r1_every": 2}),
        ("ns", "simultaneous", {"feature_matching": 1.0, "ema_beta": 0.9}),
        ("hinge", "simultaneous", {"augment": ("color", "translation", "cutout"), "augment_p": 0.5}),
        ("ns", "simultaneous", {"precision": "bf16"}),
        ("hinge", "alternating", {"precision": "bf16", "ema_beta": 0.9}),
        ("hinge", "alternating", {"lecam": 0.3, "lecam_decay": 0.9}),
        ("ns", "simultaneous", {"lecam": 1.0}),
    ],
)
def test_each_loss_and_regulariser_trains(tmp_path, tiny_config, loss, schedule, extra):
    run = train(tiny_config(steps=6, loss=loss, schedule=schedule, log_every=2, **extra), out=tmp_path, progress=False)
    rows = runs.read_metrics(run)
    assert rows and all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows)
    G0 = Trainer(*prepare(tiny_config()), torch.device("cpu"), None).G.state_dict()
    G1 = runs.find_checkpoint(run).tensors("G")
    assert any(not torch.equal(G0[k], G1[k]) for k in G0)  # G really learned something
    if extra.get("ema_beta"):
        assert runs.find_checkpoint(run).has("G_ema")
    if extra.get("lecam"):  # logged, and its anchors moved off their starting zeros
        assert all(r["lecam"] >= 0 for r in rows)
        anchors = runs.find_checkpoint(run).tensors("train_state")
        assert float(anchors["lecam.real"]) != 0 and float(anchors["lecam.fake"]) != 0


@pytest.mark.numerics
def test_lecam_penalty_values_and_the_direction_it_pushes_d():
    from ganstudio.training.components import LeCamAnchors
    from ganstudio.training.regularizers import lecam_penalty

    anchors = LeCamAnchors(0.5, torch.device("cpu"))
    anchors.real.fill_(1.0)
    anchors.fake.fill_(-1.0)
    real = torch.tensor([2.0, -3.0], requires_grad=True)  # 3 above the fake anchor; below it (no charge)
    fake = torch.tensor([0.0, 2.0], requires_grad=True)  # 1 below the real anchor; above it (no charge)
    penalty = lecam_penalty(real, fake, anchors)
    assert penalty.item() == (3.0**2 + 0.0) / 2 + (1.0**2 + 0.0) / 2  # powers of two: exact in float32
    penalty.backward()
    # Descending the penalty lowers the real logit that lies above the fake anchor and raises the fake one
    # that lies below the real anchor: D's two outputs are drawn toward each other, no further.
    assert real.grad.tolist() == [3.0, 0.0] and fake.grad.tolist() == [-1.0, 0.0]
    anchors.update(torch.tensor([3.0, 5.0]), torch.tensor([-2.0, -4.0]))  # means 4 and -3, decay 0.5
    assert anchors.real.item() == 2.5 and anchors.fake.item() == -2.0


def test_lecam_refuses_bad_settings():
    from ganstudio.config import TrainConfig
    from ganstudio.errors import UserError

    with pytest.raises(UserError, match="lecam must be >= 0"):
        TrainConfig(lecam=-0.1)
    with pytest.raises(UserError, match=r"lecam_decay must be in \[0, 1\)"):
        TrainConfig(lecam=0.3, lecam_decay=1.0)


def test_gradient_penalty_pushes_gradient_norm_to_one(tiny_config):
    from ganstudio.training.regularizers import gradient_penalty

    cfg, ds = prepare(tiny_config(loss="wgan-gp"))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    real, _ = t.ctx.next_real()
    fake = t.G(*t.ctx.sample_latents(len(real))).detach()
    with torch.no_grad():
        for p in t.D.parameters():
            p.mul_(50.0)  # a steep critic: gradient norm far above 1
    assert gradient_penalty(t.ctx, real, fake, None) > 100


class _Sabotage:
    """A hook that breaks G at given steps, as a diverging run would."""

    def __init__(self, steps, how="nan"):
        self.steps, self.how = set(steps), how

    def __call__(self, t, event, info):
        if event == "step" and t.progress.step in self.steps:
            self.steps.discard(t.progress.step)
            with torch.no_grad():
                for p in t.G.parameters():
                    p.fill_(float("nan")) if self.how == "nan" else p.zero_()


@pytest.mark.parametrize("how, reason", [("nan", "nan"), ("collapse", "mode collapse")])
def test_guard_rolls_back_with_lower_learning_rate(tmp_path, tiny_config, how, reason):
    cfg = tiny_config(steps=30, guard=True, log_every=5, checkpoint_every=10)
    # the sabotage runs before the guard's check at step 14/15
    run = train(cfg, out=tmp_path, progress=False, extra_hooks=[])  # baseline: no event
    assert not [r for r in runs.read_metrics(run) if "event" in r]
    run = _train_with_sabotage(cfg, tmp_path, _Sabotage([13], how))
    events = [r for r in runs.read_metrics(run) if r.get("event") == "rollback"]
    assert len(events) == 1 and reason in events[0]["reason"] and events[0]["to_step"] == 10
    ck = runs.find_checkpoint(run)
    assert ck.step == 30 and ck.state["guard"]["lr_scale"] == 0.5
    assert all(torch.isfinite(v).all() for v in ck.tensors("G").values())
    assert ck.state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(cfg.train.lr_g * 0.5)


def test_guard_gives_up_after_max_rollbacks(tmp_path, tiny_config):
    cfg = tiny_config(steps=200, guard=True, guard_max_rollbacks=2, log_every=5, checkpoint_every=10)
    run = _train_with_sabotage(cfg, tmp_path, _Sabotage(range(11, 200), "nan"))
    rows = [r for r in runs.read_metrics(run) if "event" in r]
    assert [r["event"] for r in rows] == ["rollback", "rollback", "gave-up"]
    last = runs.find_checkpoint(run)
    assert last.step == rows[-1]["to_step"] < rows[-1]["step"]  # ended on the last healthy state
    assert all(torch.isfinite(v).all() for v in last.tensors("G").values())  # nothing unhealthy was saved


def _train_with_sabotage(cfg, tmp_path, sabotage):
    """Insert the sabotage hook before the guard (train() puts extra hooks last, so patch the order)."""
    from ganstudio.training import hooks as hooks_mod

    orig = hooks_mod.Logger.__call__

    def logger_then_sabotage(self, t, event, info):
        sabotage(t, event, info)
        orig(self, t, event, info)

    hooks_mod.Logger.__call__ = logger_then_sabotage
    try:
        return train(cfg, out=tmp_path / "sab", progress=False)
    finally:
        hooks_mod.Logger.__call__ = orig


def test_conditional_run_generates_requested_class(tmp_path, tiny_config):
    import ganstudio
    from ganstudio.errors import UserError

    cfg = dataclasses.replace(tiny_config(steps=5), conditional=True)
    run = train(cfg, out=tmp_path, progress=False)
    pipe = ganstudio.load(run)
    assert pipe.num_classes == 10 and pipe.class_names[3] == "3"
    a = pipe(n=2, seed=1, classes="3").images
    b = pipe(n=2, seed=1, classes=7).images
    assert not torch.equal(a, b)
    blend = torch.zeros(10)
    blend[3] = blend[7] = 0.5
    c = pipe(n=2, seed=1, classes=blend).images  # soft class vectors work
    assert not torch.equal(c, a) and not torch.equal(c, b)
    with pytest.raises(UserError, match="unknown class 'boot'"):
        pipe(n=1, classes="boot")
    # the sample grid has one column per class: 60 of the 64 fixed samples, 10 columns x 6 rows
    from PIL import Image

    w, h = Image.open(run / "samples" / "latest.png").size
    assert w / h == pytest.approx(10 / 6, rel=0.05)
    plain = train(tiny_config(steps=5), out=tmp_path, progress=False)
    w, h = Image.open(plain / "samples" / "latest.png").size
    assert w == h  # unconditional: 8 x 8


def test_bf16_precision_runs_forward_passes_in_bfloat16_and_keeps_float32_state(tiny_config):
    from ganstudio import devices
    from ganstudio.training import fast_mlp

    # bf16 is native only with AVX-512 kernels (ATEN_CPU_CAPABILITY may hold them back) and bf16 instructions
    native = torch.backends.cpu.get_cpu_capability().startswith("AVX512") and bool(
        {"avx512_bf16", "amx_bf16"} & devices.cpu_flags()
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = Trainer(*prepare(tiny_config(precision="bf16")), torch.device("cpu"), None)
    assert native or any("emulated" in str(w.message) for w in caught)  # warned where bf16 is slow
    seen = []
    for m in (t.G, t.D):
        first = next(x for x in m.modules() if isinstance(x, torch.nn.Linear))
        first.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    out = t.train_step()
    assert not fast_mlp.supports(t.ctx) and not isinstance(t.step_fn, fast_mlp.FastStep)  # no fp32 fused step
    assert seen and all(d == torch.bfloat16 for d in seen)
    assert all(p.dtype == torch.float32 for p in t.g_params + t.d_params)
    assert out["d_loss"].dtype == torch.float32 and math.isfinite(float(out["d_loss"]))


def test_unknown_precision_is_a_clear_error(tiny_config):
    from ganstudio.errors import UserError

    with pytest.raises(UserError, match="unknown precision 'fp16'; choose one of fp32, bf16, auto"):
        tiny_config(precision="fp16")


def test_auto_precision_is_bf16_only_where_it_measured_faster(tiny_config, monkeypatch):
    """--precision auto: bf16 on AMX CPUs and GPUs, float32 elsewhere (on AVX512_BF16 without AMX bf16 measured
    slower: benchmarks/README.md); float32 keeps the fused seed step, bf16 runs the forward passes in bf16."""
    from ganstudio import devices
    from ganstudio.training import fast_mlp

    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "cpu_capability", lambda: "AVX512")  # the flags below decide
    for flags, kind, precision in (
        (set(), "emulated", "fp32"),
        ({"avx512_bf16"}, "avx512_bf16", "fp32"),
        ({"avx512_bf16", "amx_bf16"}, "amx", "bf16"),
    ):
        monkeypatch.setattr(devices, "cpu_flags", lambda flags=flags: frozenset(flags))
        assert (devices.bf16_kind(cpu), devices.auto_precision(cpu)) == (kind, precision)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # auto never picks an emulated bf16, so it never warns
            t = Trainer(*prepare(tiny_config(precision="auto")), cpu, None)
        assert t.precision == precision and t.ctx.bf16 == (precision == "bf16")
        assert isinstance(t.step_fn, fast_mlp.FastStep) == (precision == "fp32")
    monkeypatch.setattr(devices, "cpu_capability", lambda: "AVX2")  # ATen held below AVX-512: emulated
    assert (devices.bf16_kind(cpu), devices.auto_precision(cpu)) == ("emulated", "fp32")
    seen = []
    first = next(m for m in t.G.modules() if isinstance(m, torch.nn.Linear))
    first.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    t.train_step()
    assert seen == [torch.bfloat16]


def test_ada_probability_is_logged_and_rises_when_d_overfits(tmp_path, tiny_config):
    # ada_target -1.5: every r_t (in [-1, 1]) exceeds it, so p must climb by batch*interval/speed per adjustment.
    run = train(
        tiny_config(
            steps=8,
            log_every=4,
            augment=("translation",),
            ada=True,
            ada_interval=2,
            ada_target=-1.5,
            ada_speed_images=640,
        ),
        out=tmp_path,
        progress=False,
    )
    rows = runs.read_metrics(run)
    assert [r["step"] for r in rows] == [4, 8]
    assert 0 < rows[0]["ada_p"] < rows[1]["ada_p"] <= 1  # logged every line, rising
    final = float(runs.find_checkpoint(run).tensors("train_state")["augment.p"])
    assert final == pytest.approx(4 * 32 * 2 / 640)  # 4 adjustments of 64 images over 640


def test_channels_last_conv_training_checkpoints_and_samples(tmp_path, tiny_config):
    """--channels-last: NHWC weights train, save (contiguous safetensors) and load into a plain pipeline."""
    import ganstudio
    from ganstudio.cli import main
    from ganstudio.models.dcgan import DCGANConfig

    base = tiny_config(steps=4, channels_last=True)
    cfg = dataclasses.replace(
        base,
        model="dcgan",
        data=dataclasses.replace(base.data, resolution=16),
        model_config=DCGANConfig(resolution=16, channels=1, g_channels=4, d_channels=4),
    )
    t = Trainer(*prepare(cfg), torch.device("cpu"), None)
    conv = next(m for m in t.D.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    run = train(cfg, out=tmp_path, progress=False)
    assert all(math.isfinite(r["d_loss"]) for r in runs.read_metrics(run))
    assert ganstudio.load(run)(n=3, seed=1).images.shape[0] == 3
    assert main(["train", "--resume", str(run), "--steps", "6", "--quiet"]) == 0  # resumes in NHWC
    assert runs.find_checkpoint(run).step == 6


def test_a_run_asked_for_auto_precision_says_what_it_trains_in(tiny_config, capsys):
    """A preset may ask for --precision auto; the run's first line says what that became on this machine."""
    from ganstudio import devices
    from ganstudio.training.hooks import Logger

    cpu = torch.device("cpu")
    said = {}
    for precision in ("auto", "fp32"):
        t = Trainer(*prepare(tiny_config(precision=precision)), cpu, None)
        log = Logger(progress_bar=True)
        log(t, "start", {"total": 1})
        log(t, "end", {})
        said[precision] = capsys.readouterr().err
    want = f"precision auto: {devices.auto_precision(cpu)} (bf16 on this cpu: {devices.bf16_kind(cpu)})"
    assert want in said["auto"]
    assert "precision auto" not in said["fp32"]  # asked for explicitly: nothing to say
