"""The training loop: bit-exact resume of every checkpointed component, the run folder contract, stop
rules, seeded pipelines, crash-safe checkpoints (kill -9, Ctrl-C), init_from, and every preset."""

import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganstudio
from ganstudio import runs
from ganstudio.errors import UserError
from ganstudio.training import Trainer, prepare, train

# The seed's plain training, and one with every optional piece of state switched on (EMA, adaptive
# augmentation and its RNG, lazy R1, LeCam's anchors, the divergence guard, flips, alternating schedule with n_dis).
VARIANTS = {
    "seed": {},
    "full": dict(
        ema_beta=0.9,
        augment=("color", "translation", "cutout"),
        ada=True,
        ada_interval=2,
        ada_target=-1.5,
        ada_speed_images=500,
        r1_gamma=0.5,
        r1_every=3,
        lecam=0.3,
        guard=True,
        schedule="alternating",
        n_dis=2,
    ),
}


def _config(tiny_config, variant: str, steps: int):
    cfg = tiny_config(steps=steps, **VARIANTS[variant])
    if variant == "full":
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, flip=True))
    return cfg


def _state_components(tiny_config) -> list[tuple[str, str]]:
    out = []
    for v in VARIANTS:
        cfg, ds = prepare(_config(tiny_config, v, 1))
        out += [(v, name) for name in Trainer(cfg, ds, torch.device("cpu"), None).stateful]
    return out


@pytest.fixture(scope="module")
def resumed_pairs(tmp_path_factory, tiny_config):
    """For each variant, 40 steps in one go, and 25 + resume for 15 more."""
    pairs = {}
    for v in VARIANTS:
        root = tmp_path_factory.mktemp(f"resume-{v}")
        one_go = train(_config(tiny_config, v, 40), out=root / "a", progress=False)
        split = train(_config(tiny_config, v, 25), out=root / "b", progress=False)
        train(resume=split, overrides={"steps": 40}, progress=False)
        pairs[v] = runs.find_checkpoint(one_go), runs.find_checkpoint(split)
    return pairs


@pytest.mark.tiny_parametrize("variant, component", _state_components)  # conftest: called with tiny_config
def test_resume_equals_uninterrupted_training(resumed_pairs, variant, component):
    """Every piece of checkpointed state (weights, optimisers, RNGs, data order, EMA, augmentation
    probability, guard-adjusted rates, counters) matches bitwise."""
    a, b = resumed_pairs[variant]
    assert a.step == b.step == 40
    if component in ("G", "D", "G_ema"):
        ta, tb = a.tensors(component), b.tensors(component)
    else:
        ta = {k: v for k, v in a.tensors("train_state").items() if k.startswith(component + ".")}
        tb = {k: v for k, v in b.tensors("train_state").items() if k.startswith(component + ".")}
    assert ta or a.state.get(component), f"{component} saved nothing"
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), f"{component}.{k} differs after resume"
    assert a.state.get(component) == b.state.get(component)
    if variant == "full" and component == "augment":
        assert float(ta["augment.p"]) > 0  # ADA really moved p, so the test covers a changing value


@pytest.mark.parametrize(("seconds", "expected"), [(0, [2, 4, 6, 8, 10, 12]), (3600, [2, 12])])
def test_epoch_grids_are_written_at_most_every_preview_seconds(tmp_path, tiny_config, seconds, expected):
    """64 pictures in batches of 32: an epoch every 2 steps. With preview_seconds 0 every epoch writes a grid (the
    seed's rule); with an hour, a run of a second writes the first epoch's and the last step's only."""
    cfg = tiny_config(steps=12, preview_seconds=seconds)
    run = train(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, limit=64)), out=tmp_path, progress=False)
    written = sorted(int(p.stem.split("-")[1]) for p in (run / "samples").glob("step-*.png"))
    assert written == expected and (run / "samples" / "latest.png").is_file()


def test_run_folder_contract(tmp_path, tiny_config):
    run = train(tiny_config(steps=20, sample_every=10), out=tmp_path, progress=False)
    assert run.name == "00001-digits".replace("digits", "mlp-digits")
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"] == "mlp" and cfg["model_config"]["resolution"] == 8 and cfg["ganstudio_version"]
    rows = runs.read_metrics(run)
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "images_per_s", "wall_s", "epoch"):
        assert key in rows[-1]
    assert (run / "samples" / "latest.png").is_file() and (run / "samples" / "step-000000010.png").is_file()
    ckpt = runs.find_checkpoint(run)
    assert ckpt.step == 20 and {p.name for p in ckpt.path.iterdir()} == {
        "G.safetensors",
        "D.safetensors",
        "train_state.safetensors",
        "state.json",
    }
    assert train(tiny_config(steps=1), out=tmp_path, progress=False).name.startswith("00002-")


def test_resume_refuses_conflicting_options(tmp_path, tiny_config):
    run = train(tiny_config(steps=5), out=tmp_path, progress=False)
    with pytest.raises(UserError, match=r"train.batch_size: run has 32, given 64"):
        train(resume=run, overrides={"batch_size": 64, "steps": 10}, progress=False)
    with pytest.raises(UserError, match="lr_g"):
        train(resume=run, overrides={"lr_g": 0.5}, progress=False)
    # stopping rules may change
    train(resume=run, overrides={"steps": 8}, progress=False)
    assert runs.find_checkpoint(run).step == 8


def test_epochs_and_minutes_stop_rules(tmp_path, tiny_config):
    cfg = tiny_config(steps=None, epochs=1)
    run = train(cfg, out=tmp_path, progress=False)
    assert runs.find_checkpoint(run).step == 1437 // 32  # one epoch of digits' train split, last partial dropped
    t0 = time.monotonic()
    run = train(tiny_config(steps=None, minutes=0.02), out=tmp_path, progress=False)
    assert time.monotonic() - t0 < 10 and runs.find_checkpoint(run).step > 0


def test_pipeline_is_seeded_and_reproducible(tmp_path, tiny_config):
    run = train(tiny_config(steps=10), out=tmp_path, progress=False)
    pipe = ganstudio.load(run)
    a, b = pipe(n=6, seed=7), pipe(n=6, seed=7)
    assert a.images.shape == (6, 1, 8, 8) and a.images.min() >= 0 and a.images.max() <= 1
    assert torch.equal(a.images, b.images)
    # image i of seed s is image 0 of seed s+i
    assert torch.allclose(pipe(n=1, seed=10).images[0], a.images[3], atol=1e-5)  # BLAS may round a lone row differently
    assert not torch.equal(pipe(n=6, seed=8).images, a.images)
    assert len(a.pil) == 6 and a.pil[0].size == (8, 8)
    # truncation 0 collapses every image to the same one
    t = pipe(n=3, seed=1, truncation=1e-6).images
    assert torch.allclose(t[0], t[1], atol=1e-4)


def _spawn_training(cfg, run_root: Path) -> subprocess.Popen:
    """Train ``cfg`` (handed over as JSON) into ``run_root`` in a child process."""
    code = f"""
import json
from ganstudio.config import RunConfig
from ganstudio.training import train
train(RunConfig.from_dict(json.loads({json.dumps(cfg.to_dict())!r})), out={str(run_root)!r}, progress=False)
"""
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_checkpoint(root: Path, timeout: float = 60) -> Path:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for run in root.glob("0*"):
            if runs.list_checkpoints(run):
                return run
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.parametrize("extra_delay", [0.0, 0.13, 0.29])
def test_kill_9_during_checkpoint_writes_then_resume(tmp_path, tiny_config, extra_delay):
    """Checkpoint every step so that the kill lands inside (or between) writes; resume must always work."""
    p = _spawn_training(tiny_config(steps=100000, checkpoint_every=1, log_every=1), tmp_path)
    try:
        run = _wait_for_checkpoint(tmp_path)
        time.sleep(0.2 + extra_delay)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    last = runs.find_checkpoint(run)
    assert last is not None
    out = train(resume=run, overrides={"steps": last.step + 3, "checkpoint_every": 1000}, progress=False)
    assert runs.find_checkpoint(out).step == last.step + 3
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".tmp-")]


def test_resume_skips_half_written_checkpoint(tmp_path, tiny_config):
    run = train(tiny_config(steps=10), out=tmp_path, progress=False)
    ck = run / "checkpoints"
    (ck / ".tmp-000000011-x").mkdir()
    (ck / ".tmp-000000011-x" / "G.safetensors").write_bytes(b"half")
    (ck / "latest").write_text("000000099\n")  # points at a folder that never got renamed into place
    assert runs.find_checkpoint(run).step == 10
    train(resume=run, overrides={"steps": 12}, progress=False)
    assert runs.find_checkpoint(run).step == 12


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, tiny_config):
    p = _spawn_training(tiny_config(steps=100000, checkpoint_every=100000, log_every=1), tmp_path)
    try:
        t0 = time.monotonic()
        while not list(tmp_path.glob("0*/metrics.jsonl")) and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, p.stderr.read().decode()
    run = next(tmp_path.glob("0*"))
    ck = runs.find_checkpoint(run)
    assert ck is not None and ck.step > 0
    assert runs.read_metrics(run)[-1]["step"] == ck.step


def test_init_from_copies_weights(tmp_path, tiny_config):
    import dataclasses

    src = train(tiny_config(steps=10), out=tmp_path, progress=False)
    cfg = dataclasses.replace(tiny_config(steps=1, lr_g=1e-12, lr_d=1e-12), init_from=str(src))
    dst = train(cfg, out=tmp_path, progress=False)
    a, b = runs.find_checkpoint(src).tensors("G"), runs.find_checkpoint(dst).tensors("G")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


PICTURE_PRESETS = [
    "seed",
    "seed-case-study",
    "fashion-mnist",
    "folder-64",
    "folder-64-dcgan",
    "emoji-64",
    "emoji-text",
    "emoji-text-64",
    "folder-128-small-data",
    "folder-128-resnet",
    "pix2pix",
]
SOUND_PRESETS = ["gm-notes", "spoken-digits"]  # below, on a made folder of sound files


@pytest.mark.parametrize("name", PICTURE_PRESETS)
def test_every_preset_resolves_builds_and_round_trips(name):
    """The presets table is data: a typo in a field name or value would only surface when a user picks it.
    Each resolves against real data (sklearn's digits, resized to the preset's size, 28 px where the preset
    names none), builds its G and D, and survives the JSON round trip that run folders rely on."""
    from ganstudio.config import RunConfig
    from ganstudio.models import build
    from ganstudio.training.options import build_run_config
    from ganstudio.training.presets import PRESETS

    assert set(PRESETS) == {*PICTURE_PRESETS, *SOUND_PRESETS}, "a preset was added or removed: list it above"
    cfg, ds = prepare(build_run_config(data="digits", preset=name, limit=64))
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))).to_dict() == cfg.to_dict()
    G, D = build(cfg.model, cfg.model_config)
    assert ds.images.shape[-1] == cfg.model_config.resolution == (cfg.data.resolution or 28)
    assert sum(p.numel() for p in G.parameters()) > 0 and sum(p.numel() for p in D.parameters()) > 0


@pytest.mark.parametrize("name", SOUND_PRESETS)
def test_every_sound_preset_resolves_builds_and_round_trips(name, tmp_path):
    """The sound presets on a made folder of 1 s tones, one sub-folder per class (as a user's folder would be):
    they resolve, build, survive the JSON round trip, and the data are spectrograms G's output shape matches."""
    import numpy as np
    import soundfile as sf

    from ganstudio.config import RunConfig
    from ganstudio.models import build
    from ganstudio.training.options import build_run_config

    t = np.arange(16000) / 16000
    for label, f0 in (("low", 220.0), ("high", 440.0)):
        (tmp_path / label).mkdir()
        for i in range(4):
            tone = 0.5 * np.sin(2 * np.pi * f0 * (1 + 0.01 * i) * t)
            sf.write(tmp_path / label / f"note{i}.wav", tone.astype("float32"), 16000)
    cfg, ds = prepare(build_run_config(data=str(tmp_path), preset=name, train={"batch_size": 4}))
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))).to_dict() == cfg.to_dict()
    assert cfg.model_config.num_classes == 2 and len(ds) == 8
    G, D = build(cfg.model, cfg.model_config)
    with torch.no_grad():
        fake = G.eval()(torch.randn(2, cfg.model_config.z_dim), torch.eye(2))
        logits = D.eval()(fake, torch.eye(2))
    assert fake.shape[1:] == ds.images.shape[1:] and logits.shape == (2,)
