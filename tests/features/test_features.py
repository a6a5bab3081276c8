"""Feature extractors: registry, folder-rcf (and its sensitivity), the classifier, ONNX models."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.data import DataConfig, load_dataset
from ganstudio.errors import UserError
from ganstudio.features import EXTRACTORS, get_extractor
from ganstudio.features.check import add_noise, drop_modes, gaussian_blur, sensitivity

# ---- a small synthetic folder with four modes (sub-folders) ------------------------------------


def _draw(kind: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bg = rng.uniform(0, 60, 3)
    fg = rng.uniform(120, 255, 3)
    if kind == "discs":
        cy, cx, r = rng.uniform(8, 24), rng.uniform(8, 24), rng.uniform(4, 9)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    elif kind == "squares":
        y0, x0, s = rng.integers(2, 16), rng.integers(2, 16), rng.integers(8, 15)
        mask = (yy >= y0) & (yy < y0 + s) & (xx >= x0) & (xx < x0 + s)
    elif kind == "stripes":
        a, f = rng.uniform(0, math.pi), rng.uniform(0.3, 0.7)
        mask = np.sin(f * (np.cos(a) * xx + np.sin(a) * yy) + rng.uniform(0, 6)) > 0
    else:  # "dots"
        mask = np.zeros((size, size), bool)
        for _ in range(rng.integers(6, 12)):
            cy, cx = rng.uniform(2, size - 2, 2)
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 < 3
    img = np.where(mask[..., None], fg, bg) + rng.normal(0, 4, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


MODES = ("discs", "dots", "squares", "stripes")


@pytest.fixture(scope="module")
def mode_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("modes")
    rng = np.random.default_rng(0)
    for kind in MODES:
        (root / kind).mkdir()
        for i in range(50):
            Image.fromarray(_draw(kind, rng)).save(root / kind / f"{i:03d}.png")
    return root


# ---- registry ----------------------------------------------------------------------------------


def test_registry_and_spec_errors():
    assert {"classifier", "folder-rcf", "onnx"} <= set(EXTRACTORS)
    with pytest.raises(UserError, match="unknown features"):
        get_extractor("inception")
    with pytest.raises(UserError, match="takes no argument"):
        get_extractor("folder-rcf:x")
    with pytest.raises(UserError, match="onnx:path"):
        get_extractor("onnx")
    with pytest.raises(UserError, match="not found"):
        get_extractor("onnx:/nonexistent/model.onnx")


@pytest.mark.numerics
def test_folder_rcf_is_fixed_and_shape_agnostic():
    a, b = get_extractor("folder-rcf"), get_extractor("folder-rcf")
    assert a.name == "folder-rcf" and a.id == b.id and len(a.id) == 12
    # the weights come from numpy's frozen legacy stream: the id is the same on every machine
    assert a.id == "ef8213aedae6", "folder-rcf changed: its numbers are no longer comparable; bump the name"
    g = torch.Generator().manual_seed(0)
    gray = torch.randint(0, 256, (5, 1, 20, 20), dtype=torch.uint8, generator=g)
    f1 = a.extract(gray).feats
    f3 = a.extract(gray.expand(-1, 3, -1, -1)).feats  # grey as RGB: same features
    assert f1.shape == (5, 288) and f1.dtype == np.float32 and a.extract(gray).probs is None
    np.testing.assert_allclose(f1, f3, atol=1e-5)
    np.testing.assert_allclose(a.extract(gray.float() / 255).feats, f1, atol=1e-5)  # uint8 == float [0, 1]


def test_damage_helpers():
    x = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(gaussian_blur(x, 0), x) and torch.equal(add_noise(x, 0), x)
    assert gaussian_blur(x, 2).float().std() < x.float().std()
    assert add_noise(x, 0.1).shape == x.shape and not torch.equal(add_noise(x, 0.1), x)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    kept = drop_modes(x, labels, 2 / 3, n=4)
    assert len(kept) == 4 and all(any(torch.equal(k, x[i]) for i in (0, 1)) for k in kept)


def test_folder_rcf_fid_rises_with_blur_noise_and_dropped_modes(mode_folder):
    """The issue's acceptance test for the unlabelled extractor, on a folder with four sub-folders."""
    ds = load_dataset(DataConfig(name=str(mode_folder), labels=True, resolution=32))
    assert ds.num_classes == 4 and len(ds) == 200
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    ref, held = perm[:100], perm[100:]
    res = sensitivity(
        get_extractor("folder-rcf"),
        ds.images[held],
        ds.labels[held],
        ds.images[ref],
        blur=(0, 1, 2),
        noise=(0, 0.1, 0.3),
        drop=(0, 0.25, 0.5, 0.75),
    )
    assert res["monotonic"] == {"blur": True, "noise": True, "drop": True}, res
    assert res["extractor"]["name"] == "folder-rcf"


# ---- the classifier (tiny, on 8x8 digits) -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    from ganstudio.features.classifier import train_classifier

    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("clf-cache")
        mp.setenv("GANSTUDIO_CACHE", str(cache))
        path = train_classifier(
            DataConfig(name="digits", resolution=8),
            epochs=6,
            widths=(8, 16),
            hidden=32,
            batch_size=32,
            log=lambda s: None,
        )
    return cache, path


def test_classifier_is_cached_with_accuracy_and_data_hash(tiny_classifier, monkeypatch):
    from ganstudio.features.classifier import find_classifier, load_classifier

    cache, path = tiny_classifier
    monkeypatch.setenv("GANSTUDIO_CACHE", str(cache))
    assert path.parent == cache / "features" and path.name.startswith("classifier-digits-")
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "model.safetensors"]
    meta = json.loads((path / "meta.json").read_text())
    assert meta["accuracy"] > 0.8 and meta["accuracy_split"] == "test"  # 6 epochs of a tiny CNN
    assert path.name.endswith(meta["data_hash"][:12]) and meta["config"]["widths"] == [8, 16]
    assert find_classifier("digits") == path
    ext = get_extractor("classifier", DataConfig(name="digits", resolution=8))
    assert ext.name == "classifier-digits" and len(ext.id) == 12 and ext.num_classes == 10
    ds = load_dataset(DataConfig(name="digits", split="test"))
    f = ext.extract(ds.images[:20])
    assert f.feats.shape == (20, 32) and f.probs.shape == (20, 10)
    np.testing.assert_allclose(f.probs.sum(1), 1, atol=1e-5)
    assert load_classifier(path=path).id == ext.id
    # a run trained at another resolution gets its images resized to the classifier's input
    assert ext.extract(torch.rand(3, 1, 28, 28)).feats.shape == (3, 32)


def test_missing_classifier_says_how_to_train_one(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path))
    with pytest.raises(UserError, match="ganstudio features train --data digits"):
        get_extractor("classifier", DataConfig(name="digits"))
    # auto falls back to folder-rcf, saying so
    notes = []
    assert get_extractor("auto", DataConfig(name="digits"), log=notes.append).name == "folder-rcf"
    assert "features train --data digits" in notes[0]


# ---- ONNX ----------------------------------------------------------------------------------------


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.head = torch.nn.Linear(6, 4)

    def forward(self, x):
        f = torch.relu(self.conv(x)).mean((2, 3))
        return f, self.head(f)


def _export(net, path, batch=None):
    x = torch.rand(batch or 2, 3, 16, 16)
    kw = dict(input_names=["images"], output_names=["features", "logits"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # the TorchScript exporter is ~20x faster than the dynamo one
            torch.onnx.export(
                net, (x,), str(path), dynamo=False, dynamic_axes=None if batch else {"images": {0: "batch"}}, **kw
            )
        except (TypeError, RuntimeError):  # a torch without it
            torch.onnx.export(
                net,
                (x,),
                str(path),
                dynamo=True,
                dynamic_shapes=None if batch else ({0: torch.export.Dim("batch")},),
                **kw,
            )


@pytest.mark.numerics
@pytest.mark.parametrize("batch", [None, 4])
def test_onnx_extractor_matches_torch(tmp_path, batch):
    pytest.importorskip("onnxruntime")
    net = _Net().eval()
    path = tmp_path / "my-net.onnx"
    _export(net, path, batch)
    ext = get_extractor(f"onnx:{path}")
    assert ext.name == "onnx-my-net" and len(ext.id) == 12 and ext.input_size == (16, 16)
    x = torch.rand(10, 1, 20, 20)  # grey, other size: converted to the model's 3 x 16 x 16
    out = ext.extract(x)
    from ganstudio.features import fit_images

    with torch.no_grad():
        f, logits = net(fit_images(x, 3, (16, 16)))
    np.testing.assert_allclose(out.feats, f.numpy(), atol=1e-5)
    np.testing.assert_allclose(out.probs, torch.softmax(logits, 1).numpy(), atol=1e-5)
    assert ext.num_classes == 4 and ext.describe()["id"] == ext.id
