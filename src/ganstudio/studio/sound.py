"""The Sound panel's library side: a sound run's notes as WAV, and MIDI files played through its instrument.

The studio holds no sound logic of its own. An instrument is what ``ganstudio play --latent A --blend B
--mix t`` plays: ``creative.play.instrument_latent`` (the latent of seed A, or ``t`` of the way from it to
seed B); a note is ``pipeline.render_note`` of that latent at a MIDI pitch (runs conditioned on pitch) or
the latent as drawn, at a class the page picks (other sound runs); a melody is ``creative.play.play_run``.

Notes are rendered on request and never stored: a note's URL is its recipe (run, checkpoint, seed, blend,
mix, pitch, velocity), so an ``<audio>`` element's ``src`` re-renders it. Played melodies are files, under
``<runs>/.studio/sound/<id>/`` (the WAV and the instrument's latent JSON, as ``ganstudio play`` writes
them); an uploaded MIDI file is checked (``uploads.check_midi``) before anything is written, and a failed
rendering leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import shutil
import wave as wavfile
from pathlib import Path

import numpy as np

from .. import latents as L
from ..creative import play as P
from ..errors import UserError
from ..pipeline import pitch_class, render_note
from .engine import Engine
from .errors import NotFound
from .uploads import Limits, check_midi, safe_stem

RENDER_RE = re.compile(r"^[0-9a-f]{12}$")
MAX_PLAY_SECONDS = 600.0  # a melody longer than this is refused before it is rendered
MAX_PLAY_NOTES = 20_000
MELODY = "melody.wav"


def wav_bytes(wave: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples as a 16-bit PCM WAV file (clipped to [-1, 1]), in memory."""
    a = np.clip(np.nan_to_num(np.asarray(wave, dtype=np.float32).reshape(-1), nan=0.0), -1.0, 1.0)
    buf = io.BytesIO()
    with wavfile.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(np.round(a * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def playable_pitches(pipe) -> list[int]:
    """The MIDI pitches a sound run is conditioned on (empty for a run not conditioned on pitch)."""
    out = []
    for p in range(128):
        try:
            pitch_class(pipe, p)
        except UserError:
            continue
        out.append(p)
    return out


class Sound:
    def __init__(self, engine: Engine, out_dir: Path, limits: Limits):
        self.engine = engine
        self.out_dir = Path(out_dir)
        self.limits = limits

    def _sound_pipe(self, run: str, checkpoint: str):
        pipe, lock = self.engine.pipeline(run, checkpoint)
        if not pipe.is_sound:
            raise UserError(f"run {run} makes pictures, not sound; pick a sound run (e.g. --preset gm-notes)")
        return pipe, lock

    def info(self, run: str, checkpoint: str = "latest") -> dict:
        """What the panel needs: the checkpoint step, sample rate, note length, the pitches (with their names)
        a pitch-conditioned run plays, or the classes of another sound run."""
        pipe, _ = self._sound_pipe(run, checkpoint)
        pitches = playable_pitches(pipe)
        names = [pipe.class_names[pitch_class(pipe, p)] for p in pitches]
        return {
            "run": run,
            "step": pipe.step,
            "sample_rate": int(pipe.sample_rate),
            "seconds": pipe.codec.length / pipe.sample_rate,
            "pitches": pitches,
            "pitch_names": names,
            "classes": [] if pitches else list(pipe.class_names)[: pipe.num_classes],
        }

    def note(
        self,
        run: str,
        checkpoint: str,
        seed: int,
        blend: int | None = None,
        mix: float = 0.5,
        pitch: int | None = None,
        class_: int | None = None,
        velocity: int = 127,
    ) -> tuple[bytes, int]:
        """(WAV bytes, step): one note of the instrument ``seed`` (or ``mix`` of the way to ``blend``) at MIDI
        ``pitch`` (a pitch-conditioned run; its middle pitch when None) or, for other sound runs, as drawn
        (``class_``: that class instead of the seed's)."""
        pipe, lock = self._sound_pipe(run, checkpoint)
        pitches = playable_pitches(pipe)
        with lock:
            lat = P.instrument_latent(pipe, seed, blend, mix)
            if pitches:
                if class_ is not None:
                    raise UserError(f"run {run} is conditioned on pitch; give a pitch, not a class")
                p = pitches[len(pitches) // 2] if pitch is None else pitch
                if p not in pitches:
                    raise UserError(
                        f"pitch {p} is outside run {run}'s pitches ({pitches[0]}..{pitches[-1]}); pick a key in range"
                    )
                wave = render_note(pipe, p, z=lat, velocity=velocity)
            else:
                if pitch is not None:
                    raise UserError(f"run {run} is not conditioned on pitch; leave the pitch out")
                if class_ is not None:
                    if not pipe.num_classes:
                        raise UserError(f"run {run} has no classes; leave the class out")
                    lat = lat.with_(classes=tuple(np.eye(pipe.num_classes)[pipe.class_index(class_)].tolist()))
                images = L.render(pipe, [lat])
                wave = pipe.to_audio(images)[0] * (max(0, min(127, velocity)) / 127) ** 2
        return wav_bytes(wave, pipe.sample_rate), pipe.step

    def play(
        self,
        run: str,
        checkpoint: str,
        filename: str,
        data: bytes,
        seed: int = 0,
        blend: int | None = None,
        mix: float = 0.5,
        transpose: int = 0,
    ) -> dict:
        """An uploaded MIDI file played through the instrument (``creative.play.play_run``): the render's id,
        its URL, length, sample rate, number of notes and the instrument's latent."""
        check_midi(filename, data, self.limits)
        run_dir = self.engine.index.path(run)
        P.require_sound_run(run_dir)
        step = self.engine.checkpoint(run, checkpoint).step
        rid = secrets.token_hex(6)
        tmp = self.out_dir / f".tmp-{rid}"
        tmp.mkdir(parents=True)
        try:
            midi = tmp / f"{safe_stem(filename, 'melody')}.mid"
            midi.write_bytes(data)
            notes = P.retime(P.read_midi(midi), transpose)
            end = max(n.start + n.duration for n in notes)
            if end > MAX_PLAY_SECONDS or len(notes) > MAX_PLAY_NOTES:
                raise UserError(
                    f"{filename} lasts {end:.0f} s with {len(notes)} notes; the studio plays up to "
                    f"{MAX_PLAY_SECONDS:.0f} s and {MAX_PLAY_NOTES} notes (use ganstudio play for longer pieces)"
                )
            wav, lat_json = P.play_run(
                run_dir,
                midi,
                tmp / MELODY,
                latent=seed,
                blend=blend,
                amount=mix,
                transpose=transpose,
                checkpoint=str(step),
            )[:2]
            with wavfile.open(str(wav), "rb") as w:
                frames, rate = w.getnframes(), w.getframerate()
            final = self.out_dir / rid
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return {
            "id": rid,
            "url": f"/api/sound/renders/{rid}",
            "run": run,
            "step": step,
            "name": midi.stem,
            "notes": len(notes),
            "seconds": frames / rate,
            "sample_rate": rate,
            "latent": json.loads((final / Path(lat_json).name).read_text()),
        }

    def file(self, rid: str) -> tuple[Path, str]:
        """(path, download name) of a played melody."""
        d = self.out_dir / rid
        f = d / MELODY
        if not RENDER_RE.match(rid) or not f.is_file():
            raise NotFound(f"unknown melody {rid!r}; play the MIDI file again")
        mids = sorted(d.glob("*.mid"))
        return f, f"{mids[0].stem if mids else 'melody'}.wav"
