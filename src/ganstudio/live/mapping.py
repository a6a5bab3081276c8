"""Mappings from inputs to parameters, as data: a JSON file, never code (nothing is ``eval``-ed).

```json
{
  "format": "ganstudio.live-mapping/1",
  "params": {"truncation": {"slew": 0.5, "curve": "log"}, "dir/0": {"deadzone": 0.05}},
  "midi": [
    {"cc": 1, "param": "dir/0"},
    {"cc": 7, "channel": 0, "param": "truncation"},
    {"note": 36, "action": "scene", "value": "calm"}
  ],
  "osc": [{"address": "/1/fader1", "param": "speed", "lo": 0, "hi": 1}]
}
```

- ``params``: per-parameter changes of ``range``-free fields (curve, slew, deadzone, default, lo, hi).
- ``midi``: a control change (``cc``) moves ``param`` (0..127 -> its normalised position); a note-on
  sets ``param`` to ``value`` (natural units; without a value the velocity is the position) or runs an
  ``action`` (``scene``, ``attract``, ``class``) with ``value``. ``channel`` (0-15) omitted = any.
- ``osc``: extra addresses (a controller app's own, e.g. TouchOSC's ``/1/fader1``) for a parameter; the
  first argument, from ``lo``..``hi``, becomes the normalised position.

Every object is a frozen dataclass built with ``config.base.from_dict``: unknown keys are refused with
the path of the offending entry, and ``Mapping.check(registry)`` refuses unknown parameter names.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.base import check, from_dict
from ..errors import UserError
from ..fsutil import atomic_write_json
from .params import Registry

FORMAT = "ganstudio.live-mapping/1"
ACTIONS = ("scene", "attract", "class")


def _number(v: Any, what: str) -> None:
    check(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        f"{what} must be a number, got {v!r}",
    )


@dataclass(frozen=True)
class ParamOverride:
    curve: str | None = None
    slew: float | None = None
    deadzone: float | None = None
    default: float | None = None
    lo: float | None = None
    hi: float | None = None

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class MidiBinding:
    param: str | None = None
    action: str | None = None
    cc: int | None = None
    note: int | None = None
    channel: int | None = None
    value: float | str | None = None

    def __post_init__(self) -> None:
        check((self.cc is None) != (self.note is None), "a MIDI binding needs exactly one of cc or note")
        check((self.param is None) != (self.action is None), "a MIDI binding needs exactly one of param or action")
        for f, hi in (("cc", 127), ("note", 127), ("channel", 15)):
            v = getattr(self, f)
            check(
                v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= hi),
                f"MIDI {f} must be a whole number 0..{hi}, got {v!r}",
            )
        check(
            self.action is None or self.action in ACTIONS,
            f"unknown action {self.action!r}; one of {', '.join(ACTIONS)}",
        )
        check(self.action is None or self.note is not None, "a MIDI action is bound to a note, not a cc")
        if self.value is not None and not isinstance(self.value, str):
            _number(self.value, "MIDI binding value")

    @property
    def control(self) -> tuple[str, int | None, int | None]:
        """(kind, number, channel) of the control this binding listens to."""
        return ("cc", self.cc, self.channel) if self.cc is not None else ("note", self.note, self.channel)

    def matches(self, kind: str, number: int, channel: int) -> bool:
        mine = self.cc if kind == "cc" else self.note
        return mine == number and (self.channel is None or self.channel == channel)


@dataclass(frozen=True)
class OscBinding:
    address: str
    param: str
    lo: float = 0.0
    hi: float = 1.0

    def __post_init__(self) -> None:
        check(
            isinstance(self.address, str) and self.address.startswith("/") and " " not in self.address,
            f"an OSC address starts with '/' and has no spaces, got {self.address!r}",
        )
        _number(self.lo, f"osc {self.address}: lo")
        _number(self.hi, f"osc {self.address}: hi")
        check(self.lo != self.hi, f"osc {self.address}: lo and hi must differ")

    def norm(self, v: float) -> float:
        return (v - self.lo) / (self.hi - self.lo)


@dataclass(frozen=True)
class Mapping:
    params: dict[str, ParamOverride] = dataclasses.field(default_factory=dict)
    midi: tuple[MidiBinding, ...] = ()
    osc: tuple[OscBinding, ...] = ()

    # ---- JSON ------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Any, where: str = "mapping") -> Mapping:
        if not isinstance(d, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(d).__name__}")
        d = dict(d)
        fmt = d.pop("format", FORMAT)
        if fmt != FORMAT:
            raise UserError(f"{where}: format {fmt!r}; this ganstudio reads {FORMAT!r}")
        unknown = sorted(set(d) - {"params", "midi", "osc"})
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(unknown)}; known: format, params, midi, osc")
        params = d.get("params", {})
        if not isinstance(params, dict):
            raise UserError(f"{where}.params: expected an object of parameter name -> changes")
        midi, osc = d.get("midi", []), d.get("osc", [])
        for name, v in (("midi", midi), ("osc", osc)):
            if not isinstance(v, list):
                raise UserError(f"{where}.{name}: expected a list")
        return cls(
            params={str(k): from_dict(ParamOverride, v, f"{where}.params.{k}") for k, v in params.items()},
            midi=tuple(from_dict(MidiBinding, b, f"{where}.midi[{i}]") for i, b in enumerate(midi)),
            osc=tuple(from_dict(OscBinding, b, f"{where}.osc[{i}]") for i, b in enumerate(osc)),
        )

    def to_dict(self) -> dict:
        def clean(obj) -> dict:
            return {k: v for k, v in dataclasses.asdict(obj).items() if v is not None}

        return {
            "format": FORMAT,
            "params": {k: v.changes() for k, v in self.params.items()},
            "midi": [clean(b) for b in self.midi],
            "osc": [clean(b) for b in self.osc],
        }

    # ---- against a piece ---------------------------------------------------------------------------
    def check(self, registry: Registry, where: str = "mapping") -> None:
        """Refuse parameter names this piece does not have, and overrides that make a bad spec."""
        for name in [*self.params, *(b.param for b in self.midi if b.param), *(b.param for b in self.osc)]:
            if name not in registry:
                raise UserError(
                    f"{where}: unknown live parameter {name!r}; this piece has: {', '.join(registry.names())}"
                )
        self.apply(registry, where)

    def apply(self, registry: Registry, where: str = "mapping") -> Registry:
        """The registry with this mapping's parameter overrides."""
        for name, o in self.params.items():
            try:
                registry = registry.replace(name, **o.changes())
            except UserError as e:
                raise UserError(f"{where}.params.{name}: {e}") from None
        return registry

    def with_midi(self, binding: MidiBinding) -> Mapping:
        """This mapping with ``binding`` added; an older binding of the same control is dropped."""
        keep = tuple(b for b in self.midi if b.control != binding.control)
        return dataclasses.replace(self, midi=(*keep, binding))


def load_mapping(path: str | Path) -> Mapping:
    """Read a mapping file; a missing file, bad JSON or an unknown key is a one-line UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"mapping file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read mapping {path} ({e})") from None
    except json.JSONDecodeError as e:
        raise UserError(f"mapping {path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    return Mapping.from_dict(data, str(path))


def save_mapping(mapping: Mapping, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_json(path, mapping.to_dict())
    return path
