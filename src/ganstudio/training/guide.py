"""``train.text_guidance``: a frozen text-image matching model that G's pictures must match to their captions.

StyleGAN-T's CLIP guidance, at this project's size: before the first step a small matching model
(``models.matcher``) is fitted on the run's own training pictures and captions (never anything else), then frozen;
G's loss adds InfoNCE between its pictures and the captions it drew them from in that model's space, so each
picture must be nearer its own caption than the batch's others. D's matching head (``match_weight``) asks the same
of G, but D keeps moving and learns only what tells real from fake; the guide is fixed and learned only what tells
one caption's picture from another's. With ``train.text_guidance_negatives="all"`` each picture must be nearer its
caption than every training caption of every other picture (not just the batch's 15): its nearest neighbours are
then among the negatives, the way R-precision ranks a caption among others. Each step shifts G's pictures by up to
2 px before the guide sees them (as it saw real pictures in its fit), so G cannot pay in exact pixels a fixed CNN
happens to like.

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
import torch.nn.functional as F
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


def _row_ids(table: CaptionTable) -> tuple[torch.Tensor, torch.Tensor]:
    """Per caption row (M,): the picture it captions and an id of its text (equal texts, equal ids)."""
    picture = torch.repeat_interleave(torch.arange(len(table.count)), table.count.cpu())
    ids: dict[str, int] = {}
    text = torch.tensor([ids.setdefault(t, len(ids)) for t in table.texts])
    return picture, text


class TextGuide(torch.nn.Module):
    """The frozen guide: ``loss(pictures (B, C, H, W) in [-1, 1], captions (B, T), noise, rows) -> ()`` InfoNCE,
    differentiable in the pictures only. With a caption bank (``negatives="all"``) it is one-way cross-entropy of
    each picture over every training caption, its own row ``rows`` (B,) the answer."""

    bank: torch.Tensor | None  # (M, D) every training caption in the guide's space, or None: in-batch negatives
    row_picture: torch.Tensor  # (M,) the picture each row captions
    row_text: torch.Tensor  # (M,) an id of each row's text

    def __init__(self, model: MatchModel, table: CaptionTable | None = None):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.scale = float(model.scale())  # the temperature it was fitted with
        self.register_buffer("bank", None, persistent=False)
        if table is not None:  # every caption in the guide's text space, once: the guide is frozen
            with torch.no_grad():
                bank = self.model.embed_text(table.embeddings.float().cpu())
            picture, text = _row_ids(table)
            # not in the state dict: rebuilt from the table on every start, like the guide itself
            self.register_buffer("bank", bank, persistent=False)
            self.register_buffer("row_picture", picture, persistent=False)
            self.register_buffer("row_text", text, persistent=False)

    @classmethod
    def fit(
        cls, images: torch.Tensor, table: CaptionTable, cfg: MatchConfig = GUIDE_CONFIG, negatives: str = "batch"
    ) -> TextGuide:
        """Fit (or load the cached) guide on a run's training ``images`` (N, C, H, W) uint8 and their captions;
        ``negatives`` "all" keeps every caption as a bank of negatives."""
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
        return cls(model, table if negatives == "all" else None)

    def loss(
        self, pictures: torch.Tensor, captions: torch.Tensor, noise: torch.Generator, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Symmetric InfoNCE of the batch's (picture, caption) pairs in the guide's space, after one random shift of
        up to ``SHIFT`` px (edge-replicated, one for the batch, drawn from ``noise``), in float32. With a bank, the
        pictures' cross-entropy over every caption instead (``rows``: each picture's caption row in the table)."""
        x = pictures.float()
        h, w = x.shape[-2:]
        # a whole-pixel translation as a gather, so the shift stays on the device (no host sync in a step)
        d = torch.randint(-SHIFT, SHIFT + 1, (2,), device=noise.device, generator=noise).to(x.device)
        ys = (torch.arange(h, device=x.device) + d[0]).clamp(0, h - 1)
        xs = (torch.arange(w, device=x.device) + d[1]).clamp(0, w - 1)
        x = x.index_select(-2, ys).index_select(-1, xs)
        a = self.model.image(x)
        if self.bank is not None:
            assert rows is not None, "a guide with a caption bank needs each picture's caption row"
            return self._bank_loss(a, rows)
        b = self.model.embed_text(captions.float())
        return contrastive(self.scale * a @ b.T)

    def _bank_loss(self, a: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of image features ``a`` (B, D) over every caption row, the answer ``rows`` (B,). The
        picture's other captions and every row with the answer's text (a caption several pictures share) are left
        out: they are not wrong answers."""
        assert self.bank is not None
        logits = self.scale * a @ self.bank.T  # (B, M)
        same = (self.row_picture[None] == self.row_picture[rows][:, None]) | (
            self.row_text[None] == self.row_text[rows][:, None]
        )
        same[torch.arange(len(rows), device=rows.device), rows] = False
        return F.cross_entropy(logits.masked_fill(same, float("-inf")), rows)
