"""YIN pitch and the pitch-accuracy metric, on synthetic notes whose pitch is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from ganstudio.metrics.pitch import cents, midi_to_hz, note_f0, pitch_accuracy, pitch_errors, yin

SR = 16000


def note(pitch: float, harmonics: int = 6, n: int = SR) -> np.ndarray:
    t = np.arange(n) / SR
    f = float(midi_to_hz(pitch))
    return sum(0.5 / h * np.sin(2 * np.pi * f * h * t + h) for h in range(1, harmonics + 1) if f * h < SR / 2)


def test_midi_and_cents():
    assert midi_to_hz(69) == pytest.approx(440.0) and midi_to_hz(81) == pytest.approx(880.0)
    assert cents(880.0, 440.0) == pytest.approx(1200.0) and np.isnan(cents(0.0, 440.0))


@pytest.mark.parametrize("pitch", [36, 45, 60, 71.3, 84])
def test_yin_finds_harmonic_notes_over_the_gm_range(pitch):
    # a 1024-sample window holds >= 2 periods down to 31 Hz; parabolic interpolation leaves far less than
    # the one-lag step (at MIDI 84, 15 samples/period: 1 lag = 115 cents, interpolated to a few)
    assert abs(cents(note_f0(note(pitch), SR), midi_to_hz(pitch))) < 15


def test_yin_does_not_halve_a_missing_fundamental_octave():
    t = np.arange(SR) / SR
    f = 220.0
    x = sum(np.sin(2 * np.pi * f * h * t) / h for h in (2, 3, 4))  # no energy at 220 Hz itself
    assert abs(cents(note_f0(x, SR), f)) < 15  # the period is still 1/220 s


def test_silence_and_noise_have_no_pitch():
    f0, aper = yin(np.zeros(SR), SR)
    assert np.isnan(f0).all() and (aper == 1).all()
    noise = np.random.default_rng(0).standard_normal(SR) * 0.3
    assert np.isnan(note_f0(noise, SR))


def test_pitch_accuracy_counts_within_50_cents_and_misses():
    pitches = np.array([48, 60, 72, 60])
    waves = np.stack([note(48), note(60.3), note(72), np.zeros(SR)])  # 30 cents sharp: in; silence: a miss
    err = pitch_errors(waves, pitches, SR)
    assert abs(err[1] - 30) < 10 and np.isnan(err[3])
    assert pitch_accuracy(waves, pitches, SR) == pytest.approx(0.75)
    assert pitch_accuracy(np.stack([note(60.7)]), np.array([60]), SR) == 0.0  # 70 cents: out
