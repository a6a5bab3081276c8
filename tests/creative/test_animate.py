"""Animations: playable H.264 MP4 / GIF / PNG frames with the right frame counts; walks and loops."""

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image

import ganstudio
from ganstudio import latents as L
from ganstudio import media_video
from ganstudio.cli import main
from ganstudio.creative import animate as A
from ganstudio.errors import UserError


def test_mp4_is_h264_yuv420p_with_the_right_frame_count(run, tmp_path):
    paths = A.animate_run(
        run, tmp_path / "walk.mp4", seeds=[1, 5, 9], frames=12, fps=6, loop=True, size=31, progress=False
    )
    assert paths == [tmp_path / "walk.mp4", tmp_path / "walk.npz"]
    gen = imageio_ffmpeg.read_frames(str(paths[0]))
    meta = next(gen)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["size"] == (32, 32)
    assert sum(1 for _ in gen) == 12 and media_video.count_frames(paths[0]) == 12
    reader = imageio.get_reader(paths[0], "ffmpeg")
    frames = [f for f in reader]
    assert len(frames) == 12 and frames[0].shape == (32, 32, 3) and reader.get_meta_data()["fps"] == 6
    assert len(L.load_latents(paths[1])) == 12


def test_gif_and_png_frames(run, tmp_path):
    gif = A.animate_run(
        run, tmp_path / "walk.gif", seeds=[1, 2], frames=10, fps=10, easing="linear", size=24, progress=False
    )[0]
    with Image.open(gif) as im:
        assert im.n_frames == 10 and im.size == (24, 24) and im.info["loop"] == 0 and im.info["duration"] == 100
    folder = A.animate_run(run, tmp_path / "frames", mode="circle", frames=7, seed=3, size=0, progress=False)[0]
    assert sorted(p.name for p in folder.glob("*.png")) == [f"frame{i:06d}.png" for i in range(7)]
    assert len(L.load_latents(folder / "latents.npz")) == 7


def test_cli_animate_from_latent_files(run, tmp_path, capsys):
    pipe = ganstudio.load(run)
    a, b = L.from_seeds(pipe, 2, seed=7)
    fa, fb = L.save_latent(a, tmp_path / "a.json"), L.save_latent(b, tmp_path / "b.json")
    out = tmp_path / "ab.gif"
    assert (
        main(
            ["animate", str(run), "--from", f"{fa},{fb}", "--frames", "6", "--out", str(out), "--size", "16", "--quiet"]
        )
        == 0
    )
    lats = L.load_latents(tmp_path / "ab.npz")
    assert lats[0].z == a.z and lats[-1].z == b.z and lats[2].parents == (a.id, b.id)
    assert main(["animate", str(run), "--frames", "6", "--out", str(tmp_path / "x.gif")]) == 2
    assert "give keyframes" in capsys.readouterr().err


def test_keyframe_walk_eases_and_loops(run):
    pipe = ganstudio.load(run)
    keys = L.from_seeds(pipe, 3, seed=0)
    walk = A.keyframe_walk(pipe, keys, frames=12, loop=True)
    assert walk[0].z == keys[0].z and walk[4].z == keys[1].z and walk[8].z == keys[2].z
    z = torch.stack([w.z_tensor for w in walk])
    steps = (z.roll(-1, 0) - z).norm(dim=1)  # includes last -> first: the loop closes smoothly
    assert steps.max() < 3 * steps.mean()
    norms = z.norm(dim=1)
    assert norms.min() > 0.9 * torch.stack([k.z_tensor for k in keys]).norm(dim=1).min()  # slerp: no dip


def test_circle_loop_is_seamless_and_in_distribution(run):
    pipe = ganstudio.load(run)
    walk = A.circle_walk(pipe, [], frames=48, seed=2)
    z = torch.stack([w.z_tensor for w in walk])
    steps = (z.roll(-1, 0) - z).norm(dim=1)
    assert steps.max() < 1.5 * steps.min()  # smooth speed (an ellipse: |a| != |b|)
    assert abs(steps[-1] - steps[-2]) < 0.05 * steps[-2]  # last -> first is an ordinary step: seamless
    assert abs(float(z.pow(2).mean()) - 1) < 0.2  # frames are typical N(0, I) samples


def test_writers_validate(tmp_path):
    frames = np.zeros((3, 5, 7, 3), np.uint8)
    assert media_video.pad_even(frames).shape == (3, 6, 8, 3)
    with pytest.raises(UserError, match=r"\.mp4 or \.gif"):
        media_video.write_frames(frames, tmp_path / "x.avi")
    with pytest.raises(UserError, match="at least 2"):
        A.animate(None, [], tmp_path / "x.gif", frames=1)
