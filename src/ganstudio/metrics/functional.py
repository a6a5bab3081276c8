"""Pure metric functions over feature arrays: the maths of ganstudio's evaluation subsystem.

Every function takes numpy arrays or torch tensors (any float dtype, any device), works in
numpy float64 internally (the invariant near-copy search works in torch float32 on the CPU),
and returns plain Python floats / ints / lists in dicts, so results can
be written to JSON as they are. Nothing here extracts features: callers pass (N, D) arrays that
came from a feature network (FID, KID, precision/recall, density/coverage), softmax outputs of a
classifier (classifier_score, class_coverage) or flattened pixels (originality). Inputs with more
than two dimensions, e.g. (N, C, H, W) images, are flattened to (N, C*H*W).

Functions
---------
- ``feature_stats``, ``fid_from_stats``, ``fid``: Fréchet distance between Gaussians fitted to two
  feature sets (Heusel et al. 2017), same conventions as pytorch-fid / torchmetrics.
- ``kid``: kernel inception distance, the unbiased MMD^2 with the cubic polynomial kernel over
  random subsets (Bińkowski et al. 2018).
- ``precision_recall``: k-NN manifold precision and recall (Kynkäänniemi et al. 2019).
- ``density_coverage``: density and coverage (Naeem et al. 2020).
- ``classifier_score``: the Inception-Score formula exp(E_x KL(p(y|x) || p(y))) for any classifier.
- ``class_coverage``: how many classes the generator produces, and KL to the data's class mix.
- ``nearest_neighbours``, ``knn_radii``: chunked exact Euclidean k-NN helpers.
- ``originality``: nearest-training-image distances and a calibrated near-copy flag.
- ``invariant_nearest``, ``invariant_self_nn``, ``copy_calibration``, ``apply_copy_transform``,
  ``CopyInvariance``: the nearest training image up to small moves, a mirror and light crops.

Originality
-----------
A generated sample is flagged as a near-copy of a training image when::

    d_nn(gen -> train) < alpha * quantile_q( d_nn(train -> train, excluding self) )

with defaults ``alpha = 0.8`` and ``q = 0.01``. Both sides are distances in the same space, so the
rule is invariant to the scale of the features (pixels in [0, 1] or [-1, 1] give the same flags).
It is meant for pixel space or other low-level features: in class-level features every image of a
class looks like a copy. The calibration of the defaults (flag rates on held-out and edited
images) and the rule's measured limits are in docs/evaluation.md, "Near-copy rule: calibration".

The pixel rule (``originality(..., invariance=None)``) uses plain Euclidean distances and misses
a training picture moved by one pixel. The invariant rule (``invariance=CopyInvariance()``, what
evaluation uses) measures d as the smallest distance between the sample's central region (the
image less a ``max_shift`` margin) and the training image moved by up to ``max_shift`` px, mirrored
and zoomed in by up to 1 / ``min_crop`` (a crop resized back), with a slight blur or sharpening
allowed for resampling filters; it flags a sample when that distance OR the plain pixel distance
(for noisy, unmoved copies) is under its own threshold. Searching that distance exhaustively over
N training images is too slow, so ``invariant_nearest`` works in three passes per sample:

1. coarse: the central region pooled into about 5 x 5 cells at every whole-pixel shift, mirror and
   one zoom, against all N pooled training images (tiled matmuls); keeps ``candidates``;
2. tangent: finer 2x pooling with the one-sided tangent distance (sub-pixel moves and zoom
   linearised, Simard et al. 1993) over those; keeps ``refine``;
3. exact: a grid search over mirrors, 4 zooms and whole-pixel shifts (FFT cross-correlation),
   then Gauss-Newton (Lucas-Kanade) on sub-pixel shift and zoom with bicubic resampling.

Measured on Fashion-MNIST (60,000 training images): the search finds the source of every moved
or mirrored copy and of 99.9 % of the crops (99.3 % bicubic); 2,000 samples take 30 s on one busy
core (benchmarks/README.md, "Near-copies that a shift cannot fool").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import xlogy

ArrayLike = np.ndarray | torch.Tensor | Sequence[Any]  # numpy, torch (any device/dtype), nested lists

# Pairwise-distance blocks hold at most this many float64 entries (128 MiB), so 10k x 10k (or
# 60k x 60k) problems run in bounded memory while each block is still a large, fast BLAS matmul.
_BLOCK_ELEMENTS = 1 << 24

DEFAULT_COPY_ALPHA = 0.8
DEFAULT_COPY_QUANTILE = 0.01


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _as_f64(x: ArrayLike, ndim: int | None = 2, name: str = "array") -> np.ndarray:
    """Convert numpy / torch / nested lists to a float64 numpy array.

    With ``ndim=2`` an (N, ...) input is flattened to (N, prod(...)) so images can be passed as is.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().to(device="cpu", dtype=torch.float64).numpy()
    a = np.asarray(x, dtype=np.float64)
    if ndim == 2 and a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _check_same_dim(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names} must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}")


def _rows_per_block(n_refs: int, chunk: int | None) -> int:
    if chunk is not None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        return int(chunk)
    return max(1, _BLOCK_ELEMENTS // max(1, n_refs))


def _sq_dist_blocks(queries: np.ndarray, refs: np.ndarray, chunk: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start_row, squared distances of queries[start:start+c] to all refs), shape (c, M).

    Uses ||q||^2 + ||r||^2 - 2 q.r (one matmul per block). Both sets are first centred on the
    reference mean: distances do not change, but the norms shrink, which removes most of the
    cancellation error of this formula for nearby points (the case copy detection cares about).
    """
    center = refs.mean(axis=0)
    q = queries - center
    r = refs - center
    r_sq = np.einsum("ij,ij->i", r, r)
    step = _rows_per_block(len(r), chunk)
    for s in range(0, len(q), step):
        qc = q[s : s + step]
        d2 = qc @ r.T
        d2 *= -2.0
        d2 += np.einsum("ij,ij->i", qc, qc)[:, None]
        d2 += r_sq[None, :]
        np.maximum(d2, 0.0, out=d2)  # rounding can give tiny negatives
        yield s, d2


def _mask_self(d2: np.ndarray, start: int) -> None:
    """In a block of a set against itself, hide each row's own column (index start + row)."""
    rows = np.arange(d2.shape[0])
    d2[rows, start + rows] = np.inf


# ----------------------------------------------------------------------------------------------
# FID
# ----------------------------------------------------------------------------------------------
def feature_stats(feats: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of a (N, D) feature array, N >= 2.

    The covariance uses N - 1 like pytorch-fid and torchmetrics, so FIDs are comparable.
    """
    f = _as_f64(feats, name="feats")
    if len(f) < 2:
        raise ValueError(f"need at least 2 samples for a covariance, got {len(f)}")
    mu = f.mean(axis=0)
    sigma = np.cov(f, rowvar=False)
    return mu, np.atleast_2d(sigma)


def fid_from_stats(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussians.

    Shapes: mu1, mu2 (D,); sigma1, sigma2 (D, D), symmetric positive semi-definite.

    Tr (S1 S2)^(1/2) is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix S1^(1/2) S2 S1^(1/2) (which has the same eigenvalues as S1 S2): two symmetric
    eigendecompositions instead of a general ``sqrtm``: much faster at D in the hundreds (measured:
    docs/evaluation.md) and free of the spurious imaginary parts sqrtm produces. Tiny negative
    eigenvalues from rounding are clipped to 0; clearly negative ones mean the inputs are not
    covariances (ValueError).
    """
    m1 = _as_f64(mu1, ndim=1, name="mu1")
    m2 = _as_f64(mu2, ndim=1, name="mu2")
    s1 = np.atleast_2d(_as_f64(sigma1, ndim=None, name="sigma1"))
    s2 = np.atleast_2d(_as_f64(sigma2, ndim=None, name="sigma2"))
    d = m1.shape[0]
    if m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"shape mismatch: mu1 {m1.shape}, mu2 {m2.shape}, sigma1 {s1.shape}, sigma2 {s2.shape}")
    if not (np.isfinite(s1).all() and np.isfinite(s2).all() and np.isfinite(m1).all() and np.isfinite(m2).all()):
        raise ValueError("FID inputs contain NaN or inf")
    diff = m1 - m2
    s1 = (s1 + s1.T) / 2  # symmetrise away rounding
    s2 = (s2 + s2.T) / 2
    w, v = np.linalg.eigh(s1)
    scale = max(1.0, float(np.abs(w).max()))
    if w.min() < -1e-6 * scale:
        raise ValueError(f"sigma1 has a negative eigenvalue {w.min():.3g}: is it a covariance matrix?")
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ s2 @ root1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    scale = max(1.0, float(np.abs(ev).max()))
    if ev.min() < -1e-6 * scale:
        raise ValueError(f"sigma1 @ sigma2 has a negative eigenvalue {ev.min():.3g}: are these covariances?")
    tr_covmean = float(np.sqrt(np.clip(ev, 0, None)).sum())
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def fid(feats_a: ArrayLike, feats_b: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to feats_a (N, D) and feats_b (M, D), N, M >= 2."""
    a = _as_f64(feats_a, name="feats_a")
    b = _as_f64(feats_b, name="feats_b")
    _check_same_dim(a, b, "feats_a and feats_b")
    mu1, s1 = feature_stats(a)
    mu2, s2 = feature_stats(b)
    return fid_from_stats(mu1, s1, mu2, s2)


# ----------------------------------------------------------------------------------------------
# KID
# ----------------------------------------------------------------------------------------------
def _poly_mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> float:
    """Unbiased MMD^2 for two equal-size samples x, y (m, D) under k(a,b) = (gamma a.b + coef0)^degree.

    Within-set terms drop the diagonal (k(x_i, x_i) would bias the estimate upwards); the cross
    term averages over all m^2 pairs, as in Bińkowski et al.'s reference code and torchmetrics.
    """
    m = len(x)
    k_xx = (x @ x.T * gamma + coef0) ** degree
    k_yy = (y @ y.T * gamma + coef0) ** degree
    k_xy = (x @ y.T * gamma + coef0) ** degree
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kid(
    feats_a: ArrayLike,
    feats_b: ArrayLike,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1,
    seed: int = 0,
) -> dict[str, float]:
    """Kernel Inception Distance between feats_a (N, D) and feats_b (M, D).

    Kernel k(x, y) = (gamma x.y + coef0)^degree, gamma defaulting to 1/D, i.e. (x.y/D + 1)^3.
    Each of ``num_subsets`` rounds draws min(subset_size, N, M) rows from each set without
    replacement (numpy Generator seeded with ``seed``, so results are reproducible) and computes
    the unbiased MMD^2. Returns {"mean", "std"} over rounds; std uses ddof=0 like torchmetrics and
    torch-fidelity. The estimate is unbiased, so the mean can be slightly negative for sets drawn
    from one distribution.
    """
    a = _as_f64(feats_a, name="feats_a")
    b = _as_f64(feats_b, name="feats_b")
    _check_same_dim(a, b, "feats_a and feats_b")
    if num_subsets < 1 or subset_size < 2 or degree < 1:
        raise ValueError("need num_subsets >= 1, subset_size >= 2 and degree >= 1")
    m = min(int(subset_size), len(a), len(b))  # clip rather than fail on small sets
    if m < 2:
        raise ValueError(f"need at least 2 samples in each set, got {len(a)} and {len(b)}")
    g = 1.0 / a.shape[1] if gamma is None else float(gamma)
    rng = np.random.default_rng(seed)
    scores = np.empty(int(num_subsets))
    for t in range(int(num_subsets)):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        scores[t] = _poly_mmd2_unbiased(x, y, int(degree), g, float(coef0))
    return {"mean": float(scores.mean()), "std": float(scores.std())}


# ----------------------------------------------------------------------------------------------
# k-NN helpers
# ----------------------------------------------------------------------------------------------
def nearest_neighbours(
    queries: ArrayLike,
    references: ArrayLike,
    exclude_self: bool = False,
    chunk: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean nearest reference of each query.

    queries (N, D), references (M, D) -> (dist (N,) float64, index (N,) int64 into references).
    With ``exclude_self`` the two sets must be the same set (N == M) and row i may not match
    reference i, giving each point's distance to the rest of its own set. Exact duplicates at
    other indices still count (distance 0), which is what copy detection wants.

    Distances are computed in blocks of ``chunk`` query rows (default: blocks of ~16M entries) so
    memory stays bounded for 10k x 10k and beyond. The argmin comes from the fast matmul formula;
    the returned distance is then recomputed directly from the two vectors, so it is exact even
    for near-duplicates.
    """
    q = _as_f64(queries, name="queries")
    r = _as_f64(references, name="references")
    _check_same_dim(q, r, "queries and references")
    if len(r) == 0:
        raise ValueError("references is empty")
    if exclude_self:
        if len(q) != len(r):
            raise ValueError("exclude_self needs queries and references to be the same set")
        if len(r) < 2:
            raise ValueError("exclude_self needs at least 2 points")
    idx = np.empty(len(q), dtype=np.int64)
    for s, d2 in _sq_dist_blocks(q, r, chunk):
        if exclude_self:
            _mask_self(d2, s)
        idx[s : s + len(d2)] = np.argmin(d2, axis=1)
    dist = np.sqrt(np.einsum("ij,ij->i", q - r[idx], q - r[idx]))
    return dist, idx


def knn_radii(feats: ArrayLike, k: int, chunk: int | None = None) -> np.ndarray:
    """Distance (N,) from each row of feats (N, D) to its k-th nearest neighbour in feats, self excluded.

    These are the radii of the k-NN balls of Kynkäänniemi et al. and Naeem et al.
    """
    f = _as_f64(feats, name="feats")
    if not 1 <= k < len(f):
        raise ValueError(f"k must be in [1, N-1] = [1, {len(f) - 1}], got {k}")
    out = np.empty(len(f))
    for s, d2 in _sq_dist_blocks(f, f, chunk):
        _mask_self(d2, s)
        out[s : s + len(d2)] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return np.sqrt(out)


def _ball_counts(
    queries: np.ndarray,
    centers: np.ndarray,
    radii: np.ndarray,
    chunk: int | None,
    inclusive: bool,
) -> np.ndarray:
    """For each query (N,), the number of balls B(centers[j], radii[j]) that contain it."""
    r2 = radii**2
    counts = np.empty(len(queries), dtype=np.int64)
    for s, d2 in _sq_dist_blocks(queries, centers, chunk):
        inside = d2 <= r2[None, :] if inclusive else d2 < r2[None, :]
        counts[s : s + len(d2)] = inside.sum(axis=1)
    return counts


# ----------------------------------------------------------------------------------------------
# precision / recall, density / coverage
# ----------------------------------------------------------------------------------------------
def precision_recall(real: ArrayLike, fake: ArrayLike, k: int = 3, chunk: int | None = None) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of fake (M, D) against real (N, D).

    Each set's manifold is the union of balls around its points, of radius the distance to the
    point's k-th nearest neighbour in the same set (self excluded). precision = fraction of fake
    points inside the real manifold; recall = fraction of real points inside the fake manifold.
    Ball membership is inclusive (<=), as in the authors' code.
    """
    r = _as_f64(real, name="real")
    f = _as_f64(fake, name="fake")
    _check_same_dim(r, f, "real and fake")
    radii_r = knn_radii(r, k, chunk)
    radii_f = knn_radii(f, k, chunk)
    precision = np.mean(_ball_counts(f, r, radii_r, chunk, inclusive=True) > 0)
    recall = np.mean(_ball_counts(r, f, radii_f, chunk, inclusive=True) > 0)
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: ArrayLike, fake: ArrayLike, k: int = 5, chunk: int | None = None) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) of fake (M, D) against real (N, D).

    Only real points define balls (radius = distance to the k-th nearest real neighbour), which
    makes both metrics robust to fake outliers. density = (1 / (k M)) * sum over fake points of the
    number of real balls containing it: about 1 when fake matches real, above 1 when fakes crowd
    into dense regions. coverage = fraction of real balls that contain at least one fake point.
    Ball membership is strict (<), as in the authors' prdc code.
    """
    r = _as_f64(real, name="real")
    f = _as_f64(fake, name="fake")
    _check_same_dim(r, f, "real and fake")
    radii = knn_radii(r, k, chunk)
    counts = _ball_counts(f, r, radii, chunk, inclusive=False)
    density = counts.sum() / (k * len(f))
    # a real ball is covered iff the fake point nearest to its centre lies inside it
    nn_fake, _ = nearest_neighbours(r, f, chunk=chunk)
    coverage = np.mean(nn_fake < radii)
    return {"density": float(density), "coverage": float(coverage)}


# ----------------------------------------------------------------------------------------------
# classifier-based scores
# ----------------------------------------------------------------------------------------------
def _as_probs(p: ArrayLike, name: str) -> np.ndarray:
    a = _as_f64(p, ndim=2, name=name)
    if (a < 0).any():
        raise ValueError(f"{name} must be probabilities (non-negative); did you pass logits?")
    sums = a.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        raise ValueError(f"rows of {name} must sum to 1 (softmax outputs); did you pass logits?")
    return a / sums[:, None]  # remove float32 rounding so the KL terms are exact


def classifier_score(probs: ArrayLike, splits: int = 10) -> dict[str, float]:
    """Inception-Score formula exp(E_x[KL(p(y|x) || p(y))]) from softmax outputs probs (N, K).

    The samples are cut into ``splits`` parts as in the original Inception Score, but after a fixed
    seeded shuffle: consecutive parts of a row ordered by class (a held-out split sorted by label) would
    each hold one class and score ~1, whatever the classifier. p(y) is the mean prediction within each
    part. Returns {"mean", "std"} over parts (ddof=0). Ranges from 1 (every sample gets the same
    prediction) to K (confident and balanced).
    """
    p = _as_probs(probs, "probs")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be in [1, N={len(p)}], got {splits}")
    p = p[np.random.default_rng(0).permutation(len(p))]
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)
        # xlogy gives 0 * log 0 = 0, so one-hot predictions need no epsilon; where part > 0 so is py
        kl = (xlogy(part, part) - xlogy(part, py)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    s = np.asarray(scores)
    return {"mean": float(s.mean()), "std": float(s.std())}


def _as_labels(x: ArrayLike, num_classes: int, name: str) -> np.ndarray:
    """1-D integer labels as they are; (N, K) probabilities/logits -> argmax."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim == 2:
        if a.shape[1] != num_classes:
            raise ValueError(f"{name} has {a.shape[1]} columns but num_classes is {num_classes}")
        return np.argmax(a, axis=1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be labels (N,) or probabilities (N, K), got shape {a.shape}")
    if a.size and not np.all(np.equal(np.mod(a, 1), 0)):
        raise ValueError(f"{name} is 1-D but not integer labels")
    lab = a.astype(np.int64)
    if lab.size and (lab.min() < 0 or lab.max() >= num_classes):
        raise ValueError(f"{name} has labels outside [0, {num_classes})")
    return lab


def requested_class_accuracy(probs: np.ndarray, requested: np.ndarray, num_classes: int) -> dict:
    """How often a conditional generator draws what was asked for, judged by a classifier.

    probs: (N, K) class probabilities of the generated images; requested: (N,) the class index each
    was generated for (in the classifier's class order). A sample counts as correct when its argmax
    class is the requested one. Returns {"class_accuracy": share of all samples that are correct,
    "class_accuracy_min": the lowest per-class share among the requested classes, "per_class": K
    shares (None for a class never requested), "worst_class": the index of that lowest one}.
    """
    probs, requested = np.asarray(probs), np.asarray(requested).astype(np.int64)
    if probs.ndim != 2 or probs.shape[1] != num_classes:
        raise ValueError(f"probs must be (N, {num_classes}), got {probs.shape}")
    if requested.shape != (len(probs),):
        raise ValueError(f"requested must be ({len(probs)},) class indices, got {requested.shape}")
    if len(probs) == 0:
        raise ValueError("need at least one sample")
    if requested.min() < 0 or requested.max() >= num_classes:
        raise ValueError(f"requested classes must be in 0..{num_classes - 1}")
    correct = probs.argmax(1) == requested
    asked = np.bincount(requested, minlength=num_classes)
    hits = np.bincount(requested, weights=correct, minlength=num_classes)
    per_class = [float(h / a) if a else None for h, a in zip(hits, asked)]
    shares = np.where(asked > 0, hits / np.maximum(asked, 1), np.inf)
    worst = int(np.argmin(shares))
    return {
        "class_accuracy": float(correct.mean()),
        "class_accuracy_min": float(shares[worst]),
        "per_class": per_class,
        "worst_class": worst,
    }


def class_coverage(
    probs_fake: ArrayLike,
    labels_real_or_probs_real: ArrayLike,
    num_classes: int,
    min_share: float | None = None,
    smoothing: float = 1e-6,
) -> dict[str, Any]:
    """Class coverage of generated samples, judged by a classifier.

    probs_fake: (M, K) classifier probabilities (or logits) for generated samples, or (M,) labels.
    labels_real_or_probs_real: (N,) integer labels of the data or (N, K) probabilities.

    Each generated sample is assigned its argmax class. A class counts as covered when its share of
    the generated samples is >= ``min_share``, default 0.1 / num_classes: a tenth of what a uniform
    generator would give it, so a few stray misclassifications do not count as covering a class
    (with 10 classes: at least 1 % of samples; 10 samples out of 1000).

    kl_to_data = KL(fake histogram || data histogram) in nats, where both histograms are smoothed as
    (h + smoothing) / (1 + K * smoothing) so a class the data lacks gives a large but finite value.
    The smoothing is applied to normalised histograms, so equal histograms give exactly 0 even
    for different sample counts.

    Returns {"classes_covered" (int), "num_classes" (int), "kl_to_data", "histogram" (K floats,
    fake shares), "data_histogram" (K floats), "min_share"}.
    """
    if num_classes < 1:
        raise ValueError("num_classes must be >= 1")
    fake = _as_labels(probs_fake, num_classes, "probs_fake")
    real = _as_labels(labels_real_or_probs_real, num_classes, "labels_real_or_probs_real")
    if len(fake) == 0 or len(real) == 0:
        raise ValueError("need at least one fake and one real sample")
    share = 0.1 / num_classes if min_share is None else float(min_share)
    h_fake = np.bincount(fake, minlength=num_classes) / len(fake)
    h_real = np.bincount(real, minlength=num_classes) / len(real)
    covered = int(np.sum((h_fake > 0) & (h_fake >= share)))
    p = (h_fake + smoothing) / (1.0 + num_classes * smoothing)
    q = (h_real + smoothing) / (1.0 + num_classes * smoothing)
    kl = float(np.sum(xlogy(p, p) - xlogy(p, q)))
    return {
        "classes_covered": covered,
        "num_classes": int(num_classes),
        "kl_to_data": max(kl, 0.0),  # KL >= 0; only rounding could make it negative
        "histogram": [float(v) for v in h_fake],
        "data_histogram": [float(v) for v in h_real],
        "min_share": share,
    }


# ----------------------------------------------------------------------------------------------
# originality / memorisation
# ----------------------------------------------------------------------------------------------
def _calibrate(ref: np.ndarray, dist: np.ndarray, alpha: float, quantile: float) -> dict[str, Any]:
    """The near-copy threshold from reference distances, and where ``dist`` falls against them."""
    ref_median = float(np.median(ref))
    ref_q = float(np.quantile(ref, quantile))
    threshold = alpha * ref_q
    # guard against a degenerate training set whose typical NN distance is 0 (all duplicates)
    ratio = dist / ref_median if ref_median > 0 else np.where(dist > 0, np.inf, 0.0)
    return {
        "flagged": dist < threshold,
        "threshold": float(threshold),
        "ratio": ratio,
        "percentile": np.searchsorted(np.sort(ref), dist, side="left") / len(ref),
        "reference_median": ref_median,
        "reference_quantile": ref_q,
    }


def originality(
    gen_feats: ArrayLike,
    train_feats: ArrayLike,
    train_self_nn: ArrayLike | None = None,
    alpha: float = DEFAULT_COPY_ALPHA,
    quantile: float = DEFAULT_COPY_QUANTILE,
    top_k: int = 10,
    chunk: int | None = None,
    invariance: CopyInvariance | None = None,
) -> dict[str, Any]:
    """How far generated samples are from their nearest training image, and which look copied.

    The pixel rule (``invariance=None``): gen_feats (M, D) and train_feats (N, D) are flattened
    pixels (e.g. in [0, 1]) or other low-level features; images (M, C, H, W) are flattened, and
    distances are plain Euclidean. train_self_nn (N,): optional precomputed
    ``nearest_neighbours(train, train, exclude_self=True)[0]`` (the O(N^2) part; cache it).

    The invariant rule (``invariance``, a :class:`CopyInvariance`; evaluation uses
    ``DEFAULT_INVARIANCE``): both must be images (M, C, H, W) or (M, H, W) of one size. Distances
    are :func:`invariant_nearest`'s, so a training image moved by a few pixels, mirrored or lightly
    cropped is as close as the image itself. That minimum over edits also brings fresh pictures
    closer to the training set, which lowers the calibrated threshold; a copy with pixel noise
    (which no edit removes) can then fall above it. So a sample is flagged when EITHER distance is
    below its own threshold, each calibrated in its own distance: train_self_nn (K, 2) =
    :func:`copy_calibration` (columns invariant, pixel, for all or a random sample of K training
    images; computed over all when None). A 1-D train_self_nn holds invariant distances only and
    gives the invariant distance alone.

    A sample is flagged as a near-copy when its nearest-training distance is below
    ``threshold = alpha * quantile_q(train_self_nn)``: closer to a training image than all but
    the closest ~q of training images are to each other, by a further factor alpha. The defaults
    (alpha 0.8, q 0.01) were calibrated on Fashion-MNIST and sklearn digits for the pixel rule and
    measured again for the invariant rule on Fashion-MNIST and emoji (docs/evaluation.md).

    Returns a dict with
      - nn_distance (M floats), nn_index (M ints): nearest training image ("twin") of each sample
        (in the invariant distance for the invariant rule; the pixel part's own: pixel_nn_*);
      - distance_ratio (M floats): nn_distance / median(train_self_nn); ~1 for fresh samples from
        the data distribution, << 1 for memorised ones, > 1 for samples off the data manifold;
      - nn_percentile (M floats): fraction of train_self_nn below the sample's distance;
      - flagged (M bools), copy_fraction, num_flagged, threshold, median_ratio,
        reference_median, reference_quantile (= quantile_q(train_self_nn)), alpha, quantile;
      - worst_indices, worst_train_indices, worst_distances: the top_k samples closest to a
        training image (for the invariant rule: smallest distance over threshold of either
        distance), closest first, their twins and nn_distance;
      - rule: "pixel", "invariant" or "invariant+pixel". With ``invariance`` also invariance (its
        settings), nn_transform (M x [mirrored 0/1, zoom, move y, move x]: how the twin becomes
        the sample) and worst_transforms; with the pixel part also pixel_nn_distance,
        pixel_nn_index, pixel_threshold, num_flagged_invariant and num_flagged_pixel.
    """
    if not 0.0 <= quantile <= 1.0 or alpha <= 0:
        raise ValueError("need 0 <= quantile <= 1 and alpha > 0")
    extra: dict[str, Any] = {}
    if invariance is None:
        g = _as_f64(gen_feats, name="gen_feats")
        t = _as_f64(train_feats, name="train_feats")
        _check_same_dim(g, t, "gen_feats and train_feats")
        if train_self_nn is None:
            ref, _ = nearest_neighbours(t, t, exclude_self=True, chunk=chunk)
        else:
            ref = _as_f64(train_self_nn, ndim=1, name="train_self_nn")
            if len(ref) != len(t):
                raise ValueError(f"train_self_nn has {len(ref)} entries for {len(t)} training rows")
        dist, twin = nearest_neighbours(g, t, chunk=chunk)
        cal = _calibrate(ref, dist, alpha, quantile)
        flagged = cal["flagged"]
        score = dist
        rule = "pixel"
    else:
        gi = _as_images(gen_feats, "gen_feats")
        ti = _as_images(train_feats, "train_feats")
        if len(ti) == 0:
            raise ValueError("train_feats is empty: need training images to compare with")
        if gi.shape[1:] != ti.shape[1:] and len(gi):
            raise ValueError(f"gen_feats are {tuple(gi.shape[1:])} images but train_feats are {tuple(ti.shape[1:])}")
        _check_geometry(tuple(ti.shape), invariance)
        refs = (
            copy_calibration(ti, invariance)
            if train_self_nn is None
            else _as_f64(train_self_nn, ndim=None, name="train_self_nn")
        )
        if refs.ndim not in (1, 2) or len(refs) == 0 or (refs.ndim == 2 and refs.shape[1] != 2):
            raise ValueError(f"train_self_nn must be (K,) or (K, 2) with K >= 1, got shape {refs.shape}")
        ref = refs if refs.ndim == 1 else refs[:, 0]
        if len(gi):
            dist, twin, transform = invariant_nearest(gi, ti, invariance)
        else:
            dist, twin, transform = np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros((0, 4))
        cal = _calibrate(ref, dist, alpha, quantile)
        flagged = cal["flagged"]
        score = dist / cal["threshold"] if cal["threshold"] > 0 else dist
        tf = [[int(r[0] > 0.5), round(float(r[1]), 4), round(float(r[2]), 3), round(float(r[3]), 3)] for r in transform]
        rule = "invariant"
        if refs.ndim == 2:  # plus the pixel rule, in its own calibration
            pd, ptwin = nearest_neighbours(gi.flatten(1).double().numpy(), ti.flatten(1).double().numpy(), chunk=chunk)
            pcal = _calibrate(refs[:, 1], pd, alpha, quantile)
            score = np.minimum(score, pd / pcal["threshold"] if pcal["threshold"] > 0 else pd)
            extra = {
                "pixel_nn_distance": pd.tolist(),
                "pixel_nn_index": ptwin.tolist(),
                "pixel_threshold": pcal["threshold"],
                "pixel_reference_quantile": pcal["reference_quantile"],
                "num_flagged_invariant": int(flagged.sum()),
                "num_flagged_pixel": int(pcal["flagged"].sum()),
            }
            flagged = flagged | pcal["flagged"]
            rule = "invariant+pixel"
        extra.update({"invariance": invariance.describe(), "nn_transform": tf})
    worst = np.argsort(score, kind="stable")[: max(0, int(top_k))]
    out: dict[str, Any] = {
        "nn_distance": dist.tolist(),
        "nn_index": twin.tolist(),
        "distance_ratio": cal["ratio"].tolist(),
        "nn_percentile": cal["percentile"].tolist(),
        "flagged": flagged.tolist(),
        "copy_fraction": float(flagged.mean()) if len(flagged) else 0.0,
        "num_flagged": int(flagged.sum()),
        "threshold": cal["threshold"],
        "median_ratio": float(np.median(cal["ratio"])) if len(dist) else float("nan"),
        "reference_median": cal["reference_median"],
        "reference_quantile": cal["reference_quantile"],
        "alpha": float(alpha),
        "quantile": float(quantile),
        "worst_indices": worst.tolist(),
        "worst_train_indices": twin[worst].tolist(),
        "worst_distances": dist[worst].tolist(),
        "rule": rule,
        **extra,
    }
    if invariance is not None:
        out["worst_transforms"] = [out["nn_transform"][i] for i in worst]
    return out


# ----------------------------------------------------------------------------------------------
# shift-, mirror- and crop-invariant nearest training image (the near-copy search)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CopyInvariance:
    """The edits a near-copy may have undergone and still count as a copy of its training image.

    - ``max_shift``: moved by up to this many pixels in each direction (what was pushed off the
      frame, and what filled the gap, is not compared: distances use the central region, the
      image less a ``max_shift`` margin);
    - ``flips``: mirrored left-right;
    - ``min_crop``: cropped to at least this share of each side and resized back, i.e. zoomed in
      by up to 1 / min_crop about any point within the shift range (1.0 = no crops).

    ``candidates`` and ``refine`` trade time for recall in the search (module docstring): how
    many training images the coarse pass hands to the tangent pass (at most an eighth of a small
    set), and how many of those get the exact check. With the defaults the search found the source
    of 99.3-100 % of moved, mirrored and cropped Fashion-MNIST pictures among 60,000
    (benchmarks/README.md, "Near-copies that a shift cannot fool").
    """

    max_shift: int = 3
    flips: bool = True
    min_crop: float = 0.9
    candidates: int = 1000
    refine: int = 3

    def __post_init__(self) -> None:
        if int(self.max_shift) != self.max_shift or self.max_shift < 0:
            raise ValueError(f"max_shift must be an integer >= 0, got {self.max_shift!r}")
        if not 0.5 <= self.min_crop <= 1.0:
            raise ValueError(f"min_crop must be in [0.5, 1] (1 = no crops), got {self.min_crop!r}")
        if self.candidates < 1 or self.refine < 1:
            raise ValueError(f"candidates and refine must be >= 1, got {self.candidates} and {self.refine}")

    @property
    def max_zoom(self) -> float:
        return 1.0 / self.min_crop

    def fitted(self, height: int, width: int) -> CopyInvariance:
        """This invariance with ``max_shift`` lowered where needed so that small images keep at least
        half of each side to compare (8 x 8 pictures: 2 px; 28 x 28 and up: unchanged)."""
        return dataclasses.replace(self, max_shift=min(self.max_shift, min(height, width) // 4))

    def describe(self) -> dict[str, Any]:
        return {"max_shift": int(self.max_shift), "flips": bool(self.flips), "min_crop": float(self.min_crop)}

    @property
    def cache_tag(self) -> str:
        """Names these settings and the search's version, for caches of distances measured with them."""
        return (
            f"v{COPY_SEARCH_VERSION}-{self.max_shift}-{int(self.flips)}-{self.min_crop}-{self.candidates}-{self.refine}"
        )


DEFAULT_INVARIANCE = CopyInvariance()
COPY_SEARCH_VERSION = 1  # bump when the search's results change (keys cached calibrations)
_COARSE_CELLS = 5  # the coarse pass pools the central region into about 5 x 5 cells
_LK_STEPS = 4  # Gauss-Newton steps of the exact check
# with crops allowed, the exact check also forgives a slight blur or sharpening, w + beta * laplacian(w)
# with |beta| up to this (px^2; a Gaussian blur of variance v is about beta = v / 2): resized crops made
# with different resampling filters (bilinear, bicubic) differ by about this much
_SHARPNESS = 0.3
_LK_MODE = "bicubic"  # the exact check samples the training image bicubically (close to an ideal resampler)


def _as_images(x: ArrayLike, name: str) -> torch.Tensor:
    """numpy / torch / nested lists, (N, C, H, W) or (N, H, W), any dtype -> float32 (N, C, H, W) on the CPU."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    t = t.to(device="cpu", dtype=torch.float32)
    if t.ndim == 3:
        t = t[:, None]
    if t.ndim != 4:
        raise ValueError(f"{name} must be images shaped (N, C, H, W) or (N, H, W), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t.contiguous()


def _check_geometry(shape: tuple[int, ...], inv: CopyInvariance) -> None:
    h, w = shape[-2:]
    if 2 * inv.max_shift >= min(h, w):
        raise ValueError(
            f"max_shift {inv.max_shift} is too large for {h}x{w} images: a shift must leave a central region "
            f"to compare (need 2 * max_shift < {min(h, w)})"
        )


def _resample(
    x: torch.Tensor,
    scale: torch.Tensor | float,
    ty: torch.Tensor | float = 0.0,
    tx: torch.Tensor | float = 0.0,
    mode: str = "bilinear",
):
    """out(p) = x(c + scale * (p - c) + (ty, tx)), bilinear, c the image centre, borders replicated.
    ``scale`` < 1 zooms in (a crop resized back), > 1 shrinks."""
    n, _, h, w = x.shape
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    s = torch.as_tensor(scale, dtype=x.dtype).expand(n)
    theta[:, 0, 0] = s
    theta[:, 1, 1] = s
    theta[:, 0, 2] = torch.as_tensor(tx, dtype=x.dtype).expand(n) * (2.0 / w)
    theta[:, 1, 2] = torch.as_tensor(ty, dtype=x.dtype).expand(n) * (2.0 / h)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=False)


def _gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences d/dx, d/dy of (N, C, H, W) images (replicated borders)."""
    p = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    return (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) / 2, (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) / 2


class _Geometry:
    """Where the passes look: the central region (the image less a max_shift margin) and its pooling."""

    def __init__(self, shape: tuple[int, int, int], inv: CopyInvariance):
        self.c, self.h, self.w = shape
        self.s = int(inv.max_shift)
        inner = min(self.h, self.w) - 2 * self.s
        self.cell_a = max(1, inner // _COARSE_CELLS)
        self.cell_b = max(1, self.cell_a // 2)
        self.mirrors = (False, True) if inv.flips else (False,)
        z = inv.max_zoom
        # the coarse passes shrink the sample back by these zooms; a crop also moves the picture by up
        # to (1 - 1/z) * size / 2, so zoomed queries search that far (at most max_shift)
        self.query_zooms: tuple[tuple[float, int], ...] = ((1.0, self.s),)
        if z > 1.0:
            reach = min(self.s, math.ceil((1 - 1 / z) * max(self.h, self.w) / 2))
            self.query_zooms += (((1 + 2 * z) / 3, reach),)
        self.grid_zooms = (1.0,) if z <= 1.0 else (1.0, *(1 + (z - 1) * i / 3 for i in (1, 2, 3)))
        self.max_zoom = z

    def window(self, cell: int) -> tuple[int, int, int, int]:
        hh = (self.h - 2 * self.s) // cell * cell
        ww = (self.w - 2 * self.s) // cell * cell
        return hh, ww, (self.h - hh) // 2, (self.w - ww) // 2

    def pooled(self, x: torch.Tensor, cell: int, dy: int = 0, dx: int = 0) -> torch.Tensor:
        """(b, D): the central region, moved by (dy, dx), averaged over cell x cell blocks."""
        hh, ww, oy, ox = self.window(cell)
        win = x[:, :, oy + dy : oy + dy + hh, ox + dx : ox + dx + ww]
        return (torch.nn.functional.avg_pool2d(win, cell) if cell > 1 else win).flatten(1)

    def pooled_shifts(self, x: torch.Tensor, cell: int, reach: int) -> torch.Tensor:
        """(b, (2 reach + 1)^2, D): ``pooled`` at every shift in [-reach, reach]^2 (row-major), from one
        box filter: block (i, j) at shift (dy, dx) is the box mean at (oy + dy + i cell, ox + dx + j cell)."""
        hh, ww, oy, ox = self.window(cell)
        box = _window_sums(x, cell, cell) / (cell * cell) if cell > 1 else x
        shifts = torch.arange(-reach, reach + 1)
        rows = oy + shifts[:, None] + cell * torch.arange(hh // cell)[None]  # (S, ny)
        cols = ox + shifts[:, None] + cell * torch.arange(ww // cell)[None]  # (S, nx)
        g = box[:, :, rows][:, :, :, :, cols]  # (b, C, S, ny, S, nx)
        b, c, ns, ny, _, nx = g.shape
        return g.permute(0, 2, 4, 1, 3, 5).reshape(b, ns * ns, c * ny * nx)

    def coarse_queries(self, x: torch.Tensor) -> torch.Tensor:
        """(b, Q, D): the sample's pooled central region at every shift, mirror and query zoom."""
        out = []
        for z, reach in self.query_zooms:
            xz = x if z == 1.0 else _resample(x, z)
            for m in self.mirrors:
                out.append(self.pooled_shifts(xz.flip(-1) if m else xz, self.cell_a, reach))
        return torch.cat(out, 1)

    def tangent_queries(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(b, Q, D) finer pooled queries and (b, Q, 3, D) orthonormal bases of their tangents
        (sub-pixel moves in y and x, and zoom): the one-sided tangent distance of Simard et al. (1993)."""
        hh, ww = x.shape[-2:]
        ys = torch.arange(hh, dtype=x.dtype)[:, None] - (hh - 1) / 2
        xs = torch.arange(ww, dtype=x.dtype)[None, :] - (ww - 1) / 2
        qs, ts = [], []
        for z, reach in self.query_zooms:
            xz = x if z == 1.0 else _resample(x, z)
            gx, gy = _gradients(xz)
            gz = gx * xs + gy * ys
            for m in self.mirrors:
                imgs = (xz.flip(-1), -gx.flip(-1), gy.flip(-1), gz.flip(-1)) if m else (xz, gx, gy, gz)
                p = [self.pooled_shifts(im, self.cell_b, reach) for im in imgs]
                qs.append(p[0])
                ts.append(torch.stack(p[1:], 2))
        q = torch.cat(qs, 1)
        basis, _ = torch.linalg.qr(torch.cat(ts, 1).transpose(-1, -2))  # (b, Q, D, 3)
        return q, basis.transpose(-1, -2)


def _coarse_pass(queries: torch.Tensor, refs_aug: torch.Tensor, k: int, exclude: torch.Tensor | None):
    """Indices (b, k) of the refs with the smallest min-over-queries squared distance. ``refs_aug``
    is (N, D + 2) = [refs, 1, |refs|^2], so one matmul gives |q|^2 + |r|^2 - 2 q.r."""
    b, nq, d = queries.shape
    q = queries.reshape(b * nq, d)
    q_aug = torch.cat([-2.0 * q, (q * q).sum(1, keepdim=True), torch.ones(b * nq, 1)], 1)
    best = torch.empty(b, len(refs_aug))
    step = max(128, (1 << 21) // max(1, b * nq))  # tiles of ~2M distances stay in cache (4x faster than 4M)
    for j in range(0, len(refs_aug), step):
        dist = q_aug @ refs_aug[j : j + step].T
        torch.amin(dist.view(b, nq, -1), 1, out=best[:, j : j + step])
    if exclude is not None:
        rows = torch.nonzero(exclude >= 0).flatten()
        best[rows, exclude[rows]] = float("inf")
    return best.topk(k, dim=1, largest=False, sorted=True).indices


def _tangent_pass(q: torch.Tensor, basis: torch.Tensor, cands: torch.Tensor, k: int, exclude: torch.Tensor | None):
    """Positions (b, k) in ``cands`` (b, K, D) with the smallest one-sided tangent distance
    |q - c|^2 - |U (q - c)|^2 = (|q|^2 - |U q|^2) + |c|^2 - 2 (q - U'U q).c - |U c|^2."""
    b, nq, nb, d = basis.shape
    uq = (basis * q[:, :, None]).sum(-1)  # (b, Q, 3)
    q_perp = q - (uq[..., None] * basis).sum(2)  # q less its tangent part
    const = (q * q).sum(-1) - (uq * uq).sum(-1)  # (b, Q)
    prods = torch.cat([q_perp[:, :, None], basis], 2).reshape(b, nq * (nb + 1), d) @ cands.transpose(1, 2)
    prods = prods.reshape(b, nq, nb + 1, -1)
    dist = const[..., None] + (cands * cands).sum(-1)[:, None] - 2 * prods[:, :, 0] - prods[:, :, 1:].square().sum(2)
    best = dist.amin(1)
    if exclude is not None:
        best = best.masked_fill(exclude, float("inf"))
    return best.topk(min(k, best.shape[1]), dim=1, largest=False, sorted=True).indices


def _window_sums(x: torch.Tensor, rh: int, rw: int) -> torch.Tensor:
    """Sums of x (..., H, W) over every rh x rw window: (..., H - rh + 1, W - rw + 1), from an integral image."""
    ii = torch.nn.functional.pad(x.double().cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    return (ii[..., rh:, rw:] - ii[..., :-rh, rw:] - ii[..., rh:, :-rw] + ii[..., :-rh, :-rw]).to(x.dtype)


def _exact_pass(x: torch.Tensor, cands: torch.Tensor, geo: _Geometry) -> tuple[torch.Tensor, torch.Tensor]:
    """The invariant distance of each sample x (b, C, H, W) to each candidate (b, K, C, H, W):
    a grid search over mirrors, zooms and whole-pixel shifts (one FFT cross-correlation), then
    Gauss-Newton (Lucas-Kanade) over sub-pixel shift and zoom from the best grid point of each mirror.
    Returns squared distances over the central region (b, K) and the transforms (b, K, 4):
    mirrored (0/1), zoom, and the copy's move in y and x (pixels)."""
    b, k, c, h, w = cands.shape
    s = geo.s
    rh, rw = h - 2 * s, w - 2 * s
    n = 2 * s + 1
    flat = cands.reshape(b * k, c, h, w)
    g = x[:, :, s : s + rh, s : s + rw]
    variants = []
    params = []  # (mirrored, zoom) per variant
    for m in geo.mirrors:
        v = flat.flip(-1) if m else flat
        for z in geo.grid_zooms:
            variants.append(v if z == 1.0 else _resample(v, 1.0 / z))
            params.append((float(m), z))
    nv = len(variants)
    var = torch.stack(variants, 1).reshape(b, k * nv, c, h, w)
    # sum_p g(p) var(p + d) for every shift d in [0, 2s]^2 (no wrap-around: p + d stays inside)
    spec = torch.fft.rfft2(var) * torch.fft.rfft2(g, s=(h, w)).conj()[:, None]
    dots = torch.fft.irfft2(spec.sum(2), s=(h, w))[..., :n, :n]  # (b, k*nv, n, n)
    win_sq = _window_sums((var * var).sum(2), rh, rw)  # (b, k*nv, n, n)
    d2 = (win_sq - 2 * dots + (g * g).sum((1, 2, 3))[:, None, None, None]).reshape(b, k, nv * n * n)
    # Gauss-Newton on (a, ty, tx) from the best grid point of each mirror (so a near-symmetric picture's
    # mirror image cannot shadow the right answer); the residual is recomputed exactly at every step
    nm, nz = len(geo.mirrors), len(geo.grid_zooms)
    arg = d2.reshape(b, k, nm, nz * n * n).argmin(3)  # (b, k, nm)
    vi = (torch.arange(nm) * nz + arg // (n * n)).flatten()  # variant of each start (b*k*nm,)
    si = (arg % (n * n)).flatten()
    table = torch.tensor(params, dtype=x.dtype)[vi]  # (b*k*nm, 2)
    mirrored = table[:, 0]
    a = 1.0 / table[:, 1]  # sampling scale: candidate(c + a (p - c) + tau)
    ty = (si // n - s).to(x.dtype) * a
    tx = (si % n - s).to(x.dtype) * a
    pair = torch.arange(b * k).repeat_interleave(nm)
    src = torch.where(mirrored.bool()[:, None, None, None], flat[pair].flip(-1), flat[pair])  # (b*k*nm, c, h, w)
    ys = torch.arange(h, dtype=x.dtype)[s : s + rh, None] - (h - 1) / 2
    xs = torch.arange(w, dtype=x.dtype)[None, s : s + rw] - (w - 1) / 2
    target = g.repeat_interleave(k * nm, 0)
    zoomable = geo.max_zoom > 1.0
    best_r2 = torch.full((len(a),), float("inf"))
    best_p = torch.stack([a, ty, tx], 1)
    eye = torch.eye(3, dtype=x.dtype)
    fixed = torch.diag(torch.tensor([0.0 if zoomable else 1.0, 0.0, 0.0], dtype=x.dtype))  # pins the zoom at 1
    reach = s + 0.5 if s else 0.0  # sub-pixel room beyond the last whole-pixel shift
    for step in range(_LK_STEPS + 1):
        full = _resample(src, a, ty, tx, _LK_MODE)
        gx, gy = _gradients(full)  # d/dp of the warped image = a * (the candidate's gradient there)
        wv = full[:, :, s : s + rh, s : s + rw]
        r = target - wv
        if _SHARPNESS > 0 and zoomable:  # the best blur or sharpening w + beta * laplacian(w), |beta| <= _SHARPNESS
            lap = (_gradients(gx)[0] + _gradients(gy)[1])[:, :, s : s + rh, s : s + rw]
            beta = (r * lap).sum((1, 2, 3)) / (lap * lap).sum((1, 2, 3)).clamp_min(1e-12)
            r = r - beta.clamp(-_SHARPNESS, _SHARPNESS)[:, None, None, None] * lap
        r2 = (r * r).sum((1, 2, 3))
        better = r2 < best_r2
        best_r2 = torch.where(better, r2, best_r2)
        best_p = torch.where(better[:, None], torch.stack([a, ty, tx], 1), best_p)
        if step == _LK_STEPS:
            break
        inv_a = (1.0 / a)[:, None, None, None]
        wx, wy = gx[:, :, s : s + rh, s : s + rw] * inv_a, gy[:, :, s : s + rh, s : s + rw] * inv_a
        jac = torch.stack([(wx * xs + wy * ys) if zoomable else torch.zeros_like(wx), wy, wx], 1).flatten(2)
        jtj = jac @ jac.transpose(1, 2)
        jtr = (jac @ r.flatten(1)[:, :, None]).squeeze(-1)
        ridge = 1e-6 * jtj.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(1e-12)
        delta = torch.linalg.solve(jtj + ridge[:, None, None] * eye + fixed, jtr)
        a = (a + delta[:, 0]).clamp(1.0 / geo.max_zoom, 1.0)
        ty = (ty + delta[:, 1]).clamp(-reach, reach)
        tx = (tx + delta[:, 2]).clamp(-reach, reach)
    r2 = best_r2.reshape(b, k, nm)
    pick = r2.argmin(2, keepdim=True)
    a, ty, tx = best_p.reshape(b, k, nm, 3).gather(2, pick[..., None].expand(b, k, 1, 3)).squeeze(2).unbind(-1)
    zoom = 1.0 / a
    mir = mirrored.reshape(b, k, nm).gather(2, pick).squeeze(2)
    return r2.gather(2, pick).squeeze(2), torch.stack([mir, zoom, -ty * zoom, -tx * zoom], -1)


def invariant_nearest(
    queries: ArrayLike,
    refs: ArrayLike,
    invariance: CopyInvariance = DEFAULT_INVARIANCE,
    exclude: ArrayLike | None = None,
    exclude_self: bool = False,
    chunk: int = 16,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each query image's nearest reference image up to the edits of ``invariance``.

    queries (M, C, H, W) and refs (N, C, H, W) (or (M, H, W) grayscale): the same image size,
    any value range. The distance of a query q to a reference t is::

        min over mirror m, zoom z in [1, 1/min_crop], move (ty, tx) in [-max_shift, max_shift]^2 of
            || q - warp(t) ||_R * sqrt(H W / |R|)

    over the central region R (the image less a max_shift margin), where warp(t) is t mirrored,
    zoomed in by z about the centre and moved, sampled bilinearly. The factor puts it in the units
    of a whole-image Euclidean distance. With ``max_shift=0, flips=False, min_crop=1`` it is the
    plain pixel distance.

    It is found in three passes (module docstring): a coarse multi-shift search over all refs
    keeps ``invariance.candidates``, a tangent-distance pass keeps ``invariance.refine``, and the
    exact check (grid search + Gauss-Newton) measures those. The result is the smallest distance
    among the refined candidates: exact for the candidates it measures, an upper bound otherwise.

    exclude (M,): a reference index each query must not match (-1: none), e.g. the query's own
    index when the queries are references; ``exclude_self``: queries are refs, skip i for query i.
    Returns (distance (M,) float64, index (M,) int64, transform (M, 4) float64: mirrored (0/1),
    zoom, and the move (y, x) in pixels that takes the reference to the query).
    """
    q = _as_images(queries, "queries")
    t = _as_images(refs, "refs")
    if q.shape[1:] != t.shape[1:]:
        raise ValueError(f"queries are {tuple(q.shape[1:])} images but refs are {tuple(t.shape[1:])}")
    _check_geometry(tuple(q.shape), invariance)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    m, n = len(q), len(t)
    ex: torch.Tensor | None = None
    if exclude_self:
        if m != n:
            raise ValueError(f"exclude_self needs queries and refs to be the same set, got {m} and {n} images")
        ex = torch.arange(m)
    elif exclude is not None:
        ex = torch.as_tensor(np.asarray(exclude), dtype=torch.long).flatten()
        if len(ex) != m:
            raise ValueError(f"exclude has {len(ex)} entries for {m} queries")
    usable = n - (1 if ex is not None else 0)
    if m and usable < 1:
        raise ValueError("need at least one reference image (other than the query itself)")
    dist = np.zeros(m)
    index = np.zeros(m, dtype=np.int64)
    transform = np.zeros((m, 4))
    if m == 0:
        return dist, index, transform
    # subtracting the references' mean value per channel (a constant: moves, mirrors and zooms commute
    # with it) changes no distance and keeps the float32 sums small
    center = t.mean((0, 2, 3), keepdim=True)
    q, t = q - center, t - center
    geo = _Geometry(tuple(t.shape[1:]), invariance)  # type: ignore[arg-type]
    refs_a = geo.pooled(t, geo.cell_a)
    refs_aug = torch.cat([refs_a, torch.ones(n, 1), (refs_a * refs_a).sum(1, keepdim=True)], 1)
    refs_b = geo.pooled(t, geo.cell_b)
    # the coarse pass keeps ``candidates``, or an eighth of a small reference set (its ranks are small too)
    k_a = min(invariance.candidates, usable, max(64, math.ceil(n / 8)))
    k_b = min(invariance.refine, k_a)
    scale = math.sqrt(geo.h * geo.w / ((geo.h - 2 * geo.s) * (geo.w - 2 * geo.s)))
    for i in range(0, m, chunk):
        x = q[i : i + chunk]
        b = len(x)
        exc = None if ex is None else ex[i : i + chunk]
        if k_a < n:
            cand = _coarse_pass(geo.coarse_queries(x), refs_aug, k_a, exc)
        else:
            cand = torch.arange(n).expand(b, n)
        qb, basis = geo.tangent_queries(x)
        mask = None if exc is None else cand == exc[:, None]
        pos = _tangent_pass(qb, basis, refs_b[cand], k_b, mask)
        cand = torch.gather(cand, 1, pos)
        r2, tf = _exact_pass(x, t[cand], geo)
        if exc is not None:
            r2 = r2.masked_fill(cand == exc[:, None], float("inf"))
        j = r2.argmin(1)
        rows = torch.arange(b)
        dist[i : i + b] = r2[rows, j].clamp_min(0).double().sqrt().numpy() * scale
        index[i : i + b] = cand[rows, j].numpy()
        transform[i : i + b] = tf[rows, j].double().numpy()
    return dist, index, transform


def apply_copy_transform(images: ArrayLike, transforms: ArrayLike) -> torch.Tensor:
    """Training images (N, C, H, W) edited as ``invariant_nearest`` found them: each row of transforms
    (N, 4) = [mirrored 0/1, zoom, move y, move x] mirrors, zooms in about the centre and moves its
    image, so a twin can be shown as it appears in the sample. Returns float32 (N, C, H, W)."""
    x = _as_images(images, "images")
    tf = torch.as_tensor(np.asarray(transforms, dtype=np.float64), dtype=torch.float32).reshape(-1, 4)
    if len(tf) != len(x):
        raise ValueError(f"{len(tf)} transforms for {len(x)} images")
    if len(x) == 0:
        return x
    x = torch.where(tf[:, 0].reshape(-1, 1, 1, 1) > 0.5, x.flip(-1), x)
    z = tf[:, 1].clamp_min(1e-6)
    return _resample(x, 1.0 / z, -tf[:, 2] / z, -tf[:, 3] / z)


def invariant_self_nn(
    images: ArrayLike,
    invariance: CopyInvariance = DEFAULT_INVARIANCE,
    n: int | None = None,
    seed: int = 0,
    chunk: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Distances of ``n`` random images of a set (all when None) to their nearest other image of it,
    under ``invariance``: the near-copy rule's calibration. Returns (distances (n,), which (n,):
    the images' indices). O(n * N); a sample of a few thousand gives the 1 % quantile to a few %."""
    t = _as_images(images, "images")
    if len(t) < 2:
        raise ValueError(f"need at least 2 images to measure their distances to each other, got {len(t)}")
    if n is None or n >= len(t):
        which = np.arange(len(t))
    else:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        which = np.sort(np.random.default_rng(seed).choice(len(t), n, replace=False))
    d, _, _ = invariant_nearest(t[torch.from_numpy(which)], t, invariance, exclude=which, chunk=chunk)
    return d, which


def copy_calibration(
    images: ArrayLike,
    invariance: CopyInvariance = DEFAULT_INVARIANCE,
    n: int | None = None,
    seed: int = 0,
    chunk: int = 16,
) -> np.ndarray:
    """The invariant rule's calibration (``originality``'s train_self_nn): (K, 2) distances of K = n
    random images of a set (all when None; the same ones as ``invariant_self_nn(..., n, seed)``)
    to their nearest other image of the set, column 0 in the invariant distance, column 1 in plain
    pixels (whole images, exact)."""
    t = _as_images(images, "images")
    inv, which = invariant_self_nn(t, invariance, n=n, seed=seed, chunk=chunk)
    flat = t.flatten(1).double().numpy()
    pix = np.empty(len(which))
    for start, d2 in _sq_dist_blocks(flat[which], flat, None):
        rows = np.arange(len(d2))
        d2[rows, which[start : start + len(d2)]] = np.inf
        pix[start : start + len(d2)] = np.sqrt(d2.min(axis=1))
    return np.stack([inv, pix], 1)


__all__ = [
    "COPY_SEARCH_VERSION",
    "DEFAULT_COPY_ALPHA",
    "DEFAULT_COPY_QUANTILE",
    "DEFAULT_INVARIANCE",
    "CopyInvariance",
    "apply_copy_transform",
    "class_coverage",
    "classifier_score",
    "copy_calibration",
    "density_coverage",
    "feature_stats",
    "fid",
    "fid_from_stats",
    "invariant_nearest",
    "invariant_self_nn",
    "kid",
    "knn_radii",
    "nearest_neighbours",
    "originality",
    "precision_recall",
    "requested_class_accuracy",
]
