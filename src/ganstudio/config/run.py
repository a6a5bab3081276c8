"""``RunConfig``: everything a run folder's ``config.json`` holds, typed the moment it is built.

``model_config`` is always an instance of the family's config class (``MODEL_CONFIGS[model]``): a dict
(a preset's widths, a config file, ``--set model_config.FIELD=...``) becomes one in ``from_dict``, and
the shape fields (resolution, height, channels, classes, input channels) are filled from the data when
the run is prepared (``training.prepare``): the data decides the shape, the config the architecture.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..version import __version__
from .base import check, from_dict, to_dict
from .data import DataConfig
from .models import MODEL_CONFIGS, MLPConfig
from .train import TrainConfig


def model_config_class(model: str) -> type:
    try:
        return MODEL_CONFIGS[model]
    except KeyError:
        raise UserError(f"unknown model {model!r}; choose one of {', '.join(sorted(MODEL_CONFIGS))}") from None


@dataclass(frozen=True)
class RunConfig:
    model: str = "mlp"
    model_config: Any = field(default_factory=MLPConfig)  # an instance of MODEL_CONFIGS[model]
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str | None = None
    init_from: str | None = None  # fine-tune: start from another run's weights
    class_names: tuple[str, ...] = ()  # filled from the data; conditional runs generate by name
    conditional: bool = False  # condition G and D on the data's class labels

    def __post_init__(self) -> None:
        cls = model_config_class(self.model)
        if isinstance(self.model_config, dict):
            raise UserError(
                "model_config is a dict: build the config with RunConfig.from_dict({...}), or pass "
                f"model_config={cls.__name__}(...)"
            )
        check(
            isinstance(self.model_config, cls),
            f"model {self.model!r} takes a {cls.__name__} as model_config, got a "
            f"{type(self.model_config).__name__}; pass model_config={cls.__name__}(...) or use RunConfig.from_dict",
        )
        check(
            isinstance(self.data, DataConfig) and isinstance(self.train, TrainConfig),
            "data and train must be a DataConfig and a TrainConfig (RunConfig.from_dict builds them from dicts)",
        )

    def to_dict(self) -> dict:
        d = to_dict(self)
        d["ganstudio_version"] = __version__
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """From JSON (config.json, presets, flags): unknown keys are refused, each part is typed."""
        if not isinstance(d, dict):
            raise UserError(f"config: expected a JSON object, got {type(d).__name__}")
        d = {k: v for k, v in d.items() if k != "ganstudio_version"}
        model = d.get("model", "mlp")
        if not isinstance(model, str):
            raise UserError(f"config.model must be a family name, got {model!r}")
        mc = d.get("model_config")
        if mc is None or isinstance(mc, dict):
            d["model_config"] = from_dict(model_config_class(model), mc or {}, f"model ({model})")
        return from_dict(cls, d, "config")

    def replace_train(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **changes))
