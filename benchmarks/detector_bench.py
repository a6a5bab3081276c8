"""Was it made by a GAN? The provenance detector (``ganstudio.robustness.detector``) against unseen generators.

After Wang et al. (CVPR 2020): a detector is trained on real Fashion-MNIST pictures (train split) against
the pictures of ONE generator (``--train-on``, default the ``dcgan-preset`` run: the fashion-mnist preset),
with Wang's Blur+JPEG (p = 0.5) augmentation, and tested on real pictures of the TEST split against
generators it never saw (other families and a plain DCGAN preset) and the training generator's unseen
seeds, clean and after JPEG 95/75/50, a blur of sigma 1 px and a resize to half and back. Reported per
(detector, generator, perturbation): AP, balanced accuracy at the threshold chosen on validation data, the
same at 0.5 (Wang's), and ECE; the frequency-spectrum baselines (``spectrum-radial``, ``spectrum-fourier``)
beside the CNN.

Runs: folders under ``--runs`` (default benchmarks/out/detector/runs), each a ganstudio run of a few
minutes on Fashion-MNIST (the commands are in benchmarks/detector_README.md). Samples are rounded to uint8
(as saved PNGs) and cached in ``benchmarks/out/detector/samples-<run>-<seed>-<n>.npz``.

    python benchmarks/detector_bench.py train --kinds cnn,spectrum-radial,spectrum-fourier
    python benchmarks/detector_bench.py evaluate
    python benchmarks/detector_bench.py table        # markdown, from benchmarks/out/detector/results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ganstudio.robustness import detector as D

OUT = Path("benchmarks/out/detector")
TRAIN_SEED, TEST_SEED = 0, 1_000_000  # generated pictures: training seeds 0.., test seeds 1e6.. (never seen)


def samples(run: Path, n: int, seed: int) -> torch.Tensor:
    path = OUT / f"samples-{run.name}-{seed}-{n}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            return torch.from_numpy(f["x"])
    x = D.pictures_from(str(run), n, seed=seed)
    np.savez_compressed(path, x=x.numpy())
    return x


def real(n: int, split: str) -> torch.Tensor:
    return D.pictures_from("fashion-mnist", n, seed=0, split=split)


def _say(kind: str):
    return lambda s: print(f"  {kind}: {s}", flush=True)


def training_pictures(runs: Path, train_on: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The real and generated pictures a detector is trained on (several runs: n split evenly; Wang's is one)."""
    names = train_on.split(",")
    return real(n, "train"), torch.cat([samples(runs / name, n // len(names), TRAIN_SEED) for name in names])


def cmd_train(a: argparse.Namespace) -> None:
    r, f = training_pictures(Path(a.runs), a.train_on, a.n)
    for kind in a.kinds.split(","):
        t0 = time.perf_counter()
        cfg = D.DetectorConfig(
            kind=kind,
            epochs=a.epochs,
            width=a.width,
            seed=a.seed,
            blur_sigma_max=a.blur_sigma_max,
            simulate=a.simulate,
            simulate_steps=a.simulate_steps,
            members=a.members if kind == "cnn" else 1,
            threshold_rule=a.threshold_rule,
            input=a.input if kind == "cnn" else "pixels",
        )
        info = {"trained_on": {"real": "fashion-mnist train", "fake": a.train_on, "n": a.n}}
        det = D.train_detector(r, f, cfg, info, progress=_say(kind))
        det.info["train_seconds"] = round(time.perf_counter() - t0, 1)
        folder = OUT / f"det-{kind}{a.tag}"
        det.save(folder)
        print(f"{kind}: {det.info['train_seconds']} s -> {folder}", flush=True)


def cmd_evaluate(a: argparse.Namespace) -> None:
    runs = sorted(p for p in Path(a.runs).iterdir() if (p / "config.json").is_file())
    r = real(a.n, "test")
    fakes = {p.name: samples(p, a.n, TEST_SEED) for p in runs}
    results = {"n": a.n, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}
    results["detectors"] = {}
    for folder in sorted(OUT.glob("det-*")):
        det = D.load_detector(folder)
        t0 = time.perf_counter()
        # the accuracy every threshold rule (and the threshold chosen without the simulated pictures) would give
        val = det.info.get("validation") or {}
        others = dict(val.get("thresholds") or {})
        if "without_simulated" in val:
            others["without-simulated"] = val["without_simulated"]["threshold"]
        rows = D.evaluate(det, r, fakes, thresholds=others)
        print(f"{folder.name}: evaluated in {time.perf_counter() - t0:.1f} s", flush=True)
        results["detectors"][folder.name[4:]] = {
            "trained_on": det.info.get("trained_on"),
            "threshold": det.threshold,
            "temperature": det.temperature,
            "validation": det.info.get("validation"),
            "train_seconds": det.info.get("train_seconds"),
            "simulate": det.config.simulate,
            "simulate_steps": det.config.simulate_steps,
            "members": det.config.members,
            "input": det.config.input,
            "blur_sigma_max": det.config.blur_sigma_max,
            "rows": rows,
        }
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    cmd_table(a)


def cmd_recalibrate(a: argparse.Namespace) -> None:
    """Record the threshold every rule would choose in each detector's validation info (no retraining): the
    validation pictures are rebuilt from the training pictures; the detector's own threshold must come back."""
    for folder in sorted(OUT.glob("det-*")):
        det = D.load_detector(folder)
        trained = det.info["trained_on"]
        r, f = training_pictures(Path(a.runs), trained["fake"], trained["n"])
        new = D.recalibrate(det, r, f)
        if not np.isclose(new.threshold, det.threshold, rtol=0, atol=1e-6):
            raise SystemExit(f"{folder.name}: rebuilt validation gives threshold {new.threshold} != {det.threshold}")
        det.info["validation"]["thresholds"] = new.info["validation"]["thresholds"]
        det.save(folder)
        print(f"{folder.name}: {det.info['validation']['thresholds']}", flush=True)


def cmd_table(a: argparse.Namespace) -> None:
    res = json.loads((OUT / "results.json").read_text())
    for kind, d in res["detectors"].items():
        trained = set(d["trained_on"]["fake"].split(","))
        sim = d.get("simulate") or 0
        print(
            f"\n### {kind} (trained on {d['trained_on']['fake']}{f' + {sim} simulated decoders' if sim else ''}; threshold {d['threshold']:.3f}, T {d['temperature']:.2f})\n"
        )
        rows = d["rows"]
        perts = list(dict.fromkeys(r["perturbation"] for r in rows))
        fakes = list(dict.fromkeys(r["fake"] for r in rows))
        print("| generator | " + " | ".join(perts) + " |")
        print("|---|" + "---|" * len(perts))
        cell = {(r["fake"], r["perturbation"]): r for r in rows}
        for f in fakes:
            name = f + (" (trained on)" if f in trained else "")
            vals = [cell[f, p] for p in perts]
            print(
                f"| {name} | "
                + " | ".join(f"{100 * v['ap']:.1f} / {100 * v['accuracy']:.1f} / {100 * v['ece']:.1f}" for v in vals)
                + " |"
            )
        unseen = [r for r in rows if r["fake"] not in trained]
        print(
            "\n| over the unseen generators | mean AP | worst AP | mean acc (val. threshold) | mean acc at 0.5 | mean ECE |"
        )
        print("|---|---|---|---|---|---|")
        for p in perts:
            u = [r for r in unseen if r["perturbation"] == p]
            mean = {k: 100 * np.mean([r[k] for r in u]) for k in ("ap", "accuracy", "accuracy_at_0.5", "ece")}
            worst = min(u, key=lambda r: r["ap"])
            at = [r.get("accuracy_at") or {} for r in u]
            alt = {k: 100 * np.mean([x[k] for x in at]) for k in at[0] if all(k in x for x in at)}
            note = f" ({', '.join(f'{k}: {v:.1f}' for k, v in alt.items())})" if alt else ""
            print(
                f"| {p} | {mean['ap']:.1f} | {100 * worst['ap']:.1f} ({worst['fake']}) | {mean['accuracy']:.1f}{note} | "
                f"{mean['accuracy_at_0.5']:.1f} | {mean['ece']:.1f} |"
            )


def main() -> None:
    global OUT
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(OUT), help="where detectors, cached samples and results go (pilots: elsewhere)")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--kinds", default="cnn,spectrum-radial,spectrum-fourier")
    t.add_argument("--train-on", default="dcgan-preset", help="run name(s) under --runs, comma-separated")
    t.add_argument("--tag", default="", help="suffix of the detector folders (det-KIND-TAG), e.g. -loo-resnet")
    t.add_argument("--n", type=int, default=10000, help="real and generated pictures each")
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--width", type=int, default=16, help="the CNN's channels after its first conv")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--blur-sigma-max", type=float, default=1.0, help="augmentation blur range in px (default 1)")
    t.add_argument("--simulate", type=int, default=0, help="simulated decoders (AutoGAN artefacts; default 0: off)")
    t.add_argument("--simulate-steps", type=int, default=100, help="fitting steps of each simulated decoder")
    t.add_argument("--members", type=int, default=1, help="CNNs in a deep ensemble (default 1)")
    t.add_argument("--threshold-rule", default="pooled", choices=list(D.THRESHOLD_RULES))
    t.add_argument("--input", default="pixels", choices=list(D.INPUTS), help="what the CNN reads (default pixels)")
    e = sub.add_parser("evaluate")
    e.add_argument("--n", type=int, default=2000, help="real and generated test pictures each")
    c = sub.add_parser("recalibrate", help="record every threshold rule's choice in the detectors (no training)")
    sub.add_parser("table")
    for s in (t, e, c):
        s.add_argument("--runs", default=None, help="the generator runs (default: OUT/runs)")
        s.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    OUT = Path(a.out)
    if getattr(a, "runs", "") is None:
        a.runs = str(OUT / "runs")
    torch.set_num_threads(getattr(a, "threads", 1))
    OUT.mkdir(parents=True, exist_ok=True)
    {"train": cmd_train, "evaluate": cmd_evaluate, "recalibrate": cmd_recalibrate, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
