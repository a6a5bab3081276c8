"""One grammar of controls for every input: OSC addresses (after ``/ganstudio/``), the page's messages
and MIDI actions.

| control | argument | does |
|---|---|---|
| ``<param>`` | a number in the parameter's own units (a choice also by name) | sets its target |
| ``<param>/norm`` | 0..1 | sets its target from a normalised position (deadzone, curve) |
| ``scene`` | a scene name | loads a saved scene (its values become targets) |
| ``scene/save`` | a scene name | saves the current targets as a scene |
| ``class`` | a class index or name | one class, the others at 0 (conditional runs) |
| ``prompt`` | text | class mix and named directions from a sentence (the ``text`` extra) |
| ``negative`` | text ("" stops) | a run that reads text: the prompt steered away from these words |
| ``negative/weight`` | 0..1 | how far (default 0.5) |
| ``attract`` | 1 or 0 | attract mode now / back to the performer's settings |
| ``learn`` | a parameter | MIDI-learn: bind the control moved last (or the next one moved) to it |

Anything else is counted (``unknown`` or ``malformed``) and dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .bus import ControlBus

Action = Callable[[Any, str], object]


class Controls:
    def __init__(self, bus: ControlBus, actions: dict[str, Action]):
        self.bus = bus
        self.actions = actions

    def set(self, name: str, value: Any, source: str = "api") -> bool:
        return self.bus.set(name, value, source)

    def set_norm(self, name: str, u: Any, source: str = "api") -> bool:
        return self.bus.set_norm(name, u, source)

    def handle(self, control: str, args: list, source: str) -> None:
        """One control with its arguments (an OSC message's, or ``[value]`` from the page)."""
        stats = self.bus.stats
        if not isinstance(control, str) or not isinstance(args, list):
            stats.add("received")
            stats.error("malformed", f"{source}: bad message")
            return
        if len(args) != 1:
            stats.add("received")
            stats.error("malformed", f"{source}: {control[:60]} takes exactly one argument, got {len(args)}")
            return
        arg = args[0]
        if control in self.actions:
            stats.add("received")
            try:
                self.actions[control](arg, source)
            except (TypeError, ValueError) as e:
                stats.error("malformed", f"{source}: {control}: {e}")
            except Exception as e:  # a UserError from a scene file, a prompt, ...: counted, the show goes on
                stats.error("errors", f"{source}: {control}: {e}")
            return
        if control.endswith("/norm"):
            self.bus.set_norm(control[: -len("/norm")], arg, source)
        else:
            self.bus.set(control, arg, source)
