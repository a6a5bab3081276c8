"""A MIDI file played through a generated instrument: notes in, one mixed waveform out.

Three parts, each usable alone:
  ``read_midi``: a Standard MIDI File -> ``Note``s (start and length in seconds, pitch, velocity). Tempo
      changes are honoured (mido merges the tracks and converts ticks to seconds); note-on with velocity 0
      ends a note; the same key struck again while held starts a second, overlapping note and the
      note-offs end them first in, first out; the sustain pedal (CC 64) holds released notes until it
      lifts; channel 10 (General MIDI drums) is skipped unless asked for.
  ``Sustained``: a ``NoteRenderer`` from a ``NoteSource`` of fixed-length one-shots (a GAN's 1 s note):
      a note shorter than its one-shot's held part is cut; a longer one loops a stretch of that part (its
      end moved to where the wave matches the loop start, so seams join in phase; crossfaded; levelled so
      a decaying sound holds at the level it had reached instead of pumping); then a raised-cosine attack
      and release (``Envelope``). Velocity v scales the amplitude by
      (v / 127) ** 2, General MIDI's curve (the one ``pipeline.render_notes`` uses).
  ``mix``: every note rendered at its start sample and summed, then normalised to a peak of
      ``peak_db`` dBFS (-1 by default: headroom for the WAV's 16 bits and for players that resample).
The instrument itself (``GanInstrument``) is a sound run at one latent, or a blend of two (their z
interpolated): each distinct pitch is rendered once, in one batch; a pitch outside the run's range is
the nearest pitch it knows, resampled (a sampler's key zones).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .. import latents as L
from .. import media_audio
from ..config.base import from_dict
from ..errors import UserError

DRUM_CHANNEL = 9  # General MIDI channel 10, counted from 0
MIN_NOTE = 0.02  # seconds: a note-on and note-off at the same tick still sounds, briefly


# ---------------------------------------------------------------------------------------- MIDI -> notes


@dataclass(frozen=True)
class Note:
    start: float  # seconds from the start of the file
    duration: float  # seconds the key (or the pedal) was held, > 0
    pitch: int  # MIDI note number, 60 = middle C
    velocity: int  # 1..127
    channel: int = 0  # 0..15


def read_midi(path: str | Path, drums: bool = False) -> list[Note]:
    """The notes of a Standard MIDI File (type 0 or 1), sorted by start then pitch. One-line UserError for
    a missing, unreadable or note-less file."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"MIDI file {p} not found; check the path")
    try:
        import mido
    except ImportError:
        raise UserError("playing MIDI files needs mido: pip install 'ganstudio[audio]'") from None
    try:
        messages = list(mido.MidiFile(str(p)))  # tracks merged, msg.time in seconds (tempo changes applied)
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError, TypeError (type 2) ...
        raise UserError(f"cannot read {p} as MIDI ({e}); give a Standard MIDI File (.mid, type 0 or 1)") from None
    notes: list[Note] = []
    held: dict[tuple[int, int], list[tuple[float, int]]] = {}  # (channel, pitch) -> [(start, velocity)] in order
    pedal: dict[int, bool] = {}
    pedalled: dict[int, list[tuple[int, float, int]]] = {}  # channel -> [(pitch, start, velocity)] held by the pedal
    skipped_drums = 0
    t = 0.0

    def end(ch: int, pitch: int, start: float, vel: int, at: float) -> None:
        notes.append(Note(start, max(at - start, MIN_NOTE), pitch, vel, ch))

    for msg in messages:
        t += msg.time
        ch = getattr(msg, "channel", None)
        if msg.is_meta or ch is None:
            continue
        if ch == DRUM_CHANNEL and not drums:
            skipped_drums += msg.type == "note_on" and msg.velocity > 0
            continue
        if msg.type == "note_on" and msg.velocity > 0:
            for item in [s for s in pedalled.get(ch, []) if s[0] == msg.note]:  # struck again: the old one stops
                pedalled[ch].remove(item)
                end(ch, *item, t)
            held.setdefault((ch, msg.note), []).append((t, msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            queue = held.get((ch, msg.note))
            if queue:
                start, vel = queue.pop(0)
                if pedal.get(ch):
                    pedalled.setdefault(ch, []).append((msg.note, start, vel))
                else:
                    end(ch, msg.note, start, vel, t)
        elif msg.type == "control_change" and msg.control == 64:
            down = msg.value >= 64
            if pedal.get(ch) and not down:
                for item in pedalled.pop(ch, []):
                    end(ch, *item, t)
            pedal[ch] = down
    for (ch, pitch), queue in held.items():  # keys never released: they last to the end of the file
        for start, vel in queue:
            end(ch, pitch, start, vel, t)
    for ch, items in pedalled.items():
        for item in items:
            end(ch, *item, t)
    if not notes:
        hint = f" (only {skipped_drums} drum notes on channel 10; pass --drums to play them)" if skipped_drums else ""
        raise UserError(f"{p.name} has no notes to play{hint}; give a MIDI file with a melody")
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.channel))


def retime(notes: Iterable[Note], transpose: int = 0, speed: float = 1.0) -> list[Note]:
    """Notes moved by ``transpose`` semitones and played ``speed`` times as fast."""
    if speed <= 0:
        raise UserError(f"--speed must be positive, got {speed}")
    out = [replace(n, pitch=n.pitch + transpose, start=n.start / speed, duration=n.duration / speed) for n in notes]
    bad = [n.pitch for n in out if not 0 <= n.pitch <= 127]
    if bad:
        raise UserError(
            f"--transpose {transpose} moves notes outside MIDI's 0..127 (e.g. to {bad[0]}); use a smaller shift"
        )
    return out


# --------------------------------------------------------------------------------------- notes -> sound


class NoteRenderer(Protocol):
    """What ``mix`` plays notes with: (pitch, velocity, seconds held) -> mono float wave (samples,) at
    ``sample_rate``, starting at the note-on; it may ring on past the held time (a release)."""

    sample_rate: int

    def __call__(self, pitch: int, velocity: int, duration: float) -> np.ndarray: ...


class NoteSource(Protocol):
    """One-shot notes at full velocity: pitch -> mono float wave (samples,) at ``sample_rate``."""

    sample_rate: int

    def note(self, pitch: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Envelope:
    """How ``Sustained`` fits a one-shot to a note (times in seconds, loop points as shares of the one-shot)."""

    attack: float = 0.005  # fade-in: a one-shot cut anywhere must not click
    release: float = 0.15  # fade-out after the key is let go
    loop_start: float = 0.25  # the stretch looped to hold notes longer than it lasts ...
    loop_end: float = 0.7  # ... (gm-notes runs: keys are let go at 0.8 s of 1 s; past the attack, before that)
    crossfade: float = 0.03  # at each loop seam

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise UserError(f"envelope: {f.name} must be a number >= 0, got {v!r}")
        if not 0 <= self.loop_start < self.loop_end <= 1:
            raise UserError(f"envelope: need 0 <= loop_start < loop_end <= 1, got {self.loop_start}, {self.loop_end}")

    @classmethod
    def from_dict(cls, d: dict, where: str = "envelope") -> Envelope:
        return from_dict(cls, d, where)


def _raised_cosine(n: int) -> np.ndarray:
    """(n,) rising 0 -> 1, sample centres, so a fade of n samples never holds an exact 0 or 1 twice."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


def _loop_end(x: np.ndarray, a: int, b: int, c: int, search: int) -> int:
    """The loop end within ``search`` samples of ``b`` where the ``c`` samples before it best match the ``c``
    from ``a`` (normalised correlation): there the seam crossfades two stretches in phase, so it neither
    clicks nor dips (two copies of a tone out of phase would cancel)."""
    lo, hi = max(a + 3 * c, b - search), min(len(x), b + search)
    if hi < lo:
        return b
    ref = x[a : a + c]
    win = np.lib.stride_tricks.sliding_window_view(x[lo - c : hi], c)  # row i: the c samples before lo + i
    score = win @ ref / (np.linalg.norm(win, axis=1) * np.linalg.norm(ref) + 1e-12)
    return lo + int(np.argmax(score))


def _levelled(x: np.ndarray, a: int, b: int, sr: int) -> np.ndarray:
    """x[a:b] with its slow level (20 ms RMS) flattened to the level it has at b: a decaying sound then
    holds at the level it had reached instead of pumping at every pass."""
    k = max(1, round(0.02 * sr))
    level = np.sqrt(np.convolve(x**2, np.ones(k) / k, mode="same"))[a:b]
    floor = 1e-3 * max(float(np.abs(x).max()), 1e-12)
    target = float(np.mean(level[-max(1, len(level) // 10) :]))
    return x[a:b] * np.clip(target / np.maximum(level, floor), 0.0, 4.0)


def fit_duration(raw: np.ndarray, duration: float, sample_rate: int, env: Envelope) -> np.ndarray:
    """A one-shot (n,) fitted to a note held ``duration`` seconds: (hold + release samples,) float64."""
    sr = sample_rate
    hold = max(1, round(duration * sr))
    rel = round(env.release * sr)
    need = hold + rel
    x = np.asarray(raw, dtype=np.float64).reshape(-1)
    n = len(x)
    a, b = int(env.loop_start * n), int(env.loop_end * n)
    c = min(round(env.crossfade * sr), (b - a) // 4)
    if (hold > b or need > n) and c >= 1:  # the one-shot's held part runs out: loop it
        b = _loop_end(x, a, b, c, round(0.025 * sr))  # 25 ms: a whole period of anything above 40 Hz
        seg = _levelled(x, a, b, sr)
        fade = _raised_cosine(c)  # in phase (see _loop_end), so amplitudes add: a plain crossfade
        pieces = [x[: b - c], x[b - c : b] * fade[::-1] + seg[:c] * fade]
        seam = seg[-c:] * fade[::-1] + seg[:c] * fade
        pieces += [seg[c:-c], seam] * (math.ceil((need - b) / (len(seg) - c)) + 1)
        x = np.concatenate(pieces)
    x = media_audio.fit_length(x, need).copy()
    att = min(round(env.attack * sr), hold)
    if att:
        x[:att] *= _raised_cosine(att)
    if rel:
        x[hold:] *= _raised_cosine(rel)[::-1]
    return x


def velocity_gain(velocity: int) -> float:
    """General MIDI's velocity curve: amplitude (v / 127) ** 2 (v = 64 is about -12 dB)."""
    return (max(0, min(127, velocity)) / 127.0) ** 2


class Sustained:
    """A ``NoteRenderer`` from a ``NoteSource``: each pitch's one-shot is asked for once, then fitted to every
    note's length (``fit_duration``) and scaled by ``velocity_gain``."""

    def __init__(self, source: NoteSource, envelope: Envelope | None = None):
        self.source, self.envelope = source, envelope or Envelope()
        self.sample_rate = source.sample_rate
        self._raw: dict[int, np.ndarray] = {}

    def __call__(self, pitch: int, velocity: int, duration: float) -> np.ndarray:
        if pitch not in self._raw:
            self._raw[pitch] = np.asarray(self.source.note(pitch), dtype=np.float64)
        return velocity_gain(velocity) * fit_duration(self._raw[pitch], duration, self.sample_rate, self.envelope)


def mix(notes: Sequence[Note], renderer: NoteRenderer, normalize: bool = True, peak_db: float = -1.0) -> np.ndarray:
    """Every note rendered at round(start * sample_rate) and summed: float32 (samples,). ``normalize``: the
    peak becomes ``peak_db`` dBFS; otherwise only a mix louder than full scale is brought down to it."""
    if not notes:
        raise UserError("no notes to play")
    sr = renderer.sample_rate
    parts = [(round(n.start * sr), np.asarray(renderer(n.pitch, n.velocity, n.duration), np.float64)) for n in notes]
    out = np.zeros(max(s + len(w) for s, w in parts))
    for s, w in parts:
        out[s : s + len(w)] += w
    peak = float(np.abs(out).max())
    target = 10 ** (peak_db / 20)
    if peak > 0 and (normalize or peak > 1.0):
        out *= target / peak
    return out.astype(np.float32)


# ----------------------------------------------------------------------------------- the GAN instrument


class GanInstrument:
    """A ``NoteSource``: a sound run's notes at one latent ``z`` (z_dim,), each at full velocity, peak 0.9."""

    def __init__(self, pipe, z: torch.Tensor):
        from ..pipeline import pitch_class

        if not getattr(pipe, "is_sound", False):
            raise UserError(f"run {L.run_name(pipe)} makes pictures, not sound; play needs a sound run")
        self.pipe, self.z = pipe, torch.as_tensor(z, dtype=torch.float32).reshape(-1)
        self.sample_rate = int(pipe.sample_rate)
        playable = []
        for p in range(128):
            try:
                pitch_class(pipe, p)
                playable.append(p)
            except UserError:
                pass
        if not playable:
            raise UserError(
                f"run {L.run_name(pipe)} is not conditioned on pitch, so it cannot play a melody; "
                "train one on notes: ganstudio train --data gm-notes --preset gm-notes"
            )
        self.playable = np.array(playable)
        self._cache: dict[int, np.ndarray] = {}

    def zone(self, pitch: int) -> int:
        """The pitch the run renders for ``pitch``: itself, or the nearest it knows (the lower on a tie)."""
        return int(self.playable[np.argmin(np.abs(self.playable - pitch) * 2 + (self.playable > pitch))])

    def prepare(self, pitches: Iterable[int]) -> None:
        """Render every zone these pitches need, in one batch."""
        from ..pipeline import render_notes

        need = sorted({self.zone(p) for p in pitches} - set(self._cache))
        if need:
            for p, w in zip(need, render_notes(self.pipe, need, self.z, 127)):
                self._cache[p] = np.asarray(w, np.float32)

    def note(self, pitch: int) -> np.ndarray:
        q = self.zone(pitch)
        self.prepare([pitch])
        w = self._cache[q]
        if q == pitch:
            return w
        # up n semitones: the same samples played 2^(n/12) times as fast (resampled to fewer samples)
        base = 2000
        return media_audio.resample(w, base, max(1, round(base / 2 ** ((pitch - q) / 12))))


def parse_latent(pipe, spec: str | int) -> L.Latent:
    """A latent from a seed (``7``) or a latent file (``a.json``, or an ``.npz`` holding one)."""
    s = str(spec).strip()
    if s.lstrip("-").isdigit():
        return L.from_seeds(pipe, 1, int(s))[0]
    lats = L.load_many(s)
    if len(lats) != 1:
        raise UserError(f"{s} holds {len(lats)} latents; give a file with one (or a seed number)")
    L.check_compatible(lats, pipe, exact=False)
    return lats[0]


def instrument_latent(pipe, latent: str | int = 0, blend: str | int | None = None, amount: float = 0.5) -> L.Latent:
    """The instrument's latent: ``latent``, or ``amount`` of the way from it to ``blend`` (z by slerp)."""
    from .interpolate import interpolate

    a = parse_latent(pipe, latent)
    if blend is None:
        return a
    if not 0 <= amount <= 1:
        raise UserError(f"--mix must be between 0 (all of the first latent) and 1 (all of --blend), got {amount}")
    return interpolate(a, parse_latent(pipe, blend), amount)


def require_sound_run(run_dir: str | Path) -> None:
    """A one-line UserError, before anything loads, when ``run_dir`` is not a sound run."""
    from .. import runs
    from ..models import get_family

    fam = get_family(str(runs.read_config_dict(run_dir).get("model")))
    if fam.task.output != "audio":
        raise UserError(
            f"run {Path(run_dir).name} is a {fam.name} picture model; play needs a sound run "
            "(ganstudio train --data gm-notes --preset gm-notes)"
        )


def play_run(
    run_dir: str | Path,
    midi: str | Path,
    out: str | Path | None = None,
    latent: str | int = 0,
    blend: str | int | None = None,
    amount: float = 0.5,
    envelope: Envelope | None = None,
    drums: bool = False,
    transpose: int = 0,
    speed: float = 1.0,
    peak_db: float = -1.0,
    checkpoint: str = "latest",
    device: str = "cpu",
) -> list[Path]:
    """CLI entry: ``midi`` through the run's instrument -> ``out`` (WAV at the run's rate, default
    RUN/played/<midi name>.wav) and the instrument's latent beside it (``.json``). Every check runs
    before anything is written."""
    from ..pipeline import load
    from . import directions as D

    require_sound_run(run_dir)
    path = Path(out) if out else Path(run_dir) / "played" / f"{Path(midi).stem}.wav"
    if path.suffix.lower() != ".wav":
        raise UserError(f"--out {path.name}: play writes WAV files; give a name ending in .wav")
    notes = retime(read_midi(midi, drums), transpose, speed)
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    lat = instrument_latent(pipe, latent, blend, amount)
    z = L.effective_z([lat], D.for_latents(run_dir, {lat.directions}))[0]
    inst = GanInstrument(pipe, z)
    far = sum(1 for n in notes if abs(inst.zone(n.pitch) - n.pitch) > 12)
    if far:
        lo, hi = int(inst.playable[0]), int(inst.playable[-1])
        warnings.warn(
            f"{far} notes lie over an octave outside the run's pitches ({lo}..{hi}) and are resampled; "
            "--transpose can bring the melody into range",
            stacklevel=2,
        )
    inst.prepare(n.pitch for n in notes)
    wave = mix(notes, Sustained(inst, envelope), peak_db=peak_db)
    return [media_audio.write_wav(path, wave, inst.sample_rate), L.save_latent(lat, path.with_suffix(".json"))]
