"""Pitch of a note without learned weights: YIN (de Cheveigné & Kawahara 2002), and the pitch-accuracy metric.

``yin(wave, sr)`` -> per-frame f0 in Hz (NaN where unvoiced) and aperiodicity; ``note_f0`` -> one f0 for a
note (the median over its voiced frames in the sustained part); ``pitch_accuracy`` -> the fraction of notes
whose f0 is within ``tolerance_cents`` of the MIDI pitch they were asked for (the issue's ±50 cents).

YIN steps kept here: the difference function via FFT autocorrelation (step 2), the cumulative mean
normalisation (3), the absolute threshold with the first dip below it (4), parabolic interpolation (5).
"""

from __future__ import annotations

import math

import numpy as np

A4_HZ = 440.0


def midi_to_hz(pitch: float | np.ndarray) -> np.ndarray:
    return A4_HZ * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


def cents(f: float | np.ndarray, ref: float | np.ndarray) -> np.ndarray:
    """1200 log2(f / ref); NaN where f is NaN or not positive."""
    f = np.asarray(f, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, 1200.0 * np.log2(f / np.asarray(ref, dtype=np.float64)), np.nan)


def yin(
    wave: np.ndarray,
    sample_rate: int,
    fmin: float = 40.0,
    fmax: float = 2000.0,
    window: int = 1024,
    hop: int = 256,
    threshold: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """(N,) float samples -> (f0 (F,) Hz with NaN where no dip falls below ``threshold``, aperiodicity (F,)).

    Frame f covers samples [f hop, f hop + window + tau_max); tau_max = sr / fmin lags are searched from
    tau_min = sr / fmax. ``window`` must hold two periods of the lowest pitch for a clean dip."""
    x = np.asarray(wave, dtype=np.float64)
    tau_min = max(2, int(sample_rate / fmax))
    tau_max = math.ceil(sample_rate / fmin)
    span = window + tau_max
    if len(x) < span:
        x = np.pad(x, (0, span - len(x)))
    n_frames = 1 + (len(x) - span) // hop
    idx = np.arange(n_frames)[:, None] * hop + np.arange(span)[None, :]
    frames = x[idx]  # (F, span)
    # step 2: d(tau) = E(0) + E(tau) - 2 r(tau), r by FFT, E by cumulative sums of squares
    nfft = 1 << math.ceil(math.log2(span + window))
    a = np.fft.rfft(frames[:, :window], nfft)
    b = np.fft.rfft(frames, nfft)
    r = np.fft.irfft(np.conj(a) * b, nfft)[:, : tau_max + 1]  # r(tau) = sum_j x_j x_{j+tau}, j < window
    sq = np.concatenate([np.zeros((n_frames, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    taus = np.arange(tau_max + 1)
    energy = sq[:, taus + window] - sq[:, taus]  # E(tau) = sum_{j<window} x_{j+tau}^2
    d = energy[:, :1] + energy - 2 * r
    d[:, 0] = 0.0
    # step 3: cumulative mean normalised difference
    cum = np.cumsum(d[:, 1:], axis=1)
    dn = np.ones_like(d)
    dn[:, 1:] = d[:, 1:] * np.arange(1, tau_max + 1) / np.maximum(cum, 1e-12)
    f0 = np.full(n_frames, np.nan)
    aper = np.ones(n_frames)
    quiet = energy[:, 0] < 1e-6 * window  # below ~-60 dBFS RMS: silence, not a pitch
    for i in range(n_frames):
        if quiet[i]:
            continue
        row = dn[i]
        below = np.nonzero(row[tau_min:tau_max] < threshold)[0]
        if len(below) == 0:
            aper[i] = float(row[tau_min:tau_max].min())
            continue
        t = tau_min + int(below[0])
        while t + 1 < tau_max and row[t + 1] < row[t]:  # step 4: down to the bottom of that first dip
            t += 1
        # step 5: parabolic interpolation of the dip
        if 1 <= t < tau_max:
            y0, y1, y2 = row[t - 1], row[t], row[t + 1]
            den = y0 - 2 * y1 + y2
            shift = 0.5 * (y0 - y2) / den if den > 0 else 0.0
        else:
            shift = 0.0
        f0[i] = sample_rate / (t + shift)
        aper[i] = float(row[t])
    return f0, aper


def note_f0(wave: np.ndarray, sample_rate: int, start_s: float = 0.05, end_s: float = 0.6, **yin_kw) -> float:
    """One f0 for a note: the median of YIN's voiced frames that start between ``start_s`` and ``end_s``
    (past the attack, before the release); NaN when none is voiced."""
    hop = int(yin_kw.get("hop", 256))
    f0, _ = yin(wave, sample_rate, **yin_kw)
    t = np.arange(len(f0)) * hop / sample_rate
    sel = f0[(t >= start_s) & (t <= end_s)]
    sel = sel[np.isfinite(sel)]
    return float(np.median(sel)) if len(sel) else float("nan")


def pitch_errors(waves: np.ndarray, pitches: np.ndarray, sample_rate: int, **kw) -> np.ndarray:
    """(B, N) notes and their requested MIDI pitches (B,) -> (B,) error in cents (NaN: no pitch found)."""
    f0 = np.array([note_f0(w, sample_rate, **kw) for w in np.asarray(waves)])
    return cents(f0, midi_to_hz(pitches))


def pitch_accuracy(
    waves: np.ndarray, pitches: np.ndarray, sample_rate: int, tolerance_cents: float = 50.0, **kw
) -> float:
    """The fraction of notes whose f0 is within ±``tolerance_cents`` of the requested pitch (no pitch = miss)."""
    err = pitch_errors(waves, pitches, sample_rate, **kw)
    return float(np.mean(np.abs(np.nan_to_num(err, nan=np.inf)) <= tolerance_cents)) if len(err) else float("nan")
