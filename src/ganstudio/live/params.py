"""The registry of a running piece's live parameters: one ``ParamSpec`` per knob, shared by OSC, MIDI and the page.

A parameter has a natural range ``[lo, hi]`` and a rest value ``default``. Controllers speak in a
normalised position ``u`` in [0, 1] (a fader, a CC / 127, an OSC ``/norm`` message); the parameter maps
it to its natural value through

    u --deadzone--> u' --curve--> f(u') --> lo + f(u') * (hi - lo)

- ``curve``: ``linear`` f(u) = u; ``exp`` f(u) = (e^(Ku) - 1) / (e^K - 1), fine control near ``lo``;
  ``log`` its inverse, f(u) = ln(1 + (e^K - 1) u) / K, fine control near ``hi`` (K = ``CURVE_K`` = 4).
  Each is monotone with f(0) = 0 and f(1) = 1, and ``exp`` and ``log`` undo each other.
- ``deadzone``: positions within ``deadzone`` of the rest position u0 (the default's position) snap to
  it; the rest of each side is stretched back over the whole side, so the value stays continuous and
  the ends still reach ``lo`` and ``hi``. For sensors and springy knobs that never rest exactly.
- ``slew``: smoothing, a time constant in seconds: each frame the value covers
  ``1 - exp(-dt / slew)`` of the remaining way to its target (63 % after ``slew`` seconds, 95 % after
  3x); 0 jumps. Whole-number and choice parameters always jump.

A value sent in natural units (OSC ``/ganstudio/truncation 0.7``) is clamped to the range and passes
through the same deadzone. ``registry_for(pipe, directions)`` builds a run's registry: the walk
(speed, path, seed, offset, glide), truncation, up to ``MAX_DIRECTIONS`` direction sliders
(``dir/<i>``, also ``dir/<name>`` for named ones) and the class mix (``class/<i>``, also
``class/<name>``) of conditional runs.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..config.base import check
from ..errors import UserError

CURVE_K = 4.0
CURVES = ("linear", "exp", "log")
KINDS = ("float", "int", "choice")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*(/[a-z0-9_\-]+)*$")
MAX_DIRECTIONS = 8
PATHS = ("circle", "drift", "still")  # see ``walk``


def _curve(name: str, u: float) -> float:
    if name == "exp":
        return math.expm1(CURVE_K * u) / math.expm1(CURVE_K)
    if name == "log":
        return math.log1p(math.expm1(CURVE_K) * u) / CURVE_K
    return u


def _curve_inverse(name: str, f: float) -> float:
    return _curve({"exp": "log", "log": "exp"}.get(name, name), f)


def apply_deadzone(u: float, rest: float, deadzone: float) -> float:
    """``u`` in [0, 1] with positions within ``deadzone`` of ``rest`` snapped to it, each side rescaled."""
    if deadzone <= 0 or abs(u - rest) <= deadzone:
        return rest if deadzone > 0 else u
    if u > rest:
        span = 1.0 - rest - deadzone
        return rest + (u - rest - deadzone) * (1.0 - rest) / span if span > 0 else rest
    span = rest - deadzone
    return rest - (rest - deadzone - u) * rest / span if span > 0 else rest


def slew_step(value: float, target: float, slew: float, dt: float) -> float:
    """One frame of smoothing toward ``target`` (time constant ``slew`` seconds; 0 = jump)."""
    if slew <= 0 or dt <= 0:
        return target
    out = value + (target - value) * -math.expm1(-dt / slew)
    return target if abs(target - out) <= 1e-9 * max(1.0, abs(target)) else out


def slug(text: str) -> str:
    """A name usable in an OSC address: lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


@dataclass(frozen=True)
class ParamSpec:
    """One live parameter. ``value`` is always in natural units; see the module docstring."""

    name: str
    lo: float
    hi: float
    default: float
    curve: str = "linear"
    slew: float = 0.0
    deadzone: float = 0.0
    kind: str = "float"
    choices: tuple[str, ...] = ()
    group: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        for f in ("lo", "hi", "default", "slew", "deadzone"):
            v = getattr(self, f)
            check(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
                f"parameter {self.name}: {f} must be a finite number, got {v!r}",
            )
            object.__setattr__(self, f, float(v))
        check(bool(NAME_RE.match(self.name)), f"bad parameter name {self.name!r} (lower case, digits, _ - and /)")
        check(self.kind in KINDS, f"parameter {self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        check(
            self.curve in CURVES, f"parameter {self.name}: curve must be one of {', '.join(CURVES)}, got {self.curve!r}"
        )
        if self.kind == "choice":
            object.__setattr__(self, "choices", tuple(self.choices))
            check(len(self.choices) >= 2, f"parameter {self.name}: a choice needs at least two options")
            check((self.lo, self.hi) == (0.0, len(self.choices) - 1.0), f"parameter {self.name}: a choice spans 0..n-1")
        check(self.lo < self.hi, f"parameter {self.name}: lo must be below hi, got {self.lo} >= {self.hi}")
        check(
            self.lo <= self.default <= self.hi,
            f"parameter {self.name}: default {self.default} outside {self.lo}..{self.hi}",
        )
        check(self.slew >= 0, f"parameter {self.name}: slew must be >= 0 seconds, got {self.slew}")
        check(0 <= self.deadzone < 0.5, f"parameter {self.name}: deadzone must be in [0, 0.5), got {self.deadzone}")

    # ---- maps ------------------------------------------------------------------------------------
    @property
    def rest(self) -> float:
        """The normalised position of the default value."""
        return self.to_norm(self.default)

    def to_norm(self, value: float) -> float:
        """Natural value -> position in [0, 1] (inverse curve; no deadzone)."""
        f = (min(max(value, self.lo), self.hi) - self.lo) / (self.hi - self.lo)
        return min(max(_curve_inverse(self.curve, f), 0.0), 1.0)

    def from_norm(self, u: float) -> float:
        """Position in [0, 1] (clamped) -> natural value, through the deadzone and the curve."""
        u = apply_deadzone(min(max(float(u), 0.0), 1.0), self.rest, self.deadzone)
        return self.quantise(self.lo + _curve(self.curve, u) * (self.hi - self.lo))

    def from_value(self, value: float) -> float:
        """A natural value from an input: clamped, and snapped to the default inside the deadzone."""
        value = min(max(float(value), self.lo), self.hi)
        if self.deadzone > 0:
            return self.from_norm(self.to_norm(value))
        return self.quantise(value)

    def quantise(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return float(round(value)) if self.kind != "float" else value

    def parse(self, raw: object) -> float:
        """A value from a message (number, numeric string or a choice's name) -> natural units.

        Raises ValueError for anything else (NaN and infinities included): the caller counts and drops it."""
        if isinstance(raw, str) and self.kind == "choice" and raw.strip().lower() in self.choices:
            return float(self.choices.index(raw.strip().lower()))
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError(f"{self.name} takes a number, got {type(raw).__name__}")
        v = float(raw)
        if not math.isfinite(v):
            raise ValueError(f"{self.name} takes a finite number, got {raw!r}")
        return self.from_value(v)

    def describe(self, value: float | None = None) -> dict:
        d = dataclasses.asdict(self)
        d["choices"] = list(self.choices)
        if value is not None:
            d["value"] = value
        return d


class Registry:
    """Every live parameter of a piece, by canonical name, with aliases (``dir/sleeves`` -> ``dir/3``)."""

    def __init__(self, specs: Iterable[ParamSpec], aliases: dict[str, str] | None = None):
        self.specs: dict[str, ParamSpec] = {}
        for s in specs:
            if s.name in self.specs:
                raise UserError(f"parameter {s.name} is registered twice")
            self.specs[s.name] = s
        self.aliases = {a: n for a, n in (aliases or {}).items() if a not in self.specs and n in self.specs}

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(self.specs.values())

    def __len__(self) -> int:
        return len(self.specs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve(name) is not None

    def resolve(self, name: str) -> str | None:
        """The canonical name for ``name`` or an alias of it; None when unknown."""
        if name in self.specs:
            return name
        return self.aliases.get(name)

    def __getitem__(self, name: str) -> ParamSpec:
        canon = self.resolve(name)
        if canon is None:
            raise UserError(f"unknown live parameter {name!r}; known: {', '.join(self.specs)}")
        return self.specs[canon]

    def names(self, group: str | None = None) -> list[str]:
        return [s.name for s in self if group is None or s.group == group]

    def defaults(self) -> dict[str, float]:
        return {s.name: s.default for s in self}

    def replace(self, name: str, **changes) -> Registry:
        """A registry with one spec's fields changed (validated again)."""
        spec = self[name]
        new = dataclasses.replace(spec, **changes)
        return Registry([new if s.name == spec.name else s for s in self], self.aliases)

    def describe(self, values: dict[str, float] | None = None) -> list[dict]:
        values = values or {}
        return [s.describe(values.get(s.name)) for s in self]


def walk_params() -> list[ParamSpec]:
    return [
        ParamSpec("speed", 0, 60, 4, curve="exp", slew=0.5, group="walk", label="walk speed (loops per minute)"),
        ParamSpec("path", 0, len(PATHS) - 1, 0, kind="choice", choices=PATHS, group="walk", label="walk path"),
        ParamSpec("seed", 0, 99999, 0, kind="int", group="walk", label="seed of the walk's latents"),
        ParamSpec("offset", 0, 1, 0, slew=0.2, group="walk", label="position along the path (fraction of a loop)"),
        ParamSpec("glide", 0, 5, 0.25, curve="exp", group="walk", label="seconds to glide to a new latent"),
        ParamSpec("truncation", 0.05, 1.5, 1.0, slew=0.2, group="look", label="truncation (lower: safer, less varied)"),
    ]


def registry_for(
    pipe, direction_names: dict[int, str] | None = None, n_directions: int = 0, class_names: Sequence[str] = ()
) -> Registry:
    """The registry of a run: walk and look parameters, ``n_directions`` direction sliders (named ones
    get an alias) and, for a conditional run, one class-mix weight per class (all 0: the walk's own classes)."""
    specs = walk_params()
    aliases: dict[str, str] = {}
    direction_names = direction_names or {}
    for i in range(n_directions):
        specs.append(ParamSpec(f"dir/{i}", -4, 4, 0, slew=0.15, group="directions", label=direction_names.get(i, "")))
        if direction_names.get(i) and slug(direction_names[i]):
            aliases[f"dir/{slug(direction_names[i])}"] = f"dir/{i}"
    k = int(getattr(pipe, "num_classes", 0) or 0)
    names = list(class_names) or [str(i) for i in range(k)]
    for i in range(k):
        label = names[i] if i < len(names) else str(i)
        specs.append(ParamSpec(f"class/{i}", 0, 1, 0, slew=0.3, group="classes", label=label))
        if slug(label) and not slug(label).isdigit():
            aliases[f"class/{slug(label)}"] = f"class/{i}"
    return Registry(specs, aliases)
