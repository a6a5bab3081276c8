"""Benchmark: train the real `classifier` feature extractor on Fashion-MNIST and report its accuracy.

    nice -n 10 .venv/bin/python benchmarks/eval_classifier.py [--data fashion-mnist] [--epochs 5]

Writes benchmarks/results/eval_classifier-<data>.json (accuracy per epoch, seconds) and leaves the
classifier in $GANSTUDIO_CACHE/features/ where `ganstudio evaluate --features classifier` finds it.
Equivalent CLI: `ganstudio features train --data fashion-mnist`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from ganstudio.features.classifier import load_classifier, train_classifier


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--force", action="store_true")
    a = p.parse_args()
    t0 = time.time()
    path = train_classifier(a.data, epochs=a.epochs, threads=a.threads, force=a.force)
    ext = load_classifier(path=path)
    res = {
        "data": a.data,
        "path": str(path),
        "extractor": ext.describe(),
        "history": ext.meta["history"],
        "train_seconds": ext.meta["train_seconds"],
        "wall_seconds_this_call": round(time.time() - t0, 1),
        "threads": a.threads,
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    out = Path(__file__).parent / "results" / f"eval_classifier-{a.data}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("path", "history", "train_seconds")}, indent=2))


if __name__ == "__main__":
    main()
