"""``LiveSession``: a run as a live piece, driven by OSC, MIDI, the page and Python, with frames out.

```python
from ganstudio.live import LiveSession

with LiveSession("runs/00001-dcgan-fashion-mnist", osc_port=9000, osc_out="127.0.0.1:9001") as live:
    live.set("truncation", 0.7)           # what /ganstudio/truncation 0.7 does
    frame = live.wait_frame()              # .image (H, W, C) uint8, .latent, .values, .events
    live.save_scene("calm")
```

Threads: the frame loop (``start``) makes one frame every ``1 / fps`` seconds, or back to back when the
model is slower; an asyncio loop serves OSC; MIDI has its port's callback; prompts have a worker. The
inputs only ever write the bus's latest-value slots (``bus``); the frame loop takes them once per frame.
Without ``start`` nothing runs on its own: ``step()`` makes one frame (tests, offline rendering).
OSC on a non-loopback ``osc_host`` needs an access token: pass ``token=`` or read the one made (``.token``);
addresses then carry it, ``/ganstudio/<token>/<param>``.

``keys=[Latent, ...]``: the walk goes through these latents instead of seeds (``walk.Keys``; the
studio's exhibition walks the run's favourites this way). On a run that reads text the walk moves through
the keyframes' prompts too (slerp of the sentence embeddings), and ``prompt(text)`` (OSC ``/ganstudio/prompt``,
the page's prompt box) conditions G on that text; every frame's latent keeps its text, so it remakes exactly.
Without ``keys`` a run that reads text walks seeds 0 .. DEFAULT_TEXT_KEYS - 1, each from its own training caption
(``Pipeline.caption_for_seed``), not the empty caption, which such a G never learned to draw.

The generator is the run's EMA copy when it has one (``ganstudio.load``), at batch 1 under
``torch.inference_mode``; ``backend="onnx"`` runs the exported graph with onnxruntime instead.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import latents as L
from .. import webaccess
from ..errors import UserError
from .bus import ControlBus, Event
from .controls import Controls
from .frames import FrameHub, encode, png_bytes
from .mapping import Mapping, load_mapping, save_mapping
from .params import MAX_DIRECTIONS, Registry, registry_for
from .prompts import PromptWorker, TextPromptWorker
from .recording import Recorder, Recording, save_recording
from .renderer import make_renderer
from .scenes import Scene, SceneStore
from .show import Frame, Show
from .walk import Keys
from .watchdog import Watchdog

DEFAULT_TEXT_KEYS = 8  # training captions a text run's show walks when no keyframes are given


def find_directions(run_dir, pipe, n: int):
    """The run's saved directions (PCA first) when it has some, else SeFa's (closed form, computed now,
    not saved); None when ``n`` is 0 or G has no layer to analyse."""
    from ..creative import directions as D

    if n <= 0:
        return None
    if run_dir is not None:
        try:
            return D.find(run_dir, step=pipe.step)
        except UserError:
            pass
    try:
        return D.compute(pipe, "sefa", k=n)
    except UserError:
        return None


class LiveSession:
    """A run as a live piece (see the module docstring): inputs -> bus -> frame clock -> frames out."""

    def __init__(
        self,
        run: str | Path,
        *,
        checkpoint: str | int = "latest",
        device: str = "cpu",
        backend: str = "torch",
        threads: int = 1,
        fps: float = 30.0,
        mapping: Mapping | str | Path | None = None,
        mapping_out: str | Path | None = None,
        osc_port: int | None = None,
        osc_host: str = "127.0.0.1",
        osc_sock=None,
        osc_out: str | None = None,
        osc_out_frames: bool = True,
        midi: Any = None,
        token: str | None = None,
        attract_after: float = 60.0,
        attract_speed: float = 6.0,
        scenes: str | Path | None = None,
        directions: int = MAX_DIRECTIONS,
        keys: Sequence[L.Latent] | None = None,
        embedder: Callable | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        from ..pipeline import load

        if isinstance(mapping, (str, Path)):
            mapping_out = mapping_out or mapping
            mapping = load_mapping(mapping)
        self.mapping: Mapping = mapping or Mapping()
        self.pipe = load(run, checkpoint=checkpoint, device=device)
        self.run_dir = Path(run)
        self.directions = find_directions(self.run_dir, self.pipe, directions)
        n_dirs = 0 if self.directions is None else min(directions, len(self.directions))
        names = {} if self.directions is None else {i: n for i, n in self.directions.names.items() if i < n_dirs}
        registry = registry_for(self.pipe, names, n_dirs, self.pipe.class_names)
        self.mapping.check(registry)
        self.registry: Registry = self.mapping.apply(registry)
        self.mapping_out = None if mapping_out is None else Path(mapping_out)
        self.clock = clock
        self.bus = ControlBus(self.registry, clock)
        self.stats = self.bus.stats
        self.controls = Controls(self.bus, self._actions())
        self.renderer = make_renderer(backend, self.pipe, self.directions, threads)
        if not keys and self.pipe.reads_text:
            keys = L.from_training_captions(self.pipe, DEFAULT_TEXT_KEYS)  # [] when it keeps none: the empty caption
        walk_keys = Keys.of(keys, self.pipe, self.run_dir, self.directions) if keys else None
        self.show = Show(self.pipe, self.registry, self.renderer, self.directions, fps, attract_speed, keys=walk_keys)
        self.watchdog = Watchdog(attract_after)
        self.scenes = SceneStore(scenes if scenes is not None else self.run_dir / "live" / "scenes")
        self.hub = FrameHub()
        self.embedder = embedder
        self.token = token
        self.recorder: Recorder | None = None
        self.last_frame: Frame | None = None
        self.frames_made = 0
        self.render_ms = 0.0
        self.measured_fps = 0.0
        self._callbacks: list[Callable[[Frame], None]] = []
        self._step_lock = threading.Lock()
        self._frame_cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._prompts: PromptWorker | None = None
        self.osc_in = None
        self.osc_out = None
        self.midi = None
        try:
            if osc_port is not None or osc_sock is not None:
                from .osc import OscInput

                if webaccess.needs_token(osc_host) and self.token is None:
                    self.token = webaccess.make_token()
                self.osc_in = OscInput(
                    self.controls, self.stats, osc_host, osc_port or 0, self.token, self.mapping.osc, osc_sock
                )
            if osc_out:
                from .osc import OscOut

                self.osc_out = OscOut(osc_out, frames=osc_out_frames)
            if midi is not None:
                from .midi import MidiInput

                self.midi = MidiInput(self.controls, self.stats, self.registry, self.mapping, midi, self._learned)
        except BaseException:
            self.close_inputs()
            raise

    # ---- the actions of ``controls`` -----------------------------------------------------------------
    def _actions(self) -> dict[str, Callable[[Any, str], object]]:
        return {
            "scene": lambda v, src: self.load_scene(_text(v)),
            "scene/save": lambda v, src: self.save_scene(_text(v)),
            "class": lambda v, src: self.select_class(v),
            "prompt": lambda v, src: self.prompt(_text(v)),
            "negative": lambda v, src: self.negative(_text(v)),
            "negative/weight": lambda v, src: self.negative(None, float(v)),
            "attract": lambda v, src: self.attract(_flag(v)),
            "learn": lambda v, src: self.learn(_text(v)),
        }

    def set(self, name: str, value: Any) -> bool:
        """Offer a value in the parameter's own units (the next frame takes the newest)."""
        return self.bus.set(name, value, "api")

    def set_norm(self, name: str, u: float) -> bool:
        return self.bus.set_norm(name, u, "api")

    def load_scene(self, name: str) -> dict[str, float]:
        values = self.scenes.load(name).resolve(self.registry)
        self.bus.post(Event("scene", name, values))
        return values

    def save_scene(self, name: str) -> Path:
        with self._step_lock:
            s = self.show.state
            values = dict(s.saved if s.saved is not None else s.targets)
        return self.scenes.save(Scene(name, values, run=self.run_dir.name))

    def select_class(self, which: Any) -> None:
        if not self.pipe.num_classes:
            raise UserError("this run is not class-conditional")
        if isinstance(which, float) and which.is_integer():
            which = int(which)
        if not isinstance(which, (int, str)) or isinstance(which, bool):
            raise TypeError("class takes an index or a name")
        idx = self.pipe.class_index(which)
        for i in range(self.pipe.num_classes):
            self.bus.set(f"class/{i}", 1.0 if i == idx else 0.0, "class")

    def prompt(self, text: str) -> None:
        """A sentence: on a run that reads text, the text G draws from ("" gives the walk's own back); on a
        class-conditional run, a class mix and named direction edits. Resolved off the frame loop."""
        if self._prompts is None and getattr(self.pipe, "reads_text", False):
            self._prompts = TextPromptWorker(self.bus, self.pipe)
        if self._prompts is None:
            names = {
                int(n.split("/")[1]): s.label
                for n in self.registry.names("directions")
                if (s := self.registry[n]).label
            }
            self._prompts = PromptWorker(self.bus, self.pipe.class_names, names, self.embedder)
        self._prompts.submit(text)

    def negative(self, words: str | None, weight: float | None = None) -> None:
        """On a run that reads text, steer the performer's prompt away from ``words`` ("" stops; None keeps the
        words and changes only ``weight``, in (0, 1]); the prompt shown now is redrawn with it."""
        if not getattr(self.pipe, "reads_text", False):
            raise UserError("negative steers a text run's prompt; this run does not read text (--preset emoji-text)")
        if self._prompts is None:
            self._prompts = TextPromptWorker(self.bus, self.pipe)
        worker = self._prompts
        assert isinstance(worker, TextPromptWorker)  # a text run's worker, made by prompt() or above
        worker.steer(worker.negative if words is None else words, weight)

    def attract(self, on: bool = True) -> None:
        self.bus.post(Event("mode", "attract", dict(self.show.attract_targets)) if on else Event("mode", "live", None))

    def learn(self, param: str) -> str:
        if self.midi is None:
            raise UserError("no MIDI input: start with --midi PORT_NAME to learn controls")
        return self.midi.learn(param)

    def _learned(self, mapping: Mapping) -> None:
        self.mapping = mapping
        if self.mapping_out is not None:
            save_mapping(mapping, self.mapping_out)

    # ---- frames --------------------------------------------------------------------------------------
    def on_frame(self, callback: Callable[[Frame], None]) -> None:
        """Call ``callback(frame)`` on the frame loop's thread after every frame (keep it quick)."""
        self._callbacks.append(callback)

    def step(self) -> Frame:
        """Make the next frame: take the inputs, ask the watchdog, record, render, send it out."""
        with self._step_lock:
            events = self.bus.drain()
            ev = self.watchdog.check(self.show.state.mode, self.clock(), self.bus.last_input, bool(events))
            if ev is not None:
                if ev.name == "attract":
                    ev = Event("mode", "attract", dict(self.show.attract_targets))
                events.insert(0, ev)
            if self.recorder is not None:
                self.recorder.add(self.show.state.frame, events)
            t0 = time.perf_counter()
            frame = self.show.step(events)
            self.render_ms = (time.perf_counter() - t0) * 1000
            self.frames_made += 1
            if self.hub.wanted:
                self.hub.publish(encode(self.header(frame), png_bytes(frame.image)))
            if self.osc_out is not None:
                self.osc_out.events(frame.events)
            for cb in self._callbacks:
                cb(frame)
        with self._frame_cond:
            self.last_frame = frame
            self._frame_cond.notify_all()
        return frame

    def header(self, frame: Frame) -> dict[str, Any]:
        return {
            "frame": frame.index,
            "mode": frame.mode,
            "scene": frame.scene,
            "inputs": self.stats["applied"],
            "values": frame.values,
            "text": frame.latent.text_label,
            "render_ms": round(self.render_ms, 3),
            "fps": round(self.measured_fps, 2),
        }

    def wait_frame(self, after: int = -1, timeout: float = 5.0) -> Frame:
        """The first frame with an index above ``after`` (waits for the frame loop; needs ``start``)."""
        end = time.monotonic() + timeout
        with self._frame_cond:
            while self.last_frame is None or self.last_frame.index <= after:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no frame after {after} within {timeout} s")
                self._frame_cond.wait(left)
            return self.last_frame

    def latent(self) -> L.Latent:
        """The latent of the frame shown last: save it, and ``ganstudio generate --from`` remakes it."""
        if self.last_frame is None:
            raise UserError("no frame yet")
        return self.last_frame.latent

    # ---- recording -----------------------------------------------------------------------------------
    def start_recording(self) -> None:
        with self._step_lock:
            self.recorder = Recorder(self.show)

    def stop_recording(self, path: str | Path | None = None) -> Recording:
        with self._step_lock:
            if self.recorder is None:
                raise UserError("not recording")
            rec, self.recorder = self.recorder.finish(), None
        if path is not None:
            save_recording(rec, path)
        return rec

    # ---- running -------------------------------------------------------------------------------------
    def start(self) -> LiveSession:
        if self._thread is not None:
            return self
        self._stop.clear()
        if self.osc_in is not None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._loop_thread = threading.Thread(target=loop.run_forever, name="ganstudio-live-osc", daemon=True)
            self._loop_thread.start()
            asyncio.run_coroutine_threadsafe(self.osc_in.open(), loop).result(10)
        self._thread = threading.Thread(target=self._run, name="ganstudio-live-frames", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        dt = self.show.dt
        next_t = time.monotonic()
        recent: deque[float] = deque(maxlen=max(2, int(self.show.fps)))  # about a second of frame times
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as e:  # the show goes on; the problem is counted and said
                self.stats.error("errors", f"frame: {type(e).__name__}: {e}")
                self._stop.wait(0.1)
            now = time.monotonic()
            recent.append(now)
            if len(recent) > 1 and recent[-1] > recent[0]:
                self.measured_fps = (len(recent) - 1) / (recent[-1] - recent[0])
            next_t += dt
            if next_t < now - dt:  # more than a frame behind (a slow model): no burst to catch up
                next_t = now
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.close_inputs()

    def close_inputs(self) -> None:
        if self.osc_in is not None:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self.osc_in.close)
            else:
                self.osc_in.close()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(5)
            self._loop.close()
            self._loop = self._loop_thread = None
        if self.midi is not None:
            self.midi.close()
        if self.osc_out is not None:
            self.osc_out.close()
        if self._prompts is not None:
            self._prompts.close()

    def __enter__(self) -> LiveSession:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def osc_address(self) -> str | None:
        """Where OSC input listens (``host:port``), or None."""
        return None if self.osc_in is None else "{}:{}".format(*self.osc_in.address)

    def status(self) -> dict[str, Any]:
        s = self.show.state
        return {
            "run": self.run_dir.name,
            "step": self.pipe.step,
            "frame": s.frame,
            "mode": s.mode,
            "scene": s.scene,
            "fps_target": self.show.fps,
            "fps": round(self.measured_fps, 2),
            "render_ms": round(self.render_ms, 3),
            "text": None if self.last_frame is None else self.last_frame.latent.text_label,
            "backend": self.renderer.name,
            "osc": self.osc_address,
            "osc_out": None if self.osc_out is None else self.osc_out.target,
            "midi": None if self.midi is None else self.midi.name,
            "scenes": self.scenes.names(),
            "stats": self.stats.snapshot(),
        }


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"takes text, got {type(v).__name__}")
    return v


def _flag(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v >= 0.5
    if isinstance(v, str) and v.strip().lower() in ("1", "0", "on", "off", "true", "false"):
        return v.strip().lower() in ("1", "on", "true")
    raise TypeError(f"takes 1 or 0, got {v!r}")
