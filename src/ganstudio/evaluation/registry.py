"""The metric registry: every metric of an evaluation's result row is registered here once.

A :class:`Metric` names the function computing it from the :class:`Inputs` (features and pixels
of one image set against the reference), the keys it writes into the result row, how a table
shows it, which way is better, and which report section plots it over training. ``compute_row``,
``format_table``, the JSON row and ``report.py``'s table and curves all iterate :func:`metrics`, so
a new metric is one registration::

    @metric("sharpness", label="sharp", cell="{sharpness:.3f}", lower_is_better=False)
    def _sharpness(x: Inputs) -> dict:
        return {"sharpness": my_maths(x.fake_pixels)}

The maths itself belongs in ``ganstudio.metrics`` (pure functions over arrays); a registry entry
only adapts it to the row. The built-in metrics are registered by ``evaluation.builtin``.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..features import Features

CURVES = ("linear", "log")
DEFAULT_PANEL = "Metrics over training"
ROW_KEYS = ("n",)  # written by compute_row itself, not by a metric


@dataclass
class Inputs:
    """What a metric sees: one set of images (generated, or the held-out real row) against the reference."""

    fake: Features  # feats (N, D), probs (N, K) or None
    fake_pixels: np.ndarray | None  # (N, C*H*W) float32 in [0, 1]; None for sounds (no pixel metrics)
    ref: Features  # the reference set's features
    mu: np.ndarray  # (D,) mean of ref.feats
    sigma: np.ndarray  # (D, D) covariance of ref.feats
    class_ref: np.ndarray | None  # what class histograms are compared with (labels or probs), or None
    num_classes: int  # the extractor's classes (0 or 1: no class metrics)
    twin_pixels: np.ndarray | None  # (T, C*H*W) training images searched for near-copies; None: no copy metrics
    # distances of (some of) the twins to their own nearest other twin: (T, 2) invariant and pixel
    # (metrics.functional.copy_calibration), or (T,) plain pixel distances for the pixel rule
    twin_self_nn: np.ndarray | None
    top_k: int  # near-copies kept in the originality details
    # (N,) the class each image was generated for, as an index into the extractor's classes; None when
    # unknown (real rows, unconditional runs, an extractor whose classes are not the run's)
    requested: np.ndarray | None = None
    # (C, H, W) of the pixels: enables the shift/mirror/crop-invariant near-copy rule; None = the pixel rule
    pixel_shape: tuple[int, int, int] | None = None
    _shared: dict = field(default_factory=dict, repr=False)

    def classes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(fake class probabilities, class reference) when the class metrics apply, else None."""
        if self.fake.probs is None or self.class_ref is None or self.num_classes < 2:
            return None
        return self.fake.probs, self.class_ref

    @property
    def has_pixels(self) -> bool:
        """Whether the near-copy metrics apply (pictures with their training twins; not sounds)."""
        return self.fake_pixels is not None and self.twin_pixels is not None and self.twin_self_nn is not None

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per Inputs: for work several metrics read (precision and recall, ...)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]


Compute = Callable[[Inputs], "Mapping[str, Any] | None"]


class _Missing:
    def __format__(self, spec: str) -> str:
        return "?"


class _RowView(dict):
    def __missing__(self, key: str) -> _Missing:
        return _Missing()


@dataclass(frozen=True)
class Metric:
    """One registered metric. ``compute`` returns the row entries named by ``keys`` (all of them), or
    None when the metric does not apply to these inputs (e.g. class metrics without a classifier)."""

    name: str  # registry key, and the row key of the headline value (what tables, curves and the hook read)
    compute: Compute
    label: str  # short column title, also the curve's title
    cell: str  # str.format template over the row, e.g. "{kid:.5f}±{kid_std:.5f}"; missing keys show "?"
    keys: tuple[str, ...] = ()  # row keys written, in row order; default (name,)
    lower_is_better: bool | None = None  # None: neither (compare with the real row)
    curve: str | None = "linear"  # report curve over training: "linear", "log" axis, or None for no curve
    panel: str = DEFAULT_PANEL  # report section holding the curve

    def __post_init__(self) -> None:
        keys = self.keys or (self.name,)
        if keys[0] != self.name:
            raise ValueError(f"metric {self.name!r}: the first key must be its name, got {keys}")
        if self.curve is not None and self.curve not in CURVES:
            raise ValueError(f"metric {self.name!r}: curve must be one of {CURVES} or None, got {self.curve!r}")
        fields = {f for _, f, _, _ in string.Formatter().parse(self.cell) if f}
        if self.name not in fields:
            raise ValueError(f"metric {self.name!r}: its cell template {self.cell!r} does not show it")
        object.__setattr__(self, "keys", tuple(keys))

    def format(self, row: Mapping[str, Any]) -> str:
        """The table cell for ``row``: ``-`` when the metric is absent from it."""
        if row.get(self.name) is None:
            return "-"
        return self.cell.format_map(_RowView({k: v for k, v in row.items() if v is not None}))

    def values(self, x: Inputs) -> dict[str, Any] | None:
        """``compute(x)`` checked against ``keys``, in ``keys`` order."""
        out = self.compute(x)
        if out is None:
            return None
        if set(out) != set(self.keys):
            raise ValueError(f"metric {self.name!r} returned {sorted(out)}, registered keys {list(self.keys)}")
        return {k: out[k] for k in self.keys}


REGISTRY: dict[str, Metric] = {}  # name -> metric, in row and table order


def register(m: Metric, replace: bool = False) -> Metric:
    """Add ``m`` at the end of the row (or, with ``replace``, in place of the metric of the same name)."""
    if m.name in REGISTRY and not replace:
        raise ValueError(f"metric {m.name!r} is already registered")
    taken = {k: other.name for other in REGISTRY.values() if other.name != m.name for k in other.keys}
    clash = [k for k in m.keys if k in taken or k in ROW_KEYS]
    if clash:
        raise ValueError(
            f"metric {m.name!r}: row keys {clash} already belong to {sorted({taken.get(k, 'the row') for k in clash})}"
        )
    REGISTRY[m.name] = m
    return m


def metric(
    name: str,
    *,
    label: str,
    cell: str,
    keys: tuple[str, ...] = (),
    lower_is_better: bool | None = None,
    curve: str | None = "linear",
    panel: str = DEFAULT_PANEL,
) -> Callable[[Compute], Compute]:
    """Decorator: register the decorated function as the compute of a new :class:`Metric`."""

    def deco(fn: Compute) -> Compute:
        register(Metric(name, fn, label, cell, keys, lower_is_better, curve, panel))
        return fn

    return deco


def unregister(name: str) -> Metric:
    return REGISTRY.pop(name)


def get(name: str) -> Metric:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no metric {name!r}; registered: {', '.join(REGISTRY)}") from None


def metrics() -> tuple[Metric, ...]:
    """The registered metrics, in row order."""
    return tuple(REGISTRY.values())


def shown(rows: Iterable[Mapping[str, Any]]) -> list[Metric]:
    """The metrics with a value in at least one of ``rows``: a table's columns."""
    rows = list(rows)
    return [m for m in metrics() if any(r.get(m.name) is not None for r in rows)]


def panels() -> list[str]:
    """Report sections holding metric curves, in order of first registration."""
    return list(dict.fromkeys(m.panel for m in metrics() if m.curve is not None))


__all__ = ["REGISTRY", "Inputs", "Metric", "get", "metric", "metrics", "panels", "register", "shown", "unregister"]
