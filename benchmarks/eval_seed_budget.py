"""Benchmark: the seed MLP on Fashion-MNIST at equal wall-clock budgets, evaluated.

    # 1, 3, 10 min, one after another:
    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/eval_seed_budget.py train
    # n=10000, classifier + folder-rcf:
    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/eval_seed_budget.py eval

`train` runs `ganstudio train --data fashion-mnist --minutes M --out /tmp/bench-runs` for each budget
sequentially (never in parallel: the machine is shared) and records the run folders in
benchmarks/results/eval_seed_budget.json; `eval` evaluates the latest checkpoint of each with every
extractor given (--features) and appends the numbers, with the real-vs-real reference row, to the
same file and a markdown table to benchmarks/results/eval_seed_budget.md. Results are written after
each run, so a partial benchmark still leaves its numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "eval_seed_budget.json"


def _load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": {}, "evals": []}


def _save(d: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(d, indent=2) + "\n")
    os.replace(tmp, RESULTS)


def stage_train(minutes: list[float], out: str) -> None:
    d = _load()
    for m in minutes:
        t0 = time.time()
        cmd = [
            sys.executable,
            "-m",
            "ganstudio",
            "train",
            "--data",
            "fashion-mnist",
            "--minutes",
            str(m),
            "--out",
            out,
            "--quiet",
        ]
        print("$", " ".join(cmd[1:]), flush=True)
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            print(res.stderr, flush=True)
            raise SystemExit(res.returncode)
        run = next(line.split(":", 1)[1].strip() for line in res.stdout.splitlines() if line.startswith("run folder:"))
        rows = [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines() if x.strip()]
        last = [r for r in rows if "d_loss" in r][-1]
        d["runs"][str(m)] = {
            "run": run,
            "minutes": m,
            "steps": last["step"],
            "epoch": last["epoch"],
            "wall_s": last["wall_s"],
            "images_per_s_last": last["images_per_s"],
            "process_seconds": round(time.time() - t0, 1),
            "load_average": os.getloadavg(),
        }
        _save(d)
        print(json.dumps(d["runs"][str(m)]), flush=True)


def stage_eval(features: list[str], n: int) -> None:
    from ganstudio.evaluation import evaluate, format_table

    d = _load()
    for _, info in sorted(d["runs"].items(), key=lambda kv: float(kv[0])):
        for feat in features:
            if any(e["minutes"] == info["minutes"] and e["features"] == feat and e["n"] == n for e in d["evals"]):
                continue
            t0 = time.time()
            res = evaluate(info["run"], n=n, features=feat)
            print(format_table(res), flush=True)
            d["evals"].append(
                {
                    "minutes": info["minutes"],
                    "features": feat,
                    "n": n,
                    "step": res["step"],
                    "extractor": res["extractor_label"],
                    "extractor_info": res["extractor"],
                    "reference": res["data"]["reference"],
                    "real_row": res["data"]["real_row"],
                    "generated": res["rows"]["generated"],
                    "real": res["rows"]["real"],
                    "seconds": round(time.time() - t0, 1),
                }
            )
            _save(d)
            write_markdown(d)


def write_markdown(d: dict) -> None:
    cols = [
        "fid",
        "kid",
        "precision",
        "recall",
        "density",
        "coverage",
        "classifier_score",
        "classes_covered",
        "copy_fraction",
        "nn_ratio_median",
    ]
    lines = []
    for feat in sorted({e["extractor"] for e in d["evals"]}):
        evs = sorted((e for e in d["evals"] if e["extractor"] == feat), key=lambda e: e["minutes"])
        lines += [
            f"features **{feat}**, n = {evs[0]['n']}, reference: {evs[0]['reference']}",
            "",
            "| budget | steps | " + " | ".join(cols) + " |",
            "|" + "---|" * (len(cols) + 2),
        ]

        def fmt(r: dict, k: str) -> str:
            v = r.get(k)
            if v is None:
                return "-"
            if k == "kid":
                return f"{v:.4f} ± {r['kid_std']:.4f}"
            if k == "classes_covered":
                return f"{v}/{r['num_classes']}"
            if k == "copy_fraction":
                return f"{100 * v:.2f} %"
            return f"{v:.3f}"

        for e in evs:
            cells = " | ".join(fmt(e["generated"], k) for k in cols)
            lines.append(f"| {e['minutes']:g} min | {e['step']} | {cells} |")
        lines.append("| real test vs train | - | " + " | ".join(fmt(evs[-1]["real"], k) for k in cols) + " |")
        lines.append("")
    (RESULTS.with_suffix(".md")).write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=("train", "eval", "table"))
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 3, 10])
    p.add_argument("--out", default="/tmp/bench-runs")
    p.add_argument("--features", nargs="+", default=["classifier", "folder-rcf"])
    p.add_argument("--n", type=int, default=10_000)
    a = p.parse_args()
    if a.stage == "train":
        stage_train(a.minutes, a.out)
    elif a.stage == "eval":
        stage_eval(a.features, a.n)
    else:
        write_markdown(_load())


if __name__ == "__main__":
    main()
