"""``train.text_guidance``: a frozen text-image matching model that G's pictures must match to their captions.

StyleGAN-T's CLIP guidance, at this project's size: before the first step a small matching model
(``models.matcher``) is fitted on the run's own training pictures and captions (never anything else), then frozen;
G's loss adds InfoNCE between its pictures and the captions it drew them from in that model's space, so each
picture must be nearer its own caption than the batch's others. D's matching head (``match_weight``) asks the same
of G, but D keeps moving and learns only what tells real from fake; the guide is fixed and learned only what tells
one caption's picture from another's. Each step shifts G's pictures by up to 2 px before the guide sees them (as
it saw real pictures in its fit), so G cannot pay in exact pixels a fixed CNN happens to like.

The guide's architecture and seed differ from the benchmark's judge (``features.text_match``, widths 32-64-128,
seed 0; the judge also sees held-out pictures, the guide never does), so that a G fitted to the guide's taste is
not simply fitted to the judge's. Cached under ``$GANSTUDIO_CACHE/guides/<key>.safetensors`` (the key: the
pictures, the caption table and the config), so a resumed or repeated run reuses the same frozen weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import asdict

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..cache import cache_root
from ..data.captions import CaptionTable
from ..losses import contrastive
from ..models.matcher import MatchConfig, MatchModel, fit_matcher

GUIDE_CONFIG = MatchConfig(widths=(48, 96, 192), epochs=40, seed=1)
SHIFT = 2  # px, as the guide's fit shifted real pictures


def _key(images: torch.Tensor, table: CaptionTable, cfg: MatchConfig) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([asdict(cfg), list(images.shape), table.model, list(table.texts)]).encode())
    for t in (images, table.embeddings, table.start, table.count):
        h.update(np.ascontiguousarray(t.detach().cpu().numpy()).tobytes())
    return h.hexdigest()[:24]


class TextGuide(torch.nn.Module):
    """The frozen guide: ``loss(pictures (B, C, H, W) in [-1, 1], captions (B, T)) -> ()`` InfoNCE, differentiable in
    the pictures only."""

    def __init__(self, model: MatchModel):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.scale = float(model.scale())  # the temperature it was fitted with

    @classmethod
    def fit(cls, images: torch.Tensor, table: CaptionTable, cfg: MatchConfig = GUIDE_CONFIG) -> TextGuide:
        """Fit (or load the cached) guide on a run's training ``images`` (N, C, H, W) uint8 and their captions."""
        cfg = dataclasses.replace(cfg, text_model=table.model)  # what the captions were embedded with
        path = cache_root() / "guides" / f"{_key(images, table, cfg)}.safetensors"
        if path.is_file():
            model = MatchModel(images.shape[1], table.embeddings.shape[1], cfg)
            model.load_state_dict(load_file(str(path)))
        else:
            model, _, _ = fit_matcher(images.cpu(), table.embeddings.cpu(), table.start.cpu(), table.count.cpu(), cfg)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")  # one per process: ranks of a torchrun fit at once
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
            tmp.replace(path)
        return cls(model)

    def loss(self, pictures: torch.Tensor, captions: torch.Tensor, noise: torch.Generator) -> torch.Tensor:
        """Symmetric InfoNCE of the batch's (picture, caption) pairs in the guide's space, after one random shift of
        up to ``SHIFT`` px (edge-replicated, one for the batch, drawn from ``noise``), in float32."""
        x = pictures.float()
        h, w = x.shape[-2:]
        # a whole-pixel translation as a gather, so the shift stays on the device (no host sync in a step)
        d = torch.randint(-SHIFT, SHIFT + 1, (2,), device=noise.device, generator=noise).to(x.device)
        rows = (torch.arange(h, device=x.device) + d[0]).clamp(0, h - 1)
        cols = (torch.arange(w, device=x.device) + d[1]).clamp(0, w - 1)
        x = x.index_select(-2, rows).index_select(-1, cols)
        a = self.model.image(x)
        b = self.model.embed_text(captions.float())
        return contrastive(self.scale * a @ b.T)
