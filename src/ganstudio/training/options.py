"""From user choices (preset, config file, flags) to one RunConfig. Precedence: flags > file > preset > defaults."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UserError
from .config import RunConfig
from .presets import preset as get_preset


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def build_run_config(data: str | None = None, model: str | None = None, preset: str | None = None,
                     train: dict[str, Any] | None = None, resolution: int | None = None, limit: int | None = None,
                     init_from: str | None = None, config_file: str | None = None) -> RunConfig:
    d: dict = {}
    if preset:
        d = _merge(d, get_preset(preset))
        d["preset"] = preset
    if config_file:
        try:
            d = _merge(d, json.loads(Path(config_file).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"cannot read config file {config_file}: {e}") from None
        d.pop("ganstudio_version", None)
    flags: dict = {"train": dict(train or {}), "data": {}}
    if data:
        flags["data"]["name"] = data
    if resolution:
        flags["data"]["resolution"] = resolution
    if limit:
        flags["data"]["limit"] = limit
    if model:
        if model != d.get("model"):
            d.pop("model_config", None)  # a different family: its own config
        flags["model"] = model
    if init_from:
        flags["init_from"] = init_from
    return RunConfig.from_dict(_merge(d, flags))


def describe(cfg: RunConfig) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True)
