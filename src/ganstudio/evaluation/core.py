"""Score image sets against real data: ``compute_row``, the real-vs-real row, ``evaluate(run_dir)``.

For one checkpoint, ``n`` images are sampled (image i from seed ``seed + i``, as ``ganstudio
generate`` does) and compared with real data under one feature extractor (``ganstudio.features``).
A run that reads text draws image i from a caption of the reference pictures (``caption_embeddings``,
seeded like the latents) instead of the empty caption, so the scores measure the text-conditioned generator;
class-conditional and unconditional runs sample exactly as ``ganstudio generate`` does, except that a
conditional run asks for its classes in the reference set's proportions (``class_plan``; ``class_mix="uniform"``
cycles through them as ``generate`` does): FID compares distributions, so a run asked for its classes
uniformly while the real set holds 76 of one and 337 of another would be charged for the asking.
Two rows come out, ``generated`` and ``real``: every registered metric (``evaluation.registry``)
for the generated images and for real images the generator never saw ("as good as the data": a
perfect generator would score about this). ``reference.py`` picks the real sets.

The real row is cached whole in ``$GANSTUDIO_CACHE/features/reference/``, keyed by the extractor,
the images, ``METRICS_VERSION`` and the registered metrics, so repeated evaluations only pay for the
generated images. Results go to ``RUN_DIR/eval/<step:09d>.json`` (``results.write_result``) plus
``<step:09d>-originality.png``: the generated images closest to a training image, each above its
training twin. "Closest" forgives moves of a few pixels, mirrors and light crops
(``builtin.copy_invariance``); each twin in the JSON says how it was moved, mirrored or zoomed.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import media, runs
from ..cache import key_of
from ..data import DataConfig, captions, coarse_classes
from ..errors import UserError
from ..features import Extractor, Features, get_extractor, sound_spec
from ..features.cache import data_hash, load_npz, reference_root, save_npz
from ..metrics import functional as M
from ..pipeline import Pipeline, load
from ..version import __version__
from .builtin import METRICS_VERSION, copy_invariance, originality
from .reference import (
    DEFAULT_N,
    ORIGINALITY_N,
    Log,
    RealData,
    cached_features,
    cached_self_nn,
    class_reference,
    load_real,
    pixels,
    stderr_log,
)
from .registry import Inputs, metrics
from .results import write_result

WORST_K = 8  # worst offenders shown in the originality panel
SAMPLE_BATCH = 500  # images per generator call in ``sample_images`` (a conditional run's classes cycle per call)
CLASS_MIXES = ("data", "uniform")  # how an evaluation asks a conditional run for its classes (``class_plan``)
ORIGINALITY_DETAILS = (
    "copy_fraction",
    "num_flagged",
    "threshold",
    "median_ratio",
    "reference_median",
    "reference_quantile",
    "alpha",
    "quantile",
    "worst_indices",
    "worst_train_indices",
    "worst_distances",
    "rule",
    "invariance",
    "worst_transforms",
    "pixel_threshold",
    "num_flagged_invariant",
    "num_flagged_pixel",
)


@dataclass
class Reference:
    """Everything about the real data one extractor needs, prepared once per evaluation or training."""

    extractor: Extractor
    real: RealData
    feats: Features  # of real.reference
    mu: np.ndarray  # (D,)
    sigma: np.ndarray  # (D, D)
    twin_pixels: np.ndarray  # (T, C*H*W) float32 in [0, 1]
    twin_self_nn: np.ndarray  # (T, 2): the twins' NN distances, invariant and pixel (reference.cached_self_nn)
    real_row: dict  # flat metrics of the real row
    real_originality: dict

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.real.reference.shape


def compute_row(
    fake: Features,
    fake_pixels: np.ndarray | None,
    ref_feats: Features,
    mu: np.ndarray,
    sigma: np.ndarray,
    class_ref: np.ndarray | None,
    num_classes: int,
    twin_pixels: np.ndarray | None,
    twin_self_nn: np.ndarray | None,
    top_k: int = WORST_K,
    requested: np.ndarray | None = None,
    pixel_shape: tuple[int, int, int] | None = None,
) -> tuple[dict, dict]:
    """One set of images against the reference: (flat row of every registered metric that applies,
    originality details). ``requested``: the class each image was generated for (extractor's order).
    ``pixel_shape``: (C, H, W) of the flattened pixels, for the invariant near-copy rule (None: the
    pixel rule; ``twin_self_nn`` must then be plain pixel distances). Without pixels (None: sounds) the
    near-copy metrics are left out and the details are empty."""
    x = Inputs(
        fake,
        fake_pixels,
        ref_feats,
        mu,
        sigma,
        class_ref,
        num_classes,
        twin_pixels,
        twin_self_nn,
        top_k,
        requested,
        pixel_shape=pixel_shape,
    )
    row: dict[str, Any] = {"n": len(fake)}
    for m in metrics():
        row.update(m.values(x) or {})
    if not x.has_pixels:  # sounds: no near-copy search in pixels
        return {k: _plain(v) for k, v in row.items()}, {}
    o = originality(x)
    details = {k: o[k] for k in ORIGINALITY_DETAILS if k in o}
    dist = np.asarray(o["nn_distance"])
    details["nn_distance_quantiles"] = {q: float(np.quantile(dist, float(q))) for q in ("0.01", "0.1", "0.5")}
    return {k: _plain(v) for k, v in row.items()}, details


def _plain(v: Any) -> Any:
    return int(v) if isinstance(v, np.integer) else float(v) if isinstance(v, np.floating) else v


def prepare_reference(
    data: DataConfig,
    extractor: Extractor,
    reference: str = "test",
    n: int = DEFAULT_N,
    originality_n: int = ORIGINALITY_N,
    default_resolution: int | None = None,
    seed: int = 0,
    log: Log | None = None,
) -> Reference:
    """Load the real sets, their features, the twins' self-distances and the real row (all cached)."""
    log = log or stderr_log
    real = load_real(data, reference, n, originality_n, default_resolution, seed)
    ref_f = cached_features(extractor, real.reference.images, real.reference.labels, log, "reference images")
    mu, sigma = M.feature_stats(ref_f.feats)
    twin_px = pixels(real.twins.images)
    shape = real.twins.shape
    self_nn = cached_self_nn(real.twins.images, log)
    class_ref = class_reference(ref_f, real.reference, extractor)
    # the real row, cached as a whole
    held_twins = real.twins.images[real.held_out_twins]
    key = key_of(
        {
            "v": METRICS_VERSION,
            "metrics": [m.name for m in metrics()],
            "extractor": extractor.id,
            "ref": data_hash(real.reference.images),
            "held": data_hash(real.held_out.images),
            "twins": data_hash(held_twins),
            "labels": None if real.reference.labels is None else data_hash(real.reference.labels),
        }
    )
    path = reference_root() / f"realrow-{key}.npz"
    hit = load_npz(path, {"key": key})
    if hit is not None:
        meta = hit[1]
        real_row, real_orig = meta["row"], meta["originality"]
    else:
        held_f = cached_features(extractor, real.held_out.images, real.held_out.labels, log, "held-out real images")
        if len(held_twins) == len(real.twins):
            held_nn = self_nn
        else:
            log(f"  nearest-neighbour distances within {len(held_twins)} training images (real row)")
            held_nn = M.copy_calibration(pixels(held_twins).reshape(held_twins.shape), copy_invariance(shape))
        log("  scoring the real row (cached for next time)")
        real_row, real_orig = compute_row(
            held_f,
            pixels(real.held_out.images),
            ref_f,
            mu,
            sigma,
            class_ref,
            extractor.num_classes,
            pixels(held_twins),
            held_nn,
            pixel_shape=shape,
        )
        save_npz(path, {}, {"key": key, "row": real_row, "originality": real_orig})
    return Reference(extractor, real, ref_f, mu, sigma, twin_px, self_nn, real_row, real_orig)


def _uint8(images: torch.Tensor) -> torch.Tensor:
    return images if images.dtype == torch.uint8 else images.mul(255).round().clamp(0, 255).to(torch.uint8)


def score(images: torch.Tensor, ref: Reference, requested: np.ndarray | None = None) -> tuple[dict, dict]:
    """Metrics of generated ``images`` (N, C, H, W) float in [0, 1] or uint8 against ``ref``:
    (flat row, originality details). ``requested`` (``requested_classes``): the class each image was
    generated for, which enables the requested-class accuracy of conditional runs."""
    if tuple(images.shape[1:]) != tuple(ref.shape):
        raise UserError(f"generated images are {tuple(images.shape[1:])} but the data is {tuple(ref.shape)}")
    u8 = _uint8(images)
    fake = ref.extractor.extract(u8)
    class_ref = class_reference(ref.feats, ref.real.reference, ref.extractor)
    return compute_row(
        fake,
        pixels(u8),
        ref.feats,
        ref.mu,
        ref.sigma,
        class_ref,
        ref.extractor.num_classes,
        ref.twin_pixels,
        ref.twin_self_nn,
        requested=requested,
        pixel_shape=ref.shape,
    )


def sample_images(
    pipe: Pipeline,
    n: int,
    seed: int = 0,
    batch_size: int = SAMPLE_BATCH,
    text: torch.Tensor | None = None,
    classes: torch.Tensor | None = None,
) -> torch.Tensor:
    """``n`` images from a Pipeline as uint8 (N, C, H, W): image i from latent seed ``seed + i``; with ``text``
    (N, text_dim) (a run that reads text, ``caption_embeddings``) image i draws from caption embedding i; with
    ``classes`` (N,) (a conditional run, ``class_plan``) image i is of class ``classes[i]``, without them the
    classes cycle per generator call as in ``ganstudio generate``."""
    out = []
    for i in range(0, n, batch_size):
        b = min(batch_size, n - i)
        if text is not None:
            out.append(_uint8(pipe.generate(pipe.latents(b, seed + i), text[i : i + b])))
        elif classes is not None:
            w = torch.nn.functional.one_hot(classes[i : i + b].long(), pipe.num_classes).float()
            out.append(_uint8(pipe(n=b, seed=seed + i, classes=w).images))
        else:
            out.append(_uint8(pipe(n=b, seed=seed + i).images))
    return torch.cat(out)


def class_plan(pipe: Pipeline, ds: Any, n: int, mix: str = "data") -> torch.Tensor | None:
    """(n,) the run's class for each of an evaluation's ``n`` images, or None (unconditional run, ``mix``
    "uniform", or a reference ``ds`` without labels in the run's classes: ``sample_images`` then cycles).

    "data": the classes in the proportions of ``ds``'s labels, spread evenly along the sequence by smooth
    weighted round robin (each class's count within one of ``n`` times its share, every prefix as close to the
    proportions as it can be). No randomness is involved, and equal proportions give exactly the cycle
    0, 1, ..., K-1 of ``generate``, so a balanced reference (Fashion-MNIST's test split) samples as before."""
    if mix not in CLASS_MIXES:
        raise UserError(f"--class-mix must be one of {', '.join(CLASS_MIXES)}, got {mix!r}")
    k = pipe.num_classes
    if mix == "uniform" or k < 2 or ds.labels is None or tuple(ds.class_names) != tuple(pipe.class_names):
        return None
    weights = np.bincount(ds.labels.numpy(), minlength=k)[:k].astype(np.int64)
    if weights.sum() == 0:
        return None
    total, current = int(weights.sum()), np.zeros(k, np.int64)
    plan = np.empty(n, np.int64)
    for i in range(n):
        current += weights
        j = int(current.argmax())  # the first of equal maxima: equal weights cycle 0..K-1
        current[j] -= total
        plan[i] = j
    return torch.from_numpy(plan)


def caption_embeddings(pipe: Pipeline, ref: Reference, n: int, seed: int = 0) -> torch.Tensor | None:
    """(n, text_dim) what a run that reads text is evaluated on (None for any other run): captions of the
    reference pictures, so the generated set answers the same texts the real set shows. Image i draws from
    reference picture ``perm[i % R]`` (a permutation seeded ``seed``: every picture once before any twice) and
    one of its captions, picked with the same generator. A reference without captions (a test split that has
    none) falls back to the training pictures searched for twins."""
    if not pipe.reads_text:
        return None
    ds = ref.real.reference if any(captions.lines(c) for c in ref.real.reference.captions) else ref.real.twins
    table = captions.caption_table(ds, pipe.text_model)
    if table.embeddings.shape[1] != pipe.text_dim:
        raise UserError(
            f"the text model {pipe.text_model} gives {table.embeddings.shape[1]} dimensions, this run reads "
            f"{pipe.text_dim}"
        )
    g = torch.Generator().manual_seed(seed)
    pics = torch.randperm(len(table.start), generator=g)[torch.arange(n) % len(table.start)]
    u = torch.rand(n, generator=g)
    count = table.count[pics]
    rows = table.start[pics] + (u * count).long().clamp(max=count - 1)
    return table.embeddings[rows]


def same_classes(pipe: Pipeline, extractor: Extractor) -> bool:
    """Whether the extractor judges the run's classes: a conditional run, the same class names in the same order."""
    return (
        pipe.num_classes >= 2
        and extractor.num_classes == pipe.num_classes
        and bool(pipe.class_names)
        and tuple(extractor.class_names) == tuple(pipe.class_names)
    )


def requested_classes(
    pipe: Pipeline, n: int, extractor: Extractor, batch_size: int = SAMPLE_BATCH, plan: torch.Tensor | None = None
) -> np.ndarray | None:
    """(n,) the class index (the extractor's) each image of ``sample_images(pipe, n, batch_size=batch_size,
    classes=plan)`` was generated for, or None when the run is unconditional or the extractor's classes are
    not the run's."""
    to_judged = judged_classes(pipe, extractor)
    if to_judged is None:
        return None
    if plan is not None:
        return to_judged[plan.numpy()]
    out = []
    for i in range(0, n, batch_size):
        w = pipe.class_weights(None, min(batch_size, n - i))
        assert w is not None  # a conditional run
        out.append(to_judged[w.argmax(1).numpy()])
    return np.concatenate(out)


def draw(
    pipe: Pipeline, ref: Reference, n: int, seed: int = 0, class_mix: str = "data"
) -> tuple[torch.Tensor, np.ndarray | None, str | None]:
    """What an evaluation scores, drawn the same way by ``evaluate`` and ``EvalHook``: (``n`` uint8 images,
    the extractor's class each was asked for or None, the class mix used for the result's ``class_mix``).
    A run that reads text draws from the reference's captions, a conditional run in ``class_plan``'s order."""
    text = caption_embeddings(pipe, ref, n, seed)
    plan = None if text is not None else class_plan(pipe, ref.real.reference, n, class_mix)
    images = sample_images(pipe, n, seed, text=text, classes=plan)
    return images, requested_classes(pipe, n, ref.extractor, plan=plan), mix_used(pipe, plan)


def mix_used(pipe: Pipeline, plan: torch.Tensor | None) -> str | None:
    """What an eval result records under ``class_mix``: "data" (``class_plan`` followed the reference's
    proportions), "uniform" (a conditional run's classes in turn), None (an unconditional or text run)."""
    if plan is not None:
        return "data"
    return "uniform" if pipe.num_classes >= 2 and not pipe.reads_text else None


def judged_classes(pipe: Pipeline, extractor: Extractor) -> np.ndarray | None:
    """(K,) the extractor's class for each of the run's K classes: the same class when both have the same
    names, the coarser class when the run was conditioned on finer ones (emoji subgroups judged by the
    group classifier: a "food-fruit" sample counts as right when it is judged "Food & Drink"); else None."""
    if same_classes(pipe, extractor):
        return np.arange(pipe.num_classes)
    if pipe.num_classes < 2 or not pipe.class_names or not extractor.class_names:
        return None
    coarse = coarse_classes(tuple(pipe.class_names))
    index = {c: i for i, c in enumerate(extractor.class_names)}
    if coarse is None or any(c not in index for c in coarse):
        return None
    return np.array([index[c] for c in coarse], np.int64)


def class_accuracy(pipe: Pipeline, extractor: Extractor, per_class: int = 200, seed: int = 0) -> dict:
    """Requested-class accuracy of a conditional run: ``per_class`` images of each class k (latent seeds
    ``seed + 10_000 k`` on), judged by ``extractor``, which must know the run's classes. Returns
    ``metrics.functional.requested_class_accuracy``'s dict plus ``class_names`` and ``per_class_n``."""
    if pipe.num_classes < 2:
        raise UserError("requested-class accuracy needs a class-conditional run (trained with --conditional)")
    to_judged = judged_classes(pipe, extractor)
    if to_judged is None:
        raise UserError(
            f"{extractor.label} does not know this run's classes ({', '.join(pipe.class_names) or 'unnamed'}); "
            "use the classifier trained on the run's data"
        )
    probs, requested = [], []
    for k in range(pipe.num_classes):
        images = _uint8(pipe(n=per_class, seed=seed + 10_000 * k, classes=k).images)
        p = extractor.extract(images).probs
        if p is None:
            raise UserError(f"{extractor.label} gives no class probabilities")
        probs.append(p)
        requested.append(np.full(per_class, to_judged[k]))
    res = M.requested_class_accuracy(np.concatenate(probs), np.concatenate(requested), extractor.num_classes)
    return {**res, "class_names": list(extractor.class_names), "per_class_n": per_class}


def originality_panel(images: torch.Tensor, ref: Reference, details: dict) -> np.ndarray:
    """uint8 grid: the worst offenders (top row) above their training twins, first as the search
    found them (moved, mirrored, zoomed: the middle row, when the rule is the invariant one), then as
    they are in the data (bottom row)."""
    worst = details["worst_indices"]
    twins = details["worst_train_indices"]
    if not worst:
        return media.make_grid(images[:1])
    top = _uint8(images)[torch.tensor(worst)]
    bottom = ref.real.twins.images[torch.tensor(twins)]
    rows = [top, bottom]
    if details.get("worst_transforms"):
        fitted = M.apply_copy_transform(bottom.float() / 255, details["worst_transforms"])
        rows.insert(1, _uint8(fitted.clamp(0, 1)))
    return media.make_grid(torch.cat(rows), nrow=len(worst))


FRAGILITY_STEPS = 5  # sign-gradient steps per direction of ``fragility_of``


def fragility_of(images: torch.Tensor, ref: Reference, eps: float, steps: int = FRAGILITY_STEPS, seed: int = 0) -> dict:
    """How far FID of ``images`` (uint8 or [0, 1], N >= 2) against ``ref`` moves under L-inf changes of at most
    ``eps`` per pixel: ``robustness.fragility.fid_fragility`` with the evaluation's own reference features.

    Returns the JSON-ready section an eval result keeps under ``fragility``: ``eps``, ``eps_255``, ``steps``,
    ``clean_fid``, ``fid_down`` / ``fid_up`` (FID pushed down / up by projected sign-gradient steps through the
    extractor; None when the extractor is not a torch network, e.g. ``onnx:``), ``fid_random`` (a random
    corner of the eps-box, every extractor) and ``rows`` (``fid_fragility``'s rows)."""
    from ..robustness.fragility import fid_fragility

    modes = ("random", "down", "up")
    res = fid_fragility(
        images, ref.feats.feats, ref.extractor, [eps], modes, steps=steps, seed=seed, kid_subsets=10, kid_size=100
    )
    by_mode = {r["mode"]: r["fid"] for r in res["rows"]}
    return {
        "eps": eps,
        "eps_255": round(eps * 255, 3),
        "steps": steps,
        "clean_fid": res["clean"]["fid"],
        "fid_down": by_mode.get("down"),
        "fid_up": by_mode.get("up"),
        "fid_random": by_mode.get("random"),
        "rows": res["rows"],
        "skipped": res["skipped"],
    }


def _edit(t: list) -> dict:
    """[mirrored, zoom, move y, move x] -> how the training twin becomes the sample, for the JSON."""
    return {"mirrored": bool(t[0]), "zoom": float(t[1]), "move_px": [float(t[2]), float(t[3])]}


def build_result(
    run_dir: Path,
    step: int,
    n: int,
    seed: int,
    ref: Reference,
    row: dict,
    details: dict,
    seconds: dict,
    images: torch.Tensor,
    panel: bool = True,
) -> dict:
    """The eval JSON for one checkpoint; with ``panel`` its originality panel is written next to it."""
    panel_rel = f"eval/{step:09d}-originality.png"
    if panel:
        grid = originality_panel(images, ref, details)
        media.save_image(grid, Path(run_dir) / panel_rel, scale=max(1, 192 // max(1, grid.shape[0])))
    twins_idx = ref.real.twins_index
    transforms = details.get("worst_transforms") or [None] * len(details["worst_indices"])
    worst = [
        {
            "sample": int(i),
            "seed": seed + int(i),
            "train_index": int(twins_idx[j]),
            "distance": float(d),
            **({"twin_edit": _edit(t)} if t is not None else {}),
        }
        for i, j, d, t in zip(
            details["worst_indices"], details["worst_train_indices"], details["worst_distances"], transforms
        )
    ]
    return {
        "run": str(run_dir),
        "step": step,
        "n": n,
        "seed": seed,
        "reference": ref.real.describe["reference_split"],
        "extractor": ref.extractor.describe(),
        "extractor_label": ref.extractor.label,
        "data": ref.real.describe,
        "rows": {"generated": row, "real": ref.real_row},
        "originality": {
            "generated": {**{k: v for k, v in details.items() if not k.startswith("worst_")}, "worst": worst},
            "real": {k: v for k, v in ref.real_originality.items() if not k.startswith("worst_")},
            "panel": panel_rel if panel else None,
            "space": "pixels in [0, 1]; distance: central region, the twin moved, mirrored or zoomed to fit "
            "best (invariance); near-copy: that distance < alpha * quantile_q of the training images' own NN "
            "distances in it (threshold), or the plain pixel distance < the same in plain pixels "
            "(pixel_threshold: noisy, unmoved copies)",
        },
        "seconds": seconds,
        "ganstudio_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def evaluate(
    run_dir: str | Path,
    checkpoint: str | int = "latest",
    n: int = DEFAULT_N,
    features: str = "auto",
    reference: str = "test",
    seed: int = 0,
    originality_n: int = ORIGINALITY_N,
    device: str = "cpu",
    write: bool = True,
    log: Log | None = None,
    fragility: float | None = None,
    fragility_steps: int = FRAGILITY_STEPS,
    class_mix: str = "data",
) -> dict:
    """Evaluate one checkpoint of a run; returns the result dict (also written to eval/<step>.json).
    A sound run is scored on its waveforms with a sound extractor (``evaluation.sound``).
    ``class_mix``: how a conditional run is asked for its classes (``class_plan``): "data" in the reference's
    proportions (the default), "uniform" in turn; the result says which under ``class_mix``.

    ``fragility`` (an L-inf eps, pixels in [0, 1]; 1/255 is one grey level) also measures how far FID of
    the generated pictures moves under changes that small (``fragility_of``): the table shows it next to
    FID and the JSON keeps it under ``fragility``."""
    log = log or stderr_log
    if n < 10:
        raise UserError(f"--n must be at least 10 (metrics need neighbours), got {n}")
    if fragility is not None and not 0 < fragility <= 1:
        raise UserError(f"--fragility must be an eps in (0, 1] (pixels in [0, 1], e.g. 2/255), got {fragility}")
    if fragility_steps < 1:
        raise UserError(f"--fragility-steps must be at least 1, got {fragility_steps}")
    if class_mix not in CLASS_MIXES:
        raise UserError(f"--class-mix must be one of {', '.join(CLASS_MIXES)}, got {class_mix!r}")
    t0 = time.monotonic()
    run_dir = runs.require_run(run_dir)
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    cfg = pipe.config
    extractor = get_extractor(sound_spec(features, cfg.data) if pipe.is_sound else features, cfg.data, log)
    if pipe.is_sound or extractor.modality == "sound":
        if not pipe.is_sound:
            raise UserError(
                f"{extractor.label} judges sounds and {run_dir.name} makes pictures; use picture features "
                "(auto, classifier, emoji, folder-rcf or onnx:PATH)"
            )
        if fragility is not None:
            raise UserError("--fragility measures pictures; leave it out for a sound run")
        from .sound import SAMPLE_BATCH as SOUND_BATCH
        from .sound import evaluate_sound

        requested = requested_classes(pipe, n, extractor, batch_size=SOUND_BATCH)
        return evaluate_sound(pipe, extractor, n, reference, seed, write, log, requested)
    log(f"evaluating {run_dir.name} at step {pipe.step} with {extractor.label} ({n} samples)")
    ref = prepare_reference(
        cfg.data,
        extractor,
        reference,
        n,
        originality_n,
        default_resolution=cfg.model_config.resolution,
        seed=seed,
        log=log,
    )
    t1 = time.monotonic()
    images, requested, mix = draw(pipe, ref, n, seed, class_mix)
    t2 = time.monotonic()
    row, details = score(images, ref, requested)
    t3 = time.monotonic()
    seconds = {"reference": round(t1 - t0, 2), "sampling": round(t2 - t1, 2), "scoring": round(t3 - t2, 2)}
    frag = None
    if fragility is not None:
        log(f"  FID fragility at eps {255 * fragility:g}/255 ({fragility_steps} steps per direction)")
        frag = fragility_of(images, ref, fragility, fragility_steps, seed)
        seconds["fragility"] = round(time.monotonic() - t3, 2)
    res = build_result(run_dir, pipe.step, n, seed, ref, row, details, seconds, images, panel=write)
    res["class_mix"] = mix
    if frag is not None:
        res["fragility"] = frag
    if write:
        res["path"] = str(write_result(run_dir, res))
    return res
