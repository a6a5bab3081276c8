"""From user choices (preset, config file, flags) to one RunConfig. Precedence: flags > file > preset > defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import runs
from ..config import RunConfig
from ..data import folder
from ..errors import UserError
from .presets import preset as get_preset
from .resolve import resolve


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_sets(items: list[str]) -> dict:
    """``["train.ema_beta=0.999", "train.augment=color,translation", "model_config.g_channels=32"]``
    -> a nested dict. Values are JSON when they parse as JSON, comma lists become lists, else strings."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects FIELD=VALUE (e.g. train.ema_beta=0.999), got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw.split(",") if "," in raw else raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def build_run_config(
    data: str | None = None,
    model: str | None = None,
    preset: str | None = None,
    train: dict[str, Any] | None = None,
    resolution: int | None = None,
    limit: int | None = None,
    init_from: str | None = None,
    config_file: str | None = None,
    conditional: bool | None = None,
    sets: list[str] | None = None,
    data_options: dict | None = None,
) -> RunConfig:
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
        d, shape = _fine_tune_base(d, init_from, model, conditional)
        flags["data"].update(shape)  # the source's picture size wins over --resolution: its weights need it
    if conditional is not None:
        flags["conditional"] = conditional
    flags["data"].update(data_options or {})
    merged = _merge(_merge(d, flags), parse_sets(sets or []))
    mc, data_d = merged.get("model_config"), merged.setdefault("data", {})
    if isinstance(mc, dict) and isinstance(data_d, dict):
        # The data decides a run's shape: a size given as a model field (--set model_config.resolution=64,
        # an older config file) is the size of the data to train on.
        for key in ("resolution", "height", "channels"):
            if key in mc:
                value = mc.pop(key)
                data_d.setdefault(key, value)
    if (
        merged.get("conditional")
        and merged.get("data", {}).get("name")
        and Path(str(merged["data"]["name"])).expanduser().is_dir()
    ):
        # A conditional folder run takes its classes from sub-folders, unless they come from groups of look
        # (data.clusters): a number always clusters; auto keeps the sub-folders of a folder sorted into them.
        clusters = merged["data"].get("clusters")
        if clusters in (None, "none"):
            merged["data"].setdefault("labels", True)
        elif clusters == "auto":
            merged["data"].setdefault(
                "labels", folder.sorted_into_classes(Path(str(merged["data"]["name"])).expanduser())
            )
    return resolve(RunConfig.from_dict(merged))


def _fine_tune_base(d: dict, init_from: str, model: str | None, conditional: bool | None) -> tuple[dict, dict]:
    """Fine-tuning starts from another run's weights, which fit only that run's model: its family, model
    config and conditioning replace the preset's, and its picture size (returned as data fields) replaces
    any asked for. The rest of the preset and the caller's flags (training, data, ``--set``) still apply;
    a different ``--model`` is refused here, before anything is written, not when the weights fail to load."""
    src = runs.read_config_dict(runs.require_run(init_from))
    if model and model != src.get("model"):
        raise UserError(
            f"--init-from {init_from}: its weights belong to a {src.get('model')!r} model; drop --model "
            f"{model} or fine-tune from a {model} run"
        )
    mc = dict(src.get("model_config") or {})
    d = {**d, "model": src.get("model", "mlp"), "model_config": mc}
    if conditional is None:
        d["conditional"] = bool(src.get("conditional"))
    return d, {k: mc[k] for k in ("resolution", "height", "channels") if k in mc}


def describe(cfg: RunConfig) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True)
