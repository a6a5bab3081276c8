"""Evaluation of image-to-image (pix2pix) runs on held-out pairs: ``evaluate_pairs(run_dir) -> dict``.

Per pair (output vs its true target, both in [0, 1]):
    l1     mean absolute error
    psnr   10 log10(1 / MSE) in dB (data range 1); identical images give +inf, reported capped at 100
    ssim   Wang et al. 2004 with an 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, means over the
           window positions that fit inside the image ("valid"; scikit-image's
           ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
           data_range=1)`` gives the same numbers), averaged over channels
and over the set: FID of the outputs vs the targets in a ``ganstudio.features`` extractor's space
(``auto``: the data's classifier when one is cached, e.g. after ``ganstudio features train --data
fashion-mnist``, else the label-free ``folder-rcf`` features; every result names its extractor).
Pixel metrics reward the blurry conditional mean (what L1 training converges to); FID rewards outputs
that look like real images. Report both.

Held-out pairs: the source's test split (Fashion-MNIST, MNIST, digits), made with the run's own pair
transform. Paired folders have no test split: their pairs are training pairs, and the result says so.
Results go to ``RUN_DIR/eval/pairs-<step:09d>.json`` with a grid ``pairs-<step:09d>.png`` (rows:
input, output, target), both written atomically.
"""
from __future__ import annotations

import dataclasses
import datetime
import math
import sys
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from . import __version__, media, runs
from .errors import UserError

__all__ = ["l1", "psnr", "ssim", "evaluate_pairs", "format_pairs", "PSNR_CAP"]

PSNR_CAP = 100.0  # dB reported for identical images (the true value is infinite; JSON has no inf)
SSIM_SIGMA, SSIM_RADIUS = 1.5, 5  # 11x11 window: scipy's gaussian_filter truncate=3.5 at sigma 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
GRID_N = 8


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"expected two (N, C, H, W) batches of the same shape, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    return a.double(), b.double()


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pair mean absolute error: (N, C, H, W) x2 in [0, 1] -> (N,) float64."""
    a, b = _pair(a, b)
    return (a - b).abs().flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-pair peak signal-to-noise ratio in dB: (N, C, H, W) x2 -> (N,) float64 (inf when equal)."""
    a, b = _pair(a, b)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range ** 2 / mse)


def _window(sigma: float, radius: int) -> torch.Tensor:
    k = torch.exp(-torch.arange(-radius, radius + 1, dtype=torch.float64) ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, sigma: float = SSIM_SIGMA,
         radius: int = SSIM_RADIUS) -> torch.Tensor:
    """Per-pair structural similarity: (N, C, H, W) x2 -> (N,) float64; see the module doc.

    Images smaller than the window use a window shrunk to fit (radius = (min side - 1) // 2).
    """
    a, b = _pair(a, b)
    n, c, h, w = a.shape
    radius = min(radius, (min(h, w) - 1) // 2)
    k = _window(sigma, radius)
    kx, ky = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:  # separable Gaussian, "valid" positions only
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def _summary(v: torch.Tensor, cap: float | None = None) -> dict:
    v = v.clamp(max=cap) if cap is not None else v
    return {"mean": float(v.mean()), "median": float(v.median()), "std": float(v.std()) if len(v) > 1 else 0.0}


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def evaluate_pairs(run_dir: str | Path, split: str = "test", n: int = 2000, checkpoint: str | int = "latest",
                   features: str = "auto", seed: int = 0, device: str = "cpu", write: bool = True,
                   log: Callable[[str], None] | None = None, data: str | None = None) -> dict:
    """Score a pix2pix run on ``n`` seeded pairs of ``split``; returns (and writes) the result dict.

    ``data``: draw the pairs from another folder (or dataset) instead, made with the run's own pair
    transform and size: how a folder-trained model gets a held-out score (folders have no test split).
    """
    from .data import SOURCES, load_dataset
    from .features import get_extractor
    from .metrics import functional as M
    from .translate import load_translator

    log = log or _stderr
    if split not in ("train", "test"):
        raise UserError(f"--split must be train or test, got {split!r}")
    if n < 2:
        raise UserError(f"--n must be at least 2, got {n}")
    tr = load_translator(run_dir, checkpoint, device)
    cfg = tr.config
    held_out = data
    data = cfg.data
    note = None
    if held_out is not None:  # another folder/dataset through the run's own transform: held out by construction
        if held_out not in SOURCES and not Path(held_out).expanduser().is_dir():
            raise UserError(f"--data {held_out}: no such folder or dataset; give a folder of held-out images")
        mc = cfg.model_config  # the run's target shape, whatever the held-out images are
        data = dataclasses.replace(data, name=held_out, limit=None, channels=mc.channels,
                                   resolution=mc.resolution, height=mc.height)
        note = f"held-out pairs from {held_out}"
    elif data.name not in SOURCES and split == "test":  # a folder: no test split
        split, note = "train", "folders have no test split: these are training pairs (use --data HELD_OUT_FOLDER)"
    ds = load_dataset(dataclasses.replace(data, split=split, limit=None if split == "test" else data.limit,
                                          flip=False), default_resolution=cfg.model_config.resolution)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[:min(n, len(ds))]
    inputs, targets = ds.inputs[idx], ds.images[idx]
    log(f"translating {len(idx)} {split} pairs with {Path(tr.run_dir).name} at step {tr.step}")
    out = tr.translate_tensor(inputs.float().div(255))
    out_u8 = out.mul(255).round().clamp(0, 255).to(torch.uint8)
    # pixel metrics on the uint8 images that would be saved, like any image-quality tool sees them
    a, b = out_u8.double().div(255), targets.double().div(255)
    p = psnr(a, b)
    res: dict = {
        "run": str(tr.run_dir), "step": tr.step, "split": split, "n": len(idx), "seed": seed,
        "pairs": data.pairs, "input_kind": tr.input_kind, "line_width": tr.line_width,
        "l1": _summary(l1(a, b)), "psnr": _summary(p, PSNR_CAP), "ssim": _summary(ssim(a, b)),
    }
    if note:
        res["note"] = note
    # FID of outputs vs their targets, in the target data's feature space
    extractor = get_extractor(features, dataclasses.replace(data, pairs=None), log)
    fo, ft = extractor.extract(out_u8), extractor.extract(targets)
    res["fid"] = float(M.fid(fo.feats, ft.feats)) if len(idx) >= 2 else None
    res["extractor"] = extractor.describe()
    res["extractor_label"] = extractor.label
    res["ganstudio_version"] = __version__
    res["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if write:
        k = min(GRID_N, len(idx))
        shown = inputs[:k]
        if shown.shape[1] != targets.shape[1]:
            shown = shown.expand(-1, targets.shape[1], -1, -1)
        grid = media.make_grid(torch.cat([shown, out_u8[:k], targets[:k]]), nrow=k)
        stem = Path(tr.run_dir) / "eval" / f"pairs-{tr.step:09d}"
        media.save_image(grid, stem.with_suffix(".png"), scale=max(1, 192 // grid.shape[0]))
        res["grid"] = str(stem.with_suffix(".png"))
        res["path"] = str(stem.with_suffix(".json"))
        runs.atomic_write_json(stem.with_suffix(".json"), res)
    return res


def format_pairs(res: dict) -> str:
    """The table ``ganstudio translate-eval`` prints."""
    def cell(m: dict, fmt: str) -> str:
        return f"{fmt.format(m['mean'])} (median {fmt.format(m['median'])})"

    width = f", line width {res['line_width']} px" if res["input_kind"] == "sketch" else ""
    lines = [f"run {Path(res['run']).name}, step {res['step']}: {res['n']} {res['split']} pairs "
             f"({res['input_kind']} inputs{width})",
             f"  L1    {cell(res['l1'], '{:.4f}')}   (pixels in [0, 1]; lower is better)",
             f"  PSNR  {cell(res['psnr'], '{:.2f}')} dB",
             f"  SSIM  {cell(res['ssim'], '{:.4f}')}",
             f"  FID   {res['fid']:.3f} outputs vs targets, {res['extractor_label']} features"
             if res.get("fid") is not None and math.isfinite(res["fid"]) else "  FID   -"]
    if res.get("note"):
        lines.append(f"  note: {res['note']}")
    if res.get("path"):
        lines.append(f"written: {res['path']}")
    return "\n".join(lines)
