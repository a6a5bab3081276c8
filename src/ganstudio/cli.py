"""``ganstudio SUBCOMMAND``: argument parsing, then one library call per subcommand. No logic here."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from .argtypes import add_negative
from .argtypes import nonneg_float as _nonneg_float
from .argtypes import positive_float as _positive_float
from .argtypes import positive_int as _positive_int
from .errors import UserError

# CLI flag -> TrainConfig field (only flags given explicitly become overrides).
TRAIN_FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "steps": ("--steps", _positive_int, "total training steps for the run"),
    "epochs": ("--epochs", _positive_float, "total epochs for the run"),
    "minutes": ("--minutes", _positive_float, "wall-clock budget of this invocation"),
    "batch_size": ("--batch-size", _positive_int, "images per batch (default 64)"),
    "lr_g": ("--lr-g", _positive_float, "generator learning rate"),
    "lr_d": ("--lr-d", _positive_float, "discriminator learning rate"),
    "loss": ("--loss", str, "ns, minimax, hinge, wgan-gp, lsgan"),
    "schedule": ("--schedule", str, "simultaneous (the seed's) or alternating"),
    "n_dis": ("--n-dis", _positive_int, "D steps per G step (alternating)"),
    "seed": ("--seed", int, "random seed"),
    "device": ("--device", str, "cpu, cuda, cuda:N, mps or auto"),
    "threads": ("--threads", _positive_int, "CPU threads"),
    "precision": (
        "--precision",
        str,
        "fp32 (the default; emoji-64 and folder-64 ask for auto), bf16 (autocast forward passes), "
        "or auto (bf16 only where it measured faster: GPUs, AMX CPUs)",
    ),
    "log_every": ("--log-every", _positive_int, "steps between log lines"),
    "sample_every": ("--sample-every", _positive_int, "steps between sample grids (plus every epoch)"),
    "preview_seconds": (
        "--preview-seconds",
        _nonneg_float,
        "the once-per-epoch sample grids at most this often (default 30; 0: every epoch)",
    ),
    "checkpoint_every": ("--checkpoint-every", _positive_int, "steps between checkpoints"),
}


def cmd_train(a: argparse.Namespace) -> int:
    from .training import train
    from .training.options import build_run_config, describe

    overrides = {k: getattr(a, k) for k in TRAIN_FLAGS if getattr(a, k) is not None}
    hooks = []
    if a.eval_every:
        from .evaluation.hook import EvalHook

        hooks.append(EvalHook(a.eval_every, n=a.eval_n, features=a.eval_features))
    if a.resume:
        if a.dry_run:
            raise UserError("--dry-run prints a new run's config; drop it when resuming")
        run = train(None, resume=a.resume, overrides=overrides, progress=not a.quiet, extra_hooks=hooks)
    else:
        stability = {
            k: v
            for k, v in {
                "ema_beta": a.ema,
                "augment": a.augment and tuple(a.augment.split(",")),
                "ada": a.ada or None,
                "guard": a.guard or None,
                "channels_last": a.channels_last or None,
            }.items()
            if v is not None
        }
        data_options = {
            k: v for k, v in {"flip": a.flip or None, "fit": a.fit, "clusters": a.clusters}.items() if v is not None
        }
        cfg = build_run_config(
            a.data,
            a.model,
            a.preset,
            {**overrides, **stability},
            resolution=a.resolution,
            limit=a.limit,
            init_from=a.init_from,
            config_file=a.config,
            conditional=a.conditional or None,
            sets=a.set,
            data_options=data_options,
        )
        if a.dry_run:
            from .training import prepare

            print(describe(prepare(cfg)[0]))
            return 0
        run = train(cfg, out=a.out, progress=not a.quiet, extra_hooks=hooks)
    print(f"run folder: {run}")
    print(f"  samples:  {run / 'samples' / 'latest.png'}")
    from .models import get_family
    from .runs import read_config_dict

    task = get_family(read_config_dict(run)["model"]).task.name
    print("  next:     " + NEXT_COMMAND[task].format(run=run))
    return 0


# What to try after training, by the family's task (a hint for people: it lives here, not in the models).
NEXT_COMMAND = {
    "noise-to-image": "ganstudio generate {run} --n 64 --seed 7 --grid {run}/grid.png",
    "image-to-image": "ganstudio translate {run} my-sketch.png --out painted.png",
    "noise-to-sound": "ganstudio generate {run} --n 16 --seed 7 --grid {run}/notes.png  (notes.wav beside it)",
}


def cmd_generate(a: argparse.Namespace) -> int:
    from .generate import anchor_note, generate_to_files, prompt_list, prompt_mode, reference_note
    from .latents import NEGATIVE_FOR_TEXT_RUNS, check_negative, with_negative
    from .pipeline import OVER_NEEDS_PROMPT, load

    prompt_list(a.prompt)  # an empty --prompt is refused before anything is said or drawn
    if a.over is not None and not a.prompt and not a.from_:
        raise UserError(OVER_NEEDS_PROMPT)  # before the note on what a text run draws without a prompt
    if not a.from_:
        check_negative(a.prompt, a.negative, a.negative_weight)
    mode = prompt_mode(a.run_dir)
    reads_text = mode.startswith("this run reads text")
    if a.negative is not None and not a.from_ and not reads_text:
        raise UserError(NEGATIVE_FOR_TEXT_RUNS)  # before the note on what the run does with a prompt
    if a.prompt and not a.from_:
        print(mode, file=sys.stderr)
    elif not a.from_ and a.class_ is None and reads_text:
        print(
            "this run reads text and no --prompt was given: each seed draws one of its training captions "
            "(its latent names it); --prompt TEXT draws yours",
            file=sys.stderr,
        )
    paths = generate_to_files(
        a.run_dir,
        n=a.n,
        seed=a.seed,
        checkpoint=a.checkpoint,
        grid=a.grid,
        out_dir=a.out_dir,
        truncation=a.truncation,
        classes=a.class_,
        device=a.device,
        from_latent=a.from_,
        edits=a.edit,
        directions=a.directions,
        prompt=a.prompt,
        curate=a.curate,
        anchor=a.anchor,
        over=a.over,
        over_strength=a.over_strength,
        negative=a.negative,
        negative_weight=a.negative_weight,
    )
    # the notes on what each prompt was drawn from (generate_to_files refused an anchor without a text prompt)
    pipe = load(a.run_dir, checkpoint=a.checkpoint) if a.prompt and not a.from_ and reads_text else None
    if pipe is not None and a.negative:
        away = ", ".join(repr(t.strip()) for t in a.negative)
        print(
            f"steered away from {away} (each at weight {a.negative_weight:g} against the prompt's 1)", file=sys.stderr
        )
    if pipe is not None and a.over is not None:
        how = "" if a.over_strength == 1 else f", {a.over_strength:g} of it, the rest the run's own nearest pictures"
        print(f"drawn over {a.over} (at {pipe.drawn_shape[2]} x {pipe.drawn_shape[1]} px{how})", file=sys.stderr)
        pipe = None  # the reference notes name the run's pictures, which G did not draw over
    for text in a.prompt if pipe is not None else []:
        about = f"{text!r}: " if len(a.prompt) > 1 else ""  # a prompt sheet: each note names its prompt
        if a.anchor:
            print(about + anchor_note(pipe, text, a.anchor), file=sys.stderr)
        ref = reference_note(pipe, with_negative(text, a.negative, a.negative_weight), a.anchor)
        if ref:
            print(about + ref, file=sys.stderr)
    for p in paths:
        print(p)
    return 0


def cmd_datasets(a: argparse.Namespace) -> int:
    from .data import available

    rows = available()
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        where = r["found"] or "not found here (downloaded on first use when online)"
        print(f"{r['name']:<14} {where}\n{'':<14} {r['description']}")
    print("or any folder of images: --data path/to/folder")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(minutes=a.minutes, out=a.out, preset=a.preset)
    return 0


def _clusters(text: str) -> int | str:
    """``--clusters``: a number of groups, auto or none (``DataConfig`` checks the range)."""
    if text in ("auto", "none"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number of groups, auto or none, got {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganstudio", description="Train GANs on your own images and make art with them.")
    from . import __version__

    p.add_argument("--version", action="version", version=f"ganstudio {__version__}")
    sub = p.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train a GAN (new run or --resume)")
    t.add_argument("--data", default=None, help="dataset name (see `ganstudio datasets`) or image folder")
    t.add_argument("--model", default=None, help="model family (default mlp, the seed's)")
    t.add_argument("--preset", default=None, help="named preset (seed, seed-case-study, ...)")
    t.add_argument("--resolution", type=_positive_int, default=None, help="image size in pixels")
    t.add_argument("--limit", type=_positive_int, default=None, help="use only this many images (seeded subset)")
    t.add_argument("--init-from", default=None, metavar="RUN_DIR", help="fine-tune: start from this run's weights")
    t.add_argument("--config", default=None, metavar="JSON", help="a RunConfig JSON file (flags override it)")
    t.add_argument("--conditional", action="store_true", help="condition on class labels (generate --class NAME)")
    t.add_argument("--ema", type=float, default=None, metavar="BETA", help="keep an EMA copy of G (e.g. 0.999)")
    t.add_argument("--augment", default=None, metavar="OPS", help="DiffAugment ops, e.g. color,translation,cutout")
    t.add_argument("--ada", action="store_true", help="adapt the augmentation probability (small datasets)")
    t.add_argument("--guard", action="store_true", help="roll back with lower learning rates if training diverges")
    t.add_argument("--flip", action="store_true", help="random horizontal flips of the training images")
    t.add_argument("--channels-last", action="store_true", help="NHWC conv weights (faster at 32-64 px on CPUs)")
    t.add_argument("--fit", choices=["crop", "pad"], default=None, help="folder images: center-crop or letterbox")
    t.add_argument(
        "--clusters",
        type=_clusters,
        default=None,
        metavar="K",
        help="classes from the pictures' look: K groups (or auto: one per ~45 pictures; none: off), so an "
        "unsorted folder trains a conditional model (folder-64 uses auto); generate --class 'cluster 3'",
    )
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any config field, e.g. --set train.r1_gamma=1 --set model_config.g_channels=32",
    )
    for field, (flag, typ, hlp) in TRAIN_FLAGS.items():
        t.add_argument(flag, dest=field, type=typ, default=None, help=hlp)
    t.add_argument(
        "--eval-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="evaluate every N steps (metrics.jsonl) and keep a 'best' checkpoint by FID",
    )
    t.add_argument("--eval-n", type=_positive_int, default=2000, help="samples per evaluation (default 2000)")
    t.add_argument("--eval-features", default="auto", help="classifier, folder-rcf, onnx:PATH or auto")
    t.add_argument("--out", default="runs", help="folder that holds the numbered runs (default runs)")
    t.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("generate", help="sample images from a trained run")
    g.add_argument("run_dir")
    g.add_argument("--checkpoint", default="latest", help="latest, best, a step number or a checkpoint folder")
    g.add_argument("--n", type=_positive_int, default=64, help="number of images (default 64)")
    g.add_argument("--seed", type=int, default=0, help="image i uses seed+i; same seed, same images")
    g.add_argument("--grid", default=None, help="write a grid PNG here")
    g.add_argument("--out-dir", default=None, help="write one PNG per image here, named by seed")
    g.add_argument("--truncation", type=float, default=1.0, help="psi in (0, 1]: lower = safer, less varied")
    g.add_argument("--class", dest="class_", default=None, help="class name or index (conditional runs)")
    g.add_argument(
        "--from",
        dest="from_",
        default=None,
        metavar="FILES",
        help="remake latents from JSON/npz files or folders (comma-separated), exactly",
    )
    g.add_argument("--edit", default=None, metavar="K:AMOUNT,...", help="move along directions, e.g. 0:+2.5,dark:-1")
    g.add_argument("--directions", default=None, help="pca, sefa or a directions file (default: the run's pca)")
    g.add_argument(
        "--prompt",
        action="append",
        default=None,
        help='text, e.g. "a smiling cat": what a run that reads text draws; other runs: nearest class + named '
        "directions; repeat it for a prompt sheet (--n pictures of each, one grid row per prompt)",
    )
    g.add_argument(
        "--anchor",
        type=float,
        default=0.0,
        metavar="S",
        help="0..1: pull a text run's prompt toward its nearest training captions (crisper for new wordings)",
    )
    g.add_argument(
        "--over",
        default=None,
        metavar="PICTURE",
        help="a text run that retrieves (--preset emoji-text) draws the prompt over this picture instead of its own "
        "nearest training picture: recolour or restyle your picture with words",
    )
    g.add_argument(
        "--over-strength",
        type=float,
        default=1.0,
        metavar="S",
        help="0..1, with --over: how much of your picture G draws over (1: all; 0.5: half, half the run's own "
        "nearest pictures for the prompt, so its shapes come through)",
    )
    add_negative(
        g,
        'a text run steers the prompt away from this text (e.g. --prompt "an apple" --negative "red"); '
        "repeat it for several",
    )
    g.add_argument(
        "--curate",
        type=_positive_int,
        default=None,
        metavar="M",
        help="draw M, keep the --n most realistic by the run's discriminator",
    )
    g.add_argument("--device", default="cpu")
    g.set_defaults(func=cmd_generate)

    d = sub.add_parser("datasets", help="which datasets are available here and where they were found")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_datasets)

    m = sub.add_parser("demo", help="the first run: train on the best data here for a few minutes")
    m.add_argument("--minutes", type=_positive_float, default=2.0)
    m.add_argument("--out", default="runs")
    m.add_argument(
        "--preset",
        default="fashion-mnist",
        help="what to train (default fashion-mnist: the best per minute here; seed: the article's MLP)",
    )
    m.set_defaults(func=cmd_demo)

    # Subcommands of other areas (evaluation, creative tools, export, studio, ...) register themselves.
    import importlib
    import pkgutil

    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
    return p


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not getattr(a, "func", None):
        parser.print_help()
        return 1
    warnings.showwarning = _one_line_warnings
    try:
        return a.func(a)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``ganstudio`` console script and ``python -m ganstudio``: ``main`` then exit with its code.

    A process started by torchrun (WORLD_SIZE > 1) leaves with ``os._exit`` once its output is flushed:
    torch 2.13's gloo threads can abort the interpreter's own shutdown ("terminate called without an active
    exception", SIGABRT; pytorch/pytorch#190489), seen here in 1 of 20 two-process runs on a loaded machine
    even after the process group was destroyed. Every file is written and closed before ``main`` returns,
    so skipping the interpreter's finalisation loses nothing."""
    rc = main()
    if int(os.environ.get("WORLD_SIZE", "1") or "1") > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    sys.exit(rc)


if __name__ == "__main__":
    entry()
