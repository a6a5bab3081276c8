"""``gm-notes``: single instrument notes rendered from a General MIDI soundfont with FluidSynth — a small NSynth.

Every melodic GM program (0-111; 112-127 are percussion and sound effects) plays every pitch of
``PITCHES`` (MIDI 36-84, C2-C6) at each of ``VELOCITIES``; a note is held 0.8 s and cut at 1 s (so
its release is in), rendered at 16 kHz mono with reverb and chorus off, and peak-normalised to 0.9
(velocity still changes the timbre). Notes the soundfont leaves silent are skipped and counted.

Labels: the class is the pitch (class names "C2".."C6"); each note's caption names its instrument, GM
family (eight programs each: "piano", "organ", ...), pitch and velocity. The ``test`` split is the held-out
instruments, one per family (program % 8 == 5: electric piano 2, ..., pizzicato strings, ...), never
seen in training: the pitch-accuracy benchmark asks for their pitch range.

Sources: the fluidsynth CLI and a GM soundfont from Debian (``fluidsynth``, ``timgm6mb-soundfont``;
FluidR3_GM is used when TimGM6mb is missing); ``make data`` installs them. One MIDI file per program
is written with ``mido``; one ``fluidsynth -ni -F out.wav`` call renders it. The notes (int16) are cached
under ``<cache_root()>/gm-notes/`` keyed by the soundfont and these settings, once per program, so a
change of spectrogram size does not re-render.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache import cache_root, key_of, read_npz, write_npz
from ..errors import UserError
from ..media_audio import peak_normalize, read_audio

SAMPLE_RATE = 16000
NOTE_S = 1.0  # clip length
HOLD_S = 0.8  # key held; the last 0.2 s is the release
SLOT_S = 1.05  # one note per slot; "all sound off" just before the next
PITCHES = tuple(range(36, 85))
VELOCITIES = (70, 100, 127)
PROGRAMS = tuple(range(112))  # melodic GM programs
HELD_OUT = 5  # program % 8 == HELD_OUT: the test instruments, one per family
CACHE_VERSION = 1
SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
)
INSTALL = "install Debian's fluidsynth and timgm6mb-soundfont (`make data` does, as root)"
FAMILIES = (
    "piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic",
)  # fmt: skip
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(pitch: int) -> str:
    """MIDI 60 -> "C4"."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def family_of(program: int) -> str:
    return FAMILIES[program // 8]


def programs(split: str) -> tuple[int, ...]:
    return tuple(p for p in PROGRAMS if (p % 8 == HELD_OUT) == (split == "test"))


def soundfont() -> Path | None:
    if os.environ.get("GANSTUDIO_SOUNDFONT"):
        return Path(os.environ["GANSTUDIO_SOUNDFONT"])
    return next((p for p in SOUNDFONTS if p.exists()), None)


def locate() -> str | None:
    sf2 = soundfont()
    return str(sf2) if sf2 is not None and shutil.which("fluidsynth") else None


@dataclass(frozen=True)
class Notes:
    """Rendered notes: ``waves`` float32 (N, SAMPLE_RATE * NOTE_S), and per note its program, pitch, velocity."""

    waves: np.ndarray
    programs: np.ndarray
    pitches: np.ndarray
    velocities: np.ndarray
    skipped: int = 0  # notes the soundfont left silent

    def captions(self) -> tuple[str, ...]:
        return tuple(
            f"program {p}, {family_of(int(p))}, {pitch_name(int(n))}, velocity {v}"
            for p, n, v in zip(self.programs, self.pitches, self.velocities)
        )


def _midi_file(path: Path, program: int, pitches: tuple[int, ...], velocities: tuple[int, ...]) -> None:
    """One note per slot on channel 0 (never 9: that is GM's drum channel); 1 tick = 1 ms."""
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=480000, time=0))  # 480 ticks per 0.48 s: 1 ms a tick
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    hold, slot = round(HOLD_S * 1000), round(SLOT_S * 1000)
    for n in pitches:
        for v in velocities:
            track.append(mido.Message("note_on", note=n, velocity=v, channel=0, time=0))
            track.append(mido.Message("note_off", note=n, velocity=0, channel=0, time=hold))
            track.append(mido.Message("control_change", control=120, value=0, channel=0, time=slot - hold - 10))
            track.append(mido.Message("control_change", control=0x79, value=0, channel=0, time=10))  # reset ctrls
    mid.save(str(path))


def render_program(sf2: Path, program: int, pitches=PITCHES, velocities=VELOCITIES) -> Notes:
    """Render one program's notes with the fluidsynth CLI (no cache)."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise UserError(f"gm-notes needs the fluidsynth program: {INSTALL}")
    with tempfile.TemporaryDirectory(prefix="ganstudio-gm-") as tmp:
        mid, wav = Path(tmp) / "notes.mid", Path(tmp) / "notes.wav"
        _midi_file(mid, program, tuple(pitches), tuple(velocities))
        cmd = [exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SAMPLE_RATE), "-F", str(wav)]
        cmd += [str(sf2), str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0 or not wav.exists():
            raise UserError(f"fluidsynth could not render program {program} ({proc.stderr.strip()[:200]}); {INSTALL}")
        audio = read_audio(wav, SAMPLE_RATE)
    slot, length = round(SLOT_S * SAMPLE_RATE), round(NOTE_S * SAMPLE_RATE)
    cells = [(n, v) for n in pitches for v in velocities]
    audio = np.pad(audio, (0, max(0, slot * len(cells) - len(audio))))
    waves = np.stack([audio[i * slot : i * slot + length] for i in range(len(cells))])
    loud = np.abs(waves).max(axis=1) > 1e-4
    keep = np.nonzero(loud)[0]
    return Notes(
        waves=peak_normalize(waves[keep]),
        programs=np.full(len(keep), program, dtype=np.int64),
        pitches=np.array([cells[i][0] for i in keep], dtype=np.int64),
        velocities=np.array([cells[i][1] for i in keep], dtype=np.int64),
        skipped=int((~loud).sum()),
    )


def _cache_dir(sf2: Path) -> Path:
    st = sf2.stat()
    ident = hashlib.sha1(f"{sf2.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    settings = key_of(
        {"v": CACHE_VERSION, "sr": SAMPLE_RATE, "note": NOTE_S, "hold": HOLD_S, "p": PITCHES, "v2": VELOCITIES}
    )
    return cache_root() / "gm-notes" / f"{sf2.stem}-{ident}-{settings}"


def program_notes(program: int, sf2: Path | None = None) -> Notes:
    """One program's notes, rendered once and cached (int16)."""
    sf2 = sf2 or soundfont()
    if sf2 is None or not sf2.exists():
        raise UserError(f"gm-notes needs a General MIDI soundfont: {INSTALL}")
    path = _cache_dir(sf2) / f"program-{program:03d}.npz"
    got = read_npz(path)
    if got is not None:
        return Notes(
            got["waves"].astype(np.float32) / 32767.0,
            got["programs"],
            got["pitches"],
            got["velocities"],
            int(got["skipped"]),
        )
    notes = render_program(sf2, program)
    write_npz(
        path,
        {
            "waves": np.round(notes.waves * 32767).astype(np.int16),
            "programs": notes.programs,
            "pitches": notes.pitches,
            "velocities": notes.velocities,
            "skipped": np.array(notes.skipped),
        },
        what="gm-notes",
    )
    return notes


def load_notes(split: str = "train", program_list: tuple[int, ...] | None = None) -> Notes:
    """Every note of the split's programs (train: 98 instruments, test: the 14 held out)."""
    if locate() is None:
        raise UserError(f"gm-notes needs fluidsynth and a General MIDI soundfont: {INSTALL}")
    parts = [program_notes(p) for p in (program_list if program_list is not None else programs(split))]
    return Notes(
        np.concatenate([n.waves for n in parts]),
        np.concatenate([n.programs for n in parts]),
        np.concatenate([n.pitches for n in parts]),
        np.concatenate([n.velocities for n in parts]),
        sum(n.skipped for n in parts),
    )
