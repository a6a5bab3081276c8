"""Presets are data: each is a dict of RunConfig fields applied before the user's own flags."""
from __future__ import annotations

from ..errors import UserError

PRESETS: dict[str, dict] = {
    # The seed article's model and optimiser exactly (sections 3.2 and 5.2), loss bug fixed.
    "seed": {"model": "mlp", "train": {"lr_g": 1e-4, "lr_d": 1e-4, "batch_size": 64, "schedule": "simultaneous"}},
    # The article's section 4.3 case study: lr 1e-3 for 10,000 steps.
    "seed-case-study": {"model": "mlp", "train": {"lr_g": 1e-3, "lr_d": 1e-3, "steps": 10000,
                                                  "schedule": "simultaneous"}},
}


def preset(name: str) -> dict:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
