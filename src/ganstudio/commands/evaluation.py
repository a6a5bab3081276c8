"""CLI: ``ganstudio features train|list|check``, ``ganstudio evaluate``, ``ganstudio report``.

Argument parsing only; each subcommand is one library call (heavy imports inside the functions).
"""

from __future__ import annotations

import argparse
import json

from ..argtypes import nonneg_int as _nonneg_int
from ..argtypes import positive_int as _positive_int
from .robustness import one_eps


def cmd_features_train_sound(a: argparse.Namespace) -> int:
    from ..errors import UserError
    from ..features.sound import load_sound_classifier, train_sound_classifier

    if a.augment is not None or a.resolution is not None:
        raise UserError("--augment and --resolution are for picture classifiers; leave them out for sound data")
    path = train_sound_classifier(
        a.data, epochs=a.epochs, batch_size=a.batch_size, widths=a.widths, seed=a.seed, threads=a.threads, force=a.force
    )
    ext = load_sound_classifier(path=path)
    print(f"sound classifier: {ext.label} ({ext.num_classes} classes: {', '.join(ext.class_names)})")
    print(
        f"  accuracy: {100 * ext.meta['accuracy']:.2f} % on {ext.meta['accuracy_split']} "
        f"(chance {100 * ext.meta['chance']:.1f} %), {ext.meta['train_seconds']:.0f} s of training"
    )
    print(f"  folder:   {path}")
    print(f"  evaluate: ganstudio evaluate SOUND_RUN --features sound:{path}")
    return 0


def cmd_features_train(a: argparse.Namespace) -> int:
    from ..data import DataConfig
    from ..features.classifier import load_classifier, train_classifier
    from ..features.sound import is_sound_data

    if is_sound_data(a.data):
        return cmd_features_train_sound(a)

    data = DataConfig(name=a.data, resolution=a.resolution)
    path = train_classifier(
        data,
        epochs=a.epochs,
        batch_size=a.batch_size,
        widths=a.widths,
        seed=a.seed,
        threads=a.threads,
        force=a.force,
        augment=a.augment,
    )
    ext = load_classifier(path=path)
    print(f"classifier: {ext.label}")
    print(
        f"  accuracy: {100 * ext.meta['accuracy']:.2f} % on {ext.meta['accuracy_split']} "
        f"({ext.meta['n_val']} images), {ext.meta['train_seconds']:.0f} s of training, "
        f"{ext.meta.get('augment', 'shift')} augmentation"
    )
    print(f"  folder:   {path}")
    return 0


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) <= 0:
        raise argparse.ArgumentTypeError(f"widths must be positive integers separated by commas, got {text!r}")
    return widths


def cmd_features_list(a: argparse.Namespace) -> int:
    from ..features import EXTRACTORS
    from ..features.classifier import list_classifiers
    from ..features.sound import list_sound_classifiers

    for name, spec in EXTRACTORS.items():
        arg = ("[:PATH]" if spec.argument.startswith("optional") else ":PATH") if spec.argument else ""
        print(f"{name + arg:<16} {spec.description}")
    rows = list_classifiers()
    print("\ncached classifiers:" if rows else "\nno cached classifiers (ganstudio features train --data NAME)")
    for r in rows:
        acc = f"{100 * r['accuracy']:.2f} % {r['accuracy_split']}" if r["accuracy"] is not None else "?"
        print(f"  {r['data']:<16} {acc:<20} {r['path']}")
    sounds = list_sound_classifiers()
    if sounds:
        print("\ncached sound classifiers (--features gm-notes, spoken-digits or sound:PATH):")
    for r in sounds:
        acc = f"{100 * r['accuracy']:.2f} %" if r["accuracy"] is not None else "?"
        print(f"  {r['data']:<16} {acc:<9} on {r['accuracy_split']}\n  {'':<16} {r['path']}")
    return 0


def cmd_features_check(a: argparse.Namespace) -> int:
    import torch

    from ..data import DataConfig, load_dataset
    from ..errors import UserError
    from ..features import get_extractor
    from ..features.check import sensitivity

    data = DataConfig(name=a.data, resolution=a.resolution, labels=a.data not in _named())
    ds = load_dataset(data)
    if ds.labels is None:
        raise UserError(f"{a.data} needs labels (sub-folders) to drop modes")
    ext = get_extractor(a.features, data)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(ds), generator=g)
    half = min(len(ds) // 2, a.n)
    ref, test = perm[:half], perm[len(ds) // 2 :][:half]
    res = sensitivity(ext, ds.images[test], ds.labels[test], ds.images[ref])
    if a.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"features {ext.label}: FID of {half} damaged images against {half} other real ones")
    for kind, unit in (("blur", "sigma px"), ("noise", "std"), ("drop", "modes dropped")):
        vals = "  ".join(f"{lvl:g}:{f:.3f}" for lvl, f in res[kind])
        print(f"  {kind:<6} ({unit}) {vals}  -> {'monotonic' if res['monotonic'][kind] else 'NOT monotonic'}")
    return 0


def _named() -> set[str]:
    from ..data import SOURCES

    return set(SOURCES)


def cmd_evaluate(a: argparse.Namespace) -> int:
    from ..evaluation import evaluate, format_table

    res = evaluate(
        a.run_dir,
        checkpoint=a.checkpoint,
        n=a.n,
        features=a.features,
        reference=a.reference,
        seed=a.seed,
        originality_n=a.originality_train,
        device=a.device,
        fragility=a.fragility,
        fragility_steps=a.fragility_steps,
        class_mix=a.class_mix,
    )
    print(json.dumps(res, indent=2) if a.json else format_table(res))
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from ..report import build_report

    path = build_report(a.run_dir, out=a.out)
    print(f"report: {path}")
    return 0


def register(sub) -> None:
    f = sub.add_parser("features", help="feature extractors for evaluation: train the classifier, list, check")
    fsub = f.add_subparsers(dest="features_command", metavar="ACTION", parser_class=type(f))
    f.set_defaults(func=lambda a: (f.print_help(), 1)[1])

    t = fsub.add_parser(
        "train", help="train the classifier extractor on a labelled dataset, pictures or sounds (a few minutes)"
    )
    t.add_argument(
        "--data",
        required=True,
        help="fashion-mnist, mnist, digits, emoji, clipart, or a folder with one sub-folder per class; sound: "
        "gm-notes (instrument families), spoken-digits (digits) or a folder of sounds in class sub-folders",
    )
    t.add_argument(
        "--epochs", type=_positive_int, default=None, help="default: the data's measured recipe (emoji 30), else 5"
    )
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument(
        "--widths",
        type=_widths,
        default=None,
        help="conv channels per block, e.g. 16,32,64 (default: the data's recipe, else 16,32)",
    )
    t.add_argument(
        "--augment",
        choices=("shift", "shape", "none"),
        default=None,
        help="shift: 1-pixel shifts; shape: scale, shift, rotation, blur, flips, no hue change "
        "(default: shape for colour data such as emoji, clipart and colour folders, else shift)",
    )
    t.add_argument("--resolution", type=_positive_int, default=None, help="folders only: image size (default 64)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=_positive_int, default=None)
    t.add_argument("--force", action="store_true", help="retrain even if one is cached")
    t.set_defaults(func=cmd_features_train)

    ls = fsub.add_parser("list", help="available extractors and cached classifiers")
    ls.set_defaults(func=cmd_features_list)

    c = fsub.add_parser("check", help="does an extractor's FID rise with blur, noise and dropped modes?")
    c.add_argument("--features", default="folder-rcf", help="classifier, emoji, folder-rcf or onnx:PATH")
    c.add_argument("--data", required=True, help="labelled data: a named dataset or a folder of class sub-folders")
    c.add_argument("--n", type=_positive_int, default=2000, help="images per side (default 2000)")
    c.add_argument("--resolution", type=_positive_int, default=None)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_features_check)

    e = sub.add_parser(
        "evaluate", help="FID, KID, precision/recall, coverage, originality of a checkpoint (sound runs: + IS share)"
    )
    e.add_argument("run_dir")
    e.add_argument("--checkpoint", default="latest", help="latest, best, a step number or a checkpoint folder")
    e.add_argument("--n", type=_positive_int, default=10_000, help="generated images (default 10000)")
    e.add_argument(
        "--features",
        default="auto",
        help="auto (classifier if trained, else folder-rcf; a sound run: the sound classifier of its data), classifier, "
        "emoji (colour pictures), folder-rcf, onnx:PATH; sound runs: gm-notes, spoken-digits, sound:PATH",
    )
    e.add_argument(
        "--reference",
        default="test",
        choices=("test", "train"),
        help="real images to compare with (folders: always a held-out half)",
    )
    e.add_argument("--seed", type=int, default=0, help="image i uses latent seed seed+i")
    e.add_argument(
        "--originality-train",
        type=_nonneg_int,
        default=10_000,
        help="training images searched for near-copies, which may be moved up to 3 px, mirrored or cropped "
        "to 90%% (default 10000; 0 = all)",
    )
    e.add_argument(
        "--fragility",
        type=one_eps,
        default=None,
        metavar="EPS",
        help="also show how far FID moves when every generated picture changes by at most EPS per pixel "
        "(pixels in [0, 1]: 1/255 is one grey level; e.g. 2/255): a column next to FID",
    )
    e.add_argument("--fragility-steps", type=_positive_int, default=5, help="gradient steps per direction (default 5)")
    e.add_argument(
        "--class-mix",
        default="data",
        choices=("data", "uniform"),
        help="a conditional run's classes: in the reference pictures' proportions (data, the default: what FID "
        "compares with) or in turn (uniform)",
    )
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", action="store_true", help="print the full result as JSON")
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("report", help="write RUN_DIR/report.html: training curves, metrics, samples, originality")
    r.add_argument("run_dir")
    r.add_argument("--out", default=None, help="HTML path (default RUN_DIR/report.html)")
    r.set_defaults(func=cmd_report)
