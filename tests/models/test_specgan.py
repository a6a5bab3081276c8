"""specgan (noise-to-sound): shapes, a real (tiny) training run on a folder of notes, previews as PNG + WAV,
``generate`` writing WAVs + a spectrogram grid, and ``render_note`` for the cross-media tools."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganstudio
from ganstudio.config.models import SpecGANConfig
from ganstudio.errors import UserError
from ganstudio.generate import generate_to_files
from ganstudio.latents import Latent
from ganstudio.media_audio import read_audio
from ganstudio.models import FAMILIES
from ganstudio.models.specgan import SpecGANGenerator, codec_of
from ganstudio.pipeline import render_note, render_notes
from ganstudio.training import train

SR = 16000
# Notes made in batches of different sizes: the convs round differently per batch size (float32, ~1e-7
# relative), and the phase integrates frequencies up to 8 kHz over the clip, i.e. up to ~1e4 rad, where one
# float32 ulp is ~1e-3 rad: waveforms agree to ~1e-3 of full scale, not bit for bit.
BATCH_ATOL = 2e-3


def test_default_shapes_are_gansynth_like_and_g_carries_its_codec():
    cfg = SpecGANConfig(num_classes=3)
    assert cfg.image_shape == (2, 128, 64) and FAMILIES["specgan"].task.name == "noise-to-sound"
    G = SpecGANGenerator(cfg).eval()
    x = G(torch.randn(2, cfg.z_dim), torch.eye(3)[:2])
    assert x.shape == (2, 2, 128, 64) and x.abs().max() <= 1
    assert G.to_audio(x).shape == (2, SR)  # 64 frames x 250 samples = 1 s
    assert codec_of(SpecGANConfig(channels=1)).channels == 1


def test_a_picture_channel_count_is_refused():
    with pytest.raises(UserError, match=r"2 channels .* or 1"):
        SpecGANConfig(channels=3)


@pytest.fixture(scope="module")
def sound_run(tiny_sound_run):
    """Two steps on a folder of two pitch classes of tones, 32 mel bins x 16 frames (0.25 s)."""
    return tiny_sound_run(ema_beta=0.9)


def test_training_previews_are_a_spectrogram_png_and_a_wav(sound_run):
    assert (sound_run / "samples" / "latest.png").exists()
    wave = read_audio(sound_run / "samples" / "latest.wav", SR)
    assert len(wave) == 8 * (SR // 4 + SR // 5)  # the first row of 8 notes, 0.2 s apart


def test_generate_writes_wavs_and_a_spectrogram_grid(sound_run, tmp_path):
    files = generate_to_files(sound_run, n=3, seed=1, grid=tmp_path / "g.png", out_dir=tmp_path / "each")
    names = sorted(p.name for p in files)
    assert "g.png" in names and "g.wav" in names and "seed000001.wav" in names and "seed000003.png" in names
    one = read_audio(tmp_path / "each" / "seed000002.wav", SR)
    assert one.shape == (SR // 4,) and 0.85 < np.abs(one).max() <= 0.9 + 2.0**-15
    out = ganstudio.load(sound_run)(n=2, seed=1)
    assert out.sample_rate == SR and out.audio.shape == (2, SR // 4)
    assert np.allclose(out.audio[1], read_audio(tmp_path / "each" / "seed000002.wav", SR), atol=BATCH_ATOL)


def test_render_note_is_mono_float32_at_the_run_rate_with_velocity_as_loudness(sound_run):
    pipe = ganstudio.load(sound_run)
    loud = render_note(pipe, 57, velocity=127)  # A3: the run's first class
    assert loud.dtype == np.float32 and loud.shape == (SR // 4,) and np.abs(loud).max() == pytest.approx(0.9, 1e-5)
    soft = render_note(pipe, 57, velocity=64)
    assert np.allclose(soft, loud * (64 / 127) ** 2, atol=1e-6)  # same z, GM's velocity curve
    z = pipe.latents(1, 5)[0]
    both = render_notes(pipe, [57, 69], z=z)
    assert both.shape == (2, SR // 4) and np.allclose(both[0], render_note(pipe, 57, z=z), atol=BATCH_ATOL)
    lat = Latent(z=tuple(z.tolist()))
    assert np.allclose(render_note(pipe, 57, z=lat), render_note(pipe, 57, z=z), atol=1e-6)  # same batch size
    with pytest.raises(UserError, match="outside this run's pitches"):
        render_note(pipe, 60)


def test_picture_runs_refuse_to_play(tmp_path):
    run = train(
        {"model": "mlp", "data": {"name": "digits", "limit": 16}, "train": {"steps": 1, "batch_size": 8}},
        out=tmp_path,
        progress=False,
    )
    with pytest.raises(UserError, match="makes pictures, not sound"):
        render_note(run, 60)
