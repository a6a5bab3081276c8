"""media_audio: WAV round trips, resampling, the spectrogram codec's two inversions (IF and Griffin-Lim)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganstudio import media_audio as ma
from ganstudio.errors import UserError
from ganstudio.metrics.pitch import cents, midi_to_hz, note_f0

SR = 16000


def tone(f: float, n: int = SR, sr: int = SR, harmonics: int = 4) -> np.ndarray:
    t = np.arange(n) / sr
    return sum(0.4 / h * np.sin(2 * np.pi * f * h * t) for h in range(1, harmonics + 1)).astype(np.float32)


def test_wav_round_trip_is_16_bit_and_clipped(tmp_path):
    x = np.linspace(-1.5, 1.5, 3001, dtype=np.float32)
    path = ma.write_wav(tmp_path / "a.wav", x, SR)
    assert path.exists() and not list(tmp_path.glob(".a.wav*"))  # atomic: no temporary left behind
    y = ma.read_audio(path, SR)
    assert y.dtype == np.float32 and y.shape == x.shape
    # 16-bit PCM: one quantisation step is 2**-15; clipped to [-1, 1] before it
    assert np.abs(y - np.clip(x, -1, 1)).max() <= 2.0**-15 + 1e-7


def test_stereo_is_averaged_to_mono_and_kept_when_asked(tmp_path):
    st = np.stack([np.full(100, 0.5), np.full(100, -0.25)], axis=1).astype(np.float32)
    path = ma.write_wav(tmp_path / "s.wav", st, SR)
    assert ma.read_audio(path, SR).shape == (100,)
    assert np.allclose(ma.read_audio(path, SR), 0.125, atol=2.0**-15)
    assert ma.read_audio(path, SR, mono=False).shape == (100, 2)


def test_corrupt_and_missing_files_raise_one_line_user_errors(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(UserError, match=r"cannot read .*bad\.wav") as e:
        ma.read_audio(bad, SR)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="not found"):
        ma.read_audio(tmp_path / "missing.wav", SR)


def test_resample_keeps_the_tone_and_removes_what_the_new_rate_cannot_hold():
    x = tone(440.0, 44100, 44100, harmonics=1)
    y = ma.resample(x, 44100, SR)
    assert y.shape == (SR,)
    ref = tone(440.0, SR, SR, harmonics=1)
    assert np.abs(y[300:-300] - ref[300:-300]).max() < 1e-3  # a 16-zero windowed sinc: ~-60 dB ripple
    above = ma.resample(tone(10000.0, 44100, 44100, harmonics=1), 44100, SR)  # 10 kHz > 8 kHz Nyquist
    assert np.abs(above[300:-300]).max() < 0.01 * 0.4
    assert ma.resample(x, 44100, 44100) is not x and np.array_equal(ma.resample(x, 44100, 44100), x)


def test_mel_filterbank_rows_average_and_the_inverse_undoes_it():
    fb = ma.mel_filterbank(128, 1000, SR)
    assert fb.shape == (128, 501) and torch.allclose(fb.sum(1), torch.ones(128), atol=1e-5)
    inv = ma.mel_inverse(128, 1000, SR)
    # mel -> linear -> mel is the identity where the filterbank has full row rank (it does: 128 < 501)
    m = torch.rand(128, 3)
    assert torch.allclose(fb @ (inv @ m), m, atol=1e-3)


@pytest.mark.parametrize("channels", [2, 1])
def test_codec_inverts_a_note_to_its_pitch(channels):
    codec = ma.SpecCodec(channels=channels)
    pitch = 57  # A3, 220 Hz
    x = torch.from_numpy(tone(float(midi_to_hz(pitch))))[None]
    spec = codec.encode(x)
    assert spec.shape == (1, channels, 128, 64) and spec.min() >= -1 and spec.max() <= 1
    wave = codec.decode(spec)
    assert wave.shape == (1, codec.length)
    assert abs(cents(note_f0(wave[0].numpy(), SR), midi_to_hz(pitch))) < 10
    again = codec.encode(wave / wave.abs().max() * x.abs().max())
    # the magnitude survives the trip: mean |log-mag| change under 5 % of the range (pinv + new phase)
    assert (again[:, 0] - spec[:, 0]).abs().mean() < 0.1


def test_phase_from_if_rebuilds_a_steady_tone():
    x = torch.from_numpy(tone(437.0, harmonics=1))[None]
    spec = ma.stft(x, 1000, 250)
    f = ma.instantaneous_frequency(spec, 1000, 250, SR)
    k = int(spec.abs()[0, :, 30].argmax())
    assert torch.allclose(f[0, k, 5:-5], torch.tensor(437.0), atol=0.05)
    y = ma.istft(torch.polar(spec.abs(), ma.phase_from_if(f, 1000, 250, SR)), 1000, 250, SR)[0].numpy()
    assert abs(cents(note_f0(y, SR), 437.0)) < 5
    mid = np.abs(y[2000:-2000]).reshape(-1, 100).max(1)
    assert mid.min() > 0.3 and mid.max() < 0.5  # steady amplitude ~0.4: the bins add up in phase


def test_spectrogram_picture_puts_low_frequencies_at_the_bottom():
    spec = -np.ones((1, 2, 8, 4), np.float32)
    spec[0, 0, 0] = 1.0  # loudest in the lowest mel bin
    pic = ma.spectrogram_picture(spec)
    assert pic.shape == (1, 3, 8, 4) and pic.dtype == np.uint8
    assert pic[0, :, -1].sum() > pic[0, :, 0].sum()
