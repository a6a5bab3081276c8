"""CLI: ``ganstudio robustness attack|train-robust|fragility|purify|report`` (``ganstudio.robustness``).

Argument parsing, then one library call; each writes a JSON result and a markdown table beside it
and prints the table (results about a run go to ``RUN/robustness/`` or ``RUN/eval/`` by default, where
``report`` gathers them into one HTML page). Pixels are in [0, 1] everywhere: eps 0.1 is 25.5 / 255; eps may be written as
a fraction (``1/255``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..argtypes import positive_float, positive_int


def eps_list(s: str) -> list[float]:
    """``"0,1/255,0.1"`` -> [0.0, 0.0039..., 0.1]; argparse turns the ValueError into one line."""
    out = []
    for part in s.split(","):
        num, sep, den = part.strip().partition("/")
        try:
            v = float(num) / float(den) if sep else float(num)
        except (ValueError, ZeroDivisionError):
            raise argparse.ArgumentTypeError(f"{part!r} is not a number or fraction (e.g. 0.1 or 2/255)") from None
        if not 0 <= v <= 1:
            raise argparse.ArgumentTypeError(f"eps {part!r} is outside [0, 1] (pixels in [0, 1])")
        out.append(v)
    return out


def one_eps(s: str) -> float:
    """One eps (``0.1`` or ``2/255``), pixels in [0, 1]."""
    values = eps_list(s)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"give one eps, got {s!r}")
    return values[0]


def _write(out: Path, res: dict, table: str) -> None:
    from ..fsutil import atomic_write_json, atomic_write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, res)
    atomic_write_text(out.with_suffix(".md"), table)
    print(table, end="")
    print(f"wrote {out} and {out.with_suffix('.md')}")


def _check_out(path: str) -> Path:
    from ..errors import UserError

    out = Path(path)
    if out.suffix != ".json":
        raise UserError(f"--out must name a .json file (the table goes beside it as .md), got {path}")
    if out.is_dir():
        raise UserError(f"--out {path} is a folder; name a .json file")
    return out


def _run_out(run: str | None, name: str, fallback: str) -> str:
    """Where a result goes by default: ``RUN/robustness/<name>.json`` when it is about a run (the robustness
    report gathers it from there), else ``fallback`` in the current folder."""
    from ..runs import slug

    return str(Path(run) / "robustness" / f"{slug(name)}.json") if run else fallback


def cmd_attack(a: argparse.Namespace) -> int:
    out = _check_out(
        a.out or _run_out(a.run, f"attack-{a.judge.partition(':')[0]}-{a.attack}", "robustness-attack.json")
    )
    if a.judge == "prompt":
        return _prompt_attack(a, out)
    import torch

    from ..data import DataConfig, load_dataset
    from ..features.base import to_unit_float
    from ..robustness.attacks import AttackConfig, accuracy_curve
    from ..robustness.classifier import load_judge

    torch.set_num_threads(a.threads)
    cfg = AttackConfig(a.attack, max(a.eps), a.steps, a.step_size, restarts=a.restarts, seed=a.seed)
    judge, desc = load_judge(a.judge, a.data)  # before any data is loaded: a bad judge fails fast
    split = "test" if a.data in ("fashion-mnist", "mnist") else "train"
    if desc.get("binary"):  # the detector: real pictures (class 0) and, with --run, generated ones (class 1)
        x, y = _detector_pictures(a, split)
    else:
        ds = load_dataset(DataConfig(name=a.data, split=split, limit=a.n))
        if ds.labels is None:
            from ..errors import UserError

            raise UserError(f"{a.data} has no class labels; attacks need labelled pictures")
        x, y = to_unit_float(ds.images), ds.labels
    res = accuracy_curve(judge, x, y, cfg, a.eps)
    res.update(judge=desc, data=a.data, split=split)
    lines = [
        f"{a.attack} ({cfg.norm}, {cfg.steps} steps, {cfg.restarts} restarts) against {a.judge} on {res['n']} "
        f"{a.data} {split} pictures, pixels in [0, 1]; clean accuracy {100 * res['clean_accuracy']:.1f} %",
        "",
        "| eps | x/255 | accuracy | this eps alone |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['eps']:.4g} | {255 * r['eps']:.3g} | {100 * r['accuracy']:.1f} % | {100 * r['accuracy_raw']:.1f} % |"
        for r in res["rows"]
    ]
    lines.append("")
    lines.append(
        f"monotone: {res['monotone']}"
        + (f"; eps 0 = clean: {res['eps0_equals_clean']}" if "eps0_equals_clean" in res else "")
    )
    _write(out, res, "\n".join(lines) + "\n")
    return 0


def _detector_pictures(a: argparse.Namespace, split: str):
    import torch

    from ..data import DataConfig, load_dataset
    from ..errors import UserError
    from ..features.base import to_unit_float

    if not a.run:
        raise UserError("attacking a detector needs generated pictures too: add --run RUN (its samples are class 1)")
    from ..pipeline import load

    half = max(1, a.n // 2)
    real = to_unit_float(load_dataset(DataConfig(name=a.data, split=split, limit=half)).images)
    fake = load(a.run)(half, seed=a.seed).images
    if fake.shape[1:] != real.shape[1:]:
        raise UserError(f"--run makes {tuple(fake.shape[1:])} pictures but {a.data} has {tuple(real.shape[1:])}")
    return torch.cat([real, fake]), torch.cat([torch.zeros(len(real)), torch.ones(len(fake))]).long()


def _prompt_attack(a: argparse.Namespace, out: Path) -> int:
    import numpy as np

    from ..creative import prompt as P
    from ..data import DataConfig, load_dataset
    from ..errors import UserError
    from ..robustness.attacks import typo_attack

    try:
        names = load_dataset(DataConfig(name=a.data, limit=1)).class_names
    except UserError:
        names = ()
    if len(names) < 2:
        raise UserError(f"the prompt attack needs a labelled dataset with class names, got {a.data!r}")

    def classify(text: str) -> int | None:
        s = P.class_scores(text, names, P.default_embedder)
        return int(np.argmax(s)) if float(np.max(s)) >= P.CLASS_THRESHOLD else None

    sentences = [t.format(n) for n in names for t in ("a photo of a {}", "a {} on a white background")][: a.n]
    rows = [typo_attack(classify, s, max_edits=1, max_queries=a.steps) for s in sentences]
    flips = sum(r["flipped"] for r in rows)
    other = sum(r["flipped"] and r["class"] is not None for r in rows)

    def name(c: int | None) -> str:
        return "(refused: no class close enough)" if c is None else names[c]

    res = {
        "judge": "prompt",
        "data": a.data,
        "n": len(rows),
        "flip_rate": flips / max(1, len(rows)),
        "wrong_class_rate": other / max(1, len(rows)),
        "refused_rate": (flips - other) / max(1, len(rows)),
        "max_queries": a.steps,
        "rows": rows,
    }
    table = [
        f"one-typo attack on the prompt -> class mapping ({a.data}, at most {a.steps} queries per prompt): "
        f"{flips}/{len(rows)} prompts change ({other} to another class, {flips - other} refused)",
        "",
        "| prompt | typo | class before -> after |",
        "|---|---|---|",
    ]
    table += [
        f"| {r['sentence']} | {r['adversarial']} | {name(r['clean'])} -> {name(r['class'])} |"
        for r in rows
        if r["flipped"]
    ]
    _write(out, res, "\n".join(table) + "\n")
    return 0


def cmd_train_robust(a: argparse.Namespace) -> int:
    import torch

    from ..robustness.classifier import RobustConfig, train_robust

    torch.set_num_threads(a.threads)
    cfg = RobustConfig(
        data=a.data,
        eps=a.eps,
        train_steps=a.steps,
        epochs=a.epochs,
        seed=a.seed,
        clean_weight=a.clean_weight,
        hidden=a.hidden,
    )
    path = train_robust(cfg, minutes=a.minutes, force=a.force, eval_n=a.eval_n)
    if path is None:
        print("stopped at the time budget; run the same command again to resume")
        return 0
    meta = json.loads((path / "meta.json").read_text())
    ra = meta["robust_accuracy"]
    print(
        f"robust classifier: {path}\n  clean {100 * meta['accuracy']:.1f} %, PGD-{ra['steps']} at eps {ra['eps']} "
        f"(pixels in [0, 1]) {100 * ra['accuracy']:.1f} % on {ra['n']} test pictures"
    )
    return 0


def cmd_fragility(a: argparse.Namespace) -> int:
    import torch

    from ..robustness.fragility import fid_fragility, fragility_table, run_pictures

    torch.set_num_threads(a.threads)
    fake, real, ext = run_pictures(a.run_dir, a.features, a.n, a.checkpoint, a.seed)
    res = fid_fragility(fake, real, ext, a.eps, a.modes.split(","), steps=a.steps, seed=a.seed)
    out = Path(a.out) if a.out else Path(a.run_dir) / "eval" / f"fragility-{ext.name}.json"
    _write(_check_out(str(out)), res, fragility_table(res))
    return 0


def cmd_purify(a: argparse.Namespace) -> int:
    import torch

    from ..robustness.attacks import AttackConfig
    from ..robustness.defences import ProjectionConfig, purification_table, purify_run

    out = _check_out(a.out or _run_out(a.run_dir, f"purify-{a.judge.partition(':')[0]}", ""))
    torch.set_num_threads(a.threads)
    acfg = AttackConfig("pgd-linf", a.eps, a.steps, seed=a.seed)
    pcfg = ProjectionConfig(steps=a.projection_steps, restarts=a.restarts, seed=a.seed)
    res = purify_run(a.run_dir, a.judge, a.n, acfg, pcfg, a.eot, a.checkpoint)
    _write(out, res, purification_table(res))
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    import torch

    from ..report import build_robustness_report

    torch.set_num_threads(a.threads)
    path = build_robustness_report(
        a.run_dir, out=a.out, detector=a.detector, n=a.n, results=a.results, seed=a.seed, checkpoint=a.checkpoint
    )
    print(f"robustness report: {path}")
    return 0


def register(sub) -> None:
    r = sub.add_parser("robustness", help="attacks on our judges, adversarial training, metric fragility")
    rs = r.add_subparsers(dest="robustness_cmd", required=True)

    at = rs.add_parser("attack", help="accuracy vs eps of a judge under FGSM, PGD or Square (JSON + table)")
    at.add_argument(
        "--judge",
        default="classifier",
        help="classifier | classifier:PATH | emoji | robust[:PATH] | detector:PATH | prompt",
    )
    at.add_argument(
        "--data", default="fashion-mnist", help="labelled pictures to attack (test split when there is one)"
    )
    at.add_argument("--attack", default="pgd-linf", help="fgsm | pgd-linf | pgd-l2 | square-linf")
    at.add_argument("--eps", type=eps_list, default=eps_list("0,0.02,0.05,0.1"), help="comma list, pixels in [0, 1]")
    at.add_argument("--steps", type=positive_int, default=20, help="PGD steps / Square queries / prompt queries")
    at.add_argument("--step-size", type=positive_float, default=None, help="default 2.5 eps / steps")
    at.add_argument("--restarts", type=positive_int, default=1)
    at.add_argument("--n", type=positive_int, default=1000, help="pictures (prompts for --judge prompt)")
    at.add_argument("--run", default=None, help="with --judge detector:PATH, the run whose samples are class 1")
    at.add_argument("--seed", type=int, default=0)
    at.add_argument("--threads", type=positive_int, default=2)
    at.add_argument(
        "--out",
        default=None,
        help="JSON path (default: with --run RUN/robustness/attack-<judge>-<attack>.json, where `robustness report` "
        "finds it; else robustness-attack.json)",
    )
    at.set_defaults(func=cmd_attack)

    tr = rs.add_parser("train-robust", help="PGD adversarial training of a classifier (resumable in chunks)")
    tr.add_argument("--data", default="fashion-mnist")
    tr.add_argument("--eps", type=positive_float, default=0.1, help="L-inf budget, pixels in [0, 1]")
    tr.add_argument("--steps", type=positive_int, default=7, help="PGD steps per training batch")
    tr.add_argument("--epochs", type=positive_int, default=4)
    tr.add_argument(
        "--clean-weight", type=float, default=0.5, help="share of clean loss (default 0.5; 0: Madry's PGD loss only)"
    )
    tr.add_argument("--hidden", type=positive_int, default=256, help="features of the CNN's hidden layer (default 256)")
    tr.add_argument("--minutes", type=positive_float, default=None, help="stop (resumably) after this long")
    tr.add_argument("--eval-n", type=positive_int, default=1000, help="test pictures for the final PGD-20 check")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=positive_int, default=2)
    tr.add_argument("--force", action="store_true", help="retrain from scratch")
    tr.set_defaults(func=cmd_train_robust)

    fr = rs.add_parser("fragility", help="how far imperceptible perturbations of the samples move FID and KID")
    fr.add_argument("run_dir")
    fr.add_argument("--features", default="auto", help="auto | classifier | emoji | folder-rcf | onnx:PATH")
    fr.add_argument("--eps", type=eps_list, default=eps_list("1/255,2/255,4/255"))
    fr.add_argument("--modes", default="random,up,down", help="random, up (raise FID), down (lower FID)")
    fr.add_argument("--steps", type=positive_int, default=5, help="gradient steps of the up/down attacks")
    fr.add_argument("--n", type=positive_int, default=1000, help="fake and real pictures")
    fr.add_argument("--checkpoint", default="latest")
    fr.add_argument("--seed", type=int, default=0)
    fr.add_argument("--threads", type=positive_int, default=2)
    fr.add_argument("--out", default=None, help="JSON path (default RUN/eval/fragility-<features>.json)")
    fr.set_defaults(func=cmd_fragility)

    pu = rs.add_parser("purify", help="purification by projection onto RUN's G: naive vs adaptive (BPDA+EOT) attack")
    pu.add_argument("run_dir")
    pu.add_argument("--judge", default="classifier", help="the classifier judging the projections (see attack)")
    pu.add_argument("--eps", type=one_eps, default=0.1, help="L-inf budget, pixels in [0, 1]")
    pu.add_argument("--steps", type=positive_int, default=10, help="attack steps")
    pu.add_argument("--eot", type=positive_int, default=4, help="projection draws averaged per attack step")
    pu.add_argument("--projection-steps", type=positive_int, default=100)
    pu.add_argument("--restarts", type=positive_int, default=4, help="random starts of the projection")
    pu.add_argument("--n", type=positive_int, default=200)
    pu.add_argument("--checkpoint", default="latest")
    pu.add_argument("--seed", type=int, default=0)
    pu.add_argument("--threads", type=positive_int, default=2)
    pu.add_argument("--out", default=None, help="JSON path (default RUN/robustness/purify-<judge>.json)")
    pu.set_defaults(func=cmd_purify)

    rp = rs.add_parser(
        "report",
        help="one self-contained HTML page of what is measured about RUN: detector verdicts, copies, fragility, attacks",
    )
    rp.add_argument("run_dir")
    rp.add_argument("--out", default=None, help="HTML path (default RUN/robustness.html)")
    rp.add_argument(
        "--detector", default=None, metavar="DIR", help="a detector folder: its verdicts on the run's samples"
    )
    rp.add_argument("--n", type=positive_int, default=200, help="samples (and real pictures) the detector judges")
    rp.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="FILE",
        help="more result JSON (attack, purify, fragility, detector evaluate); RUN/robustness/*.json and "
        "RUN/eval/fragility-*.json are read anyway (repeatable)",
    )
    rp.add_argument("--seed", type=int, default=1_000_000, help="first sample seed (default 1000000)")
    rp.add_argument("--checkpoint", default="latest")
    rp.add_argument("--threads", type=positive_int, default=2)
    rp.set_defaults(func=cmd_report)
