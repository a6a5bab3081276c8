"""Scenes: named, saved parameter sets (JSON), loaded live with ``/ganstudio/scene NAME``.

A scene file ``<folder>/<name>.json`` (by default ``RUN_DIR/live/scenes/``)::

    {"format": "ganstudio.live-scene/1", "name": "calm", "run": "00001-...", "values": {"speed": 2, "dir/0": 1.5}}

``values`` may name any subset of the piece's parameters (natural units; a choice also by name);
loading a scene sets those targets, and each value slews there. Unknown fields, unknown parameters and
values that are not numbers are refused in one line. Names are letters, digits, ``-`` and ``_``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config.base import from_dict
from ..errors import UserError
from ..fsutil import atomic_write_json
from .params import Registry

FORMAT = "ganstudio.live-scene/1"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UserError(f"bad scene name {name!r}: use 1-64 letters, digits, - and _")
    return name


@dataclass(frozen=True)
class Scene:
    name: str
    values: dict[str, float] = field(default_factory=dict)
    format: str = FORMAT
    run: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.format != FORMAT:
            raise UserError(f"scene {self.name}: format {self.format!r}; this ganstudio reads {FORMAT!r}")
        if not isinstance(self.values, dict):
            raise UserError(f"scene {self.name}: values must be an object of parameter -> value")

    def resolve(self, registry: Registry) -> dict[str, float]:
        """The scene's values by canonical parameter name, parsed and clamped by each parameter."""
        out = {}
        for k, v in self.values.items():
            canon = registry.resolve(k)
            if canon is None:
                raise UserError(
                    f"scene {self.name}: unknown parameter {k!r}; this piece has: {', '.join(registry.names())}"
                )
            try:
                out[canon] = registry.specs[canon].parse(v)
            except (TypeError, ValueError) as e:
                raise UserError(f"scene {self.name}: {e}") from None
        return out

    def to_dict(self) -> dict:
        return {"format": self.format, "name": self.name, "run": self.run, "values": dict(self.values)}


class SceneStore:
    """Scenes in one folder (created on the first save)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}.json"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if NAME_RE.match(p.stem))

    def save(self, scene: Scene) -> Path:
        path = self.path(scene.name)
        atomic_write_json(path, scene.to_dict())
        return path

    def load(self, name: str) -> Scene:
        path = self.path(name)
        if not path.is_file():
            have = ", ".join(self.names()) or "none saved yet"
            raise UserError(f"no scene {name!r} in {self.folder} (have: {have})")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UserError(f"cannot read scene {path} ({e})") from None
        scene = from_dict(Scene, data, str(path))
        if scene.name != name:
            raise UserError(f"{path} holds scene {scene.name!r}, not {name!r}")
        return scene
