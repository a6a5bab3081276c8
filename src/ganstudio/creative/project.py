"""Projection: find the latent whose image best matches a picture (GAN inversion by optimisation).

The picture is converted to the run's channels and fitted (centre crop + Lanczos resize) to its
resolution. Then Adam optimises z (and, for conditional runs, class weights parametrised as a
softmax over logits) for all restarts at once (each restart is one row of a batch; rows do not
interact), minimising

    loss = MSE + 0.5 * L1                         pixels, in G's [-1, 1] range
         + pyramid: MSE of 2x, 4x, ... average-pooled images (coarse shape first)
         + 0.1 * feature loss: MSE of the discriminator's hidden activations (normalised)
         + 1e-3 * (|z|^2 / z_dim - 1)^2           keeps z on the typical shell of N(0, I)

(pretrained perceptual networks are not available offline, so D's own features stand in). The
learning rate warms up, then follows a cosine to zero. The restart with the lowest pixel MSE wins.
The result is an ordinary ``Latent``: animate, breed or edit it like any other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from .. import latents as L
from ..errors import UserError


@dataclass
class Projection:
    latent: L.Latent
    image: torch.Tensor  # (C, H, W) in [0, 1]: the canonical render of ``latent``
    target: torch.Tensor  # (C, H, W) in [0, 1]
    error: dict
    frames: torch.Tensor  # (T, C, H, W) in [0, 1]: the winning restart's image during optimisation


def load_target(path: str | Path | IO[bytes], channels: int, height: int, width: int) -> torch.Tensor:
    """A picture file (a path or an open binary file) -> (C, H, W) float in [0, 1], the run's channels and size
    (RGBA, straight alpha, for a 4-channel run)."""
    try:
        with Image.open(path) as f:
            im = ImageOps.exif_transpose(f)
            if channels == 4:  # a transparent run: keep the picture's alpha (opaque if it has none)
                im = im.convert("RGBA")
            else:
                im = im.convert("RGBA").convert("RGB") if im.mode in ("P", "LA", "RGBA") else im
                im = im.convert("L" if channels == 1 else "RGB")
            im = ImageOps.fit(im, (width, height), Image.Resampling.LANCZOS)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read image {path} ({e})") from None
    t = torch.from_numpy(__import__("numpy").asarray(im, dtype="float32") / 255.0)
    return t[None] if channels == 1 else t.permute(2, 0, 1)


def pyramid_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(R,) mean over levels of the MSE of 2^l-pooled images, l = 1.. while the image is >= 2 px."""
    out, n = x.new_zeros(len(x)), 0
    while min(x.shape[-2:]) >= 4:
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        out = out + (x - y).pow(2).flatten(1).mean(1)
        n += 1
    return out / max(n, 1)


class DFeatures:
    """Hidden activations of D (outputs of its nonlinearities) as a feature extractor."""

    def __init__(self, D: torch.nn.Module):
        from .directions import ACTIVATIONS

        self.D, self.mods = D, [m for m in D.modules() if isinstance(m, ACTIVATIONS)]
        for p in D.parameters():
            p.requires_grad_(False)

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None) -> list[torch.Tensor]:
        got: list[torch.Tensor] = []
        hooks = [m.register_forward_hook(lambda m, i, o: got.append(o.flatten(1))) for m in self.mods]
        try:
            self.D(x, y)
        finally:
            for h in hooks:
                h.remove()
        return got


def project(
    pipe,
    target: torch.Tensor,
    steps: int = 300,
    restarts: int = 4,
    lr: float = 0.1,
    seed: int = 0,
    feature_weight: float = 0.1,
    record_every: int = 5,
    use_d: bool = True,
    progress: bool = True,
) -> Projection:
    """Fit a latent to ``target`` (C, H, W) in [0, 1] (see module docstring)."""
    from tqdm.auto import tqdm

    if steps <= 0 or restarts <= 0:
        raise UserError("--steps and --restarts must be positive")
    C, H, W = pipe.G.out_shape  # every family's G sets out_shape
    if tuple(target.shape) != (C, H, W):
        raise UserError(f"target is {tuple(target.shape)} but the run makes {(C, H, W)} images")
    dev = pipe.device
    for p in pipe.G.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(restarts, pipe.z_dim, generator=gen).to(dev).requires_grad_(True)
    params = [z]
    logits = None
    if pipe.num_classes:
        logits = torch.zeros(restarts, pipe.num_classes, device=dev, requires_grad=True)
        params.append(logits)
    feats = None
    if use_d and feature_weight > 0 and pipe.run_dir is not None:
        from .curate import load_discriminator

        try:
            feats = DFeatures(load_discriminator(pipe))
        except UserError:
            feats = None  # no D weights in this checkpoint: pixels and pyramid only
    t = (target.to(dev) * 2 - 1)[None].expand(restarts, -1, -1, -1)
    t_feats = None
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))
    warm = max(1, steps // 20)
    frames = []
    for step in tqdm(range(steps), desc="projecting", disable=not progress, leave=False):
        lr_now = lr * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for g in opt.param_groups:
            g["lr"] = lr_now
        y = None if logits is None else logits.softmax(1)
        x = pipe.G(z, y)
        loss = (x - t).pow(2).flatten(1).mean(1) + 0.5 * (x - t).abs().flatten(1).mean(1) + pyramid_loss(x, t)
        if feats is not None:
            if t_feats is None:
                with torch.no_grad():
                    t_feats = feats(t, y.detach() if y is not None else None)
            for fx, ft in zip(feats(x, y), t_feats):
                loss = loss + feature_weight * (fx - ft).pow(2).mean(1) / (ft.var() + 1e-8)
        loss = loss + 1e-3 * (z.pow(2).mean(1) - 1).pow(2)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if step % record_every == 0:
            frames.append(x.detach().add(1).mul(0.5).clamp(0, 1).cpu())
    with torch.no_grad():
        y = None if logits is None else logits.softmax(1)
        final = pipe.G(z, y).add(1).mul(0.5).clamp(0, 1).cpu()
    frames.append(final)
    mse = (final - target[None]).pow(2).flatten(1).mean(1)
    best = int(mse.argmin())
    lat = L.from_arrays(
        pipe,
        z.detach()[best : best + 1],
        None if y is None else y[best : best + 1],
        origin={"op": "project", "steps": steps, "restarts": restarts, "seed": seed},
    )[0]
    image = L.render(pipe, [lat])[0]
    err = (image - target).pow(2).mean()
    error = {
        "mse": float(err),
        "psnr_db": float(10 * torch.log10(1 / err.clamp_min(1e-12))),
        "l1": float((image - target).abs().mean()),
        "restart": best,
        "restart_mse": [float(v) for v in mse],
        "steps": steps,
        "restarts": restarts,
        "pixel_range": "[0, 1]",
    }
    for p in pipe.G.parameters():
        p.requires_grad_(True)
    return Projection(lat, image, target, error, torch.stack([f[best] for f in frames]))


def project_file(
    run_dir: str | Path,
    image: str | Path,
    steps: int = 300,
    restarts: int = 4,
    lr: float = 0.1,
    seed: int = 0,
    out_dir: str | Path | None = None,
    video: str = "gif",
    size: int | None = 256,
    checkpoint: str = "latest",
    device: str = "cpu",
    progress: bool = True,
) -> list[Path]:
    """CLI entry: project a picture; write the latent JSON, the reconstruction PNG, the error JSON,
    the fitted target and a video (``gif`` or ``mp4``) of the optimisation (target | current)."""
    from .. import media, media_video, runs
    from ..pipeline import load

    if video not in ("gif", "mp4"):
        raise UserError(f"--video must be gif or mp4, got {video!r}")
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    C, H, W = cast("tuple[int, int, int]", pipe.G.out_shape)  # every noise-to-image G sets out_shape
    target = load_target(image, C, H, W)
    res = project(pipe, target, steps, restarts, lr, seed, progress=progress)
    stem = Path(image).stem
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "projections" / stem
    scale = max(1, 96 // H)
    recon = media.save_image(media.to_pil(media.make_grid(res.image[None], pad=0), scale), out / f"{stem}.png")
    written = [
        recon,
        L.save_latent(res.latent, L.sidecar(recon)),
        media.save_image(media.to_pil(media.make_grid(target[None], pad=0), scale), out / f"{stem}-target.png"),
    ]
    err_path = out / f"{stem}-error.json"
    runs.atomic_write_json(err_path, {**res.error, "image": str(image), "latent": res.latent.id})
    written.append(err_path)
    side = torch.cat([target[None].expand(len(res.frames), -1, -1, -1), res.frames], dim=3)
    frames = media_video.resize_frames(media_video.to_rgb_frames(side), size and size * 2, "nearest")
    written.append(media_video.write_frames(frames, out / f"{stem}-optimisation.{video}", fps=12))
    return written
