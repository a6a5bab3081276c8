"""Prompts on the control bus: a sentence -> class mix and named direction edits, off the frame loop.

``creative.prompt.interpret`` embeds the sentence (the offline model of the ``text`` extra loads once,
in seconds), so it runs on this worker thread. The worker keeps only the newest prompt; when it is
resolved, its class weights and edits are posted as ordinary parameter targets (``class/<i>``,
``dir/<i>``) and slew there like any other input.

A run that reads text (``TextPromptWorker``): the prompt conditions G itself. The worker embeds it with the
run's text model (``latents.text_fields``: the prompt and its embedding's fingerprint) and posts a ``text``
event; the show glides from the shown text to it along the slerp of the embeddings. An empty prompt gives the
walk's own text back (the keyframes' prompts, or the empty caption). ``steer(words, weight)`` (the ``negative``
controls) steers the performer's prompt away from some words from then on (``latents.with_negative``: the posted
text is a mix with a negative part); the prompt shown now is redrawn with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from .. import latents as L
from ..creative.prompt import interpret
from .bus import ControlBus, Event


class PromptWorker:
    def __init__(
        self,
        bus: ControlBus,
        class_names: Sequence[str],
        direction_names: dict[int, str],
        embedder: Callable | None = None,
    ):
        self.bus, self.class_names, self.direction_names = bus, tuple(class_names), dict(direction_names)
        self.embedder = embedder
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._stop = False
        self.resolved = 0
        self._thread = threading.Thread(target=self._run, name="ganstudio-live-prompt", daemon=True)
        self._thread.start()

    def submit(self, text: str) -> None:
        with self._cond:
            self._pending = text
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(2)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                text: str = self._pending  # type: ignore[assignment]  # not None: the loop above waited for it
                self._pending = None
            try:
                self.apply(text)
            except Exception as e:  # no text model, no match: said in the counters, the show goes on
                self.bus.stats.error("errors", f"prompt {text[:60]!r}: {e}")

    def apply(self, text: str) -> None:
        match = interpret(text, self.class_names, self.direction_names, self.embedder)
        if match.classes is not None:
            for i, w in enumerate(match.classes):
                self.bus.set(f"class/{i}", float(w), "prompt")
        amounts = dict(match.edits)
        for i in self.direction_names:
            self.bus.set(f"dir/{i}", float(amounts.get(i, 0.0)), "prompt")
        self.resolved += 1


class TextPromptWorker(PromptWorker):
    """Prompts for a run that reads text: each becomes the performer's text (a ``text`` event), embedded here,
    off the frame loop."""

    def __init__(self, bus: ControlBus, pipe):
        self.pipe = pipe
        self.negative: str | None = None  # the words the performer's prompt is steered away from
        self.negative_weight = L.NEGATIVE_WEIGHT
        self._last: str | None = None  # the newest prompt submitted, redrawn when the steering changes
        super().__init__(bus, (), {})

    def submit(self, text: str) -> None:
        self._last = text
        super().submit(text)

    def steer(self, negative: str | None, weight: float | None = None) -> None:
        """Steer the prompt away from ``negative`` ("" or None: no more) at ``weight`` (None: as it was); refused
        in one line when the weight is out of (0, 1]. The prompt shown now, if any, is redrawn."""
        w = self.negative_weight if weight is None else L.check_negative_weight(weight)
        self.negative, self.negative_weight = (negative or "").strip() or None, w
        if self._last and self._last.strip():
            self.submit(self._last)

    def apply(self, text: str) -> None:
        if not text.strip():
            self.bus.post(Event("text", "prompt", None))
        elif self.negative is None:
            prompt, text_hash = L.text_fields(self.pipe, text)
            self.bus.post(Event("text", "prompt", [[prompt, text_hash, 1.0]]))
        else:
            mix = L.with_negative(text.strip(), self.negative, self.negative_weight)
            assert isinstance(mix, dict)  # a prompt with a negative is always a {text: weight} mix
            parts = L.mix_prompts(self.pipe, mix)
            self.bus.post(Event("text", "prompt", [list(p) for p in parts]))
        self.resolved += 1
