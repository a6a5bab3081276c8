"""The real images an evaluation compares against, and the caches that make them cheap to reuse.

With ``reference="test"`` generated images are compared with the test split and the real row is
training images vs the test split; with ``reference="train"`` they are compared with (a subset of)
the training split and the real row is the test split vs it. Image folders (and sources without a
held-out split, such as clipart) have no test split: they
are cut into two seeded halves, the reference half (A) and the held-out half (B, the real row).
Near-copies are searched among ``originality_n`` random training images (0 = all); the real row's
twins are disjoint from it, so its copy rate is that of genuinely new images. The near-copy distance
forgives moves of a few pixels, mirrors and light crops (``builtin.copy_invariance``).

Real-data features and the training images' self-nearest-neighbour distances (in that distance) are
cached in ``$GANSTUDIO_CACHE/features/reference/`` (npz, keyed by the extractor id or the invariance,
and a hash of the images).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..data import SOURCES, DataConfig, ImageDataset, load_dataset
from ..errors import UserError
from ..features import Extractor, Features
from ..features.base import to_unit_float
from ..features.cache import data_hash, load_npz, reference_root, save_npz
from ..metrics import functional as M
from .builtin import METRICS_VERSION, copy_invariance

DEFAULT_N = 10_000
ORIGINALITY_N = 10_000  # training images searched for twins (the near-copy rule's calibration size)
REFERENCES = ("test", "train")

Log = Callable[[str], None]


def stderr_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


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


def load_real(
    data: DataConfig,
    reference: str = "test",
    n: int = DEFAULT_N,
    originality_n: int = ORIGINALITY_N,
    default_resolution: int | None = None,
    seed: int = 0,
) -> RealData:
    """Pick the reference, held-out and twin sets for a run trained on ``data`` (see the module doc)."""
    if reference not in REFERENCES:
        raise UserError(f"--reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    train = load_dataset(dataclasses.replace(data, split="train"), default_resolution=default_resolution)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(train), generator=g)
    nt = len(train)
    k_twins = nt if originality_n <= 0 else min(originality_n, nt)
    if data.name in SOURCES and SOURCES[data.name].test_split:
        test = load_dataset(dataclasses.replace(data, split="test", limit=None), default_resolution=default_resolution)
        test_perm = torch.randperm(len(test), generator=g)
        if reference == "test":
            ref = _subset(test, test_perm[: min(n, len(test))])
            m = min(len(ref), nt // 2) if nt < 2 * len(ref) else len(ref)
            held_idx = perm[nt - m :]  # from the end of the permutation: disjoint from the twins when possible
            twins_idx = perm[: min(k_twins, nt)]
            held = train.subset(held_idx)
            keep = ~torch.isin(twins_idx, held_idx)
            desc = {
                "reference": f"{data.name} test split ({len(ref)} images)",
                "real_row": f"{len(held)} {data.name} training images vs the reference",
            }
        else:
            ref = train.subset(perm[: min(n, nt)])
            held = _subset(test, test_perm[: min(n, len(test))])
            twins_idx = perm[:k_twins]
            keep = torch.ones(len(twins_idx), dtype=torch.bool)
            desc = {
                "reference": f"{len(ref)} random {data.name} training images",
                "real_row": f"{len(held)} {data.name} test images vs the reference",
            }
    else:  # a folder (or a source without a held-out split, e.g. clipart): two seeded halves
        if nt < 4:
            raise UserError(f"{data.name} has {nt} images; evaluation needs at least 4")
        half = nt // 2
        ref = train.subset(perm[: min(half, n)])
        held_idx = perm[half:][: min(nt - half, n)]
        held = train.subset(held_idx)
        twins_idx = perm[:k_twins]
        keep = ~torch.isin(twins_idx, held_idx)
        desc = {
            "reference": f"half A of {data.name} ({len(ref)} images; it has no test split)",
            "real_row": f"half B of {data.name} ({len(held)} images) vs half A",
        }
        reference = "folder-half"
    twins = train.subset(twins_idx)
    inv = copy_invariance(twins.shape)
    edits = f"moved up to {inv.max_shift} px" + (", mirrored" if inv.flips else "")
    edits += f", cropped to {inv.min_crop:.0%}" if inv.min_crop < 1 else ""
    desc["twins"] = f"{len(twins)} of {nt} training images (pixels; a twin may be {edits})"
    desc["reference_split"] = reference
    return RealData(ref, held, twins, twins_idx, torch.nonzero(keep).flatten(), desc)


def cached_features(
    extractor: Extractor,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    log: Log | None = None,
    what: str = "real images",
) -> Features:
    """Features of real ``images`` (N, C, H, W) uint8, cached per extractor id + image hash."""
    key = f"feats-{extractor.id}-{data_hash(images, labels)[:24]}"
    path = reference_root() / f"{key}.npz"
    hit = load_npz(path, {"extractor_id": extractor.id, "n": len(images)})
    if hit is not None:
        arrays, _ = hit
        return Features(arrays["feats"], arrays.get("probs"))
    (log or stderr_log)(f"  computing {extractor.name} features of {len(images)} {what} (cached for next time)")
    f = extractor.extract(images)
    arrays = {"feats": f.feats, **({"probs": f.probs} if f.probs is not None else {})}
    save_npz(path, arrays, {"extractor_id": extractor.id, "extractor": extractor.name, "n": len(images)})
    return f


def pixels(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) uint8 or float in [0, 1] -> (N, C*H*W) float32 in [0, 1]: originality's space."""
    return to_unit_float(images).reshape(len(images), -1).numpy()


def cached_self_nn(images: torch.Tensor, log: Log | None = None) -> np.ndarray:
    """The near-copy rule's calibration for these training images, cached by image hash and the
    invariance's settings: (N, 2) distances of each to its nearest other one, in the invariant
    distance (``builtin.copy_invariance``: pixels in [0, 1] forgiving small moves, mirrors and light
    crops) and in plain pixels (``metrics.functional.copy_calibration``)."""
    inv = copy_invariance(tuple(images.shape))
    tag = f"{METRICS_VERSION}-{inv.cache_tag}"
    path = reference_root() / f"selfnn-inv{tag}-{data_hash(images)[:24]}.npz"
    hit = load_npz(path, {"n": len(images), "invariance": tag})
    if hit is not None:
        return hit[0]["dist"]
    (log or stderr_log)(
        f"  nearest-neighbour distances within {len(images)} training images, forgiving moves, mirrors "
        "and crops (cached for next time)"
    )
    d = M.copy_calibration(to_unit_float(images), inv)
    save_npz(path, {"dist": d}, {"n": len(images), "invariance": tag})
    return d


def class_reference(feats: Features, ds: ImageDataset, extractor: Extractor) -> np.ndarray | None:
    """What generated class histograms are compared with: the reference's labels when the
    extractor's classes are the data's (same class names), else the extractor's own predictions
    on the reference (e.g. an ONNX classifier whose class order is unknown)."""
    if feats.probs is None or extractor.num_classes < 2:
        return None
    same = bool(extractor.class_names) and tuple(extractor.class_names) == tuple(ds.class_names)
    if ds.labels is not None and same:
        return ds.labels.numpy()
    return feats.probs
