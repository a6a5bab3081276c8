"""Audio benchmark: specgan on gm-notes, IF (magnitude + instantaneous frequency) vs Griffin-Lim (magnitude only).

  train  --variant if|gl --minutes M   train (or continue) benchmarks/out/audio/runs/<variant> for M minutes
         [--steps S]                   (or up to S steps in all: the equal-step IF vs Griffin-Lim comparison)
                                       under the gm-notes preset (gl: data.channels=1); run it in chunks
                                       under the shared lock, e.g.
                                       flock /tmp/ganstudio-bench.lock nice -n 19 env OMP_NUM_THREADS=2 \\
                                         .venv/bin/python benchmarks/audio_bench.py train --variant if --minutes 12
  ceiling                              pitch accuracy of the real held-out notes: as rendered, and after the
                                       IF and Griffin-Lim spectrogram round trips (what each inversion can reach)
  eval   --variant if|gl [--per-pitch K]  pitch accuracy of the run's notes (K latents per pitch, every pitch of
                                       the held-out instruments' range), speed as a multiple of real time
  speed  RUN [--batch 49] [--threads 2]  seconds of audio made per second on this CPU: G, the IF decoder and a
                                       32-iteration Griffin-Lim decoder of the same spectrograms, best and median
                                       of --repeats timed batches after a warm-up (any 2-channel specgan run)
  table                                benchmarks/results/audio.json -> the markdown table of audio_README.md

Pitch accuracy: the fraction of notes whose YIN f0 (ganstudio.metrics.pitch) is within ±50 cents of the
requested MIDI pitch; no pitch found counts as a miss.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import ganstudio
from ganstudio import runs
from ganstudio.data import gm_notes
from ganstudio.data.audio import HOP, N_FFT, NATIVE_FRAMES, NATIVE_HEIGHT, SAMPLE_RATE
from ganstudio.media_audio import SpecCodec
from ganstudio.metrics.pitch import pitch_accuracy, pitch_errors
from ganstudio.pipeline import render_notes
from ganstudio.training import train
from ganstudio.training.presets import preset

ROOT = Path(__file__).resolve().parent
RUNS = ROOT / "out" / "audio" / "runs"
RESULTS = ROOT / "results" / "audio.json"
VARIANTS = {"if": 2, "gl": 1}  # data channels


def _results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def _save(key: str, row: dict) -> None:
    res = _results()
    res[key] = row
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    print(json.dumps({key: row}, indent=2))


def cmd_train(args) -> None:
    run = RUNS / args.variant
    if args.minutes is None and args.steps is None:
        raise SystemExit("train: give --minutes and/or --steps")
    budget = {"minutes": args.minutes, "steps": args.steps}
    if runs.find_checkpoint(run) is not None:
        train(resume=run, overrides={**budget, "threads": args.threads}, progress=False)
        return
    cfg = json.loads(json.dumps(preset("gm-notes")))
    cfg["data"] = {"name": "gm-notes"} | ({"channels": 1} if VARIANTS[args.variant] == 1 else {})
    cfg["train"].update({**budget, "threads": args.threads, "seed": 0, "checkpoint_every": 250, "sample_every": 500})
    made = train(cfg, out=RUNS, progress=False)
    made.rename(run)


def _real_test_notes(n: int, seed: int = 0):
    notes = gm_notes.load_notes("test")
    idx = np.random.default_rng(seed).permutation(len(notes.waves))[:n]
    return notes.waves[idx], notes.pitches[idx]


def cmd_ceiling(args) -> None:
    waves, pitches = _real_test_notes(args.n)
    row = {"notes": len(waves), "real": pitch_accuracy(waves, pitches, SAMPLE_RATE)}
    for name, ch in VARIANTS.items():
        codec = SpecCodec(SAMPLE_RATE, N_FFT, HOP, NATIVE_HEIGHT, NATIVE_FRAMES, ch)
        with torch.no_grad():
            back = torch.cat(
                [codec.decode(codec.encode(torch.from_numpy(waves[i : i + 64]))) for i in range(0, len(waves), 64)]
            ).numpy()
        row[f"round_trip_{name}"] = pitch_accuracy(back, pitches, SAMPLE_RATE)
    _save("ceiling", row)


def cmd_eval(args) -> None:
    run = RUNS / args.variant
    pipe = ganstudio.load(run)
    notes = gm_notes.load_notes("test")
    pitches = np.array(sorted(set(notes.pitches.tolist())))  # the held-out instruments' range
    torch.set_num_threads(args.threads)
    all_p, all_w = [], []
    gen_s = 0.0
    for k in range(args.per_pitch):
        z = pipe.latents(1, 1000 + k)[0]  # one latent = one instrument, played over the whole range
        t0 = time.perf_counter()
        w = render_notes(pipe, pitches, z=z)
        gen_s += time.perf_counter() - t0
        all_w.append(w)
        all_p.append(pitches)
    waves, req = np.concatenate(all_w), np.concatenate(all_p)
    err = pitch_errors(waves, req, SAMPLE_RATE)
    audio_s = len(waves) * waves.shape[1] / SAMPLE_RATE
    ck = runs.find_checkpoint(run)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    wall = max((m.get("wall_s", 0) for m in metrics), default=0)
    row = {
        "step": ck.step if ck else None,
        "train_minutes": round(wall / 60, 1),
        "notes": len(waves),
        "pitch_accuracy": float(np.mean(np.abs(np.nan_to_num(err, nan=np.inf)) <= 50)),
        "no_pitch": float(np.mean(np.isnan(err))),
        "median_abs_cents": float(np.nanmedian(np.abs(err))),
        "x_real_time": round(audio_s / gen_s, 1),
        "threads": args.threads,
    }
    _save(f"eval_{args.variant}" + (f"_{args.tag}" if args.tag else ""), row)
    if args.showcase:
        from ganstudio.media_audio import write_wav

        out = ROOT.parent / "docs" / "showcase"
        seq = np.concatenate([np.concatenate([w, np.zeros(SAMPLE_RATE // 5, np.float32)]) for w in all_w[0][::6]])
        write_wav(out / f"gm-notes-{args.variant}.wav", seq, SAMPLE_RATE)


def cmd_table(args) -> None:
    res = _results()
    c = res.get("ceiling", {})
    print("| notes | pitch accuracy (±50 cents) | no pitch | median abs cents | step / train min | x real time |")
    print("|---|---|---|---|---|---|")
    if c:
        print(f"| real held-out notes (ceiling) | {c['real']:.1%} | | | | |")
        for v in VARIANTS:
            print(f"| real notes through the {v.upper()} round trip | {c[f'round_trip_{v}']:.1%} | | | | |")
    for key in sorted(k for k in res if k.startswith("eval_")):
        e = res[key]
        v = key.removeprefix("eval_")
        if e:
            print(
                f"| specgan {v.upper()} | {e['pitch_accuracy']:.1%} | {e['no_pitch']:.1%} | "
                f"{e['median_abs_cents']:.0f} | {e['step']} / {e['train_minutes']} | {e['x_real_time']} |"
            )


def cpu_flags() -> str:
    """The vector and matrix flags worth printing beside a speed (``ganstudio.devices.cpu_flags``)."""
    from ganstudio.devices import cpu_flags as flags

    return " ".join(sorted(f for f in flags() if f.startswith(("avx512", "amx", "avx2"))))


def cmd_speed(args) -> None:
    """Generation speed as a multiple of real time: G alone, G + IF decoding, G + Griffin-Lim decoding (the
    GL variant's decoder, run on the same spectrograms' magnitudes: the same work as a magnitude-only run)."""
    torch.set_num_threads(args.threads)
    pipe = ganstudio.load(args.run)
    codec = pipe.codec
    gl = SpecCodec(codec.sample_rate, codec.n_fft, codec.hop, codec.n_mels, codec.frames, 1)
    audio_s = args.batch * codec.length / codec.sample_rate
    times: dict[str, list[float]] = {"G": [], "IF": [], "GL": []}
    with torch.no_grad():
        for rep in range(args.repeats + 1):  # the first batch warms up and is not counted
            t0 = time.perf_counter()
            spec = pipe(n=args.batch, seed=rep).images
            t1 = time.perf_counter()
            pipe.to_audio(spec)
            t2 = time.perf_counter()
            gl.decode(spec[:, :1] * 2 - 1)
            t3 = time.perf_counter()
            if rep:
                times["G"].append(t1 - t0)
                times["IF"].append(t2 - t1)
                times["GL"].append(t3 - t2)
    row = {"run": str(args.run), "batch": args.batch, "audio_s_per_batch": audio_s, "threads": args.threads}
    for name, parts in (("G+IF", ("G", "IF")), ("G+GL", ("G", "GL")), ("G only", ("G",))):
        per = [sum(times[k][i] for k in parts) for i in range(args.repeats)]
        row[name] = {
            "x_real_time_best": round(audio_s / min(per), 1),
            "x_real_time_median": round(audio_s / float(np.median(per)), 1),
        }
    row["cpu"] = cpu_flags()
    row["time"] = time.strftime("%Y-%m-%d %H:%M")
    _save(f"speed_{Path(args.run).name}_t{args.threads}", row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--variant", choices=VARIANTS, required=True)
    t.add_argument("--minutes", type=float, default=None, help="wall-clock budget of this invocation")
    t.add_argument("--steps", type=int, default=None, help="total steps of the run (equal-step comparisons)")
    t.add_argument("--threads", type=int, default=2)
    c = sub.add_parser("ceiling")
    c.add_argument("--n", type=int, default=500)
    e = sub.add_parser("eval")
    e.add_argument("--variant", choices=VARIANTS, required=True)
    e.add_argument("--per-pitch", type=int, default=8)
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--tag", default="", help="suffix for the result's key (e.g. the step)")
    e.add_argument("--showcase", action="store_true", help="also write docs/showcase/gm-notes-<variant>.wav")
    sp = sub.add_parser("speed")
    sp.add_argument("run")
    sp.add_argument("--batch", type=int, default=49)
    sp.add_argument("--threads", type=int, default=2)
    sp.add_argument("--repeats", type=int, default=5)
    sub.add_parser("table")
    args = ap.parse_args()
    cmds = {"train": cmd_train, "ceiling": cmd_ceiling, "eval": cmd_eval, "speed": cmd_speed, "table": cmd_table}
    cmds[args.cmd](args)


if __name__ == "__main__":
    main()
