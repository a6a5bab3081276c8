"""Correctness tests for ganstudio.metrics.functional: each metric against a closed form, a
brute-force reference written differently, or a toy case whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ganstudio.metrics import functional as M

# every test here checks float results of metric maths: rerun under other CPU kernel paths (make test)
pytestmark = pytest.mark.numerics


# ----------------------------------------------------------------------------------------------
# fixtures / helpers
# ----------------------------------------------------------------------------------------------
def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _samples_with_exact_moments(rng: np.random.Generator, n: int, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """n samples whose empirical mean and (ddof=1) covariance are exactly mu and cov."""
    z = rng.normal(size=(n, len(mu)))
    z -= z.mean(axis=0)
    # whiten the sample exactly, then colour it with cov's Cholesky factor
    emp = np.cov(z, rowvar=False)
    z = z @ np.linalg.inv(np.linalg.cholesky(emp)).T
    return z @ np.linalg.cholesky(cov).T + mu


def _fid_eig_reference(mu1, s1, mu2, s2) -> float:
    """Tr((S1 S2)^1/2) = Tr((S1^1/2 S2 S1^1/2)^1/2), both roots of symmetric PSD matrices via eigh."""

    def psd_sqrt(a):
        w, v = np.linalg.eigh((a + a.T) / 2)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r1 = psd_sqrt(s1)
    inner = np.linalg.eigvalsh(r1 @ s2 @ r1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(inner, 0, None))))


def _mixture(rng: np.random.Generator, n: int, modes: np.ndarray, which=None, scale: float = 0.3) -> np.ndarray:
    which = np.arange(len(modes)) if which is None else np.asarray(which)
    z = rng.choice(which, size=n)
    return modes[z] + scale * rng.normal(size=(n, modes.shape[1]))


MODES_2D = np.array([[10.0 * np.cos(t), 10.0 * np.sin(t)] for t in np.linspace(0, 2 * np.pi, 8, endpoint=False)])


# ----------------------------------------------------------------------------------------------
# FID
# ----------------------------------------------------------------------------------------------
def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert abs(M.fid(x, x)) < 1e-8
    assert abs(M.fid(torch.from_numpy(x).float(), torch.from_numpy(x).float())) < 1e-4  # torch input


def test_feature_stats_matches_numpy():
    x = np.random.default_rng(1).normal(size=(50, 5))
    mu, sigma = M.feature_stats(torch.from_numpy(x))
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.T, ddof=1), rtol=1e-12)


def test_fid_exact_moments_diagonal_closed_form():
    # samples built to have exactly these moments, so FID must equal the closed form exactly
    rng = np.random.default_rng(2)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.2, 3.0, d), rng.uniform(0.2, 3.0, d)
    a = _samples_with_exact_moments(rng, 300, mu1, np.diag(v1))
    b = _samples_with_exact_moments(rng, 400, mu2, np.diag(v2))
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert M.fid(a, b) == pytest.approx(closed, rel=1e-9, abs=1e-9)


def test_fid_random_gaussian_samples_close_to_closed_form():
    rng = np.random.default_rng(3)
    d, n = 4, 20000
    mu1, mu2 = np.zeros(d), np.array([1.0, -0.5, 0.0, 2.0])
    v1, v2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([3.0, 0.5, 0.5, 2.0])
    a = mu1 + np.sqrt(v1) * rng.normal(size=(n, d))
    b = mu2 + np.sqrt(v2) * rng.normal(size=(n, d))
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)  # = 6.13...
    assert M.fid(a, b) == pytest.approx(closed, rel=0.03)


def test_fid_from_stats_matches_eigendecomposition_reference():
    rng = np.random.default_rng(4)
    for d in (1, 3, 32):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
        ref = _fid_eig_reference(mu1, s1, mu2, s2)
        assert M.fid_from_stats(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-9, abs=1e-9)
    # torch tensors are accepted too
    got = M.fid_from_stats(*(torch.from_numpy(v) for v in (mu1, s1, mu2, s2)))
    assert got == pytest.approx(ref, rel=1e-9)


def test_fid_singular_covariances_fewer_samples_than_dims():
    # N < D makes both covariances rank deficient (zero eigenvalues, rounded slightly negative):
    # the clipped eigendecomposition must still give a finite, accurate value
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(20, 40)), rng.normal(size=(20, 40)) + 0.5
    mu1, s1 = M.feature_stats(a)
    mu2, s2 = M.feature_stats(b)
    got = M.fid(a, b)
    assert np.isfinite(got)
    assert got == pytest.approx(_fid_eig_reference(mu1, s1, mu2, s2), rel=1e-4)


def test_fid_rejects_non_covariance_input():
    with pytest.raises(ValueError, match="negative eigenvalue"):
        M.fid_from_stats(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError):
        M.fid(np.zeros((10, 3)), np.zeros((10, 4)))


# ----------------------------------------------------------------------------------------------
# torchmetrics agreement (optional dependency)
# ----------------------------------------------------------------------------------------------
class _Lookup(torch.nn.Module):
    """A 'feature extractor' that returns precomputed features for given row indices."""

    def __init__(self, feats: torch.Tensor):
        super().__init__()
        self.register_buffer("feats", feats)
        self.num_features = int(feats.shape[1])

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.feats[idx.long()]


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_fid_and_kid_agree_with_torchmetrics():
    tm_fid = pytest.importorskip("torchmetrics.image.fid")
    tm_kid = pytest.importorskip("torchmetrics.image.kid")
    rng = np.random.default_rng(6)
    a = rng.normal(size=(300, 12))
    b = 0.7 * rng.normal(size=(250, 12)) @ rng.normal(size=(12, 12)) / 3 + 0.3
    feats = torch.from_numpy(np.concatenate([a, b]))
    ia, ib = torch.arange(300), torch.arange(300, 550)

    fid_tm = tm_fid.FrechetInceptionDistance(feature=_Lookup(feats))
    fid_tm.update(ia, real=True)
    fid_tm.update(ib, real=False)
    ours = M.fid(a, b)
    assert ours > 1.0
    assert float(fid_tm.compute()) == pytest.approx(ours, rel=1e-6)

    # one subset holding every sample removes the subset randomness from both implementations
    n = 250
    kid_tm = tm_kid.KernelInceptionDistance(feature=_Lookup(feats), subsets=1, subset_size=n)
    kid_tm.update(ia[:n], real=True)
    kid_tm.update(ib, real=False)
    tm_mean, _ = kid_tm.compute()
    got = M.kid(a[:n], b, num_subsets=1, subset_size=n)
    assert got["mean"] > 0.01
    assert float(tm_mean) == pytest.approx(got["mean"], rel=1e-6)


# ----------------------------------------------------------------------------------------------
# KID
# ----------------------------------------------------------------------------------------------
def _kid_bruteforce(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k = (x.y/d + 1)^3 written as explicit pair loops."""
    d, m = x.shape[1], len(x)
    k = lambda u, v: (u @ v / d + 1.0) ** 3
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_bruteforce_on_full_sets():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(15, 5)), rng.normal(size=(15, 5)) + 0.4
    got = M.kid(x, y, num_subsets=1, subset_size=100)  # clipped to 15: the whole sets
    assert got["mean"] == pytest.approx(_kid_bruteforce(x, y), rel=1e-10)
    assert got["std"] == 0.0


def test_kid_same_distribution_near_zero_shifted_positive_and_seeded():
    rng = np.random.default_rng(8)
    d = 16
    a, b = rng.normal(size=(600, d)), rng.normal(size=(600, d))
    shifted = rng.normal(size=(600, d)) + 0.5
    same = M.kid(a, b, num_subsets=30, subset_size=200)
    diff = M.kid(a, shifted, num_subsets=30, subset_size=200)
    assert diff["mean"] > 10 * diff["std"] > 0
    assert abs(same["mean"]) < 0.05 * diff["mean"]
    assert abs(same["mean"]) < 3 * same["std"]
    assert M.kid(a, b, num_subsets=5, subset_size=100, seed=3) == M.kid(a, b, num_subsets=5, subset_size=100, seed=3)
    assert M.kid(a, b, num_subsets=5, subset_size=100, seed=3) != M.kid(a, b, num_subsets=5, subset_size=100, seed=4)


# ----------------------------------------------------------------------------------------------
# k-NN helpers
# ----------------------------------------------------------------------------------------------
def test_nearest_neighbours_matches_bruteforce_with_chunking_and_self_exclusion():
    rng = np.random.default_rng(9)
    q, r = rng.normal(size=(37, 6)) + 100.0, rng.normal(size=(53, 6)) + 100.0  # far from 0: tests centring
    dist, idx = M.nearest_neighbours(q, r, chunk=5)
    full = cdist(q, r)
    np.testing.assert_array_equal(idx, full.argmin(1))
    np.testing.assert_allclose(dist, full.min(1), rtol=1e-12)

    r_dup = np.concatenate([r, r[:3]])  # rows 53..55 duplicate rows 0..2
    d_self, i_self = M.nearest_neighbours(r_dup, r_dup, exclude_self=True, chunk=7)
    full = cdist(r_dup, r_dup)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_allclose(d_self, full.min(1), rtol=1e-12, atol=1e-12)
    assert np.all(i_self != np.arange(len(r_dup)))
    assert d_self[0] == 0.0 and i_self[0] == 53  # an exact duplicate is found, at distance exactly 0

    radii = M.knn_radii(r, k=3, chunk=4)
    full = np.sort(cdist(r, r) + np.diag(np.full(len(r), np.inf)), axis=1)
    np.testing.assert_allclose(radii, full[:, 2], rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# precision / recall and density / coverage
# ----------------------------------------------------------------------------------------------
def _pr_bruteforce(real, fake, k):
    drr, dff, drf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    rr = np.sort(drr, 1)[:, k]  # column 0 is the point itself
    rf = np.sort(dff, 1)[:, k]
    precision = np.mean((drf <= rr[:, None]).any(0))
    recall = np.mean((drf <= rf[None, :]).any(1))
    density = (drf < rr[:, None]).sum() / (k * len(fake))
    coverage = np.mean(drf.min(1) < rr)
    return precision, recall, density, coverage


def test_precision_recall_density_coverage_match_bruteforce():
    rng = np.random.default_rng(10)
    real = _mixture(rng, 120, MODES_2D, scale=1.5)
    fake = _mixture(rng, 90, MODES_2D, which=[0, 1, 2, 3, 4], scale=2.0)
    p, r, d, c = _pr_bruteforce(real, fake, k=3)
    pr = M.precision_recall(real, fake, k=3, chunk=11)
    dc = M.density_coverage(real, fake, k=3, chunk=11)
    assert pr == pytest.approx({"precision": p, "recall": r}, abs=1e-12)
    assert dc == pytest.approx({"density": d, "coverage": c}, abs=1e-12)
    assert 0 < p < 1 and 0 < r < 1  # the case is not degenerate


def test_ball_boundaries_follow_the_papers():
    # 1-D lattice, k=1: every real ball has radius exactly 1 and the fake point lies exactly on the
    # boundary of the last one. Kynkäänniemi et al. count the boundary (<=), Naeem et al. do not (<).
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[4.0], [5.0]])
    assert M.precision_recall(real, fake, k=1)["precision"] == 0.5
    assert M.density_coverage(real, fake, k=1) == {"density": 0.0, "coverage": 0.0}


def test_precision_recall_toy_manifolds():
    rng = np.random.default_rng(11)
    real = _mixture(rng, 1000, MODES_2D)
    same = M.precision_recall(real, _mixture(rng, 1000, MODES_2D))
    assert same["precision"] > 0.9 and same["recall"] > 0.9
    half = M.precision_recall(real, _mixture(rng, 1000, MODES_2D, which=[0, 1, 2, 3]))
    assert half["precision"] > 0.9
    assert 0.4 < half["recall"] < 0.6
    far = M.precision_recall(real, _mixture(rng, 1000, MODES_2D) + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0}


def test_density_coverage_toy_manifolds():
    rng = np.random.default_rng(12)
    real = _mixture(rng, 1000, MODES_2D)
    same = M.density_coverage(real, _mixture(rng, 1000, MODES_2D))
    assert 0.85 < same["density"] < 1.15
    assert same["coverage"] > 0.9
    half = M.density_coverage(real, _mixture(rng, 1000, MODES_2D, which=[0, 1, 2, 3]))
    assert 0.4 < half["coverage"] < 0.6
    assert 0.8 < half["density"] < 1.2  # dropping modes costs coverage, not fidelity
    far = M.density_coverage(real, _mixture(rng, 1000, MODES_2D) + 100.0)
    assert far == {"density": 0.0, "coverage": 0.0}


# ----------------------------------------------------------------------------------------------
# classifier-based scores
# ----------------------------------------------------------------------------------------------
def test_classifier_score_extremes_and_reference():
    k, n = 10, 1000
    # confident and balanced: near K, whether the rows come interleaved or sorted by class (a held-out split
    # sorted by label once scored ~1 because each consecutive part held one class). With one-hot predictions a
    # part's score is exp(entropy of its class counts): a random part of 100 falls short of log K by about
    # (K - 1) / (2 * 100) nats, so ~9.6.
    for order in (np.arange(n) % k, np.repeat(np.arange(k), n // k)):
        s = M.classifier_score(np.eye(k)[order], splits=10)
        assert 9.0 < s["mean"] <= k and s["std"] < 0.5
    assert M.classifier_score(np.eye(k)[np.arange(n) % k], splits=1)["mean"] == pytest.approx(k, rel=1e-12)
    assert M.classifier_score(np.eye(k)[np.zeros(n, int)])["mean"] == pytest.approx(1.0, abs=1e-12)
    assert M.classifier_score(np.full((n, k), 1.0 / k))["mean"] == pytest.approx(1.0, abs=1e-12)

    p = np.random.default_rng(13).dirichlet(np.full(k, 0.3), size=200)
    py = p.mean(0)
    ref = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(py)), axis=1)))
    got = M.classifier_score(torch.from_numpy(p).float(), splits=1)
    assert got["mean"] == pytest.approx(ref, rel=1e-4)
    assert 1.0 < got["mean"] < k
    with pytest.raises(ValueError, match="logits"):
        M.classifier_score(np.random.default_rng(0).normal(size=(20, k)))


def test_class_coverage_counts_and_kl():
    k = 10
    rng = np.random.default_rng(14)
    labels_real = np.arange(1000) % k
    # fakes: 7 classes in equal measure plus 5 stray samples (0.5 %) of class 7, below the 1 % bar
    fake_labels = np.concatenate([np.arange(700) % 7, np.full(5, 7)])
    probs_fake = np.eye(k)[fake_labels] * 0.9 + 0.01
    out = M.class_coverage(probs_fake, labels_real, num_classes=k)
    assert out["classes_covered"] == 7
    assert out["num_classes"] == k and out["min_share"] == pytest.approx(0.01)
    assert sum(out["histogram"]) == pytest.approx(1.0)
    assert out["kl_to_data"] > 0.3

    # the same class mix (different sample counts, real given as probabilities) -> KL exactly 0
    perm = rng.permutation(2000)
    same = M.class_coverage(np.eye(k)[np.arange(2000) % k][perm], np.eye(k)[labels_real], num_classes=k)
    assert same["classes_covered"] == k
    assert same["kl_to_data"] == pytest.approx(0.0, abs=1e-12)

    # uniform over 5 of 10 classes vs uniform data: KL = log 2
    half = M.class_coverage(np.arange(500) % 5, labels_real, num_classes=k)
    assert half["classes_covered"] == 5
    assert half["kl_to_data"] == pytest.approx(np.log(2), rel=1e-4)


# ----------------------------------------------------------------------------------------------
# originality
# ----------------------------------------------------------------------------------------------
def _smooth_images(rng: np.random.Generator, n: int, size: int = 16, blobs: int = 3) -> np.ndarray:
    """Random smooth images in [0, 1]: sums of Gaussian blobs of random position, width, height."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    c = rng.uniform(2, size - 2, (n, blobs, 2))
    w = rng.uniform(1.5, 3.0, (n, blobs))
    a = rng.uniform(0.3, 1.0, (n, blobs))
    r2 = (yy - c[..., 0, None, None]) ** 2 + (xx - c[..., 1, None, None]) ** 2
    img = (a[..., None, None] * np.exp(-r2 / (2 * w[..., None, None] ** 2))).sum(1)
    return np.clip(img, 0, 1).reshape(n, 1, size, size)


def _check_originality(train, test, rng, noise_std, clip=True):
    src = rng.choice(len(train), 400, replace=False)
    jitter = train[src] + rng.normal(0, noise_std, train[src].shape)
    if clip:
        jitter = np.clip(jitter, 0, 1)
    self_nn, _ = M.nearest_neighbours(train, train, exclude_self=True)
    fresh = M.originality(test, train, train_self_nn=self_nn)
    copies = M.originality(jitter, train, train_self_nn=self_nn)
    assert fresh["copy_fraction"] <= 0.01, fresh["copy_fraction"]
    assert copies["copy_fraction"] >= 0.95, copies["copy_fraction"]
    assert 0.8 < fresh["median_ratio"] < 1.25  # fresh samples look like the training set's own spacing
    assert copies["median_ratio"] < 0.6
    assert np.mean(np.asarray(copies["nn_index"]) == src) > 0.95  # the twin found is the source image
    return fresh, copies


def test_originality_smooth_random_images():
    rng = np.random.default_rng(15)
    train, test = _smooth_images(rng, 2000), _smooth_images(rng, 500)
    _check_originality(train, test, rng, noise_std=0.03)


def test_originality_gaussian_mixture_64d():
    rng = np.random.default_rng(16)
    mu = rng.normal(size=(10, 64))
    basis = rng.normal(0, 0.3, (10, 64, 6))

    def sample(n):
        z = rng.integers(10, size=n)
        return mu[z] + np.einsum("ndk,nk->nd", basis[z], rng.normal(size=(n, 6))) + 0.05 * rng.normal(size=(n, 64))

    train, test = sample(2000), sample(500)
    _check_originality(train, test, rng, noise_std=0.05 * train.std(), clip=False)


def test_originality_real_digits_and_worst_offenders():
    from sklearn.datasets import load_digits

    images = load_digits().images / 16.0  # (1797, 8, 8) in [0, 1]
    order = np.random.default_rng(0).permutation(len(images))
    n_test = int(0.2 * len(images))
    train, test = images[order[n_test:]], images[order[:n_test]]
    rng = np.random.default_rng(17)
    _check_originality(train, test, rng, noise_std=0.05)

    # plant 3 exact copies among the held-out images: they must be the worst offenders, with the
    # right training twins, and the scale of the inputs must not change the flags
    planted = np.concatenate([test[:50], train[[5, 500, 1000]]])
    out = M.originality(torch.from_numpy(planted * 2 - 1), torch.from_numpy(train * 2 - 1), top_k=3)
    assert sorted(out["worst_indices"]) == [50, 51, 52]
    assert dict(zip(out["worst_indices"], out["worst_train_indices"])) == {50: 5, 51: 500, 52: 1000}
    assert out["worst_distances"] == [0.0, 0.0, 0.0]
    assert out["flagged"][50:] == [True, True, True] and out["num_flagged"] == 3
    assert len(out["nn_distance"]) == len(out["distance_ratio"]) == len(out["nn_percentile"]) == 53
