"""Near-copies that a shift cannot fool: flag rates of the pixel rule and the invariant rule.

Makes copies of random training pictures (moved 1-3 px in one of the 8 directions, mirrored,
cropped to 90-95 % and resized back bilinearly or bicubically, mirrored and moved, or left in
place under Gaussian pixel noise of std 0.05), then asks both near-copy rules of
``ganstudio.metrics.functional.originality`` which of them they flag, and how many real held-out
pictures (the test split) they flag by mistake:

- ``pixel``: the former rule, plain pixel distances (``invariance=None``);
- ``new``: ``originality(..., invariance=CopyInvariance())`` (moves up to 3 px, mirrors, crops
  down to 90 %), the rule ``ganstudio evaluate``, ``report`` and ``generate --curate`` use.

Each distance is calibrated the same way: threshold = 0.8 x the 1 % quantile of the distances of
``--calibration`` random training pictures to their nearest other training picture, in that
distance (``copy_calibration``). The new rule flags a picture when its invariant distance OR its
pixel distance is under its threshold (the pixel part keeps noisy, unmoved copies flagged). Each
run scores some kinds (``--kinds``) and merges them into ``benchmarks/out/copies-<data>.json``; the
calibration is cached beside it, so runs stay short.

    python benchmarks/copies.py flags --data fashion-mnist --kinds held,shift,mirror
    python benchmarks/copies.py flags --data fashion-mnist --kinds crop,mirror+shift,crop-bicubic,noise
    python benchmarks/copies.py flags --data emoji --kinds held,shift,mirror
    python benchmarks/copies.py flags --data emoji --kinds crop,mirror+shift,crop-bicubic,noise
    python benchmarks/copies.py timing --samples 2000 --train 60000 --threads 1
    python benchmarks/copies.py table          # the markdown table of everything measured
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganstudio.data import DataConfig, load_dataset
from ganstudio.metrics import functional as M

OUT = Path(__file__).resolve().parent / "out"
KINDS = ("held", "shift", "mirror", "crop", "mirror+shift", "crop-bicubic", "noise")
DATA = {"fashion-mnist": {}, "emoji": {"resolution": 64}}
INVARIANCE = M.DEFAULT_INVARIANCE
ALPHA, QUANTILE = M.DEFAULT_COPY_ALPHA, M.DEFAULT_COPY_QUANTILE


def cpu_info() -> dict:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", text)
    flags = sorted(set(re.findall(r"\b(avx2|avx512[a-z_0-9]*|amx[a-z_0-9]*|fma)\b", text)))
    return {
        "model": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "flags": flags,
        "torch": torch.__version__,
        "load_avg": [round(v, 2) for v in os.getloadavg()],
    }


def load(name: str, split: str) -> torch.Tensor:
    return load_dataset(DataConfig(name=name, split=split, **DATA[name])).images


# ---- copies ------------------------------------------------------------------------------------
def background(x: torch.Tensor) -> torch.Tensor:
    """(N, C) the median of each picture's border pixels: what fills the band a move uncovers."""
    border = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], dim=2).float()
    return border.median(dim=2).values


def moved(x: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Each picture moved by 1-3 px in one of the 8 directions (the uncovered band: its background)."""
    n, c, h, w = x.shape
    p = 3
    bg = background(x)
    pad = bg[:, :, None, None].expand(n, c, h + 2 * p, w + 2 * p).clone()
    pad[:, :, p : p + h, p : p + w] = x.float()
    dirs = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)]
    out, moves = [], []
    for i in range(n):
        a, b = dirs[rng.integers(len(dirs))]
        m = int(rng.integers(1, 4))
        dy, dx = a * m, b * m
        out.append(pad[i, :, p - dy : p - dy + h, p - dx : p - dx + w])
        moves.append((dy, dx))
    return torch.stack(out).round().clamp(0, 255).to(torch.uint8), moves


def cropped(x: torch.Tensor, rng: np.random.Generator, mode: str = "bilinear") -> torch.Tensor:
    """Each picture cropped to 90-95 % of its side (a random square anywhere in it) and resized back."""
    n, _, h, w = x.shape
    out = []
    for i in range(n):
        f = rng.uniform(0.90, 0.95)
        ch, cw = max(1, round(h * f)), max(1, round(w * f))
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        part = x[i : i + 1, :, y0 : y0 + ch, x0 : x0 + cw].float()
        out.append(F.interpolate(part, size=(h, w), mode=mode, align_corners=False))
    return torch.cat(out).round().clamp(0, 255).to(torch.uint8)


def make(kind: str, train: torch.Tensor, idx: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    src = train[torch.from_numpy(idx)]
    if kind == "shift":
        return moved(src, rng)[0]
    if kind == "mirror":
        return src.flip(-1)
    if kind == "mirror+shift":
        return moved(src.flip(-1), rng)[0]
    if kind == "crop":
        return cropped(src, rng)
    if kind == "crop-bicubic":
        return cropped(src, rng, "bicubic")
    if kind == "noise":  # unmoved, Gaussian noise of std 0.05 (in [0, 1] units): what the pixel part is for
        noise = torch.from_numpy(rng.normal(0.0, 0.05 * 255, src.shape)).float()
        return (src.float() + noise).round().clamp(0, 255).to(torch.uint8)
    raise ValueError(kind)


# ---- the rules ---------------------------------------------------------------------------------
def calibration(name: str, train: torch.Tensor, n: int, seed: int) -> np.ndarray:
    """(n, 2) distances of n random training pictures to their nearest other one, invariant and pixel
    (``copy_calibration``; cached): the thresholds of both rules."""
    path = OUT / f"copies-calibration-{name}-{len(train)}-{n}-{seed}-{INVARIANCE.cache_tag}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return f["cal"]
    t0 = time.perf_counter()
    cal = M.copy_calibration(train.float() / 255, INVARIANCE, n=n, seed=seed)
    print(f"  calibration: {n} pictures in {time.perf_counter() - t0:.1f} s (cached)", flush=True)
    OUT.mkdir(exist_ok=True)
    np.savez(path, cal=cal)
    return cal


def rates(flags: np.ndarray) -> dict:
    return {"flagged": int(flags.sum()), "rate": float(flags.mean())}


def cmd_flags(a: argparse.Namespace) -> None:
    torch.manual_seed(a.seed)
    train, test = load(a.data, "train"), load(a.data, "test")
    a.full = len(train)
    if a.twins and a.twins < len(train):
        keep = np.sort(np.random.default_rng(a.seed + 1).choice(len(train), a.twins, replace=False))
        train = train[torch.from_numpy(keep)]
    cal = calibration(a.data, train, min(a.calibration, len(train)), a.seed)
    t = train.float() / 255
    path = OUT / (f"copies-{a.data}.json" if len(train) == a.full else f"copies-{a.data}-{len(train)}.json")
    store = json.loads(path.read_text()) if path.exists() and not a.fresh else {}
    kinds = store.setdefault("kinds", {})
    for kind in a.kinds.split(","):
        rng = np.random.default_rng([a.seed, KINDS.index(kind)])
        if kind == "held":
            idx = np.sort(rng.choice(len(test), min(a.held, len(test)), replace=False))
            x = test[torch.from_numpy(idx)]
        else:
            idx = rng.choice(len(train), min(a.n, len(train)), replace=False)
            x = make(kind, train, idx, rng)
        t0, c0 = time.perf_counter(), time.process_time()
        o = M.originality(x.float() / 255, t, cal, invariance=INVARIANCE, top_k=0)
        secs = time.perf_counter() - t0, time.process_time() - c0
        d_inv, d_pix = np.asarray(o["nn_distance"]), np.asarray(o["pixel_nn_distance"])
        row = {
            "n": len(x),
            "seconds": [round(v, 2) for v in secs],
            "pixel": rates(d_pix < o["pixel_threshold"]),  # the former rule
            "invariant_only": rates(d_inv < o["threshold"]),
            "new": rates(np.asarray(o["flagged"])),  # the rule evaluate, report and --curate use
            "ratio_median": float(np.median(d_inv / o["threshold"])),
            "ratio_max": float(np.max(d_inv / o["threshold"])),
        }
        if kind != "held":
            row["found_source"] = float(np.mean(np.asarray(o["nn_index"]) == idx))
        kinds[kind] = row
        print(
            f"  {kind:<13} n={len(x):5d}  pixel rule {row['pixel']['flagged']:5d} ({100 * row['pixel']['rate']:6.2f} %)"
            f"  new rule {row['new']['flagged']:5d} ({100 * row['new']['rate']:6.2f} %; invariant part alone "
            f"{100 * row['invariant_only']['rate']:.2f} %)  [{secs[0]:.1f} s wall, {secs[1]:.1f} s CPU]",
            flush=True,
        )
        store.update(
            {
                "data": a.data,
                "train": len(train),
                "held_out_total": len(test),
                "calibration": len(cal),
                "thresholds": {"invariant": o["threshold"], "pixel": o["pixel_threshold"]},
                "invariance": INVARIANCE.describe(),
                "seed": a.seed,
                "cpu": cpu_info(),
                "threads": torch.get_num_threads(),
            }
        )
        OUT.mkdir(exist_ok=True)
        path.write_text(json.dumps(store, indent=2))


def cmd_timing(a: argparse.Namespace) -> None:
    torch.set_num_threads(a.threads)
    train = load("fashion-mnist", "train")[: a.train].float() / 255
    samples = load("fashion-mnist", "test")[: a.samples].float() / 255
    t0, c0 = time.perf_counter(), time.process_time()
    M.invariant_nearest(samples, train, INVARIANCE)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    M.nearest_neighbours(samples.flatten(1).numpy(), train.flatten(1).numpy())
    pixel = time.perf_counter() - t0
    res = {
        "samples": len(samples),
        "train": len(train),
        "threads": torch.get_num_threads(),
        "invariant_wall_s": round(wall, 2),
        "invariant_cpu_s": round(cpu, 2),
        "pixel_wall_s": round(pixel, 2),
        "cpu": cpu_info(),
    }
    print(json.dumps(res, indent=2))
    OUT.mkdir(exist_ok=True)
    (OUT / f"copies-timing-{a.threads}t.json").write_text(json.dumps(res, indent=2))


def cmd_table(a: argparse.Namespace) -> None:
    cols = [k for k in KINDS if k != "held"]
    print("| data (training pictures) | rule | held-out flagged | " + " | ".join(cols) + " |")
    print("|---" * (3 + len(cols)) + "|")
    for path in sorted(OUT.glob("copies-*.json")):
        if "timing" in path.name:
            continue
        s = json.loads(path.read_text())
        for rule, title in (("pixel", "pixel (former)"), ("invariant_only", "invariant part alone"), ("new", "new")):

            def cell(kind: str, rule: str = rule, k: dict = s["kinds"]) -> str:
                if kind not in k:
                    return "-"
                r = k[kind][rule]
                return f"{100 * r['rate']:.2f} % ({r['flagged']}/{k[kind]['n']})"

            print(
                f"| {s['data']} ({s['train']}) | {title} | {cell('held')} | " + " | ".join(cell(c) for c in cols) + " |"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flags", help="flag rates of both rules on made copies and held-out pictures")
    f.add_argument("--data", choices=sorted(DATA), default="fashion-mnist")
    f.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    f.add_argument("--n", type=int, default=1000, help="copies per kind")
    f.add_argument("--held", type=int, default=2000, help="held-out (test split) pictures")
    f.add_argument("--calibration", type=int, default=2000, help="training pictures whose NN distances calibrate")
    f.add_argument("--twins", type=int, default=0, help="search this many random training pictures (0 = all)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--fresh", action="store_true", help="start the JSON afresh instead of merging into it")
    f.set_defaults(func=cmd_flags)
    t = sub.add_parser("timing", help="time the invariant search: --samples test pictures vs --train training pictures")
    t.add_argument("--samples", type=int, default=2000)
    t.add_argument("--train", type=int, default=60000)
    t.add_argument("--threads", type=int, default=2)
    t.set_defaults(func=cmd_timing)
    sub.add_parser("table", help="print the markdown table of benchmarks/out/copies-*.json").set_defaults(
        func=cmd_table
    )
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
