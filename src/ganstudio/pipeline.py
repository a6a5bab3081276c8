"""``load(run_dir) -> Pipeline``: a trained generator with seeded, reproducible sampling.

Image i of a call with ``seed=s`` is drawn from its own generator seeded ``s + i``, so a
picture is identified by one integer: ``pipe(n=1, seed=s+i)`` remakes it exactly.
Outputs: float images in [0, 1] shaped (N, C, H, W), plus PIL images on request. A run trained with
``data.background="transparent"`` makes RGBA (C = 4, straight alpha): its PIL images are RGBA and
``Output.save`` writes RGBA PNGs (a JPEG gets the pictures over white).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from PIL import Image

from . import media, runs
from .config import RunConfig
from .errors import UserError
from .latents import truncate
from .models import build


@dataclass
class Output:
    images: torch.Tensor  # float (N, C, H, W) in [0, 1], on the CPU
    z: torch.Tensor  # (N, z_dim) latents before truncation
    seeds: list[int]
    classes: torch.Tensor | None  # (N, num_classes) class weights, or None

    @property
    def pil(self) -> list[Image.Image]:
        return media.to_pils(self.images)

    def grid(self, nrow: int | None = None) -> Image.Image:
        return media.to_pil(media.make_grid(self.images, nrow))

    def save(self, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
        """Write the images as one grid file (one image: just it, no border); PNG keeps RGBA's alpha."""
        if len(self.images) == 1:
            return media.save_image(media.to_pil(media.hwc(media.as_uint8_nchw(self.images)[0]), scale), path)
        return media.save_grid(self.images, path, nrow, scale)


class Pipeline:
    """G + latent sampler + post-processing, rebuilt from a run folder."""

    def __init__(
        self,
        G: torch.nn.Module,
        config: RunConfig,
        run_dir: Path | None,
        step: int,
        device: torch.device,
        class_names: tuple[str, ...] = (),
    ):
        self.G, self.config, self.run_dir, self.step, self.device = G.eval(), config, run_dir, step, device
        self.z_dim = cast(int, G.z_dim)  # every family's G sets z_dim (an int) in its __init__
        self.num_classes: int = config.model_config.num_classes
        self.class_names = class_names

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """(n, z_dim) standard normal latents, latent i from a generator seeded ``seed + i``."""
        return torch.stack(
            [torch.randn(self.z_dim, generator=torch.Generator().manual_seed(seed + i)) for i in range(n)]
        )

    def class_weights(self, classes, n: int) -> torch.Tensor | None:
        """Class weights (n, K) from None (uniform random by seed order), an index, a name, or a (K,)/(n,K) tensor."""
        if not self.num_classes:
            if classes is not None:
                raise UserError("this run is not class-conditional; drop --class")
            return None
        if classes is None:
            return F.one_hot(torch.arange(n) % self.num_classes, self.num_classes).float()
        if isinstance(classes, (int, str)):
            idx = self.class_index(classes)
            return F.one_hot(torch.full((n,), idx), self.num_classes).float()
        w = torch.as_tensor(classes, dtype=torch.float32)
        return w.expand(n, -1).clone() if w.ndim == 1 else w

    def class_index(self, c: int | str) -> int:
        if isinstance(c, str) and not c.isdigit():
            names = [s.lower() for s in self.class_names]
            if c.lower() in names:
                return names.index(c.lower())
            raise UserError(f"unknown class {c!r}; this run's classes: {', '.join(self.class_names)}")
        i = int(c)
        if not 0 <= i < self.num_classes:
            raise UserError(f"class index {i} out of range 0..{self.num_classes - 1}")
        return i

    @torch.no_grad()
    def generate(
        self, z: torch.Tensor, classes: torch.Tensor | None = None, truncation: float = 1.0, batch_size: int = 256
    ) -> torch.Tensor:
        """Images (N, C, H, W) in [0, 1] for explicit latents; truncation pulls z toward its mean (0)."""
        z = truncate(z, truncation)
        out = []
        for i in range(0, len(z), batch_size):
            zb = z[i : i + batch_size].to(self.device)
            yb = None if classes is None else classes[i : i + batch_size].to(self.device)
            out.append(self.G(zb, yb).float().add(1).mul(0.5).clamp(0, 1).cpu())
        return torch.cat(out) if out else torch.empty(0)

    def __call__(self, n: int = 1, seed: int = 0, truncation: float = 1.0, classes=None) -> Output:
        if n <= 0:
            raise UserError(f"n must be positive, got {n}")
        z = self.latents(n, seed)
        y = self.class_weights(classes, n)
        return Output(self.generate(z, y, truncation), z, list(range(seed, seed + n)), y)


def load(run_dir: str | Path, checkpoint: str | int = "latest", device: str = "cpu") -> Pipeline:
    """Rebuild a run's generator (the EMA copy when the run has one) for sampling."""
    from .devices import resolve_device

    run_dir = runs.require_run(run_dir)
    cfg = RunConfig.from_dict(runs.read_config_dict(run_dir))
    ckpt = runs.find_checkpoint(run_dir, checkpoint)
    if ckpt is None:
        raise UserError(f"run {run_dir} has no checkpoint yet; train it first (or wait for its first save)")
    dev = resolve_device(device)
    G, _ = build(cfg.model, cfg.model_config)
    weights = ckpt.tensors("G_ema" if ckpt.has("G_ema") else "G")
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise UserError(f"checkpoint {ckpt.path} does not match the run's model ({str(e).splitlines()[0]})") from None
    return Pipeline(G.to(dev), cfg, run_dir, ckpt.step, dev, cfg.class_names)
