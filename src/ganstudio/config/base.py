"""Helpers for typed, frozen dataclass configs: JSON round trip, unknown keys refused, one-line errors.

Every config in ganstudio (model families, data, training, the run) is a frozen dataclass built
with these helpers, so that a run folder's ``config.json`` rebuilds it exactly.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import UserError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a (nested) dataclass config."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            v = to_dict(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def from_dict(cls: type[T], data: dict, where: str = "config") -> T:
    """Build ``cls`` from a dict, refusing unknown keys (a typo must not be silently ignored)."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for k, v in data.items():
        t = hints[k]
        if isinstance(t, type) and dataclasses.is_dataclass(t) and isinstance(v, dict):
            v = from_dict(t, v, f"{where}.{k}")
        elif typing.get_origin(t) is tuple and isinstance(v, list):
            v = tuple(v)
        kwargs[k] = v
    return cls(**kwargs)


def diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable list of fields whose values differ between two config dicts."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: run has {a!r}, given {b!r}")
    return out


def check(cond: bool, msg: str) -> None:
    """Validation helper for ``__post_init__``: raise a one-line UserError."""
    if not cond:
        raise UserError(msg)
