"""argparse value types shared by every subcommand: bad values become one-line errors."""

from __future__ import annotations

import argparse


def _number(s: str, cast, what: str):
    try:
        return cast(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}") from None


def positive_int(s: str) -> int:
    v = _number(s, int, "a whole number")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {v}")
    return v


def nonneg_int(s: str) -> int:
    v = _number(s, int, "a whole number")
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def positive_float(s: str) -> float:
    v = _number(s, float, "a number")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {v}")
    return v


def nonneg_float(s: str) -> float:
    v = _number(s, float, "a number")
    if not v >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be >= 0, got {s}")
    return v


def port(s: str) -> int:
    """A TCP/UDP port; 0 asks the system for any free one."""
    v = _number(s, int, "a port number")
    if not 0 <= v < 65536:
        raise argparse.ArgumentTypeError(f"must be a port 0-65535, got {v}")
    return v
