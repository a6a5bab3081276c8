"""An independent text-image matching model, to score text-to-picture generators by retrieval (R-precision).

The model (``models.matcher``): two towers meet in one 128-d space, a small CNN over the picture ((B, 3, 32, 32)
in [-1, 1], larger pictures average-pooled to 32 px) and a linear map of the *frozen* sentence embedding of a
caption (``textembed``, the same MiniLM the generators read). Trained contrastively (CLIP's symmetric InfoNCE
with a learned temperature) on REAL captioned pictures only, never on generated ones: it judges generators, so it
must not have learnt any generator's habits. Each step draws one of each picture's captions (``data.captions``)
and shifts the pictures by up to 2 px (no flips: "left arrow" is not "right arrow").

R-precision (``r_precision``): for each (picture, its caption) the caption must score highest among itself
and ``distractors`` (99) random other captions.

Cached in ``$GANSTUDIO_CACHE/features/text-match-<data>-<hash12>/`` as ``model.safetensors`` + ``meta.json``
(the data hash, the config, the training log), like ``features.classifier``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .. import textembed
from ..data import ImageDataset
from ..data.captions import caption_table
from ..errors import UserError
from ..models.matcher import MatchConfig, MatchModel, fit_matcher
from ..runs import atomic_write_json, slug
from .cache import data_hash, features_root

__all__ = ["MatchConfig", "TextMatcher", "load_matcher", "r_precision", "train_matcher"]


def model_dir(ds: ImageDataset, cfg: MatchConfig) -> Path:
    dh = data_hash(ds.images)
    key = textembed.fingerprint(np.frombuffer(json.dumps([dh, asdict(cfg), list(ds.captions)]).encode(), np.uint8))
    return features_root() / f"text-match-{slug(ds.name)}-{key[:12]}"


class TextMatcher:
    """A trained matching model: ``image_embeddings(pictures)``, ``text_embeddings(texts)``, ``scores``."""

    def __init__(self, model: MatchModel, cfg: MatchConfig, meta: dict):
        self.model, self.cfg, self.meta = model.eval(), cfg, meta

    @torch.no_grad()
    def image_embeddings(self, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
        """(N, C, H, W) uint8, or float in [0, 1] -> (N, dim)."""
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        return torch.cat([self.model.image(x[i : i + batch] * 2 - 1) for i in range(0, len(x), batch)])

    @torch.no_grad()
    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        e = torch.from_numpy(textembed.embed(list(texts), self.cfg.text_model))
        return self.model.embed_text(e)


def train_matcher(
    ds: ImageDataset, cfg: MatchConfig | None = None, log: Callable[[str], None] | None = None, force: bool = False
) -> TextMatcher:
    """Train (or load the cached) matching model on the captioned REAL pictures ``ds`` (uint8, any size that
    pools to 32 px); ``cfg`` defaults to ``MatchConfig()``, the judge's."""
    cfg = cfg or MatchConfig()
    path = model_dir(ds, cfg)
    if not force and (path / "meta.json").is_file() and (path / "model.safetensors").is_file():
        return load_matcher(path)
    table = caption_table(ds, cfg.text_model)
    model, losses, seconds = fit_matcher(ds.images, table.embeddings, table.start, table.count, cfg, log)
    n, steps_per_epoch = len(ds), max(1, len(ds) // cfg.batch_size)
    meta = {
        "data": ds.name,
        "pictures": n,
        "data_hash": data_hash(ds.images),
        "config": asdict(cfg),
        "final_loss": float(np.mean(losses[-steps_per_epoch:])),
        "seconds": round(seconds, 1),
        "channels": ds.shape[0],
        "text_dim": int(table.embeddings.shape[1]),
    }
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path / "model.safetensors"))
    atomic_write_json(path / "meta.json", meta)
    return TextMatcher(model, cfg, meta)


def load_matcher(path: str | Path) -> TextMatcher:
    path = Path(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
        c = dict(meta["config"])
        cfg = MatchConfig(**{**c, "widths": tuple(c["widths"])})
        model = MatchModel(int(meta["channels"]), int(meta["text_dim"]), cfg)
        model.load_state_dict(load_file(str(path / "model.safetensors")))
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise UserError(f"{path} is not a usable text-match model ({e}); delete it to retrain") from None
    return TextMatcher(model, cfg, meta)


def r_precision(
    matcher: TextMatcher,
    images: torch.Tensor,
    captions: Sequence[str],
    pool: Sequence[str],
    distractors: int = 99,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """Share of pictures whose own caption ranks first among itself + ``distractors`` random captions of ``pool``
    (never equal to it), and the per-picture hits (N,) bool. ``images`` (N, C, H, W), ``captions`` (N,)."""
    if len(images) != len(captions):
        raise ValueError("r_precision: one caption per picture")
    rng = np.random.default_rng(seed)
    pool_arr = np.array(sorted(set(pool)))
    img = matcher.image_embeddings(images)
    texts = sorted(set(captions) | set(pool_arr.tolist()))
    at = {t: i for i, t in enumerate(texts)}
    txt = matcher.text_embeddings(texts)
    hits = np.zeros(len(images), bool)
    for i, cap in enumerate(captions):
        others = pool_arr[pool_arr != cap]
        pick = rng.choice(len(others), size=min(distractors, len(others)), replace=False)
        cand = [at[cap]] + [at[t] for t in others[pick]]
        s = txt[cand] @ img[i]
        hits[i] = bool(s[0] > s[1:].max())
    return float(hits.mean()), hits
