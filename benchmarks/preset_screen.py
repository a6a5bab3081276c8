"""Screen variations of a preset: train each for a short budget, score it, one JSON line per variant.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/preset_screen.py NAME MINUTES 'OVERRIDES_JSON' [N_EVAL]
    python benchmarks/preset_screen.py ci-ns-lr5-b32 1.5 \\
        '{"train": {"lr_g": 5e-4, "lr_d": 5e-4, "batch_size": 32}, "model_config": {"class_input": true}}'

OVERRIDES_JSON is merged into the preset named by its "_base" key (default "fashion-mnist"), the way
``--set`` merges into a preset. Scores: classifier-FID on N_EVAL samples (default 2,000), coverage,
and for conditional models the class accuracy on 100 samples per class. Appends to
benchmarks/out/screen.jsonl. How the fashion-mnist preset was chosen with it: benchmarks/README.md.
"""

from __future__ import annotations

import json
import sys
import time

import torch
from quality_presets import OUT, RUNS, class_accuracy


def main() -> None:
    from ganstudio.config import RunConfig
    from ganstudio.evaluation import evaluate
    from ganstudio.training import train
    from ganstudio.training.options import _merge
    from ganstudio.training.presets import PRESETS

    name, minutes, over = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    torch.set_num_threads(2)
    d = _merge(PRESETS[over.pop("_base", "fashion-mnist")], over)
    d["data"] = {**d.get("data", {}), "name": "fashion-mnist"}
    d["train"] = {**d["train"], "minutes": minutes, "threads": 2}
    cfg = RunConfig.from_dict(d)
    t0 = time.monotonic()
    run = train(cfg, out=RUNS, progress=False)
    row = {"name": name, "minutes": minutes, "wall_s": round(time.monotonic() - t0), "overrides": sys.argv[3]}
    res = evaluate(run, n=n, features="classifier", log=lambda m: None)
    g = res["rows"]["generated"]
    row.update(
        step=res["step"],
        fid=round(g["fid"], 1),
        coverage=g["coverage"],
        precision=g["precision"],
        recall=g["recall"],
        classes=g["classes_covered"],
        run=str(run),
    )
    if cfg.conditional:
        row["class_accuracy"] = round(class_accuracy(run, per_class=100), 3)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "screen.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
