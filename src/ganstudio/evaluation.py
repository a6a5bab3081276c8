"""``evaluate(run_dir) -> dict``: how good is a checkpoint, next to how good the data itself is.

For one checkpoint, ``n`` images are sampled (image i from seed ``seed + i``, as ``ganstudio
generate`` does) and compared with real data under one feature extractor (``ganstudio.features``):

    FID, KID (mean ± std), precision / recall, density / coverage     in the extractor's features
    classifier score, class coverage                                    extractors with classes only
    originality: nearest-training-image distance ratio, near-copy share in pixel space

Two rows come out: ``generated`` and ``real``, the same metrics for real images the generator never
saw ("as good as the data": a perfect generator would score about this). With ``reference="test"``
the generated images are compared with the test split and the real row is training images vs the
test split; with ``reference="train"`` they are compared with (a subset of) the training split and
the real row is the test split vs it. Image folders have no test split: they are cut into two
seeded halves, the reference half (A) and the held-out half (B, the real row).

Originality is measured in pixel space against ``originality_n`` random training images (10,000 by
default, the size the near-copy rule was calibrated at; 0 = all), using
``metrics.functional.originality``. The real row's originality uses training images disjoint
from it, so it shows the copy rate of genuinely new images.

Real-data features, the training set's self-nearest-neighbour distances and the whole real row
are cached in ``$GANSTUDIO_CACHE/features/reference/`` (npz, keyed by the extractor id and a hash
of the images), so repeated evaluations only pay for the generated images.

Results go to ``RUN_DIR/eval/<step:09d>.json`` (atomically; evaluations of the same step with other
settings are kept under ``previous``) plus ``<step:09d>-originality.png``: the generated images
closest to a training image, each above its training twin.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from scipy.linalg import LinAlgWarning

from . import __version__, media, runs
from .data import SOURCES, DataConfig, ImageDataset, load_dataset
from .errors import UserError
from .features import Extractor, Features, get_extractor
from .features.base import to_unit_float
from .features.cache import data_hash, key_of, load_npz, reference_root, save_npz
from .metrics import functional as M

DEFAULT_N = 10_000
ORIGINALITY_N = 10_000  # training images searched for twins (the near-copy rule's calibration size)
WORST_K = 8  # worst offenders shown in the originality panel
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_K, DC_K = 3, 5
METRICS_VERSION = 2  # bump when a metric's definition or parameters change (invalidates cached real rows)
REFERENCES = ("test", "train")

# metric key -> (column title, format); the order of the printed table
COLUMNS: dict[str, tuple[str, str]] = {
    "fid": ("FID", "{:.3f}"),
    "kid": ("KID", "{:.5f}"),
    "precision": ("precision", "{:.3f}"),
    "recall": ("recall", "{:.3f}"),
    "density": ("density", "{:.3f}"),
    "coverage": ("coverage", "{:.3f}"),
    "classifier_score": ("cls score", "{:.3f}"),
    "classes_covered": ("classes", "{:d}"),
    "copy_fraction": ("copies", "{:.2%}"),
    "nn_ratio_median": ("NN ratio", "{:.3f}"),
}

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- real data ------------------------------------------------------------------------------

@dataclass
class RealData:
    """The real images an evaluation compares against, all uint8 (N, C, H, W) shaped like the run's."""

    reference: ImageDataset  # what generated images are compared with
    held_out: ImageDataset  # the real row: real images scored like generated ones
    twins: ImageDataset  # training images searched for near-copies of generated images
    twins_index: torch.Tensor  # (len(twins),) index of each into the training set
    held_out_twins: torch.Tensor  # (k,) positions in ``twins`` disjoint from ``held_out`` (real row)
    describe: dict  # human-readable account of each set


def _subset(ds: ImageDataset, idx: torch.Tensor) -> ImageDataset:
    return ds.subset(idx) if len(idx) != len(ds) or not torch.equal(idx, torch.arange(len(ds))) else ds


def load_real(data: DataConfig, reference: str = "test", n: int = DEFAULT_N, originality_n: int = ORIGINALITY_N,
              default_resolution: int | None = None, seed: int = 0) -> RealData:
    """Pick the reference, held-out and twin sets for a run trained on ``data`` (see the module doc)."""
    if reference not in REFERENCES:
        raise UserError(f"--reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    train = load_dataset(dataclasses.replace(data, split="train"), default_resolution=default_resolution)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(train), generator=g)
    nt = len(train)
    k_twins = nt if originality_n <= 0 else min(originality_n, nt)
    if data.name in SOURCES:
        test = load_dataset(dataclasses.replace(data, split="test", limit=None), default_resolution=default_resolution)
        test_perm = torch.randperm(len(test), generator=g)
        if reference == "test":
            ref = _subset(test, test_perm[:min(n, len(test))])
            m = min(len(ref), nt // 2) if nt < 2 * len(ref) else len(ref)
            held_idx = perm[nt - m:]  # from the end of the permutation: disjoint from the twins when possible
            twins_idx = perm[:min(k_twins, nt)]
            held = train.subset(held_idx)
            keep = ~torch.isin(twins_idx, held_idx)
            desc = {"reference": f"{data.name} test split ({len(ref)} images)",
                    "real_row": f"{len(held)} {data.name} training images vs the reference"}
        else:
            ref = train.subset(perm[:min(n, nt)])
            held = _subset(test, test_perm[:min(n, len(test))])
            twins_idx = perm[:k_twins]
            keep = torch.ones(len(twins_idx), dtype=torch.bool)
            desc = {"reference": f"{len(ref)} random {data.name} training images",
                    "real_row": f"{len(held)} {data.name} test images vs the reference"}
    else:  # a folder: no test split, two seeded halves
        if nt < 4:
            raise UserError(f"{data.name} has {nt} images; evaluation needs at least 4")
        half = nt // 2
        ref = train.subset(perm[:min(half, n)])
        held_idx = perm[half:][:min(nt - half, n)]
        held = train.subset(held_idx)
        twins_idx = perm[:k_twins]
        keep = ~torch.isin(twins_idx, held_idx)
        desc = {"reference": f"half A of {data.name} ({len(ref)} images; folders have no test split)",
                "real_row": f"half B of {data.name} ({len(held)} images) vs half A"}
        reference = "folder-half"
    twins = train.subset(twins_idx)
    desc["twins"] = f"{len(twins)} of {nt} training images (pixel space)"
    desc["reference_split"] = reference
    return RealData(ref, held, twins, twins_idx, torch.nonzero(keep).flatten(), desc)


# ---- cached building blocks -----------------------------------------------------------------

def cached_features(extractor: Extractor, images: torch.Tensor, labels: torch.Tensor | None = None,
                    log: Log | None = None, what: str = "real images") -> Features:
    """Features of real ``images`` (N, C, H, W) uint8, cached per extractor id + image hash."""
    key = f"feats-{extractor.id}-{data_hash(images, labels)[:24]}"
    path = reference_root() / f"{key}.npz"
    hit = load_npz(path, {"extractor_id": extractor.id, "n": len(images)})
    if hit is not None:
        arrays, _ = hit
        return Features(arrays["feats"], arrays["probs"] if "probs" in arrays else None)
    (log or _stderr)(f"  computing {extractor.name} features of {len(images)} {what} (cached for next time)")
    f = extractor.extract(images)
    arrays = {"feats": f.feats, **({"probs": f.probs} if f.probs is not None else {})}
    save_npz(path, arrays, {"extractor_id": extractor.id, "extractor": extractor.name, "n": len(images)})
    return f


def pixels(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) uint8 or float in [0, 1] -> (N, C*H*W) float32 in [0, 1]: originality's space."""
    return to_unit_float(images).reshape(len(images), -1).numpy()


def cached_self_nn(images: torch.Tensor, log: Log | None = None) -> np.ndarray:
    """Each training image's distance to its nearest other one (pixel space), cached by image hash."""
    path = reference_root() / f"selfnn-{data_hash(images)[:24]}.npz"
    hit = load_npz(path, {"n": len(images)})
    if hit is not None:
        return hit[0]["dist"]
    (log or _stderr)(f"  nearest-neighbour distances within {len(images)} training images (cached for next time)")
    d, _ = M.nearest_neighbours(pixels(images), pixels(images), exclude_self=True)
    save_npz(path, {"dist": d}, {"n": len(images)})
    return d


# ---- metrics --------------------------------------------------------------------------------

@dataclass
class Reference:
    """Everything about the real data one extractor needs, prepared once per evaluation or training."""

    extractor: Extractor
    real: RealData
    feats: Features  # of real.reference
    mu: np.ndarray  # (D,)
    sigma: np.ndarray  # (D, D)
    twin_pixels: np.ndarray  # (T, C*H*W) float32 in [0, 1]
    twin_self_nn: np.ndarray  # (T,)
    real_row: dict  # flat metrics of the real row
    real_originality: dict

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.real.reference.shape


def _class_reference(feats: Features, ds: ImageDataset, extractor: Extractor) -> np.ndarray | None:
    """What generated class histograms are compared with: the reference's labels when the
    extractor's classes are the data's (same class names), else the extractor's own predictions
    on the reference (e.g. an ONNX classifier whose class order is unknown)."""
    if feats.probs is None or extractor.num_classes < 2:
        return None
    same = bool(extractor.class_names) and tuple(extractor.class_names) == tuple(ds.class_names)
    if ds.labels is not None and same:
        return ds.labels.numpy()
    return feats.probs


def compute_row(fake: Features, fake_pixels: np.ndarray, ref_feats: Features, mu: np.ndarray, sigma: np.ndarray,
                class_ref: np.ndarray | None, num_classes: int, twin_pixels: np.ndarray,
                twin_self_nn: np.ndarray, top_k: int = WORST_K) -> tuple[dict, dict]:
    """Flat metrics of one set of images against the reference, and the originality details."""
    row: dict[str, Any] = {"n": len(fake)}
    mu_f, sig_f = M.feature_stats(fake.feats)
    with warnings.catch_warnings():  # singular covariances (n < D) are expected; fid_from_stats handles them
        warnings.simplefilter("ignore", LinAlgWarning)
        row["fid"] = M.fid_from_stats(mu_f, sig_f, mu, sigma)
    k = M.kid(fake.feats, ref_feats.feats, num_subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE)
    row["kid"], row["kid_std"] = k["mean"], k["std"]
    row.update(M.precision_recall(ref_feats.feats, fake.feats, k=min(PR_K, len(fake) - 1, len(ref_feats) - 1)))
    row.update(M.density_coverage(ref_feats.feats, fake.feats, k=min(DC_K, len(ref_feats) - 1)))
    if fake.probs is not None and class_ref is not None and num_classes >= 2:
        cs = M.classifier_score(fake.probs, splits=min(10, len(fake)))
        cc = M.class_coverage(fake.probs, class_ref, num_classes)
        row.update({"classifier_score": cs["mean"], "classifier_score_std": cs["std"],
                    "classes_covered": cc["classes_covered"], "num_classes": cc["num_classes"],
                    "class_kl": cc["kl_to_data"]})
    o = M.originality(fake_pixels, twin_pixels, twin_self_nn, top_k=top_k)
    row["copy_fraction"] = o["copy_fraction"]
    row["nn_ratio_median"] = o["median_ratio"]
    dist = np.asarray(o["nn_distance"])
    details = {k: o[k] for k in ("copy_fraction", "num_flagged", "threshold", "median_ratio", "reference_median",
                                 "reference_quantile", "alpha", "quantile", "worst_indices",
                                 "worst_train_indices", "worst_distances")}
    details["nn_distance_quantiles"] = {q: float(np.quantile(dist, float(q))) for q in ("0.01", "0.1", "0.5")}
    return {k: _plain(v) for k, v in row.items()}, details


def _plain(v: Any) -> Any:
    return int(v) if isinstance(v, (np.integer,)) else float(v) if isinstance(v, (np.floating,)) else v


def prepare_reference(data: DataConfig, extractor: Extractor, reference: str = "test", n: int = DEFAULT_N,
                      originality_n: int = ORIGINALITY_N, default_resolution: int | None = None,
                      seed: int = 0, log: Log | None = None) -> Reference:
    """Load the real sets, their features, the twins' self-distances and the real row (all cached)."""
    log = log or _stderr
    real = load_real(data, reference, n, originality_n, default_resolution, seed)
    ref_f = cached_features(extractor, real.reference.images, real.reference.labels, log, "reference images")
    mu, sigma = M.feature_stats(ref_f.feats)
    twin_px = pixels(real.twins.images)
    self_nn = cached_self_nn(real.twins.images, log)
    class_ref = _class_reference(ref_f, real.reference, extractor)
    # the real row, cached as a whole
    held_twins = real.twins.images[real.held_out_twins]
    key = key_of({"v": METRICS_VERSION, "extractor": extractor.id, "ref": data_hash(real.reference.images),
                  "held": data_hash(real.held_out.images), "twins": data_hash(held_twins),
                  "labels": None if real.reference.labels is None else data_hash(real.reference.labels)})
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
            held_nn = M.nearest_neighbours(pixels(held_twins), pixels(held_twins), exclude_self=True)[0]
        log("  scoring the real row (cached for next time)")
        real_row, real_orig = compute_row(held_f, pixels(real.held_out.images), ref_f, mu, sigma, class_ref,
                                          extractor.num_classes, pixels(held_twins), held_nn)
        save_npz(path, {}, {"key": key, "row": real_row, "originality": real_orig})
    return Reference(extractor, real, ref_f, mu, sigma, twin_px, self_nn, real_row, real_orig)


def score(images: torch.Tensor, ref: Reference) -> tuple[dict, dict]:
    """Metrics of generated ``images`` (N, C, H, W) float in [0, 1] or uint8 against ``ref``:
    (flat row, originality details)."""
    if tuple(images.shape[1:]) != tuple(ref.shape):
        raise UserError(f"generated images are {tuple(images.shape[1:])} but the data is {tuple(ref.shape)}")
    u8 = images if images.dtype == torch.uint8 else images.mul(255).round().clamp(0, 255).to(torch.uint8)
    fake = ref.extractor.extract(u8)
    class_ref = _class_reference(ref.feats, ref.real.reference, ref.extractor)
    return compute_row(fake, pixels(u8), ref.feats, ref.mu, ref.sigma, class_ref, ref.extractor.num_classes,
                       ref.twin_pixels, ref.twin_self_nn)


# ---- evaluate a run ----------------------------------------------------------------------------

def sample_images(pipe, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
    """``n`` images from a Pipeline as uint8 (N, C, H, W): image i from latent seed ``seed + i``."""
    out = []
    for i in range(0, n, batch_size):
        b = min(batch_size, n - i)
        o = pipe(n=b, seed=seed + i)
        out.append(o.images.mul(255).round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def originality_panel(images: torch.Tensor, ref: Reference, details: dict) -> np.ndarray:
    """uint8 grid: the worst offenders (top row) above their training twins (bottom row)."""
    worst = details["worst_indices"]
    twins = details["worst_train_indices"]
    if not worst:
        return media.make_grid(images[:1])
    u8 = images if images.dtype == torch.uint8 else images.mul(255).round().clamp(0, 255).to(torch.uint8)
    top = u8[torch.tensor(worst)]
    bottom = ref.real.twins.images[torch.tensor(twins)]
    return media.make_grid(torch.cat([top, bottom]), nrow=len(worst))


def result_key(res: dict) -> tuple:
    return (res["extractor"]["name"], res["extractor"]["id"], res["reference"], res["n"], res["seed"])


def write_result(run_dir: Path, res: dict) -> Path:
    """Write ``eval/<step>.json`` atomically, keeping other evaluations of the step under ``previous``."""
    path = Path(run_dir) / "eval" / f"{res['step']:09d}.json"
    previous: list[dict] = []
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            previous = [p for p in [{k: v for k, v in old.items() if k != "previous"}, *old.get("previous", [])]
                        if "extractor" in p and result_key(p) != result_key(res)]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            previous = []
    runs.atomic_write_json(path, {**res, "previous": previous})
    return path


def build_result(run_dir: Path, step: int, n: int, seed: int, ref: Reference, row: dict, details: dict,
                 seconds: dict, images: torch.Tensor, panel: bool = True) -> dict:
    """The eval JSON for one checkpoint; with ``panel`` its originality panel is written next to it."""
    panel_rel = f"eval/{step:09d}-originality.png"
    if panel:
        grid = originality_panel(images, ref, details)
        media.save_image(grid, Path(run_dir) / panel_rel, scale=max(1, 192 // max(1, grid.shape[0])))
    twins_idx = ref.real.twins_index
    worst = [{"sample": int(i), "seed": seed + int(i), "train_index": int(twins_idx[j]), "distance": float(d)}
             for i, j, d in zip(details["worst_indices"], details["worst_train_indices"], details["worst_distances"])]
    return {
        "run": str(run_dir), "step": step, "n": n, "seed": seed, "reference": ref.real.describe["reference_split"],
        "extractor": ref.extractor.describe(), "extractor_label": ref.extractor.label,
        "data": ref.real.describe,
        "rows": {"generated": row, "real": ref.real_row},
        "originality": {"generated": {**{k: v for k, v in details.items() if not k.startswith("worst_")},
                                      "worst": worst},
                        "real": {k: v for k, v in ref.real_originality.items() if not k.startswith("worst_")},
                        "panel": panel_rel if panel else None,
                        "space": "pixels in [0, 1]; near-copy: NN distance < alpha * quantile_q of the "
                                 "training images' own NN distances"},
        "seconds": seconds, "ganstudio_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def evaluate(run_dir: str | Path, checkpoint: str | int = "latest", n: int = DEFAULT_N, features: str = "auto",
             reference: str = "test", seed: int = 0, originality_n: int = ORIGINALITY_N, device: str = "cpu",
             write: bool = True, log: Log | None = None) -> dict:
    """Evaluate one checkpoint of a run; returns the result dict (also written to eval/<step>.json)."""
    from .pipeline import load

    log = log or _stderr
    if n < 10:
        raise UserError(f"--n must be at least 10 (metrics need neighbours), got {n}")
    t0 = time.monotonic()
    run_dir = runs.require_run(run_dir)
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    cfg = pipe.config
    extractor = get_extractor(features, cfg.data, log)
    log(f"evaluating {run_dir.name} at step {pipe.step} with {extractor.label} ({n} samples)")
    ref = prepare_reference(cfg.data, extractor, reference, n, originality_n,
                            default_resolution=cfg.model_config.resolution, seed=seed, log=log)
    t1 = time.monotonic()
    images = sample_images(pipe, n, seed)
    t2 = time.monotonic()
    row, details = score(images, ref)
    t3 = time.monotonic()
    seconds = {"reference": round(t1 - t0, 2), "sampling": round(t2 - t1, 2), "scoring": round(t3 - t2, 2)}
    res = build_result(run_dir, pipe.step, n, seed, ref, row, details, seconds, images, panel=write)
    if write:
        res["path"] = str(write_result(run_dir, res))
    return res


# ---- reading and printing ------------------------------------------------------------------------

def read_evals(run_dir: str | Path) -> list[dict]:
    """Every evaluation stored in ``eval/*.json`` (latest and previous ones), sorted by step."""
    out = []
    for p in sorted((Path(run_dir) / "eval").glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for r in [d, *d.get("previous", [])]:
            if "rows" in r and "extractor" in r:
                out.append({k: v for k, v in r.items() if k != "previous"})
    return sorted(out, key=lambda r: r["step"])


def _cell(row: dict, key: str) -> str:
    v = row.get(key)
    if v is None:
        return "-"
    title, fmt = COLUMNS[key]
    if key == "kid":
        return f"{v:.5f}±{row.get('kid_std', 0):.5f}"
    if key == "classes_covered":
        return f"{v}/{row.get('num_classes', '?')}"
    return fmt.format(v)


def format_table(res: dict) -> str:
    """The human-readable table ``ganstudio evaluate`` prints."""
    ext = res["extractor"]
    acc = ext.get("accuracy")
    lines = [f"run {Path(res['run']).name}, step {res['step']}: {res['n']} samples (seeds {res['seed']}.."
             f"{res['seed'] + res['n'] - 1})",
             f"features:  {res['extractor_label']} -- {ext.get('description', '')}"
             + (f" [{100 * acc:.2f} % {ext.get('accuracy_split')} accuracy]" if acc is not None and
                "accuracy" not in ext.get("description", "") else ""),
             f"reference: {res['data']['reference']}",
             f"real row:  {res['data']['real_row']}",
             f"originality: nearest of {res['data']['twins']}"]
    keys = [k for k in COLUMNS if any(r.get(k) is not None for r in res["rows"].values())]
    header = ["", *[COLUMNS[k][0] for k in keys]]
    body = [[name, *[_cell(r, k) for k in keys]] for name, r in
            (("generated", res["rows"]["generated"]), ("real (data)", res["rows"]["real"]))]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines.append("")
    for row in [header, *body]:
        lines.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    lines.append("")
    lines.append(f"numbers are comparable only with the same features ({res['extractor_label']}), n and reference")
    if res.get("path"):
        lines.append(f"written: {res['path']}")
    return "\n".join(lines)


__all__ = ["evaluate", "prepare_reference", "score", "Reference", "RealData", "load_real", "format_table",
           "read_evals", "write_result", "build_result", "sample_images", "cached_features", "compute_row",
           "COLUMNS", "DEFAULT_N", "ORIGINALITY_N"]
