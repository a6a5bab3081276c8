"""``ganstudio translate RUN_DIR INPUT --out OUT`` and ``ganstudio translate-eval RUN_DIR``: pix2pix runs."""

from __future__ import annotations

import argparse
import json

from ..argtypes import positive_int as _positive_int


def cmd_translate(a: argparse.Namespace) -> int:
    from ..translate import translate_folder

    paths = translate_folder(
        a.run_dir, a.input, a.out, checkpoint=a.checkpoint, size=a.size, device=a.device, progress=not a.quiet
    )
    if len(paths) == 1:
        print(paths[0])
    else:
        print(f"wrote {len(paths)} images to {a.out}")
    return 0


def cmd_translate_eval(a: argparse.Namespace) -> int:
    from ..evaluation.paired import evaluate_pairs, format_pairs

    res = evaluate_pairs(
        a.run_dir,
        split=a.split,
        n=a.n,
        checkpoint=a.checkpoint,
        features=a.features,
        seed=a.seed,
        device=a.device,
        write=not a.no_write,
        data=a.data,
    )
    print(json.dumps(res, indent=2) if a.json else format_pairs(res))
    return 0


def register(sub) -> None:
    t = sub.add_parser("translate", help="turn sketches/photos into images with a pix2pix run")
    t.add_argument("run_dir")
    t.add_argument("input", help="an image file or a folder of images (searched recursively)")
    t.add_argument(
        "--out",
        default="translated",
        help="output folder (default translated/), or a .png path for a single input file",
    )
    t.add_argument(
        "--size",
        default="input",
        choices=["input", "model"],
        help="output size: the input's (default) or the model's scale (aspect kept either way)",
    )
    t.add_argument("--checkpoint", default="latest", help="latest, a step number or a checkpoint folder")
    t.add_argument("--device", default="cpu")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_translate)

    e = sub.add_parser("translate-eval", help="L1 / PSNR / SSIM / FID of a pix2pix run on held-out pairs")
    e.add_argument("run_dir")
    e.add_argument("--split", default="test", choices=["test", "train"], help="pairs to score (default test)")
    e.add_argument("--data", default=None, help="score on pairs made from this held-out folder instead")
    e.add_argument("--n", type=_positive_int, default=2000, help="number of pairs (default 2000)")
    e.add_argument("--features", default="auto", help="auto, classifier, folder-rcf or onnx:PATH (for FID)")
    e.add_argument("--checkpoint", default="latest", help="latest, a step number or a checkpoint folder")
    e.add_argument("--seed", type=int, default=0, help="which pairs are drawn")
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.add_argument("--no-write", action="store_true", help="do not write eval/pairs-<step>.json")
    e.set_defaults(func=cmd_translate_eval)
