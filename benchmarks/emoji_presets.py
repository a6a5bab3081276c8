"""Colour pictures per minute: emoji and clip art at 64/128 px on this CPU (issue 14's must-shows).

Not a test: trains real models for minutes each and appends one JSON line per run to
benchmarks/out/colour.jsonl, and a grid of 64 samples per run to benchmarks/out/grids/.

    # preset against preset at equal wall time, 2 seeds each (FID etc. in the emoji-classifier features)
    OMP_WAIT_POLICY=PASSIVE python benchmarks/emoji_presets.py budget --presets emoji-64 folder-64 --minutes 10 --seeds 0 1
    # a variant of a preset (screening): --set as in `ganstudio train --set`
    OMP_WAIT_POLICY=PASSIVE python benchmarks/emoji_presets.py budget --presets emoji-64 --minutes 3 \
        --set train.batch_size=16 --tag b16
    # a run trained with frequent checkpoints, scored at the checkpoints nearest 2 and 10 minutes of wall time
    python benchmarks/emoji_presets.py --threads 1 at /tmp/ganstudio-bench-runs/00001-lightweight-emoji
    # finished runs scored again, with the classes asked in the data's proportions and in turn
    python benchmarks/emoji_presets.py rescore /tmp/ganstudio-bench-runs/00004-lightweight-emoji
    # few-shot: 300 clip-art pictures, D's self-supervised term on and off, 3 seeds x 5 minutes; the two arms
    # of a seed side by side, one core each (what benchmarks/README.md reports)
    for s in 0 1 2; do
      for arm in recon no-recon; do   # or lazy-recon (every 4th D update at 4x the weight), lap1-recon
        OMP_WAIT_POLICY=PASSIVE python benchmarks/emoji_presets.py --threads 1 fewshot --arms $arm --seeds $s &
      done; wait
    done

    # folder-128-small-data against the ResNet it replaced (folder-128-resnet): 300 clip-art pictures as an
    # unsorted folder at 128 px, 10 minutes, the two side by side at one core each, seeds 0 and 1
    python benchmarks/emoji_presets.py folder /tmp/clip300-128 --data clipart --limit 300 --resolution 128
    OMP_WAIT_POLICY=PASSIVE python benchmarks/emoji_presets.py --threads 1 budget --data /tmp/clip300-128 \
        --presets folder-128-small-data --minutes 10 --seeds 0 --n 1000 --tag s24   # & the same for folder-128-resnet

Scores: the evaluation's metrics against the training pictures (``reference="train"``: emoji's held-out
156 glyphs are too few for FID; they are the real row), in the feature space of the classifier trained on
the emoji groups (``ganstudio features train --data emoji``), and for conditional runs the share of
samples the classifier puts in the requested group.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

OUT = Path(__file__).parent / "out"
RUNS = Path("/tmp/ganstudio-bench-runs")


def cpu_flags() -> str:
    """The AVX-512 and AMX flags recorded beside every result (``ganstudio.devices.cpu_flags``)."""
    from ganstudio.devices import cpu_flags as flags

    return " ".join(sorted(f for f in flags() if f.startswith(("avx512", "amx")))) or "no avx512/amx"


def record(row: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    row = {**row, "cpu": cpu_flags(), "threads": torch.get_num_threads(), "time": time.strftime("%Y-%m-%d %H:%M")}
    with open(OUT / "colour.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


KEYS = (
    "fid", "kid", "precision", "recall", "coverage", "density", "class_accuracy", "class_accuracy_min", "copy_fraction",
)  # fmt: skip


def score(run, checkpoint: str | int, n: int, grid: Path, class_mix: str = "data") -> dict:
    """The metrics (``KEYS``) of one checkpoint in the emoji features against the training pictures, and a grid
    of 64 samples (column k = class k for conditional runs) written to ``grid``. A conditional run is asked for
    its classes in the training pictures' proportions (``class_mix`` "data"; "uniform" was the only way before
    session 9, and every conditional row recorded before then was scored so)."""
    from ganstudio import load
    from ganstudio.evaluation import evaluate
    from ganstudio.media import save_grid

    res = evaluate(
        run, checkpoint=checkpoint, n=n, features="emoji", reference="train", log=lambda m: None, class_mix=class_mix
    )
    g = res["rows"]["generated"]
    grid.parent.mkdir(parents=True, exist_ok=True)
    save_grid(load(run, checkpoint=checkpoint)(n=64, seed=1234).images, grid, nrow=8)
    return {
        "step": res["step"],
        **{k: (round(g[k], 5) if isinstance(g.get(k), float) else g.get(k)) for k in KEYS if k in g},
        "real_row_fid": round(res["rows"]["real"]["fid"], 3),
        "extractor": res["extractor_label"],
        "class_mix": res.get("class_mix"),
        "grid": str(grid),
    }


def train_and_score(
    preset: str, data: str, minutes: float, seed: int, sets: list[str], tag: str, n: int, limit: int | None = None
) -> dict:
    from ganstudio import runs
    from ganstudio.training import train
    from ganstudio.training.options import build_run_config

    cfg = build_run_config(
        data=data,
        preset=preset,
        limit=limit,
        train={"minutes": minutes, "threads": torch.get_num_threads(), "seed": seed},
        sets=sets,
    )
    t0 = time.monotonic()
    run = train(cfg, out=RUNS, progress=False)
    wall = time.monotonic() - t0
    metrics = runs.read_metrics(run)
    grid = OUT / "grids" / f"{data.replace('/', '_')}-{preset}-{tag or 'base'}-{minutes:g}min-seed{seed}.png"
    scores = score(run, "latest", n, grid)
    return {
        "preset": preset,
        "tag": tag,
        "data": data,
        "limit": limit,
        "sets": sets,
        "seed": seed,
        "minutes": minutes,
        "wall_s": round(wall),
        "images_seen": scores["step"] * cfg.train.batch_size,
        "images_per_s": round(scores["step"] * cfg.train.batch_size / wall, 1),
        **scores,
        "last_log": metrics[-1] if metrics else None,
        "run": str(run),
    }


def cmd_budget(a) -> None:
    for seed in a.seeds:
        for preset in a.presets:
            record({"bench": "budget", **train_and_score(preset, a.data, a.minutes, seed, a.set, a.tag, a.n)})


# The few-shot arms: --set overrides of the preset. lazy-recon: the decoders on every 4th D update at 4x the
# weight (the term at about a quarter of its cost). lap1-recon: the reconstructions compared band by band in a
# Laplacian pyramid instead of by pixel MSE (edges weigh as much as colours; FastGAN compares with LPIPS).
FEWSHOT_ARMS = {
    "recon": [],
    "no-recon": ["model_config.recon_weight=0"],
    "lazy-recon": ["model_config.recon_every=4"],
    "lap1-recon": ["model_config.recon_loss=lap1"],
    # the term's weight (only 1 and 0 were compared before session 18; FastGAN weighs an LPIPS sum at 1)
    "recon-w3": ["model_config.recon_weight=3"],
    "recon-w0.3": ["model_config.recon_weight=0.3"],
}


def cmd_fewshot(a) -> None:
    """300 clip-art pictures: the same preset with and without D's self-supervised reconstruction term."""
    for seed in a.seeds:
        for arm, sets in ((arm, FEWSHOT_ARMS[arm]) for arm in a.arms):
            tag = f"{arm}-{a.tag}" if a.tag else arm  # a variant of every arm (--set ... --tag T) keeps its own name
            row = train_and_score(a.preset, "clipart", a.minutes, seed, sets + a.set, tag, a.n, limit=a.images)
            record({"bench": "fewshot", "arm": arm, "images": a.images, **row})


def cmd_at(a) -> None:
    """Score a run (trained with frequent checkpoints) at the checkpoints nearest some wall-clock times: the
    30-minute run cut at 2 and 10 minutes is a 2- and a 10-minute run of the same config and seed."""
    from ganstudio import runs

    wall = {r["step"]: r["wall_s"] for r in runs.read_metrics(a.run) if "wall_s" in r}
    steps = [int(c.name) for c in runs.list_checkpoints(a.run) if int(c.name) in wall]
    for target in a.seconds:
        step = min(steps, key=lambda s: abs(wall[s] - target))
        grid = OUT / "grids" / f"{Path(a.run).name}-at-{int(target)}s.png"
        scores = score(a.run, step, a.n, grid)
        record({"bench": "budget-from-run", "run": str(a.run), "target_s": target, "wall_s": wall[step], **scores})


def cmd_rescore(a) -> None:
    """Score finished runs again (another class mix, or after a change to the evaluation)."""
    for run in a.runs:
        for mix in a.class_mix:
            grid = OUT / "grids" / f"{Path(run).name}-{a.checkpoint}-{mix}.png"
            scores = score(run, a.checkpoint, a.n, grid, class_mix=mix)
            record({"bench": "rescore", "run": str(run), "checkpoint": a.checkpoint, **scores})


def cmd_folder(a) -> None:
    """An artist's unsorted folder made from a named source: its first ``--limit`` pictures (the loader's seeded
    subset), at ``--resolution``, written as numbered PNGs with no sub-folders, so a folder preset sees no labels
    (what ``data.clusters`` is for)."""
    from PIL import Image

    from ganstudio.config.data import DataConfig
    from ganstudio.data import load_dataset

    ds = load_dataset(DataConfig(name=a.data, resolution=a.resolution, limit=a.limit))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, picture in enumerate(ds.images):  # uint8 (C, H, W)
        # --labelled: one sub-folder per class, so the folder loader gives the source's labels back (the GPU
        # few-shot study trains on these 300 pictures on a machine without Debian's clip art)
        where = out / ds.class_names[int(ds.labels[i])] if a.labelled and ds.labels is not None else out
        where.mkdir(exist_ok=True)
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(where / f"{i:04d}.png")
    print(f"{len(ds)} pictures of {a.data} at {a.resolution} px -> {out}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("budget")
    b.add_argument("--presets", nargs="+", default=["emoji-64", "folder-64"])
    b.add_argument("--data", default="emoji")
    b.add_argument("--minutes", type=float, default=10)
    b.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    b.add_argument("--n", type=int, default=2000)
    f = sub.add_parser("fewshot")
    f.add_argument("--preset", default="emoji-64")
    f.add_argument("--images", type=int, default=300)
    f.add_argument("--minutes", type=float, default=5)
    f.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    f.add_argument("--n", type=int, default=1000)
    f.add_argument(
        "--arms",
        nargs="+",
        choices=list(FEWSHOT_ARMS),
        default=["recon", "no-recon"],
        help="one arm per process runs the two side by side (--threads 1 each: equal conditions, paired by seed)",
    )
    for q in (b, f):
        q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        q.add_argument("--tag", default="", help="a name for this variant in the results")
    t = sub.add_parser("at")
    t.add_argument("run")
    t.add_argument("--seconds", type=float, nargs="+", default=[120, 600])
    t.add_argument("--n", type=int, default=2000)
    r = sub.add_parser("rescore")
    r.add_argument("runs", nargs="+")
    r.add_argument("--checkpoint", default="latest")
    r.add_argument("--class-mix", nargs="+", default=["data", "uniform"], choices=["data", "uniform"])
    r.add_argument("--n", type=int, default=2000)
    m = sub.add_parser("folder", help="write an unsorted folder of a source's pictures (the 128 px benchmark's data)")
    m.add_argument("out")
    m.add_argument("--data", default="clipart")
    m.add_argument("--limit", type=int, default=300)
    m.add_argument("--resolution", type=int, default=128)
    m.add_argument("--labelled", action="store_true", help="one sub-folder per class (the source's labels)")
    a = p.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch.set_num_threads(a.threads)
    {"budget": cmd_budget, "fewshot": cmd_fewshot, "at": cmd_at, "rescore": cmd_rescore, "folder": cmd_folder}[a.cmd](a)


if __name__ == "__main__":
    main()
