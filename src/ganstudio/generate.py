"""Generation to files: a grid and/or one PNG per image named by its seed."""
from __future__ import annotations

from pathlib import Path

from . import media
from .errors import UserError
from .pipeline import load


def generate_to_files(run_dir: str | Path, n: int = 64, seed: int = 0, checkpoint: str = "latest",
                      grid: str | Path | None = None, out_dir: str | Path | None = None, truncation: float = 1.0,
                      classes=None, device: str = "cpu") -> list[Path]:
    """Sample ``n`` images; write a grid, per-image PNGs, or (neither given) a grid in the run folder."""
    if n <= 0:
        raise UserError(f"--n must be positive, got {n}")
    if not 0 < truncation <= 2:
        raise UserError(f"--truncation must be in (0, 2], got {truncation}")
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    out = pipe(n=n, seed=seed, truncation=truncation, classes=classes)
    written = []
    if grid is None and out_dir is None:
        grid = Path(run_dir) / "generated" / f"step{pipe.step}-seed{seed}-n{n}.png"
    if grid is not None:
        h = out.images.shape[-2]
        written.append(media.save_grid(out.images, grid, scale=max(1, 96 // h)))
    if out_dir is not None:
        d = Path(out_dir)
        for s, im in zip(out.seeds, out.pil):
            written.append(media.save_image(im, d / f"seed{s:06d}.png"))
    return written
