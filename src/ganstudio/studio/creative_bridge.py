"""The studio's one door into ``ganstudio.creative`` (and ``media_video``).

Each function here calls the library's creative module when it provides the operation, and
otherwise falls back to a minimal version built on ``Pipeline`` (each fallback says so in its
docstring and in the ``note`` the page shows). Keeping this in one module means the endpoints do
not change when the creative modules land or evolve.
"""
from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import UserError


def _creative(name: str):
    try:
        return importlib.import_module(f"ganstudio.creative.{name}")
    except ImportError:
        return None


def _seed_records(seeds: list[int], truncation: float = 1.0) -> list[dict]:
    return [{"seed": int(s), "z": None, "truncation": truncation, "class": None, "edits": {}, "parents": []}
            for s in seeds]


def prompt_latents(pipe, prompt: str, n: int, seed: int, truncation: float) -> tuple[list[dict], str | None]:
    mod = _creative("prompt")
    if mod is None:
        raise UserError("text prompts are not available in this installation (ganstudio.creative.prompt is "
                        "missing); leave the prompt empty")
    raise UserError("text prompts are not wired into the studio yet; leave the prompt empty")


def more_like(pipe, liked: torch.Tensor, disliked: torch.Tensor | None, n: int, seed: int,
              liked_records: list[dict]) -> tuple[list[dict], str | None]:
    """Fallback preference model: a linear score (cosine with mean(liked) - mean(disliked)) ranks
    32n seeded candidates; the best n are returned. Truncation follows the favourites' average."""
    w = liked.mean(0) - (disliked.mean(0) if disliked is not None else 0)
    w = w / w.norm().clamp_min(1e-8)
    seeds = [(seed + i) % 2**31 for i in range(32 * n)]
    z = torch.stack([torch.randn(pipe.z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
    score = (z / z.norm(dim=1, keepdim=True)) @ w
    best = torch.topk(score, n).indices.tolist()
    trunc = round(float(np.mean([r.get("truncation", 1.0) for r in liked_records])), 4)
    return _seed_records([seeds[i] for i in best], trunc), \
        f"ranked {len(seeds)} candidates by your {len(liked)} likes" + \
        (f" and {len(disliked)} dislikes" if disliked is not None else "")


def breed(parents: torch.Tensor, n: int, mutation: float, seed: int) -> list[torch.Tensor]:
    """Fallback breeding: uniform crossover of the parents' latents, blended toward their mean,
    plus Gaussian mutation; children keep the parents' typical norm."""
    g = torch.Generator().manual_seed(seed)
    k, d = parents.shape
    norm = parents.norm(dim=1).mean()
    out = []
    for _ in range(n):
        pick = torch.randint(k, (d,), generator=g)
        child = parents[pick, torch.arange(d)]
        w = torch.rand(k, generator=g).add(0.2)
        mean = (w[:, None] * parents).sum(0) / w.sum()
        child = 0.5 * child + 0.5 * mean + mutation * torch.randn(d, generator=g)
        out.append(child * norm / child.norm().clamp_min(1e-8))
    return out


def project(pipe, picture: Image.Image, steps: int = 200) -> tuple[torch.Tensor, str | None]:
    """Fallback projection: the best of 64 seeded latents, refined by Adam on the pixel error."""
    c, h, w = _shape(pipe)
    im = picture.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.LANCZOS)
    a = np.asarray(im, dtype=np.float32) / 127.5 - 1
    target = torch.from_numpy(a[None] if c == 1 else a.transpose(2, 0, 1))[None].to(pipe.device)
    y = pipe.class_weights(None, 1)
    y = None if y is None else y.to(pipe.device)
    with torch.no_grad():
        cand = torch.randn(64, pipe.z_dim, generator=torch.Generator().manual_seed(0)).to(pipe.device)
        yc = None if y is None else y.expand(64, -1)
        err = (pipe.G(cand, yc) - target).pow(2).flatten(1).mean(1)
    z = cand[err.argmin()].clone()[None].requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    for p in pipe.G.parameters():
        p.requires_grad_(False)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss = (pipe.G(z, y) - target).pow(2).mean()
            loss.backward()
            opt.step()
    return z.detach()[0].cpu(), f"projected in {steps} steps (pixel error {float(loss.detach()):.3f})"


def _shape(pipe) -> tuple[int, int, int]:
    mc = pipe.config.model_config
    return mc.channels, (getattr(mc, "height", None) or mc.resolution), mc.resolution


def write_video(frames: list[Image.Image], path: Path, fps: int = 12, size: int = 256) -> Path:
    """A looping GIF (Pillow) or an H.264 MP4 (imageio-ffmpeg), written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = max(16, size // 16 * 16)
    big = [f.convert("RGB").resize((size, round(size * f.height / f.width) // 16 * 16 or 16),
                                   Image.Resampling.LANCZOS) for f in frames]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        if path.suffix == ".gif":
            big[0].save(tmp, format="GIF", save_all=True, append_images=big[1:], duration=round(1000 / fps),
                        loop=0, optimize=False)
        else:
            import imageio.v2 as imageio

            with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p",
                                    macro_block_size=16, output_params=["-movflags", "+faststart"]) as wr:
                for f in big:
                    wr.append_data(np.asarray(f))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
