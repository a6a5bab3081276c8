"""``ganstudio exhibit RUN [RUN...] --xr --out gallery/``: a static WebXR gallery of runs' works (``ganstudio.xr``)."""

from __future__ import annotations

import argparse

from ..argtypes import add_negative, nonneg_int, positive_int


def cmd_exhibit(a: argparse.Namespace) -> int:
    from ..errors import UserError

    if not a.xr:
        raise UserError("exhibit builds a WebXR gallery (a plain 3D page where WebXR is missing): add --xr")
    from ..xr import build_gallery
    from ..xr.build import describe

    res = build_gallery(
        a.runs,
        a.out,
        n=a.n,
        seed=a.seed,
        curate=a.curate,
        variations=a.variations,
        living=a.living > 0,
        favourites=a.favourites,
        emulator=not a.no_emulator,
        title=a.title,
        checkpoint=a.checkpoint,
        log=lambda s: print(s, flush=True),
        prompts=a.prompt,
        negative=a.negative,
        negative_weight=a.negative_weight,
    )
    print(describe(res))
    print(f"  serve it: python3 -m http.server 8000 --bind 127.0.0.1 --directory {res.out}")
    print("  open:     http://127.0.0.1:8000/  (?emulate=1: an emulated headset, for a desktop browser)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("exhibit", help="a static WebXR (VR/AR) gallery of runs' favourites and curated works")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    p.add_argument("--xr", action="store_true", help="build the WebXR gallery (VR, AR and a plain 3D fallback)")
    p.add_argument("--out", required=True, help="a new or empty folder for the gallery")
    p.add_argument(
        "--n", type=positive_int, default=8, help="works per run (default 8): favourites first, then samples"
    )
    p.add_argument("--seed", type=int, default=0, help="first seed of the samples (default 0)")
    p.add_argument(
        "--curate",
        type=nonneg_int,
        default=None,
        metavar="M",
        help="draw M samples per run, hang the most realistic by the run's discriminator (default 4 per place; 0: plain seeds)",
    )
    p.add_argument(
        "--prompt",
        action="append",
        default=None,
        help="runs that read text draw their works from these prompts in turn (repeatable; default: their own "
        "training captions)",
    )
    add_negative(p, "with --prompt: every work steered away from this text (repeatable), as generate --negative")
    p.add_argument("--variations", type=nonneg_int, default=4, help="variations shown with a selected work (default 4)")
    p.add_argument(
        "--living",
        type=nonneg_int,
        choices=[0, 1],
        default=1,
        help="1 (default): one living painting per run (ONNX in the browser); 0: none (no onnx extra needed)",
    )
    p.add_argument("--favourites", type=nonneg_int, default=12, help="at most this many studio favourites per run")
    p.add_argument("--title", default=None, help="the gallery's title")
    p.add_argument("--checkpoint", default="latest", help="latest, best, a step number or a checkpoint folder")
    p.add_argument("--no-emulator", action="store_true", help="leave out iwer (the ?emulate=1 headset emulator)")
    p.set_defaults(func=cmd_exhibit)
