"""Sound runs (task noise-to-sound): the registered metrics in a sound classifier's features, on the audio itself.

Sample i is drawn from latent seed ``seed + i`` exactly as ``ganstudio generate`` draws it, decoded to a waveform
by the run's own decoder (instantaneous frequency, or Griffin-Lim for a magnitude-only run) and peak-normalised,
then handed to the extractor as a waveform (``features.sound``: log-mel CNN). So an IF run and a Griffin-Lim
run are judged on the sound they make, not on their spectrogram pictures.

The real sounds are those of the run's data (``features.sound.load_sound_set``): with ``reference="test"`` its
held-out split (gm-notes: the held-out instruments; spoken-digits: the held-out voices; a folder: all of it)
cut into two seeded halves, A the reference and B the real row, neither seen by the classifier when it was
trained on that data; with ``reference="train"`` the reference is ``n`` random training sounds and the real
row the held-out split. The real row's features are cached like the pictures' (extractor id + sound hash).

Every registered metric that applies is computed (FID, KID, precision/recall, density/coverage, the
classifier score = the inception score in the extractor's classes, class coverage); the near-copy metrics
need pixels and are left out. ``is_share``: the generated IS as a share of the real row's.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from ..features import Extractor, Features
from ..features.cache import data_hash, load_npz, reference_root, save_npz
from ..features.sound import SoundClassifierExtractor, SoundSet, load_sound_set
from ..metrics import functional as M
from ..pipeline import Pipeline
from ..version import __version__
from .reference import REFERENCES, Log, stderr_log
from .registry import Inputs, metrics
from .results import write_result

SAMPLE_BATCH = 100  # sounds per generator call (decoding is the slow part)


def _ints(waves: np.ndarray) -> np.ndarray:
    return np.round(np.clip(waves, -1, 1) * 32767).astype(np.int16)


def sound_features(extractor: Extractor, s: SoundSet, log: Log, what: str) -> Features:
    """Features of real sounds, cached per extractor id + the sounds' (int16) hash and labels."""
    key = f"soundfeats-{extractor.id}-{data_hash(_ints(s.waves), s.labels)[:24]}"
    path = reference_root() / f"{key}.npz"
    hit = load_npz(path, {"extractor_id": extractor.id, "n": len(s)})
    if hit is not None:
        return Features(hit[0]["feats"], hit[0].get("probs"))
    log(f"  computing {extractor.name} features of {len(s)} {what} (cached for next time)")
    f = extractor.extract(s.waves)
    arrays = {"feats": f.feats, **({"probs": f.probs} if f.probs is not None else {})}
    save_npz(path, arrays, {"extractor_id": extractor.id, "n": len(s)})
    return f


def real_sounds(data_name: str, reference: str, n: int, seed: int = 0) -> tuple[SoundSet, SoundSet, str]:
    """(reference set, real-row set, reference split name) for a run trained on ``data_name``."""
    if reference not in REFERENCES:
        raise UserError(f"--reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    from ..features.sound import SOUND_SOURCES

    named = data_name in SOUND_SOURCES
    held = load_sound_set(data_name, "test" if named else "all")
    rng = np.random.default_rng(seed)
    if reference == "train" and named:
        train = load_sound_set(data_name, "train")
        a = train.subset(np.sort(rng.permutation(len(train))[:n]), "")
        a.describe = f"{len(a)} random sounds of {train.describe}"
        b = held.subset(np.sort(rng.permutation(len(held))[:n]), "")
        b.describe = f"{len(b)} sounds of {held.describe} vs the reference"
        return a, b, "train"
    if len(held) < 4:
        raise UserError(f"{held.describe}: evaluation needs at least 4 real sounds")
    perm = rng.permutation(len(held))
    half = len(held) // 2
    a = held.subset(np.sort(perm[:half][:n]), "")
    b = held.subset(np.sort(perm[half:][:n]), "")
    a.describe = f"half A of {held.describe}: {len(a)} sounds"
    b.describe = f"half B of {held.describe}: {len(b)} sounds, vs half A"
    return a, b, "test" if named else "folder-half"


def sample_sounds(pipe: Pipeline, n: int, seed: int = 0, batch_size: int = SAMPLE_BATCH) -> np.ndarray:
    """float32 (n, samples) waveforms at ``pipe.sample_rate``: sound i from latent seed ``seed + i``, as
    ``ganstudio generate`` makes it (the run's decoder, peak-normalised to 0.9)."""
    out = []
    for i in range(0, n, batch_size):
        audio = pipe(n=min(batch_size, n - i), seed=seed + i).audio
        assert audio is not None  # a sound run
        out.append(audio)
    return np.concatenate(out)


def decoder_of(pipe: Pipeline) -> str:
    """How the run turns spectrograms into sound, in words (what the IF vs Griffin-Lim comparison reads)."""
    codec = pipe.codec
    if codec.channels == 2:
        return "instantaneous frequency (IF-Mel, 2 channels)"
    return f"Griffin-Lim ({codec.gl_iterations} iterations, magnitude only)"


def _class_ref(feats: Features, s: SoundSet, extractor: Extractor) -> np.ndarray | None:
    if feats.probs is None or extractor.num_classes < 2:
        return None
    return s.labels if tuple(extractor.class_names) == tuple(s.class_names) else feats.probs


def sound_row(
    fake: Features,
    ref: Features,
    mu: np.ndarray,
    sigma: np.ndarray,
    class_ref: np.ndarray | None,
    num_classes: int,
    requested: np.ndarray | None = None,
) -> dict:
    """Every registered metric that applies to sounds (all but the near-copy ones, which need pixels), as
    ``core.compute_row`` gives them for pictures."""
    x = Inputs(fake, None, ref, mu, sigma, class_ref, num_classes, None, None, 0, requested)
    row: dict[str, Any] = {"n": len(fake)}
    for m in metrics():
        row.update(m.values(x) or {})
    return {k: int(v) if isinstance(v, np.integer) else float(v) if isinstance(v, np.floating) else v
            for k, v in row.items()}  # fmt: skip


def evaluate_sound(
    pipe: Pipeline,
    extractor: Extractor,
    n: int,
    reference: str = "test",
    seed: int = 0,
    write: bool = True,
    log: Log | None = None,
    requested: np.ndarray | None = None,
) -> dict:
    """Score a sound run's checkpoint (``pipe``) with a sound extractor; returns the result (also written to
    ``RUN/eval/<step>.json`` with ``write``). ``requested`` (``core.requested_classes`` with this module's
    ``SAMPLE_BATCH``): the class each sound was generated for, when the extractor knows the run's classes (a
    digit-conditioned spoken-digits run judged by the digit classifier): the requested-class accuracy."""
    log = log or stderr_log
    run_dir = Path(pipe.run_dir or ".")
    if not isinstance(extractor, SoundClassifierExtractor):
        raise UserError(
            f"{pipe.run_dir} is a sound run; evaluate it with sound features: --features gm-notes, spoken-digits "
            "or sound:PATH (`ganstudio features train --data gm-notes` trains one)"
        )
    t0 = time.monotonic()
    data_name = pipe.config.data.name
    log(f"evaluating {run_dir.name} at step {pipe.step} with {extractor.label} ({n} sounds)")
    ref_set, held_set, ref_split = real_sounds(data_name, reference, n, seed)
    ref_f = sound_features(extractor, ref_set, log, "reference sounds")
    held_f = sound_features(extractor, held_set, log, "real-row sounds")
    mu, sigma = M.feature_stats(ref_f.feats)
    class_ref = _class_ref(ref_f, ref_set, extractor)
    real_row = sound_row(held_f, ref_f, mu, sigma, class_ref, extractor.num_classes)
    t1 = time.monotonic()
    waves = sample_sounds(pipe, n, seed)
    t2 = time.monotonic()
    fake = extractor.extract(waves, sample_rate=pipe.sample_rate)
    row = sound_row(fake, ref_f, mu, sigma, class_ref, extractor.num_classes, requested)
    t3 = time.monotonic()
    g_is, r_is = row.get("classifier_score"), real_row.get("classifier_score")
    res = {
        "run": str(run_dir),
        "step": pipe.step,
        "n": n,
        "seed": seed,
        "modality": "sound",
        "decoder": decoder_of(pipe),
        "sample_rate": pipe.sample_rate,
        "reference": ref_split,
        "extractor": extractor.describe(),
        "extractor_label": extractor.label,
        "data": {"reference": ref_set.describe, "real_row": held_set.describe, "reference_split": ref_split},
        "rows": {"generated": row, "real": real_row},
        "is_share": (g_is / r_is) if g_is is not None and r_is else None,
        "originality": {},
        "seconds": {"reference": round(t1 - t0, 2), "sampling": round(t2 - t1, 2), "scoring": round(t3 - t2, 2)},
        "ganstudio_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if write:
        res["path"] = str(write_result(run_dir, res))
    return res


__all__ = ["decoder_of", "evaluate_sound", "real_sounds", "sample_sounds", "sound_features", "sound_row"]
