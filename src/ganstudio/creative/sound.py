"""The creative tools on sound runs (task noise-to-sound): what a walk or a brood sounds like.

A sound run's latent is an instrument (its z: the timbre) playing a pitch (its class weights: one-hot over the
run's pitches, "C2".."C6" for gm-notes). The tools keep that split the way a musician hears it:

- **one pitch per walk or brood** (``hold_pitch``): a walk morphs the timbre, not the note; every keyframe (and
  every parent) is played at one pitch: ``--class C4`` or, by default, the first keyframe's (first parent's).
  A keyframe moved to that pitch keeps its z and names the original as its parent.
- **notes one after another** (``write_notes``): a walk of N latents is N notes, each the run's fixed-length
  one-shot, note i starting at i / rate seconds (rate: notes per second; by default one note right after the
  other, so no note overlaps another and each is, sample for sample, what ``generate --from`` makes of its
  latent). With a faster rate the notes overlap and are added; the sum is scaled down only if it would clip.
- **a spectrogram strip** (``write_strip``): the notes' spectrograms side by side, as ``generate`` draws
  them (magma, low frequencies at the bottom), so the morph can be seen as well as heard.

Every note is rendered one latent at a time (``latents.render``), so the WAV, the strip and each note's
remake agree to the sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .. import latents as L
from .. import media
from ..errors import UserError
from ..media_audio import spectrogram_picture, write_wav


def require_sound(pipe) -> None:
    if not pipe.is_sound:
        raise UserError(f"run {pipe.run_dir} makes pictures, not sound")


def pitch_of(pipe, lat: L.Latent) -> int | None:
    """The class (pitch) index a latent plays: its strongest class weight (None for a run without pitches)."""
    if not pipe.num_classes or lat.classes is None:
        return None
    return int(np.argmax(lat.classes))


def hold_pitch(pipe, latents: Sequence[L.Latent], pitch: int | str | None = None) -> list[L.Latent]:
    """``latents`` all playing one pitch: ``pitch`` (a class index or name like "C4") or the first latent's.
    A latent already at that pitch is returned as it is; another gets the pitch's one-hot class weights and
    names the original as its parent (origin ``{"op": "pitch"}``)."""
    if not latents or not pipe.num_classes:
        return list(latents)
    idx = pipe.class_index(pitch) if pitch is not None else pitch_of(pipe, latents[0])
    assert idx is not None
    onehot = tuple(float(i == idx) for i in range(pipe.num_classes))
    name = pipe.class_names[idx] if idx < len(pipe.class_names) else str(idx)
    out = []
    for lat in latents:
        if lat.classes == onehot:
            out.append(lat)
        else:
            out.append(lat.with_(classes=onehot, parents=(lat.id,), origin={"op": "pitch", "pitch": name}))
    return out


def render_notes(pipe, latents: Sequence[L.Latent], directions=None) -> tuple[torch.Tensor, np.ndarray]:
    """(spectrograms (N, C, H, W) in [0, 1], waveforms float32 (N, samples) each peaking at 0.9): the notes of
    ``latents``, one G row at a time, exactly as ``generate --from`` renders them."""
    require_sound(pipe)
    spec = L.render(pipe, latents, directions)
    return spec, pipe.to_audio(spec)


def mix_notes(waves: np.ndarray, sample_rate: int, rate: float | None = None, gap: float = 0.0) -> np.ndarray:
    """Notes (N, samples) placed at i / ``rate`` seconds (None: one after another, ``gap`` seconds of silence
    between them) and added; scaled to peak 0.9 only where overlaps would pass it."""
    n, length = waves.shape
    hop = length + round(gap * sample_rate) if rate is None else max(1, round(sample_rate / rate))
    out = np.zeros((n - 1) * hop + length, np.float32)
    for i, w in enumerate(waves):
        out[i * hop : i * hop + length] += w
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if hop < length and peak > 0.9 + 1e-6:
        out *= np.float32(0.9 / peak)
    return out


def write_notes(
    path: str | Path, waves: np.ndarray, sample_rate: int, rate: float | None = None, gap: float = 0.0
) -> Path:
    """The notes as one mono 16-bit WAV (see ``mix_notes``)."""
    return write_wav(path, mix_notes(waves, sample_rate, rate, gap), sample_rate)


def strip_pictures(spec: torch.Tensor) -> torch.Tensor:
    """Spectrograms (N, C, H, W) in [0, 1] -> (N, 3, H, W) uint8 pictures (magma, low frequencies at the bottom)."""
    return torch.from_numpy(spectrogram_picture(spec.mul(2).sub(1).numpy()))


def write_strip(path: str | Path, spec: torch.Tensor, rows: int = 1) -> Path:
    """The notes' spectrograms side by side (``rows`` rows), one picture."""
    pics = strip_pictures(spec)
    nrow = max(1, -(-len(pics) // rows))
    return media.save_grid(pics.float().div(255), path, nrow=nrow, scale=max(1, 96 // pics.shape[-2]))


def check_wav_out(out: str | Path, what: str) -> Path:
    """A sound run's walk or brood goes to a .wav name (refused before anything is rendered)."""
    p = Path(out)
    if p.suffix.lower() != ".wav":
        raise UserError(
            f"{what} of a sound run is sound: give --out NAME.wav (the notes as one WAV, their spectrogram "
            f"strip NAME.png and latents NAME.npz beside it), not {p.name}"
        )
    return p
