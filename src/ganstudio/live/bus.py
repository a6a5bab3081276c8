"""The control bus: a latest-value slot per parameter between the inputs and the frame loop.

Inputs (OSC, MIDI, the page, Python) write into slots from their own threads; the frame loop takes
everything once per frame (``drain``). A second value for a slot the frame loop has not taken yet
replaces the first (counted as ``replaced``): the newest value wins and nothing queues up, so a flood
of messages costs the renderer nothing but one dictionary per frame, bounded by the number of
parameters. Events keep the order their slots were last written in, so "scene, then a fader" in one
frame means the fader's value wins over the scene's.

Counters (``stats``): ``received`` inputs offered, ``accepted``, ``replaced``, ``applied`` (taken by a
frame), ``malformed`` (undecodable packets, wrong argument types, NaN), ``unknown`` (no such
parameter or address), ``refused`` (no or wrong access token), ``errors`` (a scene that does not
exist, a prompt that matched nothing); ``last_error`` says the latest such problem in words.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from .params import ParamSpec, Registry


class Event(NamedTuple):
    """What a frame applies: ``set`` (name, natural value), ``scene`` (name, {param: value}),
    ``mode`` ("attract" | "live", None), ``text`` ("prompt", [[prompt, text_hash, weight], ...] or None: the
    performer's text of a run that reads text; None gives the walk's own back)."""

    kind: str
    name: str
    value: Any


class Counters:
    """Thread-safe named counters and the latest error message."""

    NAMES = ("received", "accepted", "replaced", "applied", "malformed", "unknown", "refused", "errors", "unmapped")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c = dict.fromkeys(self.NAMES, 0)
        self.last_error = ""

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._c[name] = self._c.get(name, 0) + n

    def error(self, kind: str, message: str) -> None:
        with self._lock:
            self._c[kind] = self._c.get(kind, 0) + 1
            self.last_error = message[:200]

    def __getitem__(self, name: str) -> int:
        return self._c.get(name, 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self._c, "last_error": self.last_error}


class ControlBus:
    """Latest-value slots keyed by (kind, name); see the module docstring."""

    def __init__(self, registry: Registry, clock: Callable[[], float] = time.monotonic):
        self.registry = registry
        self.clock = clock
        self.stats = Counters()
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], Event] = {}
        self.last_input = clock()

    # ---- writing -----------------------------------------------------------------------------------
    def set(self, name: str, raw: object, source: str = "api") -> bool:
        """Offer a value in natural units (a choice also by its option's name). False when dropped."""
        return self._offer(name, source, "", lambda spec: spec.parse(raw))

    def set_norm(self, name: str, raw: object, source: str = "api") -> bool:
        """Offer a normalised position in [0, 1] (clamped), mapped through the deadzone and curve."""
        return self._offer(name, source, f"{name}/norm ", lambda spec: spec.from_norm(_finite(raw)))

    def _offer(self, name: str, source: str, what: str, value_of: Callable[[ParamSpec], float]) -> bool:
        """Count the input, find its parameter and its value (``value_of`` raises TypeError or
        ValueError for a bad one), and put it in its slot; False when dropped (counted why)."""
        self.stats.add("received")
        canon = self.registry.resolve(name)
        if canon is None:
            self.stats.error("unknown", f"{source}: unknown parameter {name!r}")
            return False
        try:
            value = value_of(self.registry.specs[canon])
        except (TypeError, ValueError) as e:
            self.stats.error("malformed", f"{source}: {what}{e}")
            return False
        self._put(Event("set", canon, value))
        return True

    def post(self, event: Event) -> None:
        """Offer an already valid event (a scene's values, a mode switch)."""
        self.stats.add("received")
        self._put(event)

    def _put(self, event: Event) -> None:
        key = (event.kind, event.name if event.kind == "set" else "")
        with self._lock:
            if self._slots.pop(key, None) is not None:
                self.stats.add("replaced")
            self._slots[key] = event  # re-inserted: the slot moves to the end (latest order)
            self.last_input = self.clock()
        self.stats.add("accepted")

    # ---- reading -----------------------------------------------------------------------------------
    def drain(self) -> list[Event]:
        """Every pending event, once, in the order their slots were last written."""
        with self._lock:
            events = list(self._slots.values())
            self._slots.clear()
        if events:
            self.stats.add("applied", len(events))
        return events

    def pending(self) -> int:
        with self._lock:
            return len(self._slots)


def _finite(raw: object) -> float:
    import math

    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise TypeError(f"takes a number, got {type(raw).__name__}")
    v = float(raw)
    if not math.isfinite(v):
        raise ValueError(f"takes a finite number, got {raw!r}")
    return v
