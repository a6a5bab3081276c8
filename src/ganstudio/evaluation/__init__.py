"""Evaluation: how good is a checkpoint, next to how good the data itself is.

    registry.py   the metric registry: each metric of a result row registered once (``metric``, ``Metric``)
    builtin.py    the built-in metrics: FID, KID, precision/recall, density/coverage, class metrics, originality
    reference.py  the real sets (reference, held-out real row, near-copy twins) and their on-disk caches
    core.py       ``compute_row``, the real-vs-real row, ``score``, ``evaluate(run_dir)``
    results.py    ``eval/<step>.json``: write (keeping other settings under ``previous``) and read back
    table.py      the table ``ganstudio evaluate`` prints
    sound.py      sound runs: the metrics in a sound classifier's features, on the decoded waveforms
    paired.py     image-to-image runs: ``evaluate_pairs`` (L1 / PSNR / SSIM / FID on held-out pairs)
    hook.py       ``EvalHook``: evaluation during training, keeps a ``best`` checkpoint

Parameters of the built-in metrics (``KID_SUBSETS``, ...) live in ``evaluation.builtin``.
The maths is in ``ganstudio.metrics`` (pure functions over arrays); docs/evaluation.md explains the numbers.
"""

from . import builtin  # noqa: F401 - registers the built-in metrics
from .core import (
    WORST_K,
    Reference,
    build_result,
    class_plan,
    compute_row,
    evaluate,
    originality_panel,
    prepare_reference,
    sample_images,
    score,
)
from .hook import KEEP, EvalHook
from .paired import evaluate_pairs, format_pairs
from .reference import (
    DEFAULT_N,
    ORIGINALITY_N,
    REFERENCES,
    RealData,
    cached_features,
    cached_self_nn,
    load_real,
    pixels,
)
from .registry import Inputs, Metric, get, metric, metrics, register, unregister
from .results import read_evals, result_key, write_result
from .sound import evaluate_sound
from .table import format_table

__all__ = [
    "DEFAULT_N",
    "KEEP",
    "ORIGINALITY_N",
    "REFERENCES",
    "WORST_K",
    "EvalHook",
    "Inputs",
    "Metric",
    "RealData",
    "Reference",
    "build_result",
    "cached_features",
    "cached_self_nn",
    "class_plan",
    "compute_row",
    "evaluate",
    "evaluate_pairs",
    "evaluate_sound",
    "format_pairs",
    "format_table",
    "get",
    "load_real",
    "metric",
    "metrics",
    "originality_panel",
    "pixels",
    "prepare_reference",
    "read_evals",
    "register",
    "result_key",
    "sample_images",
    "score",
    "unregister",
    "write_result",
]
