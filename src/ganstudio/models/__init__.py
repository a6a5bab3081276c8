"""Model families by name: ``FAMILIES[name] -> Family(config_cls, build_g, build_d)``.

The contract every family keeps (shapes at the boundary):
  G(z: (B, z_dim) float, y: (B, num_classes) float class weights or None) -> (B, C, H, W) in [-1, 1]
  D(x: (B, C, H, W) float in [-1, 1], y: (B, num_classes) or None) -> (B,) logits
Every family config is a frozen dataclass with at least: z_dim, resolution, channels, num_classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from ..configs import from_dict
from ..errors import UserError


@dataclass(frozen=True)
class Family:
    name: str
    config_cls: type
    build_g: Callable[[Any], nn.Module]
    build_d: Callable[[Any], nn.Module]
    description: str = ""
    use_command: str = "generate"  # the CLI subcommand that makes pictures from a run of this family


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(sorted(FAMILIES))}") from None


def model_config(name: str, fields: dict) -> Any:
    return from_dict(get_family(name).config_cls, fields, f"model ({name})")


def build(name: str, cfg: Any) -> tuple[nn.Module, nn.Module]:
    fam = get_family(name)
    return fam.build_g(cfg), fam.build_d(cfg)


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


from . import mlp  # noqa: E402,F401  (registers the seed family)
from . import dcgan, resnet  # noqa: E402,F401  (register the conv families)
from . import pix2pix  # noqa: E402,F401  (registers the paired image-to-image family)
