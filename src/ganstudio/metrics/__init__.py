"""Metric functions over feature arrays (pure; see ``metrics.functional`` for definitions).

Feature extractors live in ``ganstudio.features``; evaluating a run in ``ganstudio.evaluation``.
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
)

__all__ = [
    "feature_stats", "fid_from_stats", "fid", "kid", "nearest_neighbours", "knn_radii", "precision_recall",
    "density_coverage", "classifier_score", "class_coverage", "originality", "DEFAULT_COPY_ALPHA",
    "DEFAULT_COPY_QUANTILE",
]
