"""The watchdog that keeps a show running: attract mode after ``after`` seconds without input.

Attract mode is an automatic walk (``show``); the first input after it switches back to the performer's
settings. The switch is an event of the frame it happens in, so a recording replays it exactly.
``after`` <= 0 switches the watchdog off.
"""

from __future__ import annotations

from .bus import Event


class Watchdog:
    def __init__(self, after: float = 60.0):
        self.after = float(after)

    def check(self, mode: str, now: float, last_input: float, has_input: bool) -> Event | None:
        """The mode event this frame needs (before its inputs are applied), or None."""
        if mode == "attract" and has_input:
            return Event("mode", "live", None)
        if mode == "live" and not has_input and self.after > 0 and now - last_input >= self.after:
            return Event("mode", "attract", None)
        return None
