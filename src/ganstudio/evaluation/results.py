"""Evaluation results on disk: ``RUN_DIR/eval/<step:09d>.json``, written atomically and read back.

Evaluations of the same step with other settings (extractor, reference, n, seed) are kept in the
file under ``previous``; ``read_evals`` returns all of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import runs


def result_key(res: dict) -> tuple:
    """What makes two evaluations of one step different evaluations."""
    return (res["extractor"]["name"], res["extractor"]["id"], res["reference"], res["n"], res["seed"])


def write_result(run_dir: Path, res: dict) -> Path:
    """Write ``eval/<step>.json`` atomically, keeping other evaluations of the step under ``previous``."""
    path = Path(run_dir) / "eval" / f"{res['step']:09d}.json"
    previous: list[dict] = []
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            previous = [
                p
                for p in [{k: v for k, v in old.items() if k != "previous"}, *old.get("previous", [])]
                if "extractor" in p and result_key(p) != result_key(res)
            ]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            previous = []
    runs.atomic_write_json(path, {**res, "previous": previous})
    return path


def read_evals(run_dir: str | Path) -> list[dict]:
    """Every evaluation stored in ``eval/*.json`` (latest and previous ones), sorted by step."""
    out = []
    for p in sorted((Path(run_dir) / "eval").glob("*.json")):
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        for r in [d, *d.get("previous", [])]:
            # an evaluation (not e.g. a fragility-*.json that `ganstudio robustness fragility` writes here)
            if isinstance(r.get("rows"), dict) and "extractor" in r and "step" in r:
                out.append({k: v for k, v in r.items() if k != "previous"})
    return sorted(out, key=lambda r: r["step"])
