"""`ganstudio play`'s note engine on real instrument notes (gm-notes, FluidSynth renders): does holding a note
(loop, levelling, seams) or moving it to another key zone (resampling) keep its pitch and level?

    python benchmarks/play_engine.py   (needs gm-notes: `ganstudio datasets`; figures in docs/sound.md)
"""

import time

import numpy as np

from ganstudio.creative import play as P
from ganstudio.data import gm_notes as G
from ganstudio.metrics.pitch import cents, note_f0


class Real:
    sample_rate = 16000

    def __init__(self, program):
        n = G.program_notes(program)
        top = n.velocities == n.velocities.max()
        self.notes = {int(p): w for p, w, t in zip(n.pitches, n.waves, top) if t}

    def note(self, pitch):
        return self.notes[pitch]


sr = 16000
t0 = time.perf_counter()
rows = []
for prog, name in [
    (0, "piano"),
    (19, "church organ"),
    (24, "nylon guitar"),
    (40, "violin"),
    (48, "strings"),
    (56, "trumpet"),
    (73, "flute"),
]:
    src = Real(prog)
    sus = P.Sustained(src)
    loop_c, shot_c, zone_c, ranges = [], [], [], []
    for p in (48, 55, 60, 64, 67, 72):
        if p not in src.notes:
            continue
        f_shot = note_f0(src.note(p), sr, 0.1, 0.6)
        w = sus(p, 127, 3.0)
        f_held = note_f0(w, sr, 1.0, 2.9)
        if np.isfinite(f_shot) and np.isfinite(f_held):
            loop_c.append(abs(float(cents(f_held, f_shot))))
        seg = w[sr : round(2.9 * sr)]
        fr = seg[: len(seg) // 800 * 800].reshape(-1, 800)
        db = 20 * np.log10(np.sqrt((fr**2).mean(1)) + 1e-9)
        ranges.append(db.max() - db.min())
        # key zone: play p + 5 from p's one-shot, resampled up 5 semitones
        shifted = P.media_audio.resample(src.note(p), 2000, round(2000 / 2 ** (5 / 12)))
        f_sh = note_f0(shifted, sr, 0.1, 0.5)
        if np.isfinite(f_sh) and np.isfinite(f_shot):
            zone_c.append(abs(float(cents(f_sh, f_shot)) - 500))
    rows.append(
        (
            name,
            np.max(loop_c) if loop_c else np.nan,
            np.median(ranges),
            np.max(ranges),
            np.max(zone_c) if zone_c else np.nan,
        )
    )
for r in rows:
    print(
        f"{r[0]:>13}: held 3 s vs one-shot pitch max {r[1]:.1f} cents; 50 ms level range in the hold median {r[2]:.1f} dB (max {r[3]:.1f}); key zone +5 st error max {r[4]:.1f} cents"
    )
print(f"{time.perf_counter() - t0:.1f} s")
