"""MIDI input with mido: control changes move parameters through the mapping, notes run actions; MIDI-learn.

``MidiInput(port)`` takes a port name (opened with mido's default backend, python-rtmidi, with a
callback: nothing polls) or any mido input port object (an in-memory ``mido.ports.EchoPort``, a
``MultiPort``; read by a small thread). A CC value 0..127 is the parameter's normalised position
(value / 127, then the parameter's deadzone and curve).

MIDI-learn: move a control, then ``learn(param)`` (the page's "learn" button, OSC
``/ganstudio/learn <param>``): the control moved last (within ``LEARN_WINDOW`` seconds) is bound to the
parameter. With no control moved recently, learning waits for the next one. A learned binding
replaces any older binding of the same control; ``on_learned(mapping)`` is told (the session saves it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import UserError
from .bus import Counters
from .mapping import Mapping, MidiBinding

LEARN_WINDOW = 30.0


def open_port(name: str, callback: Callable[[Any], None]):
    """A hardware or virtual MIDI input port by name, with a callback (python-rtmidi backend)."""
    try:
        import mido
    except ImportError:
        raise UserError("MIDI needs mido: pip install 'ganstudio[live]'") from None
    try:
        names = mido.get_input_names()
    except Exception as e:  # no backend (python-rtmidi missing) or no MIDI system (no ALSA sequencer)
        raise UserError(
            f"cannot list MIDI ports ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no MIDI backend'}); "
            "MIDI hardware needs python-rtmidi and a MIDI system: pip install python-rtmidi"
        ) from None
    if name not in names:
        raise UserError(f"no MIDI input port {name!r}; have: {', '.join(names) or 'none'}")
    try:
        return mido.open_input(name, callback=callback)
    except Exception as e:
        raise UserError(f"cannot open MIDI port {name!r} ({e})") from None


class MidiInput:
    def __init__(
        self,
        controls,
        stats: Counters,
        registry,
        mapping: Mapping,
        port: Any,
        on_learned: Callable[[Mapping], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.controls, self.stats, self.registry = controls, stats, registry
        self.mapping = mapping
        self.on_learned = on_learned
        self.clock = clock
        self._lock = threading.Lock()
        self.last: tuple[str, int, int, float] | None = None  # kind, number, channel, when
        self.armed: str | None = None
        self.messages = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if isinstance(port, str):
            self.port = open_port(port, self.handle)
            self.name = port
        else:
            self.port = port
            self.name = getattr(port, "name", None) or type(port).__name__
            self._thread = threading.Thread(target=self._poll, name="ganstudio-live-midi", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.port.receive(block=False)
            except Exception:  # a closed port
                return
            if msg is None:
                self._stop.wait(0.002)
            else:
                self.handle(msg)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        with contextlib.suppress(Exception):
            self.port.close()

    # ---- messages ----------------------------------------------------------------------------------
    def handle(self, msg: Any) -> None:
        self.messages += 1
        try:
            kind = {"control_change": "cc", "note_on": "note"}.get(msg.type)
            if kind is None or (kind == "note" and msg.velocity == 0):  # note-on at velocity 0 is a note-off
                return
            number = msg.control if kind == "cc" else msg.note
            value = msg.value if kind == "cc" else msg.velocity
            channel = msg.channel
        except AttributeError:
            self.stats.add("received")
            self.stats.error("malformed", "midi: message without its fields")
            return
        with self._lock:
            self.last = (kind, number, channel, self.clock())
            armed = self.armed
        if armed is not None:
            self._bind(armed, kind, number, channel)
            return
        hit = False
        for b in self.mapping.midi:
            if not b.matches(kind, number, channel):
                continue
            hit = True
            if b.action is not None:
                self.controls.handle(b.action, [b.value if b.value is not None else 1], "midi")
            elif b.value is not None:
                self.controls.set(str(b.param), b.value, "midi")
            else:
                self.controls.set_norm(str(b.param), value / 127.0, "midi")
        if not hit:
            self.stats.add("unmapped")

    # ---- MIDI-learn --------------------------------------------------------------------------------
    def learn(self, param: str) -> str:
        """Bind the control moved last to ``param`` (or the next one moved); returns what happened, in words."""
        canon = self.registry.resolve(param) if isinstance(param, str) else None
        if canon is None:
            raise ValueError(f"unknown parameter {param!r}")
        with self._lock:
            last = self.last
            recent = last is not None and self.clock() - last[3] <= LEARN_WINDOW
            if not recent:
                self.armed = canon
        if recent and last is not None:
            return self._bind(canon, last[0], last[1], last[2])
        return f"move a control to bind it to {canon}"

    def _bind(self, param: str, kind: str, number: int, channel: int) -> str:
        binding = (
            MidiBinding(param=param, cc=number, channel=channel)
            if kind == "cc"
            else MidiBinding(param=param, note=number, channel=channel)
        )
        with self._lock:
            self.mapping = self.mapping.with_midi(binding)
            self.armed = None
            self.last = None
            mapping = self.mapping
        if self.on_learned is not None:
            self.on_learned(mapping)
        return f"{kind} {number} (channel {channel + 1}) -> {param}"
