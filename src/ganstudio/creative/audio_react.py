"""Audio-reactive latent walks: a sound file's loudness, onsets and chroma steer a walk, frame by frame.

Timing is exact: video frame i is shown from t = i / fps to (i + 1) / fps, and its features come from
that stretch of the sound (``analyse``). A file of D seconds gives ``round(D * fps)`` frames, so the
video's length is the sound's to within half a frame.

Features per frame (numpy, T = frames):
  ``loudness`` (T,) in [0, 1]: the frame's RMS in dB, relative to the loudest frame, over
      ``dynamic_range_db`` (0: that many dB below the peak or quieter; a silent file is all 0).
  ``onset`` (T,) in [0, 1]: spectral flux in the manner of SuperFlux (Boeck and Widmer 2013): log
      magnitudes (relative to the file's loud level) of 23 ms Hann windows 2.9 ms apart, each window's
      rise over the window a whole window earlier (its bins widened to their neighbours, so vibrato is no
      onset), above its 100 ms mean (a crescendo is no onset), local peaks only (one sound, one frame);
      the largest within the frame, divided by the file's largest (or by 5 % of a whole-band rise, if
      larger: steady noise stays under it). A peak is dated to its window's middle, between hops by a
      parabola: the flux of a new sound is symmetric about the moment it sits mid-window, at any level,
      so a click lands within ~0.4 ms of its time.
  ``chroma`` (T, 12): the power of 65 Hz - 5 kHz STFT bins summed by pitch class (0 = C ... 11 = B)
      in a ~190 ms window centred on the frame, rows summing to 1 (uniform in silence).

The walk (``audio_walk``) moves along great circles of the sphere |z| = R (R: the start latent's norm,
else the anchors' mean, ~sqrt(z_dim)), with twelve anchor latents, one per pitch class:
  loudness -> speed: each frame moves ``(base_speed + loudness_speed * loudness ** loudness_curve) / fps``
      radians along its heading;
  chroma -> direction: the heading turns toward the chroma-weighted mix of anchors by at most
      ``chroma_turn * clarity / fps`` radians a frame (clarity: 1 for one pitch class, 0 for a flat
      chroma, where the walk glides on), so a held chord circles its anchor at about speed / turn;
  onsets -> pulses: an onset above ``onset_threshold`` starts a pulse that decays over ``pulse_decay``
      seconds, added to the truncation (``onset_truncation``) and/or as an extra jump (``onset_jump``).
The mapping is data (``AudioMap``, JSON).
Everything random comes from ``seed``, so a file, a mapping and a seed make the same walk every time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .. import latents as L
from .. import media_audio
from ..config.base import from_dict, to_dict
from ..errors import UserError

ANALYSIS_RATE = 22050  # Hz: sound is analysed at this rate (the MP4 gets the original file)
ONSET_WINDOW = 0.023  # seconds (512 samples at 22.05 kHz): short, so onsets land in the right frame
ONSET_GAIN = 100.0  # log compression: log(1 + 100 m / loud level), so 40 dB under the loud level still counts
CHROMA_WINDOW = 0.186  # seconds (4096 samples): ~5 Hz bins, enough to tell semitones apart above 65 Hz
CHROMA_RANGE = (65.0, 5000.0)  # Hz: C2 to ~D#8; below, bins are wider than a semitone
SILENCE_DB = -60.0  # dBFS: a file whose loudest frame is quieter than this counts as silence


@dataclass(frozen=True)
class AudioMap:
    """How sound drives the walk (all numbers; JSON round trip; unknown keys refused).

    Speeds are in radians per second along the sphere: pi / 2 is a move to an unrelated picture.
    """

    base_speed: float = 0.1  # rad/s in silence
    loudness_speed: float = 1.2  # rad/s added at full loudness
    loudness_curve: float = 1.5  # exponent on loudness: > 1 saves the speed for the loud parts
    dynamic_range_db: float = 40.0  # dB below the loudest frame that count as loudness 0
    onset_threshold: float = 0.25  # onsets weaker than this (share of the strongest) start no pulse
    onset_truncation: float = 0.4  # truncation added at a full-strength onset (negative: calmer)
    onset_jump: float = 0.0  # extra radians moved at a full-strength onset
    pulse_decay: float = 0.12  # seconds for a pulse to fall to 1/e
    chroma_turn: float = 4.0  # rad/s the heading may turn toward the chroma's anchor (at one clear pitch class)
    chroma_sharpness: float = 4.0  # exponent on chroma: higher follows the strongest pitch class only

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise UserError(f"audio map: {f.name} must be a finite number, got {v!r}")
            object.__setattr__(self, f.name, float(v))
        for name in ("base_speed", "loudness_speed", "onset_jump", "chroma_turn", "onset_threshold"):
            if getattr(self, name) < 0:
                raise UserError(f"audio map: {name} must be >= 0, got {getattr(self, name)}")
        for name in ("loudness_curve", "dynamic_range_db", "pulse_decay", "chroma_sharpness"):
            if getattr(self, name) <= 0:
                raise UserError(f"audio map: {name} must be positive, got {getattr(self, name)}")
        if self.onset_threshold > 1:
            raise UserError(
                f"audio map: onset_threshold is a share of the strongest onset (0..1), got {self.onset_threshold}"
            )

    def to_dict(self) -> dict:
        return to_dict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "audio map") -> AudioMap:
        return from_dict(cls, d, where)


def load_map(spec: str | Path | None) -> AudioMap:
    """An ``AudioMap`` from None (the defaults), a JSON file, or inline JSON (``'{"onset_jump": 0.5}'``)."""
    if spec is None or spec == "":
        return AudioMap()
    text, where = str(spec), "--audio-map"
    if not text.lstrip().startswith("{"):
        p = Path(text)
        if not p.is_file():
            raise UserError(
                f"audio map {p} not found; give a JSON file or inline JSON such as '{{\"onset_jump\": 0.5}}'"
            )
        text, where = p.read_text(), str(p)
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{where} is not valid JSON ({e.msg} at line {e.lineno}); fix the file") from None
    return AudioMap.from_dict(d, where)


@dataclass(frozen=True)
class AudioFeatures:
    """Per-frame features (see the module docstring); frame i covers [i / fps, (i + 1) / fps)."""

    fps: float
    duration: float  # seconds of sound
    loudness: np.ndarray  # (T,) in [0, 1]
    onset: np.ndarray  # (T,) in [0, 1]
    chroma: np.ndarray  # (T, 12), rows sum to 1

    @property
    def frames(self) -> int:
        return len(self.loudness)


def frame_count(duration: float, fps: float) -> int:
    """Frames of a video as long as ``duration`` seconds: round(duration * fps) (at least 1)."""
    return max(1, round(duration * fps))


def _windows(wave: np.ndarray, centres: np.ndarray, n: int, chunk: int = 256):
    """Yield (B, n) Hann-windowed slices of ``wave`` centred on sample positions ``centres`` (zeros
    outside the sound), ``chunk`` at a time so a long song never holds every window at once."""
    pad = n // 2 + 1
    padded = np.concatenate([np.zeros(pad, np.float32), wave, np.zeros(n + pad, np.float32)])
    win = np.hanning(n + 1)[:n].astype(np.float32)  # periodic Hann
    offs = np.arange(n)
    for s in range(0, len(centres), chunk):
        c = centres[s : s + chunk]
        idx = np.clip(c[:, None] - n // 2 + pad, 0, len(padded) - n) + offs[None, :]
        yield padded[idx] * win


def _loudness(wave: np.ndarray, bounds: np.ndarray, dynamic_range_db: float) -> np.ndarray:
    cs = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    start, end = np.minimum(bounds[:-1], len(wave)), np.minimum(bounds[1:], len(wave))
    mean_sq = (cs[end] - cs[start]) / np.maximum(end - start, 1)
    db = 10 * np.log10(mean_sq + 1e-12)
    ref = max(float(db.max()), SILENCE_DB)
    return np.clip((db - (ref - dynamic_range_db)) / dynamic_range_db, 0.0, 1.0)


def _onset(wave: np.ndarray, sr: int, fps: float, frames: int) -> np.ndarray:
    n = 1 << max(4, round(math.log2(ONSET_WINDOW * sr)))
    hop = n // 8
    centres = np.arange(-n, len(wave) + n, hop)
    mags = np.concatenate([np.abs(np.fft.rfft(w, axis=1)) for w in _windows(wave, centres, n)])
    # Log magnitudes relative to the file's loud level: a soft note's start counts as much as a loud one's,
    # and a loud partial's vibrato no longer outweighs every other bin.
    ref = float(np.percentile(mags.max(axis=1), 95))
    logm = np.log1p(ONSET_GAIN * mags / ref) if ref > 0 else np.zeros_like(mags)
    # Each window against the one a whole window earlier (no shared samples), its bins widened by their
    # neighbours (SuperFlux's maximum filter: a partial gliding one bin is not new sound).
    before = logm[:-8]
    before = np.maximum(before, np.maximum(np.roll(before, 1, axis=1), np.roll(before, -1, axis=1)))
    flux = np.maximum(logm[8:] - before, 0.0).sum(axis=1)
    middle = centres[8:]
    flux[middle + n // 2 > len(wave)] = 0.0  # past the end nothing new arrives (the cut is no onset)
    # A crescendo or a vibrato rises a little at every hop: keep only what stands above the local
    # (100 ms) mean, then only each rise's peak, so one sound pulses one frame, not two.
    k = max(1, round(0.1 * sr / hop))
    rise = flux - np.convolve(flux, np.ones(k) / k, mode="same")
    nxt, prev = np.append(rise[1:], -np.inf), np.insert(rise[:-1], 0, -np.inf)
    peak = np.flatnonzero((rise > 0) & (rise >= prev) & (rise > nxt))
    # A new sound's flux is largest when it sits in the middle of the window (symmetric about it, at any
    # level); a parabola through the peak and its neighbours places it between hops, to ~0.1 ms.
    a, b, c = rise[np.maximum(peak - 1, 0)], rise[peak], rise[np.minimum(peak + 1, len(rise) - 1)]
    curve = a - 2 * b + c
    shift = np.clip(np.where(curve < 0, 0.5 * (a - c) / np.where(curve < 0, curve, -1.0), 0.0), -0.5, 0.5)
    when = (middle[peak] + shift * hop) / sr
    frame = np.floor(when * fps).astype(np.int64)
    keep = (frame >= 0) & (frame < frames)
    out = np.zeros(frames)
    np.maximum.at(out, frame[keep], rise[peak][keep])
    # Divide by the strongest onset, but never by less than 5 % of a whole-band rise from silence to the
    # loud level (notes measure 3-10 %, the ripple of steady noise under 2 %): a file without onsets
    # must not turn its ripples into full-strength pulses.
    denom = max(float(out.max()), 0.05 * mags.shape[1] * math.log1p(ONSET_GAIN))
    return out / denom


def _chroma(wave: np.ndarray, sr: int, fps: float, frames: int) -> np.ndarray:
    n = 1 << round(math.log2(CHROMA_WINDOW * sr))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    use = (freqs >= CHROMA_RANGE[0]) & (freqs <= min(CHROMA_RANGE[1], sr / 2))
    pc = np.round(69 + 12 * np.log2(freqs[use] / 440.0)).astype(np.int64) % 12
    to_pc = np.zeros((int(use.sum()), 12))
    to_pc[np.arange(len(pc)), pc] = 1.0
    centres = np.round((np.arange(frames) + 0.5) * sr / fps).astype(np.int64)
    power = np.concatenate([np.abs(np.fft.rfft(w, axis=1)[:, use]) ** 2 for w in _windows(wave, centres, n)])
    c = power @ to_pc
    total = c.sum(axis=1, keepdims=True)
    quiet = total[:, 0] <= 1e-10 * n
    c = c / np.where(quiet[:, None], 1.0, total)
    c[quiet] = 1.0 / 12
    return c


def analyse(wave: np.ndarray, sample_rate: int, fps: float, amap: AudioMap | None = None) -> AudioFeatures:
    """Features of a mono (N,) float wave at ``sample_rate``, one row per video frame at ``fps``."""
    if fps <= 0:
        raise UserError(f"--fps must be positive, got {fps}")
    amap = amap or AudioMap()
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    duration = len(wave) / sample_rate
    frames = frame_count(duration, fps)
    bounds = np.round(np.arange(frames + 1) * sample_rate / fps).astype(np.int64)
    return AudioFeatures(
        fps=float(fps),
        duration=duration,
        loudness=_loudness(wave, bounds, amap.dynamic_range_db),
        onset=_onset(wave, sample_rate, fps, frames),
        chroma=_chroma(wave, sample_rate, fps, frames),
    )


def load_features(path: str | Path, fps: float, amap: AudioMap | None = None) -> AudioFeatures:
    """Read a sound file (WAV/FLAC/OGG; one-line UserError if missing or corrupt) and ``analyse`` it."""
    wave = media_audio.read_audio(path, ANALYSIS_RATE, mono=True)
    feats = analyse(wave, ANALYSIS_RATE, fps, amap)
    if feats.frames < 2:
        raise UserError(
            f"{Path(path).name} lasts {feats.duration:.3f} s, under two frames at {fps:g} fps; give a longer sound"
        )
    return feats


def pulses(onset: np.ndarray, fps: float, amap: AudioMap) -> np.ndarray:
    """(T,) pulse envelope in [0, 1]: jumps to an onset's strength, then decays exponentially."""
    keep = np.where(onset >= max(amap.onset_threshold, 1e-9), onset, 0.0)
    fall = math.exp(-1.0 / (fps * amap.pulse_decay))
    env = np.zeros(len(onset))
    level = 0.0
    for i, o in enumerate(keep):
        level = max(float(o), level * fall)
        env[i] = level
    return env


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm().clamp_min(1e-12)


def _tangent(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """v's component perpendicular to the unit vector u."""
    return v - (v @ u) * u


def audio_walk(
    features: AudioFeatures, anchors: torch.Tensor, amap: AudioMap, seed: int = 0, start: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The walk as (z (T, D), truncation offset (T,), step angle (T,)); ``anchors``: (12, D), one per pitch
    class. ``start`` (D,) is frame 0's latent (default: frame 0's chroma target). float64 inside, so the
    walk does not drift off the sphere over long songs."""
    if anchors.ndim != 2 or anchors.shape[0] != 12:
        raise ValueError(f"audio_walk wants (12, D) anchors, got {tuple(anchors.shape)}")
    T, fps = features.frames, features.fps
    A = anchors.double()
    w = torch.from_numpy(features.chroma).double() ** amap.chroma_sharpness
    targets = w @ A / w.sum(1, keepdim=True).clamp_min(1e-300)  # (T, D) chroma-weighted anchor mixes
    env = torch.from_numpy(pulses(features.onset, fps, amap))
    loud = torch.from_numpy(features.loudness).double()
    step = (amap.base_speed + amap.loudness_speed * loud**amap.loudness_curve) / fps + amap.onset_jump * env
    chroma = torch.from_numpy(features.chroma).double()
    clarity = ((chroma.max(1).values - 1 / 12) / (1 - 1 / 12)).clamp(0, 1)  # 1: one pitch class, 0: flat
    max_turn = amap.chroma_turn * clarity / fps  # radians the heading may turn this frame

    gen = torch.Generator().manual_seed(seed)
    # a fixed way to turn when the target is dead behind
    spare = torch.randn(A.shape[1], generator=gen, dtype=torch.float64)
    radius = float(start.double().norm()) if start is not None else float(A.norm(dim=1).mean())
    u = _unit(start.double() if start is not None else targets[0])
    v = _unit(_tangent(torch.randn(A.shape[1], generator=gen, dtype=torch.float64), u))
    z = torch.empty(T, A.shape[1], dtype=torch.float64)
    z[0] = radius * u
    for i in range(1, T):
        toward = _tangent(targets[i], u)
        if toward.norm() > 1e-9 * radius:  # turn the heading toward the target, at most max_turn
            t = _unit(toward)
            alpha = math.acos(max(-1.0, min(1.0, float(v @ t))))
            side = _tangent(t, v) if alpha < math.pi - 1e-6 else _tangent(_tangent(spare, u), v)
            turn = min(alpha, float(max_turn[i]))
            v = _unit(math.cos(turn) * v + math.sin(turn) * _unit(side))
        theta = float(step[i])
        u, v = _unit(math.cos(theta) * u + math.sin(theta) * v), -math.sin(theta) * u + math.cos(theta) * v
        v = _unit(_tangent(v, u))  # parallel transport along the great circle, kept tangent
        z[i] = radius * u
    if start is not None:
        z[0] = start.double()
    step[0] = 0.0
    return z.float(), (amap.onset_truncation * env).float(), step.float()


def walk_latents(
    pipe, keyframes: Sequence[L.Latent], features: AudioFeatures, amap: AudioMap, seed: int = 0, source: str = ""
) -> list[L.Latent]:
    """The walk as latents for ``pipe``. Anchors: with two or more keyframes, pitch class k gets keyframe
    k mod n; otherwise 12 latents drawn from ``seed``. The walk starts at the first keyframe (else at the
    seed's latent), which also gives the class weights and base truncation (pulses add to it, kept
    within (0, 2])."""
    if len(keyframes) >= 2:
        anchors = torch.stack([keyframes[k % len(keyframes)].z_tensor for k in range(12)])
    else:
        anchors = pipe.latents(12, seed)
    base = keyframes[0] if keyframes else L.from_seeds(pipe, 1, seed)[0]
    z, trunc, _ = audio_walk(features, anchors, amap, seed, start=base.z_tensor)
    psi = (base.truncation + trunc).clamp(0.05, 2.0)
    parents = tuple(dict.fromkeys(k.id for k in keyframes))
    return [  # everything else (classes, edits, prompt, run, step) is the base latent's
        base.with_(
            z=tuple(z[i].tolist()),
            truncation=float(psi[i]),
            parents=parents,
            origin={"op": "audio", "audio": source, "seed": seed, "frame": i, "fps": features.fps},
        )
        for i in range(features.frames)
    ]
