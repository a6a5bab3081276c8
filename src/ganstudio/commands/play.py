"""``ganstudio play RUN melody.mid --out melody.wav``: a MIDI file through a sound run's instrument
(``ganstudio.creative.play``)."""

from __future__ import annotations

import argparse

from ..argtypes import nonneg_float, positive_float


def cmd_play(a: argparse.Namespace) -> int:
    from ..creative.play import Envelope, play_run

    paths = play_run(
        a.run_dir,
        a.midi,
        a.out,
        latent=a.latent,
        blend=a.blend,
        amount=a.mix,
        envelope=Envelope(attack=a.attack, release=a.release),
        drums=a.drums,
        transpose=a.transpose,
        speed=a.speed,
        checkpoint=a.checkpoint,
        device=a.device,
    )
    for p in paths:
        print(p)
    return 0


def register(sub) -> None:
    p = sub.add_parser("play", help="play a MIDI file through a sound run's generated instrument (writes a WAV)")
    p.add_argument("run_dir", metavar="RUN", help="a sound run (e.g. trained with --preset gm-notes)")
    p.add_argument("midi", metavar="MIDI", help="a Standard MIDI File (.mid)")
    p.add_argument("--out", default=None, help="the WAV to write (default RUN/played/<MIDI name>.wav)")
    p.add_argument(
        "--latent", default="0", metavar="SEED|FILE", help="the instrument: a seed or a latent file (default seed 0)"
    )
    p.add_argument(
        "--blend", default=None, metavar="SEED|FILE", help="a second instrument to blend with (z interpolated)"
    )
    p.add_argument(
        "--mix", type=float, default=0.5, help="with --blend: 0 is all --latent, 1 all --blend (default 0.5)"
    )
    p.add_argument("--attack", type=nonneg_float, default=0.005, metavar="SECONDS", help="fade-in (default 0.005)")
    p.add_argument("--release", type=nonneg_float, default=0.15, metavar="SECONDS", help="fade-out (default 0.15)")
    p.add_argument("--transpose", type=int, default=0, metavar="SEMITONES", help="shift every note (default 0)")
    p.add_argument("--speed", type=positive_float, default=1.0, help="tempo factor, 2 = twice as fast (default 1)")
    p.add_argument("--drums", action="store_true", help="also play channel 10 (General MIDI drums) as pitches")
    p.add_argument("--checkpoint", default="latest", help="latest, best, a step number or a checkpoint folder")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    p.set_defaults(func=cmd_play)
