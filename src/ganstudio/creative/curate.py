"""Curation: draw many, keep the ones the run's own discriminator finds most realistic.

The realism score of an image is D's logit (D rebuilt from the checkpoint's ``D`` weights: the same
step as the generator, so the two were trained against each other). Keeping the top n of m raises
precision (fewer broken samples); as long as m / n stays moderate (the CLI default is 8x) recall
drops only a little, because D's score varies within every mode rather than picking one mode.
See benchmarks/creative_README.md for the measured precision/recall.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import latents as L
from .. import runs
from ..errors import UserError


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
    pipe, latents: Sequence[L.Latent], directions=None, D: torch.nn.Module | None = None, batch_size: int = 256
) -> torch.Tensor:
    """(N,) D logits of the latents' images (higher = more realistic to D)."""
    D = D if D is not None else load_discriminator(pipe)
    images = L.render_fast(pipe, latents, directions, batch_size)
    y = L.class_matrix(latents)
    out = []
    for s in range(0, len(images), batch_size):
        x = images[s : s + batch_size].to(pipe.device) * 2 - 1
        out.append(D(x, None if y is None else y[s : s + batch_size].to(pipe.device)).float().cpu())
    return torch.cat(out)


def select(pipe, latents: Sequence[L.Latent], n: int, directions=None, D=None) -> list[L.Latent]:
    """The ``n`` latents with the highest realism, best first; each records its score and rank."""
    if n > len(latents):
        raise UserError(f"cannot keep {n} of {len(latents)} samples")
    scores = realism(pipe, latents, directions, D)
    order = torch.argsort(scores, descending=True, stable=True)[:n]
    return [
        latents[i].with_(
            origin={**latents[i].origin, "curate": {"score": round(float(scores[i]), 5), "rank": r, "of": len(latents)}}
        )
        for r, i in enumerate(order.tolist())
    ]
