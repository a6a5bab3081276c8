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
from ganstudio import latents as L
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


@pytest.fixture(scope="module")
def text_runs(tmp_path_factory, captioned_squares, tiny_text_run):
    """2-step runs that read text on 8 captioned squares: plain, retrieving (its bank inside G), with several
    references side by side, and retrieving while drawing at half size with a detail stage (``emoji-text-64``'s)."""
    data = captioned_squares(tmp_path_factory.mktemp("captioned"), n=8, boxed=False)
    retrieving = {"retrieve": True, "retrieve_temperature": 0.02, "retrieve_variety": 0.025}
    side_by_side = {"retrieve": True, "retrieve_pictures": 3, "retrieve_variety": 0.025}
    return {
        "plain": tiny_text_run(data, seed=None),
        "retrieving": tiny_text_run(data, model=retrieving, seed=None),
        "side-by-side": tiny_text_run(data, model=side_by_side, seed=None),
        "drawn small": tiny_text_run(data, model={**retrieving, "upscale": 2, "detail_channels": 8}, seed=None),
    }


@pytest.mark.parametrize("kind", ["plain", "retrieving", "side-by-side", "drawn small"])
def test_text_run_exports_a_prompt_input_that_matches_pytorch(text_runs, kind, tmp_path):
    from ganstudio import textembed

    run = text_runs[kind]
    res = export_onnx(run, tmp_path / "t.onnx")
    meta = res.meta
    assert meta["condition"] == "text" and meta["inputs"] == ["z", "y"] and meta["num_classes"] == 0
    assert meta["text_dim"] == 64 and meta["text_model"] == "words-64"
    # by default the sidecar carries the run's training captions, each with its exact float32 embedding
    texts = [p["text"] for p in meta["prompts"]]
    assert texts == ["a red square", "a green square", "a blue square", "a yellow square"]
    e = textembed.embed(["a blue square"], "words-64")[0]
    carried = np.asarray(meta["prompts"][2]["y"], dtype=np.float32)
    assert np.array_equal(carried, e) and meta["prompts"][2]["text_hash"] == textembed.fingerprint(e)
    assert json.loads(res.meta_path.read_text())["prompts"] == meta["prompts"]
    pipe = ganstudio.load(run)
    for n in (1, 4):  # dynamic batch, each row its own prompt
        z = pipe.latents(n, seed=9)
        y = torch.from_numpy(np.stack([np.asarray(meta["prompts"][i % 4]["y"], np.float32) for i in range(n)]))
        _, got = _run_onnx(res.path, z, y)
        assert float((got - pipe.generate(z, y)).abs().max()) < 1e-4
    # the prompt is live: red and blue draw different pictures from the same noise
    z = pipe.latents(2, seed=3)
    red, blue = (torch.from_numpy(np.asarray(meta["prompts"][i]["y"], np.float32)).expand(2, -1) for i in (0, 2))
    assert float((_run_onnx(res.path, z, red)[1] - _run_onnx(res.path, z, blue)[1]).abs().max()) > 1e-3
    assert (
        float((pipe(n=2, seed=3, prompt="a blue square").images - _run_onnx(res.path, z, blue)[1]).abs().max()) < 1e-4
    )


def test_export_prompts_from_the_cli_and_their_refusals(text_runs, plain_run, tmp_path, capsys):
    out = tmp_path / "t.onnx"
    run = str(text_runs["plain"])
    assert main(["export", run, "--out", str(out), "--prompt", "a red square", "--prompt", "a purple thing"]) == 0
    said = capsys.readouterr().out
    assert "prompt embeddings (words-64)" in said and "prompts with their embeddings in the metadata: 2" in said
    assert [p["text"] for p in read_metadata(out)["prompts"]] == ["a red square", "a purple thing"]
    assert main(["export", str(plain_run), "--out", str(tmp_path / "p.onnx"), "--prompt", "a cat"]) == 2
    assert "does not read text" in capsys.readouterr().err
    assert main(["export", run, "--out", str(tmp_path / "e.onnx"), "--prompt", "  "]) == 2
    assert "prompt is empty" in capsys.readouterr().err
    assert not (tmp_path / "p.onnx").exists() and not (tmp_path / "e.onnx").exists()
    # --negative: every carried prompt steered away from it, the sidecar carrying the steered embedding exactly
    neg = tmp_path / "n.onnx"
    assert main(["export", run, "--out", str(neg), "--prompt", "a red square", "--negative", "red"]) == 0
    (carried,) = read_metadata(neg)["prompts"]
    assert carried["text"] == "a red square, not red (50%)"
    pipe = ganstudio.load(text_runs["plain"])
    want = L.mix_embedding(pipe, L.mix_prompts(pipe, {"a red square": 1.0, "red": -0.5}))
    assert np.array_equal(np.asarray(carried["y"], np.float32), want.numpy())
    assert main(["export", str(plain_run), "--out", str(tmp_path / "q.onnx"), "--negative", "red"]) == 2
    assert "does not read text" in capsys.readouterr().err and not (tmp_path / "q.onnx").exists()
