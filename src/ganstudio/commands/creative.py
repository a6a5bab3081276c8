"""Creative subcommands: animate, directions, breed, project, taste (one library call each).

``generate --from/--edit/--prompt/--curate`` live on the ``generate`` subcommand in cli.py.
"""

from __future__ import annotations

import argparse

from ..argtypes import add_negative
from ..errors import UserError


def _ints(s: str) -> list[int]:
    try:
        return [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {s!r}") from None


def _print(paths) -> int:
    for p in paths:
        print(p)
    return 0


def cmd_animate(a: argparse.Namespace) -> int:
    from ..creative.animate import animate_run

    if not a.seeds and not a.from_ and not a.prompts and a.mode == "keyframes" and not a.audio:
        raise UserError(
            "give keyframes with --seeds 1,5,9, --from a.json,b.json or --prompts 'an apple' 'a rocket' "
            "(or use --mode circle)"
        )
    if a.prompts and a.mode == "keyframes" and len(a.prompts) < 2:
        raise UserError("a walk between prompts needs at least two: --prompts 'an apple' 'a rocket'")
    return _print(
        animate_run(
            a.run_dir,
            a.out,
            seeds=a.seeds or (),
            latent_files=a.from_,
            frames=a.frames,
            fps=a.fps,
            loop=a.loop,
            mode=a.mode,
            method=a.interp,
            easing=a.easing,
            size=a.size or None,
            resample=a.resample,
            truncation=a.truncation,
            classes=a.class_,
            checkpoint=a.checkpoint,
            seed=a.seed,
            device=a.device,
            progress=not a.quiet,
            audio=a.audio,
            audio_map=a.audio_map,
            prompts=a.prompts or (),
            over=a.over,
            over_strength=a.over_strength,
            negative=a.negative,
            negative_weight=a.negative_weight,
        )
    )


def cmd_directions(a: argparse.Namespace) -> int:
    from ..creative import directions as D

    if a.name:
        path = D.find(a.run_dir, a.method if a.method != "all" else None).path
        assert path is not None  # find() reads a file
        dirs = D.set_names(path, D.parse_names(a.name))
        print(f"{dirs.path}: " + (", ".join(f"{k}={v}" for k, v in sorted(dirs.names.items())) or "no names"))
        return 0
    methods = list(D.METHODS) if a.method == "all" else [a.method]
    return _print(
        D.compute_and_save(
            a.run_dir, methods, a.n, a.checkpoint, a.samples, a.preview_rows if a.preview else 0, a.seed, a.device
        )
    )


def cmd_breed(a: argparse.Namespace) -> int:
    from ..creative.breed import breed_run

    return _print(
        breed_run(
            a.run_dir,
            a.parents,
            a.children,
            a.mode,
            a.mutation,
            a.seed,
            a.out_dir,
            a.checkpoint,
            a.device,
            pitch=a.class_,
        )
    )


def cmd_project(a: argparse.Namespace) -> int:
    from ..creative.project import project_file

    paths = project_file(
        a.run_dir,
        a.image,
        a.steps,
        a.restarts,
        a.lr,
        a.seed,
        a.out_dir,
        a.video,
        checkpoint=a.checkpoint,
        device=a.device,
        progress=not a.quiet,
    )
    import json

    err = json.loads(paths[3].read_text())
    print(f"reconstruction MSE {err['mse']:.5f} (PSNR {err['psnr_db']:.1f} dB), best of {err['restarts']} restarts")
    return _print(paths)


def cmd_taste(a: argparse.Namespace) -> int:
    from ..creative.taste import taste_run

    return _print(
        taste_run(a.run_dir, a.like, a.dislike, a.n, a.diversity, a.prior, a.seed, a.out_dir, a.checkpoint, a.device)
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir")
    p.add_argument("--checkpoint", default="latest", help="latest, best, a step number or a checkpoint folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")


def register(sub) -> None:
    an = sub.add_parser(
        "animate", help="latent walks as MP4 / GIF / PNG frames (a sound run: a WAV of the morph + spectrogram strip)"
    )
    _common(an)
    an.add_argument("--seeds", type=_ints, default=None, help="keyframe seeds, e.g. 1,5,9 (with --prompts: noise)")
    an.add_argument(
        "--prompts",
        nargs="+",
        default=None,
        metavar="TEXT",
        help="keyframes from prompts, e.g. --prompts 'an apple' 'a rocket' (runs that read text walk the text "
        "embedding too; class runs map each prompt to its nearest class); one noise: --seed, or --seeds one each",
    )
    an.add_argument(
        "--over",
        default=None,
        metavar="PICTURE",
        help="with --prompts on a text run that retrieves: every keyframe drawn over this picture (a colour walk)",
    )
    an.add_argument(
        "--over-strength",
        type=float,
        default=1.0,
        metavar="S",
        help="0..1, with --over: how much of the picture (the rest: the prompts' own nearest training pictures)",
    )
    add_negative(an, "with --prompts on a text run: every keyframe steered away from this text (repeat it for several)")
    an.add_argument(
        "--from", dest="from_", default=None, metavar="FILES", help="keyframes from latent files a.json,b.json"
    )
    an.add_argument(
        "--frames",
        type=int,
        default=None,
        help="number of frames (default 120; sound runs: notes, 8 per keyframe step)",
    )
    an.add_argument(
        "--fps",
        type=float,
        default=None,
        help="frames per second (default 30; sound runs: notes per second, default one note right after another)",
    )
    an.add_argument("--loop", action="store_true", help="walk back to the first keyframe (seamless loop)")
    an.add_argument(
        "--mode",
        choices=("keyframes", "circle"),
        default="keyframes",
        help="keyframes (default) or circle: a seamless great-circle noise loop from --seed",
    )
    an.add_argument("--interp", choices=("slerp", "lerp"), default="slerp")
    an.add_argument("--easing", choices=("cosine", "smoothstep", "linear"), default="cosine")
    an.add_argument("--out", default=None, help="walk.mp4, walk.gif, or a folder for PNG frames (sound runs: walk.wav)")
    an.add_argument("--size", type=int, default=256, help="longer side in pixels (0 = native)")
    an.add_argument("--resample", choices=("lanczos", "bicubic", "bilinear", "nearest"), default="lanczos")
    an.add_argument("--truncation", type=float, default=1.0)
    an.add_argument(
        "--class",
        dest="class_",
        default=None,
        help="class for --seeds keyframes (conditional runs); sound runs: the pitch every note plays, e.g. C4",
    )
    an.add_argument("--quiet", action="store_true", help="no progress bar")
    an.add_argument(
        "--audio",
        default=None,
        metavar="FILE",
        help="a WAV/FLAC/OGG the walk follows (loudness: speed, onsets: pulses, chroma: direction); "
        "its length sets the frames; an MP4 gets it as sound",
    )
    an.add_argument(
        "--audio-map",
        default=None,
        metavar="JSON",
        help="with --audio: how sound drives the walk, a JSON file or inline JSON, e.g. '{\"onset_jump\": 0.5}'",
    )
    an.set_defaults(func=cmd_animate)

    d = sub.add_parser("directions", help="find meaningful latent directions (GANSpace PCA, SeFa); name them")
    _common(d)
    d.add_argument("--method", choices=("pca", "sefa", "all"), default="all")
    d.add_argument("--n", type=int, default=20, help="directions to keep (default 20)")
    d.add_argument("--samples", type=int, default=4096, help="latents sampled for PCA (default 4096)")
    d.add_argument("--preview", action="store_true", help="also render a -3..+3 strip per direction")
    d.add_argument("--preview-rows", type=int, default=10, help="directions in the preview (default 10)")
    d.add_argument(
        "--name",
        default=None,
        metavar="I=NAME,...",
        help="name directions, e.g. 3=sleeves,5=dark "
        "(in the --method file, pca by default); names work in --edit and --prompt",
    )
    d.set_defaults(func=cmd_directions)

    b = sub.add_parser(
        "breed",
        help="children of two or more latents (crossover or blend, plus mutation); prompted parents mix their "
        "prompts; sound runs write each child as a WAV",
    )
    _common(b)
    b.add_argument("--parents", required=True, metavar="FILES", help="parent latent files a.json,b.json")
    b.add_argument("--children", type=int, default=8)
    b.add_argument("--mutation", type=float, default=0.3, help="0 (none) .. 1 (fresh random latent)")
    b.add_argument("--mode", choices=("crossover", "blend"), default="crossover")
    b.add_argument("--out-dir", default=None)
    b.add_argument(
        "--class",
        dest="class_",
        default=None,
        help="sound runs: the pitch parents and children play, e.g. C4 (default: the first parent's)",
    )
    b.set_defaults(func=cmd_breed)

    p = sub.add_parser("project", help="find the latent whose image best matches a picture")
    _common(p)
    p.add_argument("image")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--restarts", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--video", choices=("gif", "mp4"), default="gif", help="video of the optimisation")
    p.add_argument("--out-dir", default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_project)

    t = sub.add_parser("taste", help="suggest more pictures like the ones you liked")
    _common(t)
    t.add_argument("--like", required=True, metavar="FILES", help="liked latent files or folders, comma-separated")
    t.add_argument("--dislike", default=None, metavar="FILES")
    t.add_argument("--n", type=int, default=16)
    t.add_argument("--diversity", type=float, default=0.5, help="(0, 1]: how far suggestions stray from your likes")
    t.add_argument("--prior", type=float, default=1.0, help="regularisation toward no preference")
    t.add_argument("--out-dir", default=None)
    t.set_defaults(func=cmd_taste)
