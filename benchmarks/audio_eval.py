"""Audio quality and diversity in our own sound classifiers' features (issue 16).

  classifiers [--data gm-notes spoken-digits] [--epochs E] [--force]
        train (or find cached) the log-mel CNN of each dataset (`ganstudio features train --data X`): gm-notes'
        instrument families (accuracy on the 14 held-out instruments), spoken-digits' digits (accuracy on the
        held-out voices); writes benchmarks/out/audio_eval/classifiers.json
  evaluate RUN [RUN ...] --features gm-notes|spoken-digits|sound:PATH [--n N] [--seed S]
        `ganstudio evaluate RUN --features ...` for each run: FID, KID, precision/recall, density/coverage,
        the inception score (cls score) of the generated and of the real held-out sounds and their ratio, and
        the run's decoder (IF or Griffin-Lim); writes benchmarks/out/audio_eval/<run>-<features>.json and
        appends a line to benchmarks/out/audio_eval/table.md
  smoke
        everything above on tiny settings (tones written as a WAV folder, a 1-epoch classifier, two 2-step
        specgan runs, IF and Griffin-Lim, 12 samples) in a temporary cache: checks the script, measures nothing

Run the training and the long evaluations under the shared lock, e.g.
  flock /tmp/ganstudio-bench.lock nice -n 19 env OMP_NUM_THREADS=2 .venv/bin/python benchmarks/audio_eval.py classifiers
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out" / "audio_eval"


def _write(name: str, obj: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(obj, indent=2) + "\n")
    return path


def classifiers(data: list[str], epochs: int | None, force: bool) -> dict:
    from ganstudio.features.sound import load_sound_classifier, train_sound_classifier

    out = {}
    for name in data:
        t0 = time.monotonic()
        path = train_sound_classifier(name, epochs=epochs, force=force)
        ext = load_sound_classifier(path=path)
        m = ext.meta
        out[name] = {
            "extractor": ext.label,
            "path": str(path),
            "classes": list(ext.class_names),
            "accuracy": m["accuracy"],
            "accuracy_split": m["accuracy_split"],
            "chance": m["chance"],
            "n_train": m["n_train"],
            "n_val": m["n_val"],
            "epochs": m["epochs"],
            "train_seconds": m["train_seconds"],
            "wall_seconds": round(time.monotonic() - t0, 1),
        }
        print(f"{name}: {100 * m['accuracy']:.2f} % on {m['accuracy_split']} (chance {100 * m['chance']:.1f} %)")
    print(f"written: {_write('classifiers.json', out)}")
    return out


def table_line(res: dict) -> str:
    g, r = res["rows"]["generated"], res["rows"]["real"]
    cells = [
        Path(res["run"]).name,
        str(res["step"]),
        res["decoder"].split(" (")[0],
        res["extractor_label"],
        str(res["n"]),
        f"{g['fid']:.3f} (real {r['fid']:.3f})",
        f"{g['kid']:.4f}",
        f"{g['precision']:.3f}",
        f"{g['recall']:.3f}",
        f"{g['coverage']:.3f}",
        f"{g['classifier_score']:.3f}",
        f"{r['classifier_score']:.3f}",
        f"{100 * res['is_share']:.1f} %" if res.get("is_share") is not None else "-",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| run | step | decoder | features | n | FID | KID | precision | recall | coverage | IS | IS real | IS share |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def evaluate_runs(run_dirs: list[str], features: str, n: int, seed: int, out: Path = OUT) -> list[dict]:
    from ganstudio.evaluation import evaluate, format_table

    results = []
    out.mkdir(parents=True, exist_ok=True)
    table = out / "table.md"
    if not table.exists():
        table.write_text(HEADER + "\n")
    for run in run_dirs:
        res = evaluate(run, n=n, features=features, seed=seed)
        print(format_table(res))
        tag = features.split(":")[0]
        (out / f"{Path(run).name}-{tag}.json").write_text(json.dumps(res, indent=2) + "\n")
        with table.open("a") as f:
            f.write(table_line(res) + "\n")
        results.append(res)
    print(f"written: {table}")
    return results


def smoke() -> None:
    """Tiny settings in a temporary cache; output under benchmarks/out/audio_eval/smoke/."""
    from ganstudio.config import RunConfig
    from ganstudio.features.sound import train_sound_classifier
    from ganstudio.media_audio import write_wav
    from ganstudio.training import train

    with tempfile.TemporaryDirectory(prefix="audio-eval-smoke-") as tmp:
        os.environ["GANSTUDIO_CACHE"] = str(Path(tmp) / "cache")
        root = Path(tmp) / "tones"
        t = np.arange(4000) / 16000
        for name, f in (("low", 220.0), ("high", 880.0)):
            (root / name).mkdir(parents=True)
            for i in range(8):
                write_wav(root / name / f"{i}.wav", 0.5 * np.sin(2 * np.pi * f * (1 + i / 200) * t), 16000)
        path = train_sound_classifier(str(root), epochs=1, widths=(8,))
        runs = []
        for channels in (None, 1):
            cfg = RunConfig.from_dict(
                {
                    "model": "specgan",
                    "conditional": True,
                    "data": {"name": str(root), "labels": True, "height": 32, "resolution": 16, "channels": channels},
                    "model_config": {"g_channels": 8, "d_channels": 8},
                    "train": {"steps": 2, "batch_size": 4, "threads": 1, "seed": 0, "checkpoint_every": 2},
                }
            )
            runs.append(str(train(cfg, out=Path(tmp) / "runs", progress=False)))
        res = evaluate_runs(runs, f"sound:{path}", 12, 0, out=OUT / "smoke")
        assert [r["decoder"].split(" ")[0] for r in res] == ["instantaneous", "Griffin-Lim"]
        print("smoke: ok")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("classifiers")
    c.add_argument("--data", nargs="+", default=["gm-notes", "spoken-digits"])
    c.add_argument("--epochs", type=int, default=None)
    c.add_argument("--force", action="store_true")
    e = sub.add_parser("evaluate")
    e.add_argument("runs", nargs="+")
    e.add_argument("--features", required=True)
    e.add_argument("--n", type=int, default=2000)
    e.add_argument("--seed", type=int, default=0)
    sub.add_parser("smoke")
    a = p.parse_args(argv)
    if a.cmd == "classifiers":
        classifiers(a.data, a.epochs, a.force)
    elif a.cmd == "evaluate":
        evaluate_runs(a.runs, a.features, a.n, a.seed)
    else:
        smoke()
    return 0


if __name__ == "__main__":
    sys.exit(main())
