"""What the studio asks of the library: cached Pipelines and latents -> pictures.

The studio holds no GAN logic of its own. It loads runs with ``ganstudio.load`` (an LRU of
Pipelines keyed by run + checkpoint step, one lock per model so that concurrent requests never
share a generator mid-call) and turns the studio's latent records into images. The creative
operations (directions, breeding, walks, taste, projection) call ``ganstudio.creative`` when those
modules provide them; until then a minimal version built on ``Pipeline`` stands in (marked
"fallback" below).

A latent record is JSON: ``{"seed": int | null, "z": [float] | null, "truncation": float,
"class": int | null, "edits": {"<direction index>": amount}, "parents": [image ids]}``; either
``seed`` or ``z`` says where the picture starts, so every image can be re-made exactly.
"""
from __future__ import annotations

import io
import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from .. import media, runs
from ..errors import UserError

MAX_MODELS = 4
N_DIRECTIONS = 8


class NotFound(UserError):
    """A run, checkpoint, image or job that does not exist (HTTP 404)."""


class Engine:
    def __init__(self, runs_dir: str | Path, max_models: int = MAX_MODELS):
        self.runs_dir = Path(runs_dir).resolve()
        self.max_models = max_models
        self._cache: OrderedDict[tuple[str, int], tuple[Any, threading.Lock]] = OrderedDict()
        self._dirs: dict[tuple[str, int], torch.Tensor] = {}
        self._lock = threading.Lock()
        self.directions_source = "fallback: principal components of generated pictures"

    # ---- runs ------------------------------------------------------------------------------------
    def run_names(self) -> list[str]:
        return [p.name for p in runs.list_runs(self.runs_dir)]

    def run_dir(self, name: str) -> Path:
        """A known run's folder; the name must be one of the listed runs (never a path)."""
        if name not in self.run_names():
            raise NotFound(f"unknown run {name!r}; pick one of the runs listed in the studio")
        return self.runs_dir / name

    # ---- models ----------------------------------------------------------------------------------
    def pipeline(self, run: str, checkpoint: str = "latest"):
        """(Pipeline, lock) for a run's checkpoint, loaded once and kept in a small LRU."""
        run_dir = self.run_dir(run)
        ckpt = runs.find_checkpoint(run_dir, checkpoint)
        if ckpt is None:
            raise UserError(f"run {run} has no checkpoint yet; wait for its first save")
        key = (run, ckpt.step)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        from ..pipeline import load

        pipe = load(run_dir, checkpoint=str(ckpt.step), device="cpu")
        with self._lock:
            hit = self._cache.setdefault(key, (pipe, threading.Lock()))
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_models:
                old, _ = self._cache.popitem(last=False)
                self._dirs.pop(old, None)
        return hit

    # ---- latents -> images -----------------------------------------------------------------------
    def base_z(self, pipe, latent: dict) -> torch.Tensor:
        if latent.get("z") is not None:
            z = torch.tensor(latent["z"], dtype=torch.float32)
            if z.numel() != pipe.z_dim:
                raise UserError(f"latent has {z.numel()} numbers but this run's model takes {pipe.z_dim}")
            return z
        return pipe.latents(1, int(latent.get("seed") or 0))[0]

    def full_z(self, pipe, run: str, latent: dict) -> torch.Tensor:
        """The latent with its direction edits applied (before truncation)."""
        z = self.base_z(pipe, latent)
        edits = latent.get("edits") or {}
        if edits:
            dirs = self.directions(pipe, run)
            for k, amount in edits.items():
                i = int(k)
                if not 0 <= i < len(dirs):
                    raise UserError(f"direction {i} does not exist; this run has {len(dirs)}")
                z = z + float(amount) * dirs[i]
        return z

    def classes(self, pipe, latents: list[dict]) -> torch.Tensor | None:
        if not pipe.num_classes:
            if any(l.get("class") is not None for l in latents):
                raise UserError("this run has no classes; leave the class empty")
            return None
        rows = []
        for i, l in enumerate(latents):
            c = l.get("class")
            idx = pipe.class_index(int(c)) if c is not None else int(l.get("seed") or i) % pipe.num_classes
            rows.append(torch.nn.functional.one_hot(torch.tensor(idx), pipe.num_classes).float())
        return torch.stack(rows)

    def images(self, run: str, checkpoint: str, latents: list[dict]) -> tuple[torch.Tensor, int]:
        """Images (N, C, H, W) in [0, 1] for latent records, and the checkpoint step used."""
        pipe, lock = self.pipeline(run, checkpoint)
        with lock:
            z = torch.stack([self.full_z(pipe, run, l) for l in latents])
            trunc = torch.tensor([float(l.get("truncation", 1.0)) for l in latents]).unsqueeze(1)
            y = self.classes(pipe, latents)
            return pipe.generate(z * trunc, y, truncation=1.0), pipe.step

    # ---- directions (fallback: PCA of generated pictures, regressed onto z) ----------------------
    def directions(self, pipe, run: str, k: int = N_DIRECTIONS) -> torch.Tensor:
        """(k, z_dim) unit directions in latent space, strongest change first, cached per checkpoint."""
        key = (run, pipe.step)
        d = self._dirs.get(key)
        if d is None:
            d = _pca_directions(pipe, k)
            self._dirs[key] = d
        return d


@torch.no_grad()
def _pca_directions(pipe, k: int, n: int = 1024) -> torch.Tensor:
    # fallback until ganstudio.creative.directions exists: GANSpace-style principal directions.
    z = torch.randn(n, pipe.z_dim, generator=torch.Generator().manual_seed(0))
    y = None
    if pipe.num_classes:
        y = torch.nn.functional.one_hot(torch.arange(n) % pipe.num_classes, pipe.num_classes).float()
    x = pipe.generate(z, y).reshape(n, -1)
    x = x - x.mean(0)
    k = min(k, x.shape[1], pipe.z_dim)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    scores = x @ v[:k].T  # (n, k)
    d = (z.T @ scores).T  # z directions that move each component
    return d / d.norm(dim=1, keepdim=True).clamp_min(1e-8)


# ---- small pure helpers ------------------------------------------------------------------------

def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between two latents (norms interpolated linearly)."""
    na, nb = a.norm(), b.norm()
    ua, ub = a / na.clamp_min(1e-8), b / nb.clamp_min(1e-8)
    omega = torch.arccos((ua * ub).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if omega.abs() < 1e-4:
        u = (1 - t) * ua + t * ub
    else:
        u = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    return u * ((1 - t) * na + t * nb)


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    u8 = media.as_uint8_nchw(images)
    return [Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)) for a in u8]


def png_bytes(im: Image.Image, latent: dict | None = None, run: str | None = None, size: int | None = None) -> bytes:
    """PNG bytes; with ``latent`` the record is embedded as a tEXt chunk (``ganstudio-latent``)."""
    if size and im.width < size:
        im = im.resize((size, round(size * im.height / im.width)), Image.Resampling.LANCZOS)
    info = None
    if latent is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("ganstudio-latent", json.dumps({"run": run, "latent": latent}, sort_keys=True))
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info, compress_level=1)
    return buf.getvalue()


def z_list(z: torch.Tensor) -> list[float]:
    return [round(float(v), 5) for v in z]


def finite(x: float) -> bool:
    return math.isfinite(x)


def as_gray_or_rgb(im: Image.Image, channels: int, size: tuple[int, int]) -> np.ndarray:
    im = im.convert("L" if channels == 1 else "RGB").resize(size, Image.Resampling.LANCZOS)
    a = np.asarray(im, dtype=np.float32) / 255.0
    return a[None] if channels == 1 else a.transpose(2, 0, 1)
