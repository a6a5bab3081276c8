"""What a run trained on transparent pictures gives back: RGBA PNGs (samples, grids with transparent gaps,
per-image files), pictures over white where a format has no alpha (JPEG, GIF, MP4), extractors and metrics
on the composite, and an ONNX export of the 4-channel generator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganstudio
from ganstudio import media, media_video
from ganstudio.cli import main
from ganstudio.features.base import composite, fit_images, to_unit_float
from ganstudio.features.randconv import RandomConvExtractor
from ganstudio.generate import generate_to_files


@pytest.fixture(scope="module")
def rgba_run(tmp_path_factory, cache_env, make_rgba_folder):
    """A tiny MLP trained 4 steps on twelve 16 px transparent PNGs."""
    root = make_rgba_folder(tmp_path_factory.mktemp("rgba"), 12, seed=1)
    cfg = {
        "model": "mlp",
        "model_config": {"g_hidden": [32, 64], "d_hidden": [64, 32]},
        "data": {"name": str(root), "resolution": 16, "background": "transparent"},
        "train": {"steps": 4, "batch_size": 4, "threads": 1, "device": "cpu", "seed": 3, "checkpoint_every": 2},
    }
    return ganstudio.train(cfg, out=tmp_path_factory.mktemp("runs"), progress=False)


def test_samples_are_rgba_pngs_and_jpegs_are_over_white(rgba_run, tmp_path):
    with Image.open(rgba_run / "samples" / "latest.png") as im:
        assert im.mode == "RGBA"
    out = ganstudio.load(rgba_run)(n=2, seed=0)
    assert out.images.shape == (2, 4, 16, 16) and [p.mode for p in out.pil] == ["RGBA", "RGBA"]
    grid = out.save(tmp_path / "two.png")
    with Image.open(grid) as im:
        assert im.mode == "RGBA" and im.getpixel((0, 0))[3] == 0  # a transparent gap around the pictures
        a = np.asarray(im)
    expect = media.as_uint8_nchw(out.images)[0].transpose(1, 2, 0)
    assert np.array_equal(a[2:18, 2:18], expect)  # straight RGBA, as G made it
    with Image.open(ganstudio.load(rgba_run)(n=1, seed=5).save(tmp_path / "one.png")) as im:
        assert im.mode == "RGBA" and im.size == (16, 16)
    with Image.open(out.save(tmp_path / "two.jpg")) as im:
        assert im.mode == "RGB" and min(im.getpixel((0, 0))) > 240  # the gap, over white (JPEG: about)


def test_generate_writes_rgba_files(rgba_run, tmp_path):
    written = generate_to_files(rgba_run, n=2, grid=tmp_path / "g.png", out_dir=tmp_path / "each")
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 3
    for p in pngs:
        with Image.open(p) as im:
            assert im.mode == "RGBA"


def test_videos_and_gifs_composite_over_white(rgba_run, tmp_path):
    rgba = np.zeros((2, 4, 4, 4), np.uint8)
    rgba[:, 0] = 200  # red everywhere, but only the top half is opaque
    rgba[:, 3, :2] = 255
    frames = media_video.to_rgb_frames(rgba)
    assert frames.shape == (2, 4, 4, 3)
    assert tuple(frames[0, 0, 0]) == (200, 0, 0) and tuple(frames[0, 3, 0]) == (255, 255, 255)
    assert main(["animate", str(rgba_run), "--seeds", "1,2", "--frames", "3", "--out", str(tmp_path / "w.gif")]) == 0
    with Image.open(tmp_path / "w.gif") as im:
        assert im.n_frames >= 1
    path = media_video.write_frames(frames.copy(), tmp_path / "w.mp4", fps=4)
    assert media_video.count_frames(path) == 2


def test_extractors_see_rgba_over_white():
    x = torch.zeros(1, 4, 2, 2)
    x[0, 1] = 1.0  # green...
    x[0, 3, 0] = 1.0  # ...opaque in the top row, transparent in the bottom one
    x[0, 3, 1, 1] = 0.5
    rgb = fit_images(x, None, None)
    assert rgb.shape == (1, 3, 2, 2)
    assert rgb[0, :, 0, 0].tolist() == [0, 1, 0] and rgb[0, :, 1, 0].tolist() == [1, 1, 1]
    assert rgb[0, :, 1, 1].tolist() == [0.5, 1, 0.5]
    assert fit_images(x, 1, (4, 4)).shape == (1, 1, 4, 4)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 4, 16, 16)).astype(np.uint8)
    ext = RandomConvExtractor()
    over_white = composite(to_unit_float(images))
    assert np.allclose(ext.extract(images).feats, ext.extract(over_white).feats, atol=1e-5)
    assert np.abs(media.flatten(images) / 255.0 - over_white.numpy()).max() <= 0.5 / 255 + 1e-6  # the same, rounded


def test_evaluate_an_rgba_run(rgba_run, capsys):
    code = main(
        ["evaluate", str(rgba_run), "--n", "16", "--features", "folder-rcf", "--originality-train", "0", "--json"]
    )
    assert code == 0
    assert "fid" in capsys.readouterr().out.lower()


def test_onnx_export_of_a_4_channel_generator(rgba_run, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from ganstudio.export import export_onnx

    res = export_onnx(rgba_run, tmp_path / "g.onnx")
    assert res.meta["image_shape"] == [4, 16, 16]
    assert json.loads(res.meta_path.read_text())["image_shape"] == [4, 16, 16]
    pipe = ganstudio.load(rgba_run)
    z = pipe.latents(3, seed=2)
    got = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"]).run(["images"], {"z": z.numpy()})[0]
    assert got.shape == (3, 4, 16, 16) and np.abs(got - pipe.generate(z).numpy()).max() < 1e-4


def test_report_shows_rgba_grids(rgba_run, tmp_path):
    assert list((rgba_run / "samples").glob("step-*.png"))
    assert main(["report", str(rgba_run), "--out", str(tmp_path / "report.html")]) == 0
    assert (tmp_path / "report.html").stat().st_size > 0
