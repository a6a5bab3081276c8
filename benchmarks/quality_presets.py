"""Quality per minute: the seed MLP vs the best preset, small data with/without ADA, a colour folder.

Not a test: trains real models for minutes each and appends results to benchmarks/out/quality.jsonl.

    python benchmarks/quality_presets.py budgets --minutes 3 10     # seed vs fashion-mnist preset (FID etc.)
    python benchmarks/quality_presets.py ada                          # p on a 500-image subset vs all 60,000
    python benchmarks/quality_presets.py smalldata --seeds 0 1 2      # 500 images, with / without augmentation
    python benchmarks/quality_presets.py --threads 1 smalldata --arms none ada --steps 8000 --fid-every 2000 \
        --set model_config.spectral_norm=false --set model_config.d_channels=64   # a D that overfits: ADA pays
    python benchmarks/quality_presets.py folder --minutes 5           # crops of scikit-image photos at 64 px
    python benchmarks/quality_presets.py --threads 1 folder --minutes 5 --preset folder-64-dcgan   # the old preset

Needs the classifier (`ganstudio features train --data fashion-mnist`) for classifier-FID.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch

OUT = Path(__file__).parent / "out"
RUNS = Path("/tmp/ganstudio-bench-runs")
THREADS = 2  # --threads: 1 lets two --steps benchmarks share this 2-core machine


def record(row: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    row = {
        **row,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "time": time.strftime("%Y-%m-%d %H:%M"),
    }
    with open(OUT / "quality.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def budget(a) -> dict:
    """--steps N (load-independent: results do not depend on what else runs) or --minutes M."""
    return {"steps": a.steps} if getattr(a, "steps", None) else {"minutes": a.minutes}


def train_run(
    preset: str,
    data: str,
    minutes: float | None = None,
    limit: int | None = None,
    sets: list[str] | None = None,
    **train,
) -> Path:
    from ganstudio.training import train as do_train
    from ganstudio.training.options import build_run_config

    stop = {"minutes": minutes} if minutes else {}
    cfg = build_run_config(
        data=data, preset=preset, limit=limit, train={**stop, "threads": THREADS, **train}, sets=sets
    )
    t0, c0 = time.monotonic(), time.process_time()
    run = do_train(cfg, out=RUNS, progress=False)
    return run, time.monotonic() - t0, time.process_time() - c0


def evaluate(run: Path, n: int = 5000, features: str = "classifier", checkpoint: str | int = "latest") -> dict:
    from ganstudio.evaluation import evaluate as ev

    return ev(run, checkpoint=checkpoint, n=n, features=features, log=lambda m: None)


def class_accuracy(run: Path, per_class: int = 200) -> float:
    """Classifier accuracy on samples generated for each requested class (``evaluation.core.class_accuracy``:
    class k from latent seeds 10,000 k on, judged by the classifier trained on the run's data)."""
    import ganstudio
    from ganstudio.evaluation.core import class_accuracy as requested_accuracy
    from ganstudio.features.classifier import load_classifier

    pipe = ganstudio.load(run)
    return requested_accuracy(pipe, load_classifier(pipe.config.data), per_class=per_class)["class_accuracy"]


def cmd_budgets(a) -> None:
    for minutes in a.minutes:
        for preset in a.presets:
            run, wall, cpu = train_run(preset, "fashion-mnist", minutes)
            res = evaluate(run, n=a.n)
            row = {
                "bench": "budget",
                "preset": preset,
                "minutes": minutes,
                "run": str(run),
                "wall_s": round(wall),
                "cpu_s": round(cpu),
                "step": res["step"],
                "rows": res["rows"],
                "extractor": res["extractor_label"],
                "copy_fraction": res["originality"]["generated"].get("copy_fraction"),
            }
            cfg = json.loads((run / "config.json").read_text())
            if cfg.get("conditional"):
                row["class_accuracy"] = round(class_accuracy(run), 4)
            record(row)


def p_trajectory(run: Path) -> list[tuple[int, float]]:
    """ADA's p at 10, 25, 50, 75 and 100 % of the run (empty when ADA was off)."""
    from ganstudio import runs

    rows = [r for r in runs.read_metrics(run) if "ada_p" in r]
    return (
        [
            (rows[i]["step"], round(rows[i]["ada_p"], 3))
            for i in sorted({int(q * (len(rows) - 1)) for q in (0.1, 0.25, 0.5, 0.75, 1.0)})
        ]
        if rows
        else []
    )


def cmd_ada(a) -> None:
    from ganstudio import runs

    for limit in [n if n < 60000 else None for n in a.images]:
        run, wall, _ = train_run(
            "fashion-mnist",
            "fashion-mnist",
            limit=limit,
            augment=["color", "translation", "cutout"],
            ada=True,
            ada_speed_images=a.speed,
            sets=a.set,
            **budget(a),
        )
        ck = runs.find_checkpoint(run)
        p = float(ck.tensors("train_state")["augment.p"])
        trajectory = p_trajectory(run)
        record(
            {
                "bench": "ada",
                "images": limit or 60000,
                **budget(a),
                "sets": a.set,
                "ada_speed_images": a.speed,
                "step": ck.step,
                "wall_s": round(wall),
                "final_p": round(p, 4),
                "p_trajectory": trajectory,
                "run": str(run),
            }
        )


ARMS = {
    "none": {},
    "p=1": {"augment": ["color", "translation", "cutout"]},  # DiffAugment's always-on recipe
    "ada": {"augment": ["color", "translation", "cutout"], "ada": True},
}  # StyleGAN2-ADA's adaptive p


def cmd_smalldata(a) -> None:
    """500 images, each augmentation arm x each seed; with --fid-every K also FID at every K-th step's checkpoint
    (the overfitting curve: without augmentation a D that memorises the images makes FID rise again)."""
    from ganstudio import runs

    every = {"checkpoint_every": a.fid_every, "keep_checkpoints": 1000} if a.fid_every else {}
    for seed in a.seeds:
        for arm in a.arms:
            run, wall, _ = train_run(
                "fashion-mnist",
                "fashion-mnist",
                limit=a.images,
                sets=a.set,
                seed=seed,
                **budget(a),
                **every,
                **ARMS[arm],
            )
            res = evaluate(run, n=a.n)
            row = {
                "bench": "smalldata",
                "images": a.images,
                "seed": seed,
                "augment": arm,
                **budget(a),
                "sets": a.set,
                "wall_s": round(wall),
                "run": str(run),
                "step": res["step"],
                "rows": res["rows"],
                "extractor": res["extractor_label"],
            }
            metrics = runs.read_metrics(run)
            if metrics:
                row["d_real_end"] = metrics[-1]["d_real"]
                row["p_trajectory"] = p_trajectory(run)
            if a.fid_every:  # FID of every kept checkpoint, oldest first (the last one is ``res``, scored above)
                fid = {res["step"]: res["rows"]["generated"]["fid"]}
                for step in (int(c.name) for c in runs.list_checkpoints(run)):
                    if step not in fid:
                        fid[step] = evaluate(run, n=a.n, checkpoint=step)["rows"]["generated"]["fid"]
                row["fid_curve"] = [(step, round(f, 2)) for step, f in sorted(fid.items())]
            record(row)


def cmd_folder(a) -> None:
    """Random 64 px crops of scikit-image's sample photographs, written as a folder of PNGs."""
    from photo_crops import make_crops

    folder = make_crops(Path("/tmp/ganstudio-photos"), size=64, per_image=100)
    stop = budget(a)
    run, wall, cpu = train_run(a.preset, str(folder), sets=a.set, **stop)
    res = evaluate(run, n=a.n, features="auto")
    record(
        {
            "bench": "folder",
            "preset": a.preset,
            **stop,
            "sets": a.set,
            "run": str(run),
            "wall_s": round(wall),
            "cpu_s": round(cpu),
            "step": res["step"],
            "rows": res["rows"],
            "extractor": res["extractor_label"],
            "images": len(list(folder.glob("*.png"))),
        }
    )


def main() -> None:
    global THREADS
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2, help="torch threads per run (1: two benchmarks side by side)")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("budgets")
    b.add_argument("--minutes", type=float, nargs="+", default=[3, 10])
    b.add_argument("--presets", nargs="+", default=["seed", "fashion-mnist"])
    b.add_argument("--n", type=int, default=5000)
    d = sub.add_parser("ada")
    d.add_argument("--minutes", type=float, default=3)
    d.add_argument("--steps", type=int, default=None, help="instead of --minutes")
    d.add_argument("--speed", type=int, default=100_000, help="ada_speed_images: images for p to travel 0 -> 1")
    d.add_argument("--images", type=int, nargs="+", default=[500, 60000], help="subset sizes (60000 = all)")
    s = sub.add_parser("smalldata")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    s.add_argument("--minutes", type=float, default=2)
    s.add_argument("--steps", type=int, default=None, help="instead of --minutes")
    s.add_argument("--n", type=int, default=2000)
    s.add_argument(
        "--arms",
        nargs="+",
        choices=list(ARMS),
        default=["none", "p=1"],
        help="augmentation arms: none, p=1 (always-on DiffAugment), ada (adaptive p)",
    )
    s.add_argument("--images", type=int, default=500)
    s.add_argument("--fid-every", type=int, default=0, help="also FID at every K-th step's checkpoint")
    f = sub.add_parser("folder")
    f.add_argument("--minutes", type=float, default=5)
    f.add_argument("--steps", type=int, default=None, help="instead of --minutes")
    f.add_argument("--n", type=int, default=1000)
    f.add_argument("--preset", default="folder-64", help="folder-64, or folder-64-dcgan (folder-64 until session 23)")
    for q in (d, s, f):
        q.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="config override on top of the preset, as in `ganstudio train --set`",
        )
    a = p.parse_args()
    THREADS = a.threads
    torch.set_num_threads(a.threads)
    {"budgets": cmd_budgets, "ada": cmd_ada, "smalldata": cmd_smalldata, "folder": cmd_folder}[a.cmd](a)


if __name__ == "__main__":
    main()
