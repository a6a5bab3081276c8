"""Shared fixtures: isolated data/cache folders, a tiny, fast model configuration, and a tiny pix2pix run.

Tests take what they share as fixtures (``tiny_config``, ``tiny_p2p``, ``run``, ...), never by importing
this file. A subprocess that needs a config gets it as JSON (``cfg.to_dict()``, rebuilt with
``RunConfig.from_dict``). A parametrize list computed from the tiny config at collection time (fixtures do
not exist yet then) uses ``@pytest.mark.tiny_parametrize(argnames, make)``: ``make(tiny_config)`` gives the
values.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

# Tests never touch the network or the user's cache.
os.environ.setdefault("GANSTUDIO_OFFLINE", "1")
torch.set_num_threads(1)  # tiny test models: one thread avoids oversubscription


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny test models: one thread beats two (OpenMP synchronisation costs more than the work, and far
    more on a shared machine). Training with ``threads=N`` changes it, so every module starts at 1."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def fast_eval(tmp_path_factory, request):
    """For a module of evaluation tests, which opts in with ``pytestmark = pytest.mark.usefixtures("fast_eval")``
    and names it in its module fixtures that evaluate: 10 KID subsets, and the module's own GANSTUDIO_CACHE (a
    new folder, yielded; never shared with another module) while its module fixtures run. The tests themselves
    see ``_isolated_cache``'s per-session cache unless they use ``fast_eval_cache`` too. (One thread: ``_one_thread``.)"""
    from ganstudio import evaluation

    name = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(evaluation.builtin, "KID_SUBSETS", 10)
        cache = tmp_path_factory.mktemp(f"{name}-cache")
        mp.setenv("GANSTUDIO_CACHE", str(cache))
        yield cache


@pytest.fixture
def fast_eval_cache(fast_eval, monkeypatch):
    """``fast_eval``'s module cache for the tests too, over ``_isolated_cache``'s per-session one."""
    monkeypatch.setenv("GANSTUDIO_CACHE", str(fast_eval))


TINY_MLP = {"g_hidden": [32, 64], "d_hidden": [64, 32]}


def _tiny_config(steps: int = 20, **train):
    """An 8x8 digits run with a small MLP: a few milliseconds per step."""
    from ganstudio.data import DataConfig
    from ganstudio.models.mlp import MLPConfig
    from ganstudio.training import RunConfig, TrainConfig

    t = dict(steps=steps, batch_size=32, threads=1, log_every=5, checkpoint_every=10, device="cpu", seed=3)
    t.update(train)
    return RunConfig(
        model="mlp",
        model_config=MLPConfig(g_hidden=(32, 64), d_hidden=(64, 32), resolution=8),
        data=DataConfig(name="digits", resolution=8),
        train=TrainConfig(**t),
    )


@pytest.fixture(scope="session")
def tiny_config():
    """The tiny config factory: ``tiny_config(steps=20, **train)`` (train fields override the defaults)."""
    return _tiny_config


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tiny_parametrize(argnames, make): parametrize with make(tiny_config), called at collection"
    )


def pytest_generate_tests(metafunc):
    """``@pytest.mark.tiny_parametrize(argnames, make)``: ``pytest.mark.parametrize(argnames, make(tiny_config))``
    for lists derived from the tiny config (e.g. the components a trainer checkpoints), which must exist when
    tests are collected, before any fixture does."""
    for mark in metafunc.definition.iter_markers("tiny_parametrize"):
        argnames, make = mark.args
        metafunc.parametrize(argnames, make(_tiny_config))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained tiny run, one per test module (modules write into it: generated/, bred/, taste/)."""
    import ganstudio

    return ganstudio.train(_tiny_config(steps=30, threads=1), out=tmp_path_factory.mktemp("runs"), progress=False)


@pytest.fixture(scope="module")
def pipe(run):
    import ganstudio

    return ganstudio.load(run)


@pytest.fixture
def idx_dir(tmp_path, monkeypatch):
    """A fake MNIST in $GANSTUDIO_DATA/mnist: 128 train / 32 test 28x28 images with labels."""
    from ganstudio.data.idx import write_idx

    root = tmp_path / "data"
    d = root / "mnist"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 128), ("t10k", 32)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        imgs = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # a bar whose position encodes the class
            imgs[i, 4:24, 2 + 2 * c : 4 + 2 * c] = 255
        write_idx(d / f"{split}-images-idx3-ubyte.gz", imgs)
        write_idx(d / f"{split}-labels-idx1-ubyte", labels)  # one raw, one gzipped: both must work
    monkeypatch.setenv("GANSTUDIO_DATA", str(root))
    return d


# ---- pix2pix: shared by tests/data, tests/training, tests/evaluation and tests/test_translate.py ----------


def _tiny_p2p(steps: int = 20, model: dict | None = None, pairs: str = "sketch", **tr):
    """An 8x8 sketch -> digit pix2pix run with 8-channel U-Net and PatchGAN."""
    from ganstudio.data import DataConfig
    from ganstudio.models.pix2pix import Pix2PixConfig
    from ganstudio.training import RunConfig, TrainConfig

    t = dict(
        steps=steps,
        batch_size=16,
        schedule="pix2pix",
        threads=1,
        device="cpu",
        seed=3,
        log_every=5,
        checkpoint_every=10,
        lr_g=2e-4,
        lr_d=2e-4,
        beta1=0.5,
    )
    t.update(tr)
    return RunConfig(
        model="pix2pix",
        model_config=Pix2PixConfig(g_channels=8, d_channels=8, **(model or {})),
        data=DataConfig(name="digits", resolution=8, pairs=pairs, limit=96),
        train=TrainConfig(**t),
    )


@pytest.fixture(scope="session")
def tiny_p2p():
    """The tiny pix2pix config factory: ``tiny_p2p(steps=20, model=None, pairs="sketch", **train)``."""
    return _tiny_p2p


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside the per-test cache isolation above
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield


@pytest.fixture(scope="module")
def pix2pix_resumed(tmp_path_factory, cache_env):
    """40 steps in one go, and 25 + resume to 40 (with EMA and paired flips switched on):
    (the one-go run folder, its last checkpoint, the resumed run's last checkpoint)."""
    import dataclasses

    from ganstudio import runs
    from ganstudio.training import train

    root = tmp_path_factory.mktemp("p2p-resume")

    def cfg(steps):
        c = _tiny_p2p(steps, ema_beta=0.9)
        return dataclasses.replace(c, data=dataclasses.replace(c.data, flip=True))

    one_go = train(cfg(40), out=root / "a", progress=False)
    split = train(cfg(25), out=root / "b", progress=False)
    train(resume=split, overrides={"steps": 40}, progress=False)
    return one_go, runs.find_checkpoint(one_go), runs.find_checkpoint(split)


def _boxes(n: int, side: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 1, side, side): a bright filled rectangle on black per image."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 1, side, side), np.uint8)
    for i in range(n):
        y0, x0 = rng.integers(3, side // 3, 2)
        y1, x1 = rng.integers(2 * side // 3, side - 3, 2)
        out[i, 0, y0:y1, x0:x1] = rng.integers(150, 256)
    return torch.from_numpy(out)


@pytest.fixture(scope="session")
def boxes():
    """``boxes(n, side=32, seed=0)``: uint8 (n, 1, side, side) images, a bright filled rectangle on black each."""
    return _boxes


@pytest.fixture(scope="session")
def make_rgba_folder():
    """``make(root, n, seed) -> root``: n 16 px transparent PNGs (0.png ...), each a coloured disc at a seeded
    place on fully transparent pixels: a folder of cut-out pictures for the RGBA tests."""

    def make(root, n: int, seed: int):
        rng = np.random.default_rng(seed)
        for i in range(n):
            im = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
            x, y = rng.integers(0, 6, 2)
            ImageDraw.Draw(im).ellipse((x, y, x + 9, y + 9), fill=(*map(int, rng.integers(0, 256, 3)), 255))
            im.save(root / f"{i}.png")
        return root

    return make


def _move(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


@pytest.fixture(scope="session")
def move():
    """``move(x, dy, dx)``: pictures (..., H, W) moved by (dy, dx) px, the uncovered band filled with 0 (the
    background of the near-copy tests' pictures): the made copies that the copy check must catch."""
    return _move


TONES_SR = 16000
A3_A4 = {"A3": 220.0, "A4": 440.0}


def _write_tones(root, pitches: dict[str, float] | None = None, per_class: int = 4):
    """A folder of sounds in class sub-folders: per pitch name, ``per_class`` 0.25 s sine tones at 16 kHz, each
    slightly sharper than the last (``f * (1 + i / 200)``)."""
    from ganstudio.media_audio import write_wav

    t = np.arange(TONES_SR // 4) / TONES_SR
    for name, f in (pitches or A3_A4).items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            write_wav(root / name / f"{i}.wav", 0.5 * np.sin(2 * np.pi * f * (1 + i / 200) * t), TONES_SR)
    return root


@pytest.fixture(scope="session")
def write_tones():
    """``write_tones(root, pitches={"A3": 220.0, "A4": 440.0}, per_class=4) -> root``: a labelled folder of
    0.25 s sine tones (one sub-folder per pitch name)."""
    return _write_tones


@pytest.fixture(scope="session")
def tiny_sound_run(tmp_path_factory):
    """``tiny_sound_run(root=None, out=None, channels=None, **train) -> run folder``: two steps of a conditional
    specgan (8 channels, 32 mel bins x 16 frames = 0.25 s) on the tone folder ``root`` (None: a new one of
    ``write_tones``' defaults), trained into ``out`` (None: a new folder); ``channels`` 1 is magnitude only
    (Griffin-Lim), None magnitude + instantaneous frequency; train fields override the defaults."""
    from ganstudio.config import RunConfig
    from ganstudio.training import train as train_run

    def make(root=None, out=None, channels: int | None = None, **train):
        root = _write_tones(tmp_path_factory.mktemp("notes")) if root is None else root
        t = {"steps": 2, "batch_size": 4, "threads": 1, "seed": 0, "checkpoint_every": 2, **train}
        data = {"name": str(root), "labels": True, "height": 32, "resolution": 16, "channels": channels}
        cfg = RunConfig.from_dict(
            {
                "model": "specgan",
                "conditional": True,
                "data": data,
                "model_config": {"g_channels": 8, "d_channels": 8},
                "train": t,
            }
        )
        return train_run(cfg, out=tmp_path_factory.mktemp("runs") if out is None else out, progress=False)

    return make


# ---- runs that read text: shared by tests/studio, tests/creative, tests/training, tests/evaluation, tests/models ----

SQUARE_COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220), "yellow": (230, 210, 40)}
TINY_TEXT_MODEL = {"z_dim": 8, "g_channels": 4, "d_channels": 4, "max_channels": 16, "decoder_channels": 4}
TINY_TEXT_MODEL |= {"text_dim": 64, "text_model": "words-64", "class_input": True}


def _captioned_squares(root, n: int = 16, boxed: bool = True):
    """n 16 px coloured squares with sidecar captions (red, green, blue, yellow in turn). ``boxed``: a square
    pasted on white at a varying place, ``00.png`` ..., captioned "a red square" / "red box" (two lines);
    otherwise a whole picture of the colour, ``0.png`` ..., captioned "a red square"."""
    for i in range(n):
        name, rgb = list(SQUARE_COLOURS.items())[i % 4]
        if boxed:
            im = Image.new("RGB", (16, 16), (255, 255, 255))
            im.paste(rgb, (2 + i % 3, 2 + i % 5, 12 + i % 3, 12 + i % 4))
            im.save(root / f"{i:02d}.png")
            (root / f"{i:02d}.txt").write_text(f"a {name} square\n{name} box")
        else:
            Image.new("RGB", (16, 16), rgb).save(root / f"{i}.png")
            (root / f"{i}.txt").write_text(f"a {name} square")
    return root


def _tiny_text_config(data, model: dict | None = None, **train):
    """A lightweight run reading text with the ``words-64`` text model (no download) on the folder ``data``."""
    from ganstudio.config import RunConfig

    t = {"steps": 2, "batch_size": 8, "threads": 1, "device": "cpu", "seed": 5, "checkpoint_every": 2, **train}
    m = {**TINY_TEXT_MODEL, **(model or {})}
    return RunConfig.from_dict(
        {
            "model": "lightweight",
            "model_config": {k: v for k, v in m.items() if v is not None},
            "data": {"name": str(data), "resolution": 16},
            "train": {k: v for k, v in t.items() if v is not None},
        }
    )


@pytest.fixture(scope="session")
def captioned_squares():
    """``captioned_squares(root, n=16, boxed=True) -> root``: a folder of captioned coloured squares at 16 px."""
    return _captioned_squares


@pytest.fixture(scope="session")
def tiny_text_config():
    """``tiny_text_config(data, model=None, **train) -> RunConfig``: a tiny lightweight run that reads text
    (``words-64``, class_input) on ``data``, 2 steps of 8, seed 5, a checkpoint at step 2; model and train
    fields override the defaults, and a field given as None is left out (its default)."""
    return _tiny_text_config


@pytest.fixture(scope="session")
def tiny_text_run(tmp_path_factory):
    """``tiny_text_run(data=None, out=None, model=None, **train) -> run folder``: ``tiny_text_config`` trained
    on ``data`` (None: a new folder of 16 boxed ``captioned_squares``) into ``out`` (None: a new folder)."""
    from ganstudio.training import train as train_run

    def make(data=None, out=None, model: dict | None = None, **train):
        data = _captioned_squares(tmp_path_factory.mktemp("captioned")) if data is None else data
        cfg = _tiny_text_config(data, model, **train)
        return train_run(cfg, out=tmp_path_factory.mktemp("runs") if out is None else out, progress=False)

    return make


# ---- emoji: a short excerpt of Unicode's emoji-test.txt keeps the renders to a handful of real glyphs ------

EMOJI_EXCERPT = """\
# group: Smileys & Emotion
# subgroup: face-smiling
1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face
263A FE0F                                              ; fully-qualified     # ☺️ E0.6 smiling face
263A                                                   ; unqualified         # ☺ E0.6 smiling face
# group: People & Body
# subgroup: hand-fingers-open
1F44B                                                  ; fully-qualified     # 👋 E0.6 waving hand
1F44B 1F3FD                                            ; fully-qualified     # 👋🏽 E1.0 waving hand: medium skin tone
# group: Component
# subgroup: skin-tone
1F3FB                                                  ; component           # 🏻 E1.0 light skin tone
# group: Animals & Nature
# subgroup: animal-mammal
1F405                                                  ; fully-qualified     # 🐅 E1.0 tiger
# group: Food & Drink
# subgroup: food-fruit
1F34E                                                  ; fully-qualified     # 🍎 E0.6 red apple
1F34C                                                  ; fully-qualified     # 🍌 E0.6 banana
# subgroup: food-vegetable
1F955                                                  ; fully-qualified     # 🥕 E1.0 carrot
# group: Flags
# subgroup: country-flag
1F1EB 1F1F7                                            ; fully-qualified     # 🇫🇷 E2.0 flag: France
"""


@pytest.fixture
def emoji_list(tmp_path, monkeypatch):
    """``use(text)``: the emoji source reads ``text`` (emoji-test.txt's format) instead of Debian's list;
    returns the parsed emoji. Skips when the real font (Noto Color Emoji) is not installed."""
    from ganstudio.data import emoji

    if emoji.font_path() is None:
        pytest.skip("Noto Color Emoji is not installed")

    def use(text: str):
        path = tmp_path / "emoji-test.txt"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("GANSTUDIO_EMOJI_LIST", str(path))
        return emoji.parse(text)

    return use


@pytest.fixture
def emoji_excerpt(emoji_list):
    """Nine emoji in five groups (two Food & Drink subgroups, a skin-tone variant, a flag): ``EMOJI_EXCERPT``."""
    return emoji_list(EMOJI_EXCERPT)
