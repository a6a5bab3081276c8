"""Metric maths, as pure functions: ``functional`` over feature arrays (FID, KID, precision/recall,
density/coverage, class metrics, originality), ``paired`` over output/target image pairs (L1, PSNR, SSIM).

Feature extractors live in ``ganstudio.features``; evaluating a run, and the registry that turns
these functions into a result row, in ``ganstudio.evaluation``.
"""

from .functional import (
    DEFAULT_COPY_ALPHA,
    DEFAULT_COPY_QUANTILE,
    class_coverage,
    classifier_score,
    density_coverage,
    feature_stats,
    fid,
    fid_from_stats,
    kid,
    knn_radii,
    nearest_neighbours,
    originality,
    precision_recall,
    requested_class_accuracy,
)
from .paired import l1, psnr, ssim

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
    "l1",
    "nearest_neighbours",
    "originality",
    "precision_recall",
    "psnr",
    "requested_class_accuracy",
    "ssim",
]
