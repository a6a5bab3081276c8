"""Model families by name: ``FAMILIES[name] -> Family(config_cls, build_g, build_d, task, conditioning)``.

The contract every family keeps (shapes at the boundary):
  noise-to-image  G(z: (B, z_dim) float, y: (B, num_classes) class weights or None) -> (B, C, H, W) in [-1, 1]
                  D(x: (B, C, H, W) in [-1, 1], y: (B, num_classes) or None) -> (B,) logits
  image-to-image  G(x: (B, Cin, H, W) in [-1, 1]) -> (B, C, H, W) in [-1, 1]
                  D(x: (B, Cin, H, W), y: (B, C, H, W)) -> (B, 1, h, w) patch logits
Every family config is a frozen dataclass in ``config.models`` with at least: z_dim, resolution,
channels, num_classes. A family says what it does (its ``task``: default schedule, paired data or not,
how its training preview is drawn and written) and which optional inputs condition it (``conditioning``:
"class" weights today; "text" embeddings and others as families arrive). The tests in
``tests/models/test_family_contract.py`` run over every registered family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..config.models import MODEL_CONFIGS
from ..errors import UserError
from .tasks import TASKS, Task

CONDITIONING_KINDS = ("class", "text")  # optional inputs beyond the task's own (z, or an input picture)


@dataclass(frozen=True)
class Family:
    name: str
    config_cls: type
    build_g: Callable[[Any], nn.Module]
    build_d: Callable[[Any], nn.Module]
    task: Task
    conditioning: tuple[str, ...] = ()  # e.g. ("class",): G and D take class weights when num_classes > 0
    description: str = ""
    default_schedule: str | None = None  # None: the task's

    @property
    def schedule(self) -> str:
        """The training schedule this family uses unless the run names another."""
        return self.default_schedule or self.task.default_schedule


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family; its config class must be the one ``config.models.MODEL_CONFIGS`` names for it, so that
    a run's config.json and its model can never disagree."""
    if MODEL_CONFIGS.get(family.name) is not family.config_cls:
        raise TypeError(f"family {family.name!r}: register its config class in config.models.MODEL_CONFIGS")
    if TASKS.get(family.task.name) is not family.task:
        raise TypeError(f"family {family.name!r}: unknown task {family.task.name!r}")
    unknown = set(family.conditioning) - set(CONDITIONING_KINDS)
    if unknown:
        raise TypeError(f"family {family.name!r}: unknown conditioning {sorted(unknown)}")
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(sorted(FAMILIES))}") from None


def build(name: str, cfg: Any) -> tuple[nn.Module, nn.Module]:
    fam = get_family(name)
    return fam.build_g(cfg), fam.build_d(cfg)


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# Import order is registration order, which is the order FAMILIES lists the families in: keep it.
# isort: off
from . import mlp  # noqa: E402,F401  (registers the seed family)
from . import dcgan, resnet  # noqa: E402,F401  (register the conv families)
from . import pix2pix  # noqa: E402,F401  (registers the paired image-to-image family)
from . import lightweight  # noqa: E402,F401  (registers the few-shot FastGAN-style family)
from . import specgan  # noqa: E402,F401  (registers the spectrogram (noise-to-sound) family)
# isort: on
