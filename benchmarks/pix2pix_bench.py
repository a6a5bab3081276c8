"""Edges-to-image on Fashion-MNIST: pix2pix (adversarial + L1) vs an L1-only U-Net, same budget.

    nice -n 10 .venv/bin/python benchmarks/pix2pix_bench.py --minutes 4

1. trains ``pix2pix`` (adv_weight 1, l1_weight 100) for ``--minutes`` of wall clock, then the L1-only
   baseline (adv_weight 0, everything else equal) for the *same number of steps* (same images seen);
2. scores both on ``--n-eval`` held-out test pairs (L1 / PSNR / SSIM per pair, FID of outputs vs
   targets in the Fashion-MNIST classifier's features, trained once and cached if missing), plus the
   FID floor of the data itself (test targets vs other test targets);
3. writes ``grid.png`` (rows: sketch input, L1-only, pix2pix, truth) and ``sketches.png`` (hand-drawn
   outlines drawn with Pillow at 4x the model size with 4x the nominal stroke width, then translated:
   rows: what the model sees, L1-only, pix2pix) and ``results.json`` into ``--out``.

With ``--photos`` the same comparison runs on colour photographs at 64 px instead: crops of
scikit-image's sample photos (``photo_crops.py``), the left three quarters of every photo for training
and the right quarter (pixels never seen in training) held out for scoring, FID in the label-free
``folder-rcf`` features; no hand-drawn garments.

    nice -n 10 .venv/bin/python benchmarks/pix2pix_bench.py --photos --steps 1500 --out benchmarks/out/pix2pix-photos

A benchmark, not a test: minutes of CPU. Runs go to ``--runs`` (default benchmarks/out/pix2pix/runs).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganstudio import media, runs
from ganstudio.config import Pix2PixConfig
from ganstudio.data import DataConfig, load_dataset
from ganstudio.evaluation.paired import evaluate_pairs
from ganstudio.training import RunConfig, TrainConfig, train
from ganstudio.translate import load_translator

SCALE = 4  # hand-drawn sketches are drawn at SCALE x the model size, strokes SCALE x the nominal width

# Outlines in unit coordinates (x, y), each a closed polyline, plus optional open strokes.
DRAWINGS: dict[str, list[list[tuple[float, float]]]] = {
    "t-shirt": [
        [
            (0.38, 0.12),
            (0.2, 0.2),
            (0.07, 0.38),
            (0.2, 0.46),
            (0.28, 0.37),
            (0.28, 0.9),
            (0.72, 0.9),
            (0.72, 0.37),
            (0.8, 0.46),
            (0.93, 0.38),
            (0.8, 0.2),
            (0.62, 0.12),
            (0.5, 0.2),
            (0.38, 0.12),
        ]
    ],
    "trousers": [
        [(0.3, 0.08), (0.7, 0.08), (0.77, 0.92), (0.57, 0.92), (0.5, 0.35), (0.43, 0.92), (0.23, 0.92), (0.3, 0.08)]
    ],
    "sneaker": [
        [(0.05, 0.52), (0.1, 0.36), (0.36, 0.4), (0.56, 0.5), (0.88, 0.57), (0.95, 0.7), (0.05, 0.7), (0.05, 0.52)],
        [(0.05, 0.63), (0.95, 0.63)],
    ],
    "ankle boot": [
        [(0.28, 0.1), (0.56, 0.1), (0.58, 0.5), (0.9, 0.64), (0.93, 0.84), (0.2, 0.84), (0.24, 0.45), (0.28, 0.1)]
    ],
    "bag": [
        [(0.12, 0.38), (0.88, 0.38), (0.88, 0.86), (0.12, 0.86), (0.12, 0.38)],
        [(0.32, 0.38), (0.36, 0.16), (0.64, 0.16), (0.68, 0.38)],
    ],
    "dress": [[(0.4, 0.08), (0.6, 0.08), (0.62, 0.36), (0.8, 0.9), (0.2, 0.9), (0.38, 0.36), (0.4, 0.08)]],
}


def draw(name: str, size: int, width: int) -> Image.Image:
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    for stroke in DRAWINGS[name]:
        d.line([(x * (size - 1), y * (size - 1)) for x, y in stroke], fill=0, width=width, joint="curve")
    return im


def config(steps: int | None, minutes: float | None, adv_weight: float, seed: int, data: DataConfig) -> RunConfig:
    return RunConfig(
        model="pix2pix",
        model_config=Pix2PixConfig(g_channels=32, d_channels=32, adv_weight=adv_weight, l1_weight=100.0),
        data=data,
        train=TrainConfig(
            steps=steps,
            minutes=minutes,
            batch_size=32,
            schedule="pix2pix",
            loss="ns",
            lr_g=2e-4,
            lr_d=2e-4,
            beta1=0.5,
            beta2=0.999,
            eps=1e-8,
            seed=seed,
            threads=2,
            device="cpu",
            log_every=50,
            checkpoint_every=1000,
        ),
    )


def features_spec(requested: str) -> str:
    """The classifier when it is (or can be) cached: FID in a space that knows Fashion-MNIST's classes."""
    if requested != "classifier":
        return requested
    from ganstudio.features.classifier import find_classifier, train_classifier

    if find_classifier(DataConfig(name="fashion-mnist")) is None:
        print("training the Fashion-MNIST classifier for FID features (once; cached)", flush=True)
        train_classifier("fashion-mnist", epochs=3, threads=2)
    return "classifier"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=4.0, help="wall clock for the pix2pix run")
    ap.add_argument("--steps", type=int, default=None, help="fixed steps for both runs instead of --minutes")
    ap.add_argument("--n-eval", type=int, default=2000)
    ap.add_argument("--features", default="classifier", help="classifier (trained if missing), folder-rcf, ...")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/out/pix2pix")
    ap.add_argument("--runs", default=None)
    ap.add_argument("--photos", action="store_true", help="colour photo crops at 64 px instead of Fashion-MNIST")
    a = ap.parse_args()
    out = Path(a.out)
    run_root = Path(a.runs) if a.runs else out / "runs"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    if a.photos:
        photos_main(a, out, run_root)
        return
    features = features_spec(a.features)
    data = DataConfig(name="fashion-mnist", pairs="sketch")
    adv_run, t_adv, l1_run, t_l1, steps = train_both(a, data, run_root)

    results = {}
    for name, run in (("l1_only", l1_run), ("pix2pix", adv_run)):
        results[name] = evaluate_pairs(run, split="test", n=a.n_eval, features=features, seed=a.seed)
        report(name, results[name])

    # the data's own FID floor: test targets vs other test targets, same extractor and n
    from ganstudio.features import get_extractor
    from ganstudio.metrics import functional as M

    test = load_dataset(DataConfig(name="fashion-mnist", split="test"))
    perm = torch.randperm(len(test), generator=torch.Generator().manual_seed(a.seed))
    ex = get_extractor(features, DataConfig(name="fashion-mnist"))
    n = min(a.n_eval, len(test) // 2)
    floor = float(M.fid(ex.extract(test.images[perm[:n]]).feats, ex.extract(test.images[perm[n : 2 * n]]).feats))
    print(f"data floor FID (test vs other test images, n={n}): {floor:.3f}", flush=True)

    # grid: 12 held-out pairs, rows input / L1-only / pix2pix / truth
    pairs = load_dataset(DataConfig(name="fashion-mnist", split="test", pairs="sketch"), default_resolution=28)
    tl1, tadv = comparison_grid(pairs, 12, a.seed + 1, l1_run, adv_run, out / "grid.png", scale=4)

    # hand-drawn sketches: drawn large with SCALE x the nominal width, translated from the PIL image
    res = tadv.resolution
    sketches, seen, outs_l1, outs_adv = [], [], [], []
    for name in DRAWINGS:
        im = draw(name, res * SCALE, tadv.line_width * SCALE)
        media.save_image(im, out / "sketches" / f"{name.replace(' ', '-')}.png")
        sketches.append(im)
        seen.append(tadv.prepare(im)[0][0])
        outs_l1.append(torch.from_numpy(np.array(tl1(im, size="model")))[None])
        outs_adv.append(torch.from_numpy(np.array(tadv(im, size="model")))[None])
    sk_grid = media.make_grid(
        torch.cat([media_u8(torch.stack(seen)), torch.stack(outs_l1), torch.stack(outs_adv)]), nrow=len(DRAWINGS)
    )
    media.save_image(sk_grid, out / "sketches.png", scale=4)

    summary = {
        "steps": steps,
        "batch_size": 32,
        "train_seconds": {"pix2pix": round(t_adv, 1), "l1_only": round(t_l1, 1)},
        "n_eval": a.n_eval,
        "features": results["pix2pix"]["extractor_label"],
        "data_floor_fid": floor,
        "line_width": tadv.line_width,
        "resolution": res,
        "runs": {"pix2pix": str(adv_run), "l1_only": str(l1_run)},
        "metrics": {k: {m: v[m] for m in ("l1", "psnr", "ssim", "fid")} for k, v in results.items()},
    }
    runs.atomic_write_json(out / "results.json", summary)
    print(json.dumps(summary, indent=2))


def train_both(a, data: DataConfig, run_root: Path):
    """pix2pix for --steps or --minutes, then the L1-only U-Net for the same number of steps."""
    t0 = time.monotonic()
    adv_run = train(config(a.steps, None if a.steps else a.minutes, 1.0, a.seed, data), out=run_root, progress=False)
    t_adv = time.monotonic() - t0
    steps = runs.find_checkpoint(adv_run).step
    print(f"pix2pix: {steps} steps in {t_adv:.0f} s -> {adv_run}", flush=True)
    t0 = time.monotonic()
    l1_run = train(config(steps, None, 0.0, a.seed, data), out=run_root, progress=False)
    t_l1 = time.monotonic() - t0
    print(f"L1-only: {steps} steps in {t_l1:.0f} s -> {l1_run}", flush=True)
    return adv_run, t_adv, l1_run, t_l1, steps


def report(name: str, r: dict) -> None:
    print(
        f"{name:8s} L1 {r['l1']['mean']:.4f}  PSNR {r['psnr']['mean']:.2f}  SSIM {r['ssim']['mean']:.4f}  "
        f"FID {r['fid']:.3f}",
        flush=True,
    )


def photos_main(a, out: Path, run_root: Path) -> None:
    """Sketch-to-photo at 64 px: train on the left 3/4 of each sample photo, score on the right 1/4."""
    from photo_crops import make_crops

    from ganstudio.features import get_extractor
    from ganstudio.metrics import functional as M

    train_dir = make_crops(Path("/tmp/ganstudio-photos-p2p-train"), size=64, per_image=150, columns=(0.0, 0.75))
    held_dir = make_crops(Path("/tmp/ganstudio-photos-p2p-heldout"), size=64, per_image=30, columns=(0.75, 1.0), seed=1)
    features = "folder-rcf"
    data = DataConfig(name=str(train_dir), resolution=64, pairs="sketch")
    adv_run, t_adv, l1_run, t_l1, steps = train_both(a, data, run_root)
    results = {}
    for name, run in (("l1_only", l1_run), ("pix2pix", adv_run)):
        results[name] = evaluate_pairs(run, n=a.n_eval, features=features, seed=a.seed, data=str(held_dir))
        report(name, results[name])
    # floor: held-out targets vs training targets in the same features (different pixels, same photos)
    held = load_dataset(DataConfig(name=str(held_dir), resolution=64))
    trn = load_dataset(DataConfig(name=str(train_dir), resolution=64))
    ex = get_extractor(features, DataConfig(name=str(train_dir)))
    floor = float(M.fid(ex.extract(held.images).feats, ex.extract(trn.images[: len(held) * 2]).feats))
    print(f"data floor FID (held-out vs training crops): {floor:.3f}", flush=True)
    pairs = load_dataset(DataConfig(name=str(held_dir), resolution=64, pairs="sketch"))
    comparison_grid(pairs, 8, a.seed + 1, l1_run, adv_run, out / "grid.png", scale=2)
    summary = {
        "data": "scikit-image sample photos, 64 px crops",
        "train_images": len(trn),
        "held_out_images": len(held),
        "steps": steps,
        "batch_size": 32,
        "train_seconds": {"pix2pix": round(t_adv, 1), "l1_only": round(t_l1, 1)},
        "features": results["pix2pix"]["extractor_label"],
        "data_floor_fid": floor,
        "runs": {"pix2pix": str(adv_run), "l1_only": str(l1_run)},
        "metrics": {k: {m: v[m] for m in ("l1", "psnr", "ssim", "fid")} for k, v in results.items()},
    }
    runs.atomic_write_json(out / "results.json", summary)
    print(json.dumps(summary, indent=2))


def comparison_grid(pairs, k: int, seed: int, l1_run: Path, adv_run: Path, path: Path, scale: int):
    """k seeded held-out pairs, one per column; rows: input, L1-only, pix2pix, truth. Returns both translators."""
    idx = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))[:k]
    inp, tgt = pairs.inputs[idx], pairs.images[idx]
    tl1, tadv = load_translator(l1_run), load_translator(adv_run)
    x = inp.float().div(255)
    rows = [inp.expand(-1, tgt.shape[1], -1, -1), tl1.translate_tensor(x), tadv.translate_tensor(x), tgt]
    media.save_image(media.make_grid(torch.cat([media_u8(r) for r in rows]), nrow=k), path, scale=scale)
    return tl1, tadv


def media_u8(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.uint8 else x.mul(255).round().clamp(0, 255).to(torch.uint8)


if __name__ == "__main__":
    main()
