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


# latents.NEGATIVE_WEIGHT (this module stays free of torch; tests/test_negative_prompt.py keeps the two equal)
NEGATIVE_WEIGHT = 0.5


def add_negative(p: argparse.ArgumentParser, what: str) -> None:
    """``--negative TEXT`` (repeatable) and ``--negative-weight W``, as every command that draws from prompts takes
    them (``latents.with_negative``); ``what``: the help line of ``--negative``."""
    p.add_argument("--negative", action="append", default=None, metavar="TEXT", help=what)
    p.add_argument(
        "--negative-weight",
        type=float,
        default=NEGATIVE_WEIGHT,
        metavar="W",
        help="0..1, with --negative: how far to steer away (G reads the prompt's embedding minus W x the negative's)",
    )


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
