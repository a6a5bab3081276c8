"""ONNX export: parity with PyTorch through onnxruntime, dynamic batch, conditional inputs, EMA, CLI errors."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import ganstudio
from ganstudio import runs
from ganstudio.cli import main
from ganstudio.export import export_onnx, read_metadata
from ganstudio.training import train

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def _run_onnx(path, z, y=None):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"z": z.numpy()}
    if y is not None:
        feeds["y"] = y.numpy()
    return sess, torch.from_numpy(sess.run(["images"], feeds)[0])


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory, tiny_config):
    return train(tiny_config(steps=6), out=tmp_path_factory.mktemp("runs"), progress=False)


def test_cli_export_matches_pytorch_for_any_batch(plain_run, tmp_path, capsys):
    out = tmp_path / "g.onnx"
    assert main(["export", str(plain_run), "--format", "onnx", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    pipe = ganstudio.load(plain_run)
    for n in (1, 3, 64):  # dynamic batch
        z = pipe.latents(n, seed=11)
        sess, got = _run_onnx(out, z)
        ref = pipe.generate(z)
        assert got.shape == (n, 1, 8, 8)
        assert float((got - ref).abs().max()) < 1e-4
        assert float(got.min()) >= 0 and float(got.max()) <= 1
    assert [i.name for i in sess.get_inputs()] == ["z"] and sess.get_inputs()[0].shape == ["batch", 100]
    assert sess.get_outputs()[0].shape == ["batch", 1, 8, 8]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["z_dim"] == 100 and meta["image_shape"] == [1, 8, 8] and meta["num_classes"] == 0
    assert meta["step"] == 6 and meta["parity_max_abs_diff"] < 1e-4
    assert read_metadata(out)["z_dim"] == 100


def test_conditional_run_exports_class_input(tmp_path, tiny_config):
    cfg = tiny_config(steps=4)
    cfg = dataclasses.replace(cfg, model_config=dataclasses.replace(cfg.model_config, num_classes=10))
    run = train(cfg, out=tmp_path, progress=False)
    res = export_onnx(run)  # default location inside the run folder
    assert res.path == run / "export" / "generator.onnx" and res.path.is_file()
    assert res.meta["num_classes"] == 10 and res.meta["class_names"][3] == "3"
    pipe = ganstudio.load(run)
    z = pipe.latents(5, seed=2)
    y = pipe.class_weights(7, 5)
    sess, got = _run_onnx(res.path, z, y)
    assert [i.name for i in sess.get_inputs()] == ["z", "y"]
    assert float((got - pipe.generate(z, y)).abs().max()) < 1e-4
    # the class input is live: another class gives other images
    _, other = _run_onnx(res.path, z, pipe.class_weights(2, 5))
    assert float((other - got).abs().max()) > 1e-3


def test_export_uses_the_ema_generator_when_present(plain_run, tmp_path):
    """A checkpoint holding G_ema exports G_ema (as pipeline.load samples it), not the raw G."""
    ckpt = runs.find_checkpoint(plain_run)
    g = ckpt.tensors("G")
    ema = {k: torch.zeros_like(v) for k, v in g.items()}  # zero net: tanh(0) = 0 -> every pixel 0.5
    copy = tmp_path / plain_run.name
    shutil.copytree(plain_run, copy)
    save_file(ema, str(runs.find_checkpoint(copy).path / "G_ema.safetensors"))
    res = export_onnx(copy, tmp_path / "ema.onnx")
    assert res.meta["ema"] is True
    _, got = _run_onnx(res.path, torch.randn(4, 100))
    assert np.allclose(got.numpy(), 0.5, atol=1e-6)


def test_export_refuses_bad_input(plain_run, tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(plain_run), "--out", str(tmp_path / "g.txt")]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["export", str(plain_run), "--format", "tflite"])
    assert e.value.code == 2
    assert not list(tmp_path.glob(".*.onnx"))  # no temp files left behind
