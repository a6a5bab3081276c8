"""The configs of a run, in the bottom layer so that every other layer can read them.

``RunConfig`` (what ``config.json`` holds) = the model family's typed config (``config.models``) +
``DataConfig`` + ``TrainConfig``, all frozen dataclasses with a JSON round trip that refuses unknown
keys (``config.base``). Presets are data (``training.presets``); CLI flags map onto fields.
"""

from __future__ import annotations

from .base import check, diff, from_dict, to_dict
from .data import DataConfig
from .models import MODEL_CONFIGS, DCGANConfig, LightweightConfig, MLPConfig, Pix2PixConfig, ResNetConfig
from .run import RunConfig, model_config_class
from .train import PRECISIONS, RESUMABLE_FIELDS, TrainConfig

__all__ = [
    "MODEL_CONFIGS",
    "PRECISIONS",
    "RESUMABLE_FIELDS",
    "DCGANConfig",
    "DataConfig",
    "LightweightConfig",
    "MLPConfig",
    "Pix2PixConfig",
    "ResNetConfig",
    "RunConfig",
    "TrainConfig",
    "check",
    "diff",
    "from_dict",
    "model_config_class",
    "to_dict",
]
