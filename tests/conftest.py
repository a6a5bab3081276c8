"""Shared fixtures: isolated data/cache folders and a tiny, fast model configuration."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

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


TINY_MLP = {"g_hidden": [32, 64], "d_hidden": [64, 32]}


def tiny_config(steps: int = 20, **train):
    """An 8x8 digits run with a small MLP: a few milliseconds per step."""
    from ganstudio.data import DataConfig
    from ganstudio.models.mlp import MLPConfig
    from ganstudio.training import RunConfig, TrainConfig

    t = dict(steps=steps, batch_size=32, threads=1, log_every=5, checkpoint_every=10, device="cpu", seed=3)
    t.update(train)
    return RunConfig(model="mlp", model_config=MLPConfig(g_hidden=(32, 64), d_hidden=(64, 32), resolution=8),
                     data=DataConfig(name="digits", resolution=8), train=TrainConfig(**t))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained tiny run, one per test module (modules write into it: generated/, bred/, taste/)."""
    import ganstudio

    return ganstudio.train(tiny_config(steps=30, threads=1), out=tmp_path_factory.mktemp("runs"), progress=False)


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
            imgs[i, 4:24, 2 + 2 * c: 4 + 2 * c] = 255
        write_idx(d / f"{split}-images-idx3-ubyte.gz", imgs)
        write_idx(d / f"{split}-labels-idx1-ubyte", labels)  # one raw, one gzipped: both must work
    monkeypatch.setenv("GANSTUDIO_DATA", str(root))
    return d
