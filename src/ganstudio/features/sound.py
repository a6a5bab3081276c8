"""Sound feature extractors: a small CNN on log-mel spectrograms, trained on a labelled sound set.

``train_sound_classifier(data)`` trains one and caches it in ``$GANSTUDIO_CACHE/features/sound-<data>-<key12>/``
(``model.safetensors`` + ``meta.json``: accuracy on held-out real sounds, settings, history). The data:

    gm-notes        the instrument *family* of each note (14 classes: piano, organ, ...); trained on the 98
                    training instruments, accuracy on the 14 held-out instruments (one per family, never heard)
    spoken-digits   the digit (10 classes); accuracy on the held-out voice variants
    FOLDER          any folder of sounds with one sub-folder per class; a seeded 20 % is held out

The extractor reads **waveforms** (N, samples) at its sample rate (16 kHz, 1 s clips: longer clips are cut,
shorter ones zero-padded; other rates resampled), so a generated sound is judged on the audio it actually
makes, whatever its decoder (instantaneous frequency or Griffin-Lim). Its input is the log-mel spectrogram
of ``media_audio`` (STFT, mel filterbank; log magnitude mapped like ``SpecCodec`` channel 0). Its
penultimate layer gives the features (FID, KID, precision/recall, coverage), its softmax the classes (the
inception score: ``metrics.functional.classifier_score``).

Architecture (``SoundClassifierConfig``): per width, Conv3x3 - BatchNorm - ReLU - MaxPool2; adaptive average
pooling to 4 x 4; Linear(hidden) - ReLU [features] - Dropout - Linear(classes). Augmentation while training:
a random time shift of up to ``SHIFT_FRAMES`` frames and a random gain of +-``GAIN_DB`` dB.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ..cache import key_of
from ..config.base import check, from_dict, to_dict
from ..errors import UserError
from ..media_audio import (
    AUDIO_SUFFIXES,
    LOG_FLOOR,
    LOG_PEAK,
    fit_length,
    mel_filterbank,
    peak_normalize,
    read_audio,
    resample,
    stft,
)
from ..runs import slug
from .base import Extractor, Features, sha256_tensors
from .cache import cached_models, features_root, load_npz, reference_root, save_npz
from .classifier import _write_atomic_dir, train_epoch

SOUND_SOURCES = ("gm-notes", "spoken-digits")
SAMPLE_RATE = 16000
HOLDOUT_FRACTION = 0.2  # folders: this share of the sounds (seeded) is held out for the accuracy
SHIFT_FRAMES, GAIN_DB = 4, 6.0
DEFAULT_EPOCHS, DEFAULT_WIDTHS, DEFAULT_HIDDEN = 8, (16, 32, 64), 128
SET_CACHE_VERSION = 1


@dataclass(frozen=True)
class SoundClassifierConfig:
    num_classes: int = 10
    sample_rate: int = SAMPLE_RATE
    clip: int = SAMPLE_RATE  # samples per clip (1 s)
    n_fft: int = 1000
    hop: int = 250
    n_mels: int = 64
    widths: tuple[int, ...] = (16, 32, 64)
    hidden: int = 128
    dropout: float = 0.3

    def __post_init__(self) -> None:
        check(self.num_classes >= 2, f"a sound classifier needs at least 2 classes, got {self.num_classes}")
        check(len(self.widths) >= 1 and all(w > 0 for w in self.widths), "sound classifier widths must be positive")
        check(0 < self.hop <= self.n_fft <= self.clip, f"bad STFT sizes: n_fft {self.n_fft}, hop {self.hop}")

    @property
    def frames(self) -> int:
        return self.clip // self.hop + 1


def log_mel(waves: torch.Tensor, cfg: SoundClassifierConfig) -> torch.Tensor:
    """(B, clip) waveforms -> (B, 1, n_mels, frames) log-mel magnitudes in about [-1, 1] (``SpecCodec``'s mapping)."""
    mag = stft(waves.float(), cfg.n_fft, cfg.hop).abs()
    mel = mel_filterbank(cfg.n_mels, cfg.n_fft, cfg.sample_rate).to(waves.device) @ mag
    lo, hi = math.log(LOG_FLOOR), math.log(LOG_PEAK)
    return ((torch.log(mel + LOG_FLOOR) - lo) / (hi - lo) * 2 - 1)[:, None]


class SoundCNN(nn.Module):
    """x (B, 1, n_mels, frames) log-mel -> (features (B, hidden), logits (B, num_classes))."""

    def __init__(self, cfg: SoundClassifierConfig):
        super().__init__()
        layers: list[nn.Module] = []
        c = 1
        for w in cfg.widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            c = w
        self.conv = nn.Sequential(*layers, nn.AdaptiveAvgPool2d((4, 4)))
        self.fc = nn.Linear(c * 16, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = F.relu(self.fc(self.conv(x).flatten(1)))
        return f, self.head(self.drop(f))


def fit_waves(waves: torch.Tensor | np.ndarray, sample_rate: int, cfg: SoundClassifierConfig) -> np.ndarray:
    """(N, L) waveforms at ``sample_rate`` -> float32 (N, cfg.clip) at cfg's rate (resampled, cut or zero-padded)."""
    a = np.asarray(waves.detach().cpu().numpy() if torch.is_tensor(waves) else waves, dtype=np.float32)
    if a.ndim != 2:
        raise UserError(
            f"sound features read waveforms (N, samples), got shape {a.shape}; give sounds, not pictures "
            "(picture runs use --features classifier, emoji or folder-rcf)"
        )
    if sample_rate != cfg.sample_rate:
        a = np.stack([resample(w, sample_rate, cfg.sample_rate) for w in a]) if len(a) else a
    return np.stack([fit_length(w, cfg.clip) for w in a]) if len(a) else np.zeros((0, cfg.clip), np.float32)


class SoundClassifierExtractor(Extractor):
    """A trained ``SoundCNN`` loaded from its cache folder; ``extract`` reads waveforms, not pictures."""

    modality = "sound"

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.meta = json.loads((self.path / "meta.json").read_text())
            self.cfg = from_dict(SoundClassifierConfig, self.meta["config"], "sound classifier config")
            state = load_file(str(self.path / "model.safetensors"))
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise UserError(f"cannot read the sound classifier in {self.path} ({e}); delete it and retrain") from None
        except Exception as e:  # safetensors raises several types on corrupt files
            raise UserError(
                f"sound classifier weights in {self.path} are damaged ({e}); delete it and retrain"
            ) from None
        self.model = SoundCNN(self.cfg)
        self.model.load_state_dict(state)
        self.model.eval()
        self.data_name = str(self.meta["data"]["name"])
        self.name = f"sound-{slug(self.meta['data']['label'])}"
        self.id = sha256_tensors(state, to_dict(self.cfg))[:12]
        self.num_classes = self.cfg.num_classes
        self.class_names = tuple(self.meta.get("class_names", ()))
        self.sample_rate = self.cfg.sample_rate
        acc = self.meta.get("accuracy")
        self.description = (
            f"log-mel CNN trained on the {self.meta['data']['target']} of {self.meta['data']['label']}"
            + (f", {100 * acc:.2f} % accuracy on {self.meta.get('accuracy_split')}" if acc is not None else "")
            + "; penultimate-layer features, softmax classes"
        )

    def _forward(self, x: torch.Tensor):
        f, logits = self.model(x)
        return f, torch.softmax(logits.float(), dim=1)

    def extract(
        self, waves: torch.Tensor | np.ndarray, batch_size: int | None = None, sample_rate: int | None = None
    ) -> Features:
        """Features of ``waves`` (N, samples) float at ``sample_rate`` (default: the extractor's)."""
        a = fit_waves(waves, sample_rate or self.sample_rate, self.cfg)
        if not len(a):
            raise ValueError("no sounds to extract features from")
        bs = batch_size or self.batch_size
        feats, probs = [], []
        with torch.inference_mode():
            for i in range(0, len(a), bs):
                f, p = self._forward(log_mel(torch.from_numpy(a[i : i + bs]), self.cfg))
                feats.append(f.numpy().astype(np.float32))
                probs.append(p.numpy().astype(np.float32))
        return Features(np.concatenate(feats), np.concatenate(probs))

    def extra_info(self) -> dict:
        return {
            "modality": "sound",
            "accuracy": self.meta.get("accuracy"),
            "accuracy_split": self.meta.get("accuracy_split"),
            "data": self.meta.get("data"),
            "class_names": list(self.class_names),
            "sample_rate": self.sample_rate,
            "path": str(self.path),
        }


# ---- data ----------------------------------------------------------------------------------


@dataclass
class SoundSet:
    """Labelled real sounds at ``SAMPLE_RATE``: waves float32 (N, samples), labels (N,) int64."""

    name: str
    waves: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    describe: str

    def __len__(self) -> int:
        return len(self.waves)

    def subset(self, idx: np.ndarray, describe: str) -> SoundSet:
        return SoundSet(self.name, self.waves[idx], self.labels[idx], self.class_names, describe)


def is_sound_data(name: str) -> bool:
    """A named sound source or a folder of sounds (no pictures)."""
    if name in SOUND_SOURCES:
        return True
    p = Path(name).expanduser()
    if not p.is_dir():
        return False
    from ..data.audio import is_audio_folder

    return is_audio_folder(p)


def _folder_files(root: Path) -> tuple[list[Path], tuple[str, ...]]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise UserError(f"no .wav/.flac/.ogg files under {root}; point --data at a folder of sounds")
    classes = tuple(sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1}))
    if len(classes) < 2 or any(len(p.relative_to(root).parts) == 1 for p in files):
        raise UserError(f"a sound classifier needs labels: put every sound of {root} in a class sub-folder (>= 2)")
    return files, classes


def data_settings(data: str, programs: tuple[int, ...] | None = None, pitches: tuple[int, ...] | None = None) -> dict:
    """What identifies the real sounds of ``data`` (the cache key of its classifier and its sound sets)."""
    if data == "gm-notes":
        from ..data import gm_notes

        sf2 = gm_notes.soundfont()
        return {
            "name": data,
            "label": data,
            "target": "instrument family",
            "programs": list(programs) if programs else None,
            "pitches": list(pitches) if pitches else None,
            "soundfont": str(sf2) if sf2 else None,
        }
    if data == "spoken-digits":
        return {"name": data, "label": data, "target": "digit"}
    root = Path(data).expanduser()
    if not root.is_dir():
        raise UserError(
            f"unknown sound data {data!r}: use {' or '.join(SOUND_SOURCES)}, or a folder of sounds in class sub-folders"
        )
    files, _ = _folder_files(root)
    listing = [(str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return {"name": str(root.resolve()), "label": root.name, "target": "sub-folder class", "files": key_of(listing)}


def load_sound_set(data: str, split: str, programs=None, pitches=None, seed: int = 0) -> SoundSet:
    """The labelled real sounds of ``data``'s ``split`` ("train", "test" = held out, or "all"), cached as 16-bit
    samples (and always returned as such, cached or not)."""
    settings = data_settings(data, programs, pitches)
    key = key_of({"v": SET_CACHE_VERSION, "split": split, "seed": seed, **settings})
    path = reference_root() / f"soundset-{slug(settings['label'])}-{key}.npz"
    hit = load_npz(path, {"key": key})
    if hit is not None:
        arrays, meta = hit
        return SoundSet(
            settings["label"],
            arrays["waves"].astype(np.float32) / 32767.0,
            arrays["labels"],
            tuple(meta["class_names"]),
            meta["describe"],
        )
    s = _make_sound_set(data, split, programs, pitches, seed)
    waves16 = np.round(np.clip(s.waves, -1, 1) * 32767).astype(np.int16)
    save_npz(
        path, {"waves": waves16, "labels": s.labels}, {"key": key, "class_names": s.class_names, "describe": s.describe}
    )
    s.waves = waves16.astype(np.float32) / 32767.0  # what the cache gives back: the same sounds every time
    return s


def _make_sound_set(data: str, split: str, programs, pitches, seed: int) -> SoundSet:
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be train, test or all, got {split!r}")
    if data == "gm-notes":
        from ..data import gm_notes

        if gm_notes.locate() is None:
            raise UserError(f"gm-notes needs fluidsynth and a General MIDI soundfont: {gm_notes.INSTALL}")
        chosen = tuple(programs) if programs else gm_notes.PROGRAMS
        keep = [p for p in chosen if split == "all" or (p % 8 == gm_notes.HELD_OUT) == (split == "test")]
        if not keep:
            raise UserError(
                f"no gm-notes {split} instruments among programs {list(chosen)} (held out: program % 8 == 5)"
            )
        if pitches:
            sf2 = gm_notes.soundfont()
            assert sf2 is not None
            parts = [gm_notes.render_program(sf2, p, tuple(pitches), (100,)) for p in keep]
        else:
            parts = [gm_notes.program_notes(p) for p in keep]
        progs = np.concatenate([n.programs for n in parts])
        what = "held-out instruments" if split == "test" else "training instruments" if split == "train" else "notes"
        return SoundSet(
            "gm-notes",
            np.concatenate([n.waves for n in parts]).astype(np.float32),
            (progs // 8).astype(np.int64),
            gm_notes.FAMILIES,
            f"gm-notes {what} ({len(progs)} notes of {len(keep)} instruments)",
        )
    if data == "spoken-digits":
        from ..data import spoken_digits

        if split == "all":
            a, b = (load_sound_set(data, s) for s in ("train", "test"))
            return SoundSet(data, np.concatenate([a.waves, b.waves]), np.concatenate([a.labels, b.labels]),
                            a.class_names, f"spoken-digits ({len(a) + len(b)} utterances)")  # fmt: skip
        waves, digits, _ = spoken_digits.load_waves(split, SAMPLE_RATE, SAMPLE_RATE)
        what = "held-out voices" if split == "test" else "training voices"
        return SoundSet(data, waves, digits, spoken_digits.WORDS, f"spoken-digits {what} ({len(waves)} utterances)")
    root = Path(data).expanduser()
    files, classes = _folder_files(root)
    wave_list: list[np.ndarray] = []
    labels: list[int] = []
    for p in files:
        try:
            wave = read_audio(p, SAMPLE_RATE)
        except UserError:
            continue
        wave_list.append(fit_length(peak_normalize(wave), SAMPLE_RATE))
        labels.append(classes.index(p.relative_to(root).parts[0]))
    if len(wave_list) < 4:
        raise UserError(f"{root} has {len(wave_list)} readable sounds; a sound classifier needs at least 4")
    full = SoundSet(
        root.name, np.stack(wave_list), np.array(labels, np.int64), classes, f"{root.name} ({len(wave_list)} sounds)"
    )
    if split == "all":
        return full
    perm = np.random.default_rng(seed).permutation(len(full))
    n_val = max(1, round(len(full) * HOLDOUT_FRACTION))
    if split == "test":
        return full.subset(
            np.sort(perm[:n_val]), f"{root.name}: seeded {int(100 * HOLDOUT_FRACTION)} % hold-out ({n_val} sounds)"
        )
    return full.subset(np.sort(perm[n_val:]), f"{root.name}: training part ({len(full) - n_val} sounds)")


# ---- cache folders -------------------------------------------------------------------------


def sound_classifier_dir(settings: dict) -> Path:
    return features_root() / f"sound-{slug(settings['label'])}-{key_of(settings)[:12]}"


def find_sound_classifier(data: str) -> Path | None:
    """The cached classifier for ``data`` (full data, default settings), or None."""
    path = sound_classifier_dir(data_settings(data))
    return path if (path / "meta.json").is_file() and (path / "model.safetensors").is_file() else None


def load_sound_classifier(data: str | None = None, path: str | Path | None = None) -> SoundClassifierExtractor:
    """The sound classifier at ``path`` (which must be trained on ``data`` when both are given), or the one
    cached for ``data``; a UserError naming the command that trains it when there is none."""
    if path is not None:
        p = Path(path).expanduser()
        if not (p / "meta.json").is_file():
            raise UserError(
                f"{path} is not a sound classifier folder (no meta.json); `ganstudio features list` shows them"
            )
        ext = SoundClassifierExtractor(p)
        if data is not None and ext.data_name != data:
            raise UserError(f"{path} was trained on {ext.data_name}, not {data}; use --features sound:{path}")
        return ext
    if data is None:
        raise UserError("give a sound classifier folder: --features sound:PATH")
    found = find_sound_classifier(data)
    if found is None:
        raise UserError(
            f"no {data} sound classifier in {features_root()}; train it once with "
            f"`ganstudio features train --data {data}`"
        )
    return SoundClassifierExtractor(found)


def list_sound_classifiers() -> list[dict]:
    return [row for row, _ in cached_models("sound-", "label")]


# ---- training ------------------------------------------------------------------------------


@torch.no_grad()
def _accuracy(model: SoundCNN, x: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch_size])[1].argmax(1) == labels[i : i + batch_size]).sum())
        for i in range(0, len(x), batch_size)
    )
    return correct / max(1, len(x))


def _features_of(s: SoundSet, cfg: SoundClassifierConfig) -> torch.Tensor:
    waves = torch.from_numpy(fit_waves(s.waves, SAMPLE_RATE, cfg))
    return torch.cat([log_mel(waves[i : i + 512], cfg) for i in range(0, len(waves), 512)])


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A random time shift of up to ``SHIFT_FRAMES`` frames (silence fills in) and a gain of +-``GAIN_DB`` dB."""
    b = len(x)
    shift = torch.randint(-SHIFT_FRAMES, SHIFT_FRAMES + 1, (b,), generator=g)
    t = x.shape[-1]
    idx = (torch.arange(t)[None] - shift[:, None]).clamp(-1, t)  # -1 / t: outside the clip
    pad = F.pad(x, (1, 1), value=-1.0)
    out = pad.gather(3, (idx + 1).view(b, 1, 1, t).expand(b, x.shape[1], x.shape[2], t))
    lo, hi = math.log(LOG_FLOOR), math.log(LOG_PEAK)
    gain = (torch.rand(b, generator=g) * 2 - 1) * GAIN_DB * math.log(10) / 20  # nepers
    # a gain multiplies magnitudes: approximately a shift of the log magnitude (exact above the floor)
    return (out + (gain * 2 / (hi - lo)).view(b, 1, 1, 1)).clamp(-1, 1)


def train_sound_classifier(
    data: str,
    epochs: int | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    widths: tuple[int, ...] | None = None,
    hidden: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    force: bool = False,
    programs: tuple[int, ...] | None = None,
    pitches: tuple[int, ...] | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train (or find cached) the sound classifier for ``data`` (see the module docstring); returns its folder.

    ``programs`` / ``pitches`` (gm-notes only): a subset of the instruments and pitches (at velocity 100),
    for quick checks; such a classifier is cached apart from the full one and named by ``sound:PATH``."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    if (programs or pitches) and data != "gm-notes":
        raise UserError("programs and pitches choose a subset of gm-notes only")
    if threads:
        torch.set_num_threads(threads)
    settings = data_settings(data, programs, pitches)
    out = sound_classifier_dir(settings)
    if (out / "meta.json").is_file() and not force:
        log(f"sound classifier for {settings['label']} already trained: {out} (use --force to retrain)")
        return out
    epochs = DEFAULT_EPOCHS if epochs is None else epochs
    widths = tuple(DEFAULT_WIDTHS if widths is None else widths)
    hidden = DEFAULT_HIDDEN if hidden is None else hidden
    train = load_sound_set(data, "train", programs, pitches, seed)
    val = load_sound_set(data, "test", programs, pitches, seed)
    if len(np.unique(train.labels)) < 2:
        raise UserError(f"the training sounds of {settings['label']} hold fewer than 2 classes")
    cfg = SoundClassifierConfig(num_classes=len(train.class_names), widths=widths, hidden=hidden)
    log(
        f"training a {widths} log-mel CNN on {train.describe} ({cfg.num_classes} classes: {settings['target']}), "
        f"{epochs} epochs; accuracy on {val.describe}"
    )
    x, y = _features_of(train, cfg), torch.from_numpy(train.labels)
    xv, yv = _features_of(val, cfg), torch.from_numpy(val.labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SoundCNN(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        steps = max(1, epochs * math.ceil(len(x) / batch_size))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
        g = torch.Generator().manual_seed(seed)
        history: list[dict] = []
        t0 = time.monotonic()
        for epoch in range(epochs):
            loss = train_epoch(model, opt, sched, len(x), batch_size, g, lambda idx: (_augment(x[idx], g), y[idx]))
            acc = _accuracy(model, xv, yv)
            history.append({"epoch": epoch + 1, "loss": round(loss, 5), "accuracy": round(acc, 5),
                            "seconds": round(time.monotonic() - t0, 1)})  # fmt: skip
            log(f"  epoch {epoch + 1}/{epochs}: loss {history[-1]['loss']:.4f}, held-out accuracy {100 * acc:.2f} %")
        model.eval()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    counts = np.bincount(val.labels, minlength=cfg.num_classes)
    meta = {
        "kind": "sound-classifier",
        "data": settings,
        "class_names": list(train.class_names),
        "config": to_dict(cfg),
        "accuracy": history[-1]["accuracy"],
        "accuracy_split": val.describe,
        "chance": float(counts.max() / max(1, counts.sum())),
        "n_train": len(train),
        "n_val": len(val),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "seed": seed,
        "augment": {"shift_frames": SHIFT_FRAMES, "gain_db": GAIN_DB},
        "train_seconds": history[-1]["seconds"],
        "history": history,
    }
    _write_atomic_dir(out, state, meta)
    log(f"sound classifier saved: {out} ({100 * meta['accuracy']:.2f} % accuracy on {val.describe})")
    return out


__all__ = [
    "SOUND_SOURCES",
    "SoundClassifierConfig",
    "SoundClassifierExtractor",
    "SoundSet",
    "find_sound_classifier",
    "is_sound_data",
    "list_sound_classifiers",
    "load_sound_classifier",
    "load_sound_set",
    "log_mel",
    "train_sound_classifier",
]
