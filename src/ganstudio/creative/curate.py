"""Curation: draw many, keep the ones the run's own discriminator finds most realistic.

The realism score of an image is D's logit (D rebuilt from the checkpoint's ``D`` weights: the same
step as the generator, so the two were trained against each other). Keeping the top n of m raises
precision (fewer broken samples); as long as m / n stays moderate (the CLI default is 8x) recall
drops only a little, because D's score varies within every mode rather than picking one mode.
See benchmarks/creative_README.md for the measured precision/recall.

A realistic sample can be a memorised one, so before ranking, the pool's near-copies of training
pictures are set aside: the rule ``ganstudio evaluate`` uses (``metrics.functional.originality``
with ``CopyInvariance``: a training picture moved by a few pixels, mirrored or lightly cropped still
counts, and so does an unmoved one with pixel noise), searched against all of the run's training
pictures and calibrated on ``COPY_CALIBRATION_N`` of them (cached in
``$GANSTUDIO_CACHE/features/reference/``). Each kept latent records its invariant distance to its
nearest training picture over the copy threshold (``copy_ratio``, > 1 = not a copy by that part)
and how many of the pool were set aside (``copies_set_aside``).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .. import latents as L
from .. import runs
from ..data import load_dataset
from ..errors import UserError
from ..features.cache import data_hash, load_npz, reference_root, save_npz
from ..metrics import functional as M

COPY_CALIBRATION_N = 2000  # training pictures whose distances to their nearest other one set the copy threshold


def load_discriminator(pipe) -> torch.nn.Module:
    """D of the pipe's run at the pipe's checkpoint step, in eval mode on the pipe's device."""
    from ..models import build

    if pipe.run_dir is None:
        raise UserError("curation needs a run folder (for the discriminator's weights)")
    ckpt = runs.find_checkpoint(pipe.run_dir, pipe.step)
    if ckpt is None:
        raise UserError(f"run {pipe.run_dir} has no checkpoint at step {pipe.step} (for the discriminator's weights)")
    _, D = build(pipe.config.model, pipe.config.model_config)
    try:
        D.load_state_dict(ckpt.tensors("D"))
    except RuntimeError as e:
        raise UserError(f"D weights in {ckpt.path} do not match the run's model ({str(e).splitlines()[0]})") from None
    return D.to(pipe.device).eval()


@torch.no_grad()
def realism(
    pipe,
    latents: Sequence[L.Latent],
    directions=None,
    D: torch.nn.Module | None = None,
    batch_size: int = 256,
    images: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N,) D logits of the latents' images (higher = more realistic to D); ``images``: already rendered."""
    D = D if D is not None else load_discriminator(pipe)
    images = images if images is not None else L.render_fast(pipe, latents, directions, batch_size)
    y = L.condition_matrix(pipe, latents)
    out = []
    for s in range(0, len(images), batch_size):
        x = images[s : s + batch_size].to(pipe.device) * 2 - 1
        out.append(D(x, None if y is None else y[s : s + batch_size].to(pipe.device)).float().cpu())
    return torch.cat(out)


def training_pictures(pipe) -> torch.Tensor:
    """The run's training pictures as the run sees them: uint8 (N, C, H, W) at its resolution."""
    cfg = pipe.config
    data = load_dataset(dataclasses.replace(cfg.data, split="train"), default_resolution=cfg.model_config.resolution)
    return data.images


def near_copies(
    pipe, images: torch.Tensor, train: torch.Tensor | None = None, log: Callable[[str], None] | None = None
) -> dict:
    """``metrics.functional.originality`` of ``images`` (N, C, H, W) in [0, 1] against all the run's
    training pictures, with the evaluation's invariance (moves, mirrors, light crops); the threshold
    comes from ``COPY_CALIBRATION_N`` random training pictures' distances to their nearest other one,
    cached per data set. ``train``: the training pictures (uint8), when already loaded."""
    train = training_pictures(pipe) if train is None else train
    if tuple(images.shape[1:]) != tuple(train.shape[1:]):
        raise UserError(
            f"generated images are {tuple(images.shape[1:])} but the training pictures are {tuple(train.shape[1:])}"
        )
    inv = M.DEFAULT_INVARIANCE.fitted(train.shape[-2], train.shape[-1])
    n_cal = min(COPY_CALIBRATION_N, len(train))
    tag = f"{inv.cache_tag}-{n_cal}"
    path = reference_root() / f"copycal-{tag}-{data_hash(train)[:24]}.npz"
    hit = load_npz(path, {"n": len(train), "tag": tag})
    if hit is not None:
        ref = hit[0]["dist"]
    else:
        if log is not None:
            log(f"calibrating the copy check on {n_cal} of {len(train)} training pictures (cached for next time)")
        ref = M.copy_calibration(train.float() / 255, inv, n=n_cal)
        save_npz(path, {"dist": ref}, {"n": len(train), "tag": tag})
    return M.originality(images.float(), train.float() / 255, ref, top_k=0, invariance=inv)


def select(pipe, latents: Sequence[L.Latent], n: int, directions=None, D=None, copies: bool = True) -> list[L.Latent]:
    """The ``n`` latents with the highest realism, best first; each records its score and rank. With
    ``copies`` (default) near-copies of training pictures are set aside first (module docstring)."""
    if n > len(latents):
        raise UserError(f"cannot keep {n} of {len(latents)} samples")
    images = L.render_fast(pipe, latents, directions)
    scores = realism(pipe, latents, directions, D, images=images)
    flagged = np.zeros(len(latents), dtype=bool)
    ratio: np.ndarray | None = None
    if copies:
        o = near_copies(pipe, images, log=lambda msg: print(msg, file=sys.stderr, flush=True))
        flagged = np.asarray(o["flagged"], dtype=bool)
        ratio = np.asarray(o["nn_distance"]) / o["threshold"] if o["threshold"] > 0 else None
    order = [i for i in torch.argsort(scores, descending=True, stable=True).tolist() if not flagged[i]][:n]
    if len(order) < n:
        raise UserError(
            f"{int(flagged.sum())} of the {len(latents)} samples are near-copies of training pictures, leaving "
            f"{len(order)} to keep {n} from: draw more (a larger --curate)"
        )
    out = []
    for r, i in enumerate(order):
        info = {"score": round(float(scores[i]), 5), "rank": r, "of": len(latents)}
        if copies:
            info["copies_set_aside"] = int(flagged.sum())
            if ratio is not None:
                info["copy_ratio"] = round(float(ratio[i]), 4)
        out.append(latents[i].with_(origin={**latents[i].origin, "curate": info}))
    return out
