"""The built-in metrics of a result row, registered in row and table order.

Each entry adapts one function of ``ganstudio.metrics.functional`` to the row; what the numbers mean
is in docs/evaluation.md. Parameters that change a metric's value are module constants here: change
one and bump ``METRICS_VERSION`` (it keys the cached real rows).
"""

from __future__ import annotations

from ..metrics import functional as M
from .registry import Inputs, metric

KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_K, DC_K = 3, 5
# near-copies: a training image moved by up to 3 px, mirrored or cropped to 90 % still counts (the
# shift is lowered for small pictures, ``CopyInvariance.fitted``)
COPY_INVARIANCE = M.DEFAULT_INVARIANCE
METRICS_VERSION = 3  # bump when a metric's definition or parameters change (invalidates cached real rows)


def copy_invariance(shape: tuple[int, ...]) -> M.CopyInvariance:
    """The near-copy invariance for pictures of ``shape`` (..., H, W)."""
    return COPY_INVARIANCE.fitted(shape[-2], shape[-1])


def _precision_recall(x: Inputs) -> dict:
    k = min(PR_K, len(x.fake) - 1, len(x.ref) - 1)
    return x.shared("precision_recall", lambda: M.precision_recall(x.ref.feats, x.fake.feats, k=k))


def _density_coverage(x: Inputs) -> dict:
    k = min(DC_K, len(x.ref) - 1)
    return x.shared("density_coverage", lambda: M.density_coverage(x.ref.feats, x.fake.feats, k=k))


def originality(x: Inputs) -> dict:
    """``metrics.functional.originality`` of the images' pixels against the twins, once per Inputs
    (the row's copy metrics and the result's originality details read it): the invariant rule
    (``copy_invariance``, plus the pixel rule for noisy unmoved copies) when the pixels' shape is
    known, else the plain pixel rule."""

    if x.fake_pixels is None or x.twin_pixels is None or x.twin_self_nn is None:
        raise ValueError("originality needs pixels and training twins (not available for sounds)")
    fake_px, twin_px, self_nn = x.fake_pixels, x.twin_pixels, x.twin_self_nn

    def compute() -> dict:
        if x.pixel_shape is None:
            ref = self_nn[:, 1] if self_nn.ndim == 2 else self_nn  # the pixel column
            return M.originality(fake_px, twin_px, ref, top_k=x.top_k)
        shape = (-1, *x.pixel_shape)
        return M.originality(
            fake_px.reshape(shape),
            twin_px.reshape(shape),
            self_nn,
            top_k=x.top_k,
            invariance=copy_invariance(x.pixel_shape),
        )

    return x.shared("originality", compute)


@metric("fid", label="FID", cell="{fid:.3f}", lower_is_better=True, curve="log")
def _fid(x: Inputs) -> dict:
    mu, sigma = M.feature_stats(x.fake.feats)
    return {"fid": M.fid_from_stats(mu, sigma, x.mu, x.sigma)}


@metric("kid", label="KID", cell="{kid:.5f}±{kid_std:.5f}", keys=("kid", "kid_std"), lower_is_better=True, curve="log")
def _kid(x: Inputs) -> dict:
    k = M.kid(x.fake.feats, x.ref.feats, num_subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE)
    return {"kid": k["mean"], "kid_std": k["std"]}


@metric("precision", label="precision", cell="{precision:.3f}", lower_is_better=False)
def _precision(x: Inputs) -> dict:
    return {"precision": _precision_recall(x)["precision"]}


@metric("recall", label="recall", cell="{recall:.3f}", lower_is_better=False)
def _recall(x: Inputs) -> dict:
    return {"recall": _precision_recall(x)["recall"]}


@metric("density", label="density", cell="{density:.3f}", lower_is_better=False)
def _density(x: Inputs) -> dict:
    return {"density": _density_coverage(x)["density"]}


@metric("coverage", label="coverage", cell="{coverage:.3f}", lower_is_better=False)
def _coverage(x: Inputs) -> dict:
    return {"coverage": _density_coverage(x)["coverage"]}


@metric(
    "classifier_score",
    label="cls score",
    cell="{classifier_score:.3f}",
    keys=("classifier_score", "classifier_score_std"),
    lower_is_better=False,
)
def _classifier_score(x: Inputs) -> dict | None:
    classes = x.classes()
    if classes is None:
        return None
    cs = M.classifier_score(classes[0], splits=min(10, len(x.fake)))
    return {"classifier_score": cs["mean"], "classifier_score_std": cs["std"]}


@metric(
    "classes_covered",
    label="classes",
    cell="{classes_covered}/{num_classes}",
    keys=("classes_covered", "num_classes", "class_kl"),
    lower_is_better=False,
)
def _classes_covered(x: Inputs) -> dict | None:
    classes = x.classes()
    if classes is None:
        return None
    cc = M.class_coverage(*classes, x.num_classes)
    return {"classes_covered": cc["classes_covered"], "num_classes": cc["num_classes"], "class_kl": cc["kl_to_data"]}


@metric(
    "class_accuracy",
    label="req. class",
    cell="{class_accuracy:.1%} (worst {class_accuracy_min:.0%})",
    keys=("class_accuracy", "class_accuracy_min"),
    lower_is_better=False,
)
def _class_accuracy(x: Inputs) -> dict | None:
    """Conditional runs: the share of samples the classifier assigns to the class they were generated for."""
    if x.requested is None or x.fake.probs is None or x.num_classes < 2:
        return None
    ca = M.requested_class_accuracy(x.fake.probs, x.requested, x.num_classes)
    return {"class_accuracy": ca["class_accuracy"], "class_accuracy_min": ca["class_accuracy_min"]}


@metric("copy_fraction", label="copies", cell="{copy_fraction:.2%}")  # judged against the real row
def _copy_fraction(x: Inputs) -> dict | None:
    if not x.has_pixels:
        return None
    return {"copy_fraction": originality(x)["copy_fraction"]}


@metric("nn_ratio_median", label="NN ratio", cell="{nn_ratio_median:.3f}")  # ~1 new images, << 1 copies
def _nn_ratio_median(x: Inputs) -> dict | None:
    if not x.has_pixels:
        return None
    return {"nn_ratio_median": originality(x)["median_ratio"]}
