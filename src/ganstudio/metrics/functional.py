"""Pure metric functions over feature arrays: the maths of ganstudio's evaluation subsystem.

Every function takes numpy arrays or torch tensors (any float dtype, any device), works in
numpy float64 internally, and returns plain Python floats / ints / lists in dicts, so results can
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

Originality
-----------
A generated sample is flagged as a near-copy of a training image when::

    d_nn(gen -> train) < alpha * quantile_q( d_nn(train -> train, excluding self) )

with defaults ``alpha = 0.8`` and ``q = 0.01``. Both sides are distances in the same space, so the
rule is invariant to the scale of the features (pixels in [0, 1] or [-1, 1] give the same flags).
It is meant for pixel space or other low-level features: in class-level features every image of a
class looks like a copy. The calibration of the defaults (flag rates on held-out and jittered
images) and the rule's measured limits are in docs/evaluation.md, "Near-copy rule: calibration".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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

    The samples are cut into ``splits`` consecutive parts (as in the original Inception Score);
    p(y) is the mean prediction within each part. Returns {"mean", "std"} over parts (ddof=0).
    Ranges from 1 (every sample gets the same prediction) to K (confident and balanced).
    """
    p = _as_probs(probs, "probs")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be in [1, N={len(p)}], got {splits}")
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
def originality(
    gen_feats: ArrayLike,
    train_feats: ArrayLike,
    train_self_nn: ArrayLike | None = None,
    alpha: float = DEFAULT_COPY_ALPHA,
    quantile: float = DEFAULT_COPY_QUANTILE,
    top_k: int = 10,
    chunk: int | None = None,
) -> dict[str, Any]:
    """How far generated samples are from their nearest training image, and which look copied.

    gen_feats (M, D) and train_feats (N, D): flattened pixels (e.g. in [0, 1]) or other low-level
    features; images (M, C, H, W) are flattened. train_self_nn (N,): optional precomputed
    ``nearest_neighbours(train, train, exclude_self=True)[0]`` (the O(N^2) part; cache it when
    scoring many generators against one training set).

    A sample is flagged as a near-copy when its nearest-training distance is below
    ``threshold = alpha * quantile_q(train_self_nn)``: closer to a training image than all but
    the closest ~q of training images are to each other, by a further factor alpha. The defaults
    (alpha 0.8, q 0.01) were calibrated on Fashion-MNIST and sklearn digits (measured rates:
    docs/evaluation.md).

    Returns a dict with
      - nn_distance (M floats), nn_index (M ints): nearest training image ("twin") of each sample;
      - distance_ratio (M floats): nn_distance / median(train_self_nn); ~1 for fresh samples from
        the data distribution, << 1 for memorised ones, > 1 for samples off the data manifold;
      - nn_percentile (M floats): fraction of train_self_nn below the sample's distance;
      - flagged (M bools), copy_fraction, num_flagged, threshold, median_ratio,
        reference_median, reference_quantile (= quantile_q(train_self_nn)), alpha, quantile;
      - worst_indices, worst_train_indices, worst_distances (top_k samples closest to a training
        image, closest first) and their twins.
    """
    g = _as_f64(gen_feats, name="gen_feats")
    t = _as_f64(train_feats, name="train_feats")
    _check_same_dim(g, t, "gen_feats and train_feats")
    if not 0.0 <= quantile <= 1.0 or alpha <= 0:
        raise ValueError("need 0 <= quantile <= 1 and alpha > 0")
    if train_self_nn is None:
        ref, _ = nearest_neighbours(t, t, exclude_self=True, chunk=chunk)
    else:
        ref = _as_f64(train_self_nn, ndim=1, name="train_self_nn")
        if len(ref) != len(t):
            raise ValueError(f"train_self_nn has {len(ref)} entries for {len(t)} training rows")
    dist, twin = nearest_neighbours(g, t, chunk=chunk)
    ref_median = float(np.median(ref))
    ref_q = float(np.quantile(ref, quantile))
    threshold = alpha * ref_q
    flagged = dist < threshold
    # guard against a degenerate training set whose typical NN distance is 0 (all duplicates)
    ratio = dist / ref_median if ref_median > 0 else np.where(dist > 0, np.inf, 0.0)
    percentile = np.searchsorted(np.sort(ref), dist, side="left") / len(ref)
    worst = np.argsort(dist, kind="stable")[: max(0, int(top_k))]
    return {
        "nn_distance": dist.tolist(),
        "nn_index": twin.tolist(),
        "distance_ratio": ratio.tolist(),
        "nn_percentile": percentile.tolist(),
        "flagged": flagged.tolist(),
        "copy_fraction": float(flagged.mean()) if len(flagged) else 0.0,
        "num_flagged": int(flagged.sum()),
        "threshold": float(threshold),
        "median_ratio": float(np.median(ratio)) if len(ratio) else float("nan"),
        "reference_median": ref_median,
        "reference_quantile": ref_q,
        "alpha": float(alpha),
        "quantile": float(quantile),
        "worst_indices": worst.tolist(),
        "worst_train_indices": twin[worst].tolist(),
        "worst_distances": dist[worst].tolist(),
    }


__all__ = [
    "DEFAULT_COPY_ALPHA",
    "DEFAULT_COPY_QUANTILE",
    "class_coverage",
    "classifier_score",
    "density_coverage",
    "feature_stats",
    "fid",
    "fid_from_stats",
    "kid",
    "knn_radii",
    "nearest_neighbours",
    "originality",
    "precision_recall",
    "requested_class_accuracy",
]
