"""From a config as given to one that trains: the family's defaults filled in, impossible combinations refused.

``resolve(cfg)`` runs before anything is written (the CLI and the studio call it when they build a
config, ``train`` again before it makes a run folder), so a bad combination never leaves a half-made
run behind. The family decides through its task (``models.tasks``): which schedule trains it when the
run names none, whether the data must be paired (and how pairs are made when the run does not say),
and whether class labels can condition it.
"""

from __future__ import annotations

import dataclasses

from ..config import RunConfig
from ..errors import UserError
from ..models import FAMILIES, get_family
from .schedules import SCHEDULES


def resolve(cfg: RunConfig) -> RunConfig:
    """``cfg`` with ``train.schedule`` and (for paired tasks) ``data.pairs`` filled in; a one-line UserError
    naming the fix when the family, schedule, data and conditioning cannot train together."""
    fam = get_family(cfg.model)
    task = fam.task
    name = cfg.train.schedule or fam.schedule
    if name not in SCHEDULES:
        raise UserError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    schedule = SCHEDULES[name]
    if task.name not in schedule.tasks:
        fits = [n for n, s in SCHEDULES.items() if task.name in s.tasks]
        raise UserError(
            f"schedule {name!r} trains {' / '.join(schedule.tasks)} models, but {cfg.model!r} is "
            f"{task.name}; drop --schedule (its default is {fam.schedule!r}) or use one of "
            f"{', '.join(fits)}"
        )
    pairs = cfg.data.pairs
    if task.paired_data and pairs is None:
        pairs = task.default_pairs
    elif not task.paired_data and pairs is not None:
        paired = sorted(n for n, f in FAMILIES.items() if f.task.paired_data)
        raise UserError(
            f"data.pairs={pairs!r} makes (input, target) pairs for image-to-image models, but "
            f"{cfg.model!r} is {task.name}; drop data.pairs or use --model {' / '.join(paired)}"
        )
    if cfg.conditional and "class" not in fam.conditioning:
        raise UserError(f"--conditional: {cfg.model!r} ({task.name}) does not take class labels; drop --conditional")
    if name == cfg.train.schedule and pairs == cfg.data.pairs:
        return cfg
    return dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, schedule=name), data=dataclasses.replace(cfg.data, pairs=pairs)
    )
