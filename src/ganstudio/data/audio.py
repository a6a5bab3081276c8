"""Sound datasets as spectrogram pictures: how audio flows through the (picture-shaped) training loop.

An audio source yields an ordinary ``ImageDataset``: uint8 (N, C, n_mels, frames) spectrograms made by
``media_audio.SpecCodec`` (channel 0 the log mel magnitude; channel 1, when C = 2, the instantaneous
frequency), with labels (the pitch for gm-notes, the digit for spoken-digits, sub-folders for a folder).
So the trainer, EMA, checkpoints and evaluation need nothing new; a ``noise-to-sound`` family's task
(``models.tasks``) turns G's spectrograms back into waveforms for previews and ``generate``.

The picture's shape is the spectrogram's: ``data.resolution`` = frames (hops of 250 samples at 16 kHz,
64 frames = 1 s), ``data.height`` = mel bins (default ``NATIVE_HEIGHT`` = 128), ``data.channels`` = 2
(magnitude + IF, the default) or 1 (magnitude only: inverted with Griffin-Lim). uint8 costs little: a
level is 0.05 nepers (0.4 dB) of magnitude, and under 1 % of a bin's IF range.

Folders: every .wav/.flac/.ogg under the folder (resampled to 16 kHz, mono, peak-normalised, trimmed or
zero-padded to the clip length); files that cannot be decoded are skipped and counted (a UserError when
none is left), classes from first-level sub-folders with ``data.labels``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..cache import cache_root, key_of, read_npz, write_npz
from ..config.data import DataConfig
from ..errors import UserError
from ..media_audio import AUDIO_SUFFIXES, SpecCodec, fit_length, peak_normalize, read_audio
from .base import ImageDataset

SAMPLE_RATE = 16000
HOP = 250
N_FFT = 1000
NATIVE_FRAMES = 64  # 1 s
NATIVE_HEIGHT = 128  # mel bins
ENCODE_BATCH = 256
SPEC_CACHE_VERSION = 1


def codec_for(cfg: DataConfig, size: int | None) -> SpecCodec:
    """The spectrogram a data config asks for (see the module docstring)."""
    channels = cfg.channels or 2
    if channels not in (1, 2):
        raise UserError(
            f"sound data has 2 channels (magnitude + instantaneous frequency) or 1 (magnitude only), not {channels}: "
            "use data.channels 1 or drop it"
        )
    return SpecCodec(
        sample_rate=SAMPLE_RATE,
        n_fft=N_FFT,
        hop=HOP,
        n_mels=cfg.height or NATIVE_HEIGHT,
        frames=size or NATIVE_FRAMES,
        channels=channels,
    )


def encode(waves: np.ndarray, codec: SpecCodec) -> torch.Tensor:
    """(N, L) float waveforms -> uint8 (N, C, n_mels, frames) spectrogram pictures, in batches."""
    out = torch.empty((len(waves), *codec.shape), dtype=torch.uint8)
    with torch.no_grad():
        for i in range(0, len(waves), ENCODE_BATCH):
            spec = codec.encode(torch.from_numpy(np.ascontiguousarray(waves[i : i + ENCODE_BATCH])))
            out[i : i + len(spec)] = ((spec + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return out


def cached_spectrograms(name: str, key: dict, make) -> dict[str, np.ndarray]:
    """``make()`` -> dict of arrays (``images`` uint8, ``labels``, ``captions`` str_), cached by ``key``."""
    path = cache_root() / "audio-spectrograms" / f"{name}-{key_of({'v': SPEC_CACHE_VERSION, **key})}.npz"
    got = read_npz(path)
    if got is not None:
        return got
    arrays = make()
    write_npz(path, arrays, what=f"{name} spectrograms")
    return arrays


def _dataset(name: str, arrays: dict[str, np.ndarray], class_names: tuple[str, ...], source: str) -> ImageDataset:
    labels = arrays.get("labels")
    captions = tuple(str(c) for c in arrays["captions"]) if "captions" in arrays else ()
    return ImageDataset(
        name,
        torch.from_numpy(np.ascontiguousarray(arrays["images"])),
        None if labels is None else torch.from_numpy(labels.astype(np.int64)),
        class_names,
        source,
        captions=captions,
    )


# ------------------------------------------------------------------------------------------- gm-notes


def load_gm_notes(cfg: DataConfig, size: int | None) -> ImageDataset:
    from . import gm_notes

    codec = codec_for(cfg, size)
    first = gm_notes.PITCHES[0]
    names = tuple(gm_notes.pitch_name(p) for p in gm_notes.PITCHES)
    sf2 = gm_notes.soundfont()
    if gm_notes.locate() is None or sf2 is None:
        raise UserError(f"gm-notes needs fluidsynth and a General MIDI soundfont: {gm_notes.INSTALL}")

    def make() -> dict[str, np.ndarray]:
        notes = gm_notes.load_notes(cfg.split)
        return {
            "images": encode(notes.waves, codec).numpy(),
            "labels": notes.pitches - first,
            "captions": np.array(notes.captions(), dtype=np.str_),
        }

    arrays = cached_spectrograms("gm-notes", {"split": cfg.split, "codec": repr(codec), "sf2": str(sf2)}, make)
    return _dataset("gm-notes", arrays, names, str(sf2))


# -------------------------------------------------------------------------------------- spoken digits


def load_spoken_digits(cfg: DataConfig, size: int | None) -> ImageDataset:
    from . import spoken_digits

    codec = codec_for(cfg, size)

    def make() -> dict[str, np.ndarray]:
        waves, digits, captions = spoken_digits.load_waves(cfg.split, SAMPLE_RATE, codec.length)
        return {"images": encode(waves, codec).numpy(), "labels": digits, "captions": np.array(captions, dtype=np.str_)}

    arrays = cached_spectrograms("spoken-digits", {"split": cfg.split, "codec": repr(codec)}, make)
    return _dataset("spoken-digits", arrays, spoken_digits.WORDS, "espeak-ng")


# -------------------------------------------------------------------------------------------- folders


def audio_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def is_audio_folder(root: Path) -> bool:
    """A folder with sound files and no pictures."""
    from .folder import EXTENSIONS as IMAGE_EXTS

    files = [p for p in root.rglob("*") if p.is_file()]
    return any(p.suffix.lower() in AUDIO_SUFFIXES for p in files) and not any(
        p.suffix.lower() in IMAGE_EXTS for p in files
    )


def load_folder(root: Path, cfg: DataConfig, size: int | None) -> ImageDataset:
    """Every sound file under ``root`` as a spectrogram; unreadable files skipped and counted."""
    codec = codec_for(cfg, size)
    files = audio_files(root)
    if not files:
        raise UserError(f"no .wav/.flac/.ogg files under {root}; point --data at a folder of sounds")
    classes: tuple[str, ...] = ()
    if cfg.labels:
        classes = tuple(sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1}))
        if not classes or any(len(p.relative_to(root).parts) == 1 for p in files):
            raise UserError(f"data.labels: put every sound of {root} inside a class sub-folder")
    waves, labels, bad = [], [], 0
    for p in files:
        try:
            wave = read_audio(p, SAMPLE_RATE)
        except UserError:
            bad += 1
            continue
        waves.append(fit_length(peak_normalize(wave), codec.length))
        if classes:
            labels.append(classes.index(p.relative_to(root).parts[0]))
    if bad:
        warnings.warn(f"{root}: skipped {bad} unreadable sound file(s) of {len(files)}", stacklevel=2)
    if not waves:
        raise UserError(f"none of the {len(files)} sound files under {root} could be read; check their format")
    images = encode(np.stack(waves), codec)
    return ImageDataset(
        root.name,
        images,
        torch.tensor(labels, dtype=torch.int64) if classes else None,
        classes,
        str(root),
    )
