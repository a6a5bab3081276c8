"""``spoken-digits``: the words "zero".."nine" spoken by ``espeak-ng`` over its English voices, voice variants,
speeds and pitches — an SC09-like set made on this machine (Debian's ``espeak-ng``).

Each utterance is synthesised to WAV (``espeak-ng -w``), resampled to 16 kHz mono, trimmed of leading
silence (first sample above 1 % of the peak), peak-normalised to 0.9 and cut or zero-padded to 1 s.
Label = the digit. The ``test`` split is the held-out voice variants (``TEST_VARIANTS``), never heard in
training. The waveforms are not cached (synthesis is quick); their spectrograms are (``data.audio``).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..media_audio import fit_length, peak_normalize, read_audio

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
TEST_VARIANTS = ("m7", "f5")
SPEEDS = (130, 170, 210)  # words per minute
PITCHES = (30, 50, 70)  # espeak's 0..99 pitch adjustment
INSTALL = "install Debian's espeak-ng (`make data` does, as root)"


def locate() -> str | None:
    return shutil.which("espeak-ng")


def _say(exe: str, text: str, voice: str, speed: int, pitch: int, out: Path) -> None:
    cmd = [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0 or not out.exists():
        raise UserError(f"espeak-ng failed for voice {voice} ({proc.stderr.strip()[:200]}); {INSTALL}")


def trim_leading_silence(wave: np.ndarray, rel: float = 0.01) -> np.ndarray:
    loud = np.nonzero(np.abs(wave) > rel * max(float(np.abs(wave).max()), 1e-8))[0]
    return wave[loud[0] :] if len(loud) else wave


def load_waves(split: str, sample_rate: int, length: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(waves (N, length) float32, digits (N,), captions) for the split's voices."""
    exe = locate()
    if exe is None:
        raise UserError(f"spoken-digits needs espeak-ng: {INSTALL}")
    variants = [v for v in VARIANTS if (v in TEST_VARIANTS) == (split == "test")]
    waves, digits, captions = [], [], []
    with tempfile.TemporaryDirectory(prefix="ganstudio-digits-") as tmp:
        out = Path(tmp) / "say.wav"
        for (d, word), voice, var, speed, pitch in itertools.product(
            enumerate(WORDS), VOICES, variants, SPEEDS, PITCHES
        ):
            _say(exe, word, f"{voice}+{var}", speed, pitch, out)
            wave = trim_leading_silence(read_audio(out, sample_rate))
            waves.append(fit_length(peak_normalize(wave), length))
            digits.append(d)
            captions.append(f"{word}, voice {voice}+{var}, speed {speed}, pitch {pitch}")
    return np.stack(waves), np.array(digits, dtype=np.int64), captions
