"""Robustness benchmarks (issue 18): adversarial training, purification under BPDA+EOT, metric fragility.

Run each part under the shared lock, 2 threads, in chunks of at most ~12 minutes:

    flock /tmp/ganstudio-bench.lock nice -n 19 env OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE \
        .venv/bin/python benchmarks/robustness_bench.py train --minutes 11     # repeat until it says done
    ... robustness_bench.py robust-eval            # clean, PGD-20 (+ restarts), Square on the test set
    ... robustness_bench.py purify RUN             # purification by projection onto RUN's G: naive vs BPDA+EOT
    ... robustness_bench.py fragility RUN          # FID/KID under 1/255..4/255 perturbations

Results go to benchmarks/out/robustness-*.json; benchmarks/robustness_README.md holds the table.
Pixels are in [0, 1] everywhere: eps 0.1 is 25.5 / 255.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "out"


def _write(name: str, obj: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"robustness-{name}.json"
    path.write_text(json.dumps(obj, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)


def _cfg(a: argparse.Namespace):
    from ganstudio.robustness.classifier import RobustConfig

    return RobustConfig(epochs=a.epochs, clean_weight=a.clean_weight, hidden=a.hidden)


def cmd_train(a: argparse.Namespace) -> int:
    from ganstudio.robustness.classifier import train_robust

    t0 = time.monotonic()
    out = train_robust(_cfg(a), minutes=a.minutes)
    print("done" if out else "not done yet: run again", out, flush=True)
    if out is not None and a.then_eval and time.monotonic() - t0 < 60 * (a.minutes - 5):
        # enough of this lock slot left: evaluate in it rather than queueing again
        cmd_robust_eval(
            argparse.Namespace(
                epochs=a.epochs, clean_weight=a.clean_weight, hidden=a.hidden, n=None, n_slow=500, square_queries=500
            )
        )
    return 0


def _test(n: int | None):
    from ganstudio.data import DataConfig, load_dataset
    from ganstudio.features.base import to_unit_float

    test = load_dataset(DataConfig(name="fashion-mnist", split="test"))
    assert test.labels is not None
    k = len(test) if n is None else n
    return to_unit_float(test.images[:k]), test.labels[:k]


def cmd_robust_eval(a: argparse.Namespace) -> int:
    from ganstudio.data import DataConfig, load_dataset
    from ganstudio.features.cache import data_hash
    from ganstudio.features.classifier import classifier_data_config
    from ganstudio.robustness.attacks import AttackConfig, accuracy_curve
    from ganstudio.robustness.classifier import load_robust, robust_dir

    cfg = _cfg(a)
    train = load_dataset(classifier_data_config(DataConfig(name="fashion-mnist")))
    path = robust_dir(cfg, data_hash(train.images, train.labels))
    judge, meta = load_robust(path)
    x, y = _test(a.n)
    t0 = time.monotonic()
    res = {"classifier": str(path), "train_seconds": meta["train_seconds"], "config": meta["robust_config"]}
    res["pgd20"] = accuracy_curve(judge, x, y, AttackConfig("pgd-linf", 0.1, 20, seed=1), [0.0, 0.05, 0.1])
    xs, ys = x[: a.n_slow], y[: a.n_slow]
    res["pgd20_restarts5"] = accuracy_curve(judge, xs, ys, AttackConfig("pgd-linf", 0.1, 20, restarts=5, seed=2), [0.1])
    res["fgsm"] = accuracy_curve(judge, xs, ys, AttackConfig("fgsm", 0.1), [0.1])
    res["square"] = accuracy_curve(judge, xs, ys, AttackConfig("square-linf", 0.1, a.square_queries, seed=3), [0.1])
    res["seconds"] = round(time.monotonic() - t0, 1)
    _write("robust-eval" + (f"-w{a.clean_weight:g}-h{a.hidden}" if a.clean_weight or a.hidden != 128 else ""), res)
    print(json.dumps({k: v for k, v in res.items() if k != "config"}, indent=1))
    return 0


def cmd_purify(a: argparse.Namespace) -> int:
    from ganstudio.robustness.attacks import AttackConfig
    from ganstudio.robustness.defences import ProjectionConfig, purification_table, purify_run

    t0 = time.monotonic()
    acfg = AttackConfig("pgd-linf", a.eps, a.steps, seed=0)
    pcfg = ProjectionConfig(steps=a.projection_steps, restarts=a.restarts)
    res = purify_run(a.run, a.judge, a.n, acfg, pcfg, eot=a.eot)
    res["seconds"] = round(time.monotonic() - t0, 1)
    _write(f"purify-{a.judge.replace(':', '-').replace('/', '_')}", res)
    print(purification_table(res))
    return 0


def cmd_fragility(a: argparse.Namespace) -> int:
    from ganstudio.robustness.fragility import fid_fragility, fragility_table, run_pictures

    for spec in a.features.split(","):
        t0 = time.monotonic()
        fake, real, ext = run_pictures(a.run, spec, a.n)
        res = fid_fragility(fake, real, ext, [1 / 255, 2 / 255, 4 / 255], steps=a.steps)
        res["run"], res["seconds"] = a.run, round(time.monotonic() - t0, 1)
        _write(f"fragility-{ext.name}", res)
        print(fragility_table(res))
    return 0


def cmd_attack_table(a: argparse.Namespace) -> int:
    """Accuracy vs eps of the evaluation classifier (the judge behind classifier-FID) under each attack."""
    from ganstudio.robustness.attacks import AttackConfig, accuracy_curve
    from ganstudio.robustness.classifier import load_judge

    judge, desc = load_judge(a.judge, "fashion-mnist")
    x, y = _test(a.n)
    res: dict = {"judge": desc}
    t0 = time.monotonic()
    eps = [0.0, 1 / 255, 2 / 255, 4 / 255, 8 / 255, 0.05, 0.1]
    res["fgsm"] = accuracy_curve(judge, x, y, AttackConfig("fgsm", 0.1), eps)
    res["pgd-linf"] = accuracy_curve(judge, x, y, AttackConfig("pgd-linf", 0.1, 20, seed=1), eps)
    res["pgd-l2"] = accuracy_curve(judge, x, y, AttackConfig("pgd-l2", 1.0, 20, seed=1), [0.0, 0.25, 0.5, 1.0, 2.0])
    res["square-linf"] = accuracy_curve(
        judge, x[: a.n // 2], y[: a.n // 2], AttackConfig("square-linf", 0.1, 300, seed=1), [0.0, 2 / 255, 8 / 255, 0.1]
    )
    res["seconds"] = round(time.monotonic() - t0, 1)
    _write(f"attack-{a.judge.replace(':', '-').replace('/', '_')}", res)
    for k in ("fgsm", "pgd-linf", "pgd-l2", "square-linf"):
        print(k, [(round(r["eps"], 4), round(r["accuracy"], 3), round(r["accuracy_raw"], 3)) for r in res[k]["rows"]])
    return 0


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(2)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--minutes", type=float, default=11.0)
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--clean-weight", type=float, default=0.5)
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--then-eval", action="store_true", help="run robust-eval in the same slot when time is left")
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("robust-eval")
    e.add_argument("--epochs", type=int, default=4)
    e.add_argument("--clean-weight", type=float, default=0.5)
    e.add_argument("--hidden", type=int, default=256)
    e.add_argument("--n", type=int, default=None, help="test pictures for PGD-20 (default: all 10000)")
    e.add_argument("--n-slow", type=int, default=500, help="test pictures for restarts and Square")
    e.add_argument("--square-queries", type=int, default=500)
    e.set_defaults(fn=cmd_robust_eval)
    pu = sub.add_parser("purify")
    pu.add_argument("run")
    pu.add_argument("--judge", default="classifier")
    pu.add_argument("--n", type=int, default=200)
    pu.add_argument("--eps", type=float, default=0.1)
    pu.add_argument("--steps", type=int, default=10)
    pu.add_argument("--eot", type=int, default=2)
    pu.add_argument("--projection-steps", type=int, default=50)
    pu.add_argument("--restarts", type=int, default=2)
    pu.set_defaults(fn=cmd_purify)
    fr = sub.add_parser("fragility")
    fr.add_argument("run")
    fr.add_argument("--features", default="classifier,folder-rcf")
    fr.add_argument("--n", type=int, default=1000)
    fr.add_argument("--steps", type=int, default=5)
    fr.set_defaults(fn=cmd_fragility)
    at = sub.add_parser("attack-table")
    at.add_argument("--judge", default="classifier")
    at.add_argument("--n", type=int, default=1000)
    at.set_defaults(fn=cmd_attack_table)
    a = p.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
