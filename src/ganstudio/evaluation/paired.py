"""Evaluation of image-to-image (pix2pix) runs on held-out pairs: ``evaluate_pairs(run_dir) -> dict``.

Per pair, output vs its true target in [0, 1]: L1, PSNR (capped at ``PSNR_CAP`` for identical
images: JSON has no inf) and SSIM (``ganstudio.metrics.paired``); over the set: FID of the outputs
vs the targets in a ``ganstudio.features`` extractor's space (``auto``: the data's classifier when
one is cached, else the label-free ``folder-rcf`` features; every result names its extractor).
Pixel metrics reward the blurry conditional mean (what L1 training converges to); FID rewards
outputs that look like real images. Report both.

Held-out pairs: the source's test split (Fashion-MNIST, MNIST, digits), made with the run's own pair
transform. Paired folders have no test split: their pairs are training pairs, and the result says so.
Results go to ``RUN_DIR/eval/pairs-<step:09d>.json`` with a grid ``pairs-<step:09d>.png`` (rows:
input, output, target), both written atomically.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from pathlib import Path

import torch

from .. import media, runs
from ..data import SOURCES, load_dataset
from ..errors import UserError
from ..features import get_extractor
from ..metrics import functional as M
from ..metrics.paired import l1, psnr, ssim
from ..translate import load_translator
from ..version import __version__
from .reference import Log, stderr_log

__all__ = ["PSNR_CAP", "evaluate_pairs", "format_pairs", "l1", "psnr", "ssim"]

PSNR_CAP = 100.0  # dB reported for identical images (the true value is infinite; JSON has no inf)
GRID_N = 8


def _summary(v: torch.Tensor, cap: float | None = None) -> dict:
    v = v.clamp(max=cap) if cap is not None else v
    return {"mean": float(v.mean()), "median": float(v.median()), "std": float(v.std()) if len(v) > 1 else 0.0}


def evaluate_pairs(
    run_dir: str | Path,
    split: str = "test",
    n: int = 2000,
    checkpoint: str | int = "latest",
    features: str = "auto",
    seed: int = 0,
    device: str = "cpu",
    write: bool = True,
    log: Log | None = None,
    data: str | None = None,
) -> dict:
    """Score a pix2pix run on ``n`` seeded pairs of ``split``; returns (and writes) the result dict.

    ``data``: draw the pairs from another folder (or dataset) instead, made with the run's own pair
    transform and size: how a folder-trained model gets a held-out score (folders have no test split).
    """
    log = log or stderr_log
    if split not in ("train", "test"):
        raise UserError(f"--split must be train or test, got {split!r}")
    if n < 2:
        raise UserError(f"--n must be at least 2, got {n}")
    tr = load_translator(run_dir, checkpoint, device)
    assert tr.run_dir is not None  # load_translator keeps the folder it loaded
    cfg = tr.config
    held_out = data
    data_cfg = cfg.data
    note = None
    if held_out is not None:  # another folder/dataset through the run's own transform: held out by construction
        if held_out not in SOURCES and not Path(held_out).expanduser().is_dir():
            raise UserError(f"--data {held_out}: no such folder or dataset; give a folder of held-out images")
        mc = cfg.model_config  # the run's target shape, whatever the held-out images are
        data_cfg = dataclasses.replace(
            data_cfg, name=held_out, limit=None, channels=mc.channels, resolution=mc.resolution, height=mc.height
        )
        note = f"held-out pairs from {held_out}"
    elif data_cfg.name not in SOURCES and split == "test":  # a folder: no test split
        split, note = "train", "folders have no test split: these are training pairs (use --data HELD_OUT_FOLDER)"
    ds = load_dataset(
        dataclasses.replace(data_cfg, split=split, limit=None if split == "test" else data_cfg.limit, flip=False),
        default_resolution=cfg.model_config.resolution,
    )
    if ds.inputs is None:
        raise UserError(f"{data_cfg.name}: not paired data; a pix2pix run is evaluated on input/target pairs")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[: min(n, len(ds))]
    inputs, targets = ds.inputs[idx], ds.images[idx]
    log(f"translating {len(idx)} {split} pairs with {Path(tr.run_dir).name} at step {tr.step}")
    out = tr.translate_tensor(inputs.float().div(255))
    out_u8 = out.mul(255).round().clamp(0, 255).to(torch.uint8)
    # pixel metrics on the uint8 images that would be saved, like any image-quality tool sees them
    a, b = out_u8.double().div(255), targets.double().div(255)
    p = psnr(a, b)
    res: dict = {
        "run": str(tr.run_dir),
        "step": tr.step,
        "split": split,
        "n": len(idx),
        "seed": seed,
        "pairs": data_cfg.pairs,
        "input_kind": tr.input_kind,
        "line_width": tr.line_width,
        "l1": _summary(l1(a, b)),
        "psnr": _summary(p, PSNR_CAP),
        "ssim": _summary(ssim(a, b)),
    }
    if note:
        res["note"] = note
    # FID of outputs vs their targets, in the target data's feature space
    extractor = get_extractor(features, dataclasses.replace(data_cfg, pairs=None), log)
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
    lines = [
        (
            f"run {Path(res['run']).name}, step {res['step']}: {res['n']} {res['split']} pairs "
            f"({res['input_kind']} inputs{width})"
        ),
        f"  L1    {cell(res['l1'], '{:.4f}')}   (pixels in [0, 1]; lower is better)",
        f"  PSNR  {cell(res['psnr'], '{:.2f}')} dB",
        f"  SSIM  {cell(res['ssim'], '{:.4f}')}",
        f"  FID   {res['fid']:.3f} outputs vs targets, {res['extractor_label']} features"
        if res.get("fid") is not None and math.isfinite(res["fid"])
        else "  FID   -",
    ]
    if res.get("note"):
        lines.append(f"  note: {res['note']}")
    if res.get("path"):
        lines.append(f"written: {res['path']}")
    return "\n".join(lines)
