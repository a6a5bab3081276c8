"""Sound data as spectrogram pictures: folders of sounds (corrupt files skipped and counted), gm-notes'
FluidSynth rendering and spoken-digits' espeak-ng synthesis (a few real notes and words each)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ganstudio.data import SOURCES, DataConfig, audio, available, gm_notes, load_dataset, spoken_digits
from ganstudio.errors import UserError
from ganstudio.media_audio import write_wav
from ganstudio.metrics.pitch import pitch_errors

SR = 16000


def tone(f: float, sr: int = SR, n: int | None = None) -> np.ndarray:
    t = np.arange(n or sr) / sr
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_a_folder_of_sounds_becomes_labelled_spectrograms_and_skips_corrupt_files(tmp_path):
    for cls, f in (("low", 220.0), ("high", 880.0)):
        (tmp_path / cls).mkdir()
        write_wav(tmp_path / cls / "a.wav", tone(f), SR)
        write_wav(tmp_path / cls / "b.wav", tone(f * 1.01, 44100, 30000), 44100)  # resampled, padded
    (tmp_path / "low" / "broken.wav").write_bytes(b"not a sound file")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable sound file\(s\) of 5"):
        ds = load_dataset(DataConfig(name=str(tmp_path), labels=True, height=32, resolution=16))
    assert ds.images.shape == (4, 2, 32, 16) and ds.images.dtype.is_floating_point is False
    assert ds.class_names == ("high", "low") and sorted(ds.labels.tolist()) == [0, 0, 1, 1]
    # the louder low rows for 220 Hz than for 880 Hz: row index = mel bin, lowest first
    low, high = ds.images[ds.labels == 1, 0].float(), ds.images[ds.labels == 0, 0].float()
    assert low[:, :8].mean() > high[:, :8].mean()
    with pytest.warns(UserWarning, match="skipped 1"):
        mag = load_dataset(DataConfig(name=str(tmp_path), channels=1, height=32, resolution=16))
    assert mag.images.shape == (5 - 1, 1, 32, 16)


def test_a_folder_with_no_readable_sound_is_a_user_error(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"junk")
    with pytest.raises(UserError, match="none of the 1 sound files"), pytest.warns(UserWarning):
        audio.load_folder(tmp_path, DataConfig(name=str(tmp_path)), 16)
    with pytest.raises(UserError, match="2 channels"):
        audio.codec_for(DataConfig(channels=3), 16)


def test_sound_sources_are_listed():
    names = {row["name"] for row in available()}
    assert {"gm-notes", "spoken-digits"} <= names
    assert SOURCES["gm-notes"].native_height == 128 and SOURCES["gm-notes"].native_resolution == 64


def test_gm_helpers():
    assert gm_notes.pitch_name(60) == "C4" and gm_notes.pitch_name(36) == "C2"
    assert gm_notes.family_of(0) == "piano" and gm_notes.family_of(111) == "ethnic"
    test = gm_notes.programs("test")
    assert len(test) == 14 and not set(test) & set(gm_notes.programs("train"))
    assert {gm_notes.family_of(p) for p in test} == set(gm_notes.FAMILIES)  # one held-out instrument per family


@pytest.mark.skipif(gm_notes.locate() is None, reason="fluidsynth or a GM soundfont missing (make data)")
def test_fluidsynth_renders_notes_at_the_asked_pitch():
    sf2 = gm_notes.soundfont()
    notes = gm_notes.render_program(sf2, 0, pitches=(48, 60, 72), velocities=(100,))
    assert notes.waves.shape == (3, SR) and notes.skipped == 0
    assert np.abs(notes.waves).max(axis=1) == pytest.approx([0.9] * 3, abs=1e-4)  # peak-normalised
    assert (np.abs(pitch_errors(notes.waves, notes.pitches, SR)) < 50).all()
    onset = np.abs(notes.waves[:, : SR // 20]).max(axis=1)
    assert (onset > 0.05).all()  # each note starts within its first 50 ms: slots line up with the clip
    assert "piano" in notes.captions()[0] and "C4" in notes.captions()[1]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing (make data)")
def test_espeak_says_a_digit(tmp_path):
    out = tmp_path / "say.wav"
    spoken_digits._say(spoken_digits.locate(), "seven", "en-us+f2", 170, 50, out)
    from ganstudio.media_audio import read_audio

    wave = spoken_digits.trim_leading_silence(read_audio(out, SR))
    assert 0.2 * SR < len(wave) < 1.0 * SR  # one short word, fits the 1 s clip
    assert np.abs(wave[:10]).max() > 0.01 * np.abs(wave).max()  # trimmed: starts at the voice
