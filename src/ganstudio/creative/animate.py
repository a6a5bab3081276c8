"""Latent walks as videos: keyframe walks (slerp between keyframes, eased) and smooth noise loops.

Walk modes (``WALKS`` registry):
  ``keyframes``: through the given latents in order (``loop`` returns to the first), slerp with
      cosine easing, so motion slows into each keyframe.
  ``circle``: a great-circle noise loop, z(theta) = a cos(theta) + b sin(theta) with a, b ~ N(0, I)
      (a closed curve in the plane of a and b through the origin's sphere shell),
      drawn from ``seed``: every frame is itself an exact N(0, I) sample (cos^2 + sin^2 = 1), and the
      last frame flows back into the first, so the video loops seamlessly.
Frames are written by ``media_video`` (MP4 H.264 / GIF / PNG folder), with the frames' latents
as ``<name>.npz`` beside the video (``frames/latents.npz`` for a folder).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .. import latents as L
from .. import media_video
from ..errors import UserError
from . import audio_react as AR
from . import interpolate as I


def keyframe_walk(
    pipe,
    keyframes: Sequence[L.Latent],
    frames: int,
    loop: bool = False,
    method: str = "slerp",
    easing: str = "cosine",
    seed: int = 0,
) -> list[L.Latent]:
    return I.path(keyframes, frames, loop, method, easing)


def circle_walk(
    pipe,
    keyframes: Sequence[L.Latent],
    frames: int,
    loop: bool = True,
    method: str = "slerp",
    easing: str = "linear",
    seed: int = 0,
) -> list[L.Latent]:
    """A seamless great-circle loop through z space (keyframes, if any, give the class and truncation)."""
    a, b = pipe.latents(2, seed)
    if keyframes:
        a = keyframes[0].z_tensor  # start the loop at the first keyframe
    theta = torch.arange(frames, dtype=torch.float32) * (2 * math.pi / frames)
    z = a[None] * torch.cos(theta)[:, None] + b[None] * torch.sin(theta)[:, None]
    base = keyframes[0] if keyframes else L.from_seeds(pipe, 1, seed)[0]
    return [
        L.Latent(
            z=tuple(z[i].tolist()),
            classes=base.classes,
            truncation=base.truncation,
            edits=base.edits,
            directions=base.directions,
            parents=(base.id,) if keyframes else (),
            origin={"op": "circle", "seed": seed, "frame": i, "frames": frames},
            run=base.run,
            step=base.step,
        )
        for i in range(frames)
    ]


WALKS: dict[str, Callable[..., list[L.Latent]]] = {"keyframes": keyframe_walk, "circle": circle_walk}


def render_frames(
    pipe,
    lats: Sequence[L.Latent],
    directions=None,
    size: int | None = None,
    resample: str = "lanczos",
    batch_size: int = 64,
    progress: bool = True,
):
    """(T, H, W, 3) uint8 frames for latents, rendered in batches with a progress bar."""
    import numpy as np
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(lats), desc="frames", unit="frame", disable=not progress, leave=False) as bar:
        for s in range(0, len(lats), batch_size):
            chunk = L.render_fast(pipe, lats[s : s + batch_size], directions, batch_size)
            out.append(media_video.resize_frames(media_video.to_rgb_frames(chunk), size, resample))
            bar.update(len(chunk))
    return np.concatenate(out)


def latents_path(out: str | Path) -> Path:
    p = Path(out)
    if p.suffix.lower() in (".mp4", ".gif"):
        return p.with_suffix(".npz")
    return p / "latents.npz"


def animate(
    pipe,
    keyframes: Sequence[L.Latent],
    out: str | Path,
    frames: int = 120,
    fps: float = 30,
    loop: bool = False,
    mode: str = "keyframes",
    method: str = "slerp",
    easing: str = "cosine",
    size: int | None = None,
    resample: str = "lanczos",
    seed: int = 0,
    directions=None,
    progress: bool = True,
    audio: str | Path | None = None,
    audio_map: AR.AudioMap | None = None,
) -> list[Path]:
    """Render a walk and write it (.mp4/.gif/folder) plus its latents. Returns the written paths.

    With ``audio`` (a sound file) the walk follows the sound (``audio_react``; ``frames`` and ``mode`` are
    then unused: the sound's length sets the frame count) and an MP4 gets the sound as its audio track."""
    if mode not in WALKS:
        raise UserError(f"unknown walk {mode!r}; choose one of {', '.join(WALKS)}")
    if frames < 2:
        raise UserError(f"--frames must be at least 2, got {frames}")
    if fps <= 0:
        raise UserError(f"--fps must be positive, got {fps}")
    L.check_compatible(keyframes, pipe, directions, exact=False)
    if audio is not None:
        amap = audio_map or AR.AudioMap()
        feats = AR.load_features(audio, fps, amap)
        lats = AR.walk_latents(pipe, keyframes, feats, amap, seed, Path(audio).name)
    else:
        lats = WALKS[mode](pipe, keyframes, frames, loop=loop, method=method, easing=easing, seed=seed)
    video = render_frames(pipe, lats, directions, size, resample, progress=progress)
    if audio is not None and Path(out).suffix.lower() == ".mp4":
        silent = Path(out).with_name(f".{Path(out).name}.silent.mp4")
        try:  # the picture first, then the sound beside it, cut or padded to the frames' length
            media_video.write_frames(video, silent, fps=fps)
            path = media_video.mux_audio(silent, audio, out, duration=len(video) / fps)
        finally:
            silent.unlink(missing_ok=True)
    else:
        path = media_video.write_frames(video, out, fps=fps)
    return [path, L.save_batch(lats, latents_path(path))]


def animate_run(
    run_dir: str | Path,
    out: str | Path,
    seeds: Sequence[int] = (),
    latent_files: str | None = None,
    frames: int = 120,
    fps: float = 30,
    loop: bool = False,
    mode: str | None = None,
    method: str = "slerp",
    easing: str = "cosine",
    size: int | None = None,
    resample: str = "lanczos",
    truncation: float = 1.0,
    classes=None,
    checkpoint: str = "latest",
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    audio: str | Path | None = None,
    audio_map: str | None = None,
) -> list[Path]:
    """CLI entry: keyframes from ``seeds`` and/or latent files, or a circle loop when neither is given;
    with ``audio``, a walk that follows the sound (``audio_map``: a JSON file or inline JSON)."""
    from ..pipeline import load
    from . import directions as D

    amap = AR.load_map(audio_map) if audio is not None else None
    if audio is None and audio_map:
        raise UserError("--audio-map needs --audio (the sound the walk follows)")
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    keys: list[L.Latent] = []
    if latent_files:
        keys += L.load_many(latent_files)
    if seeds:
        for s in seeds:
            keys += L.from_seeds(pipe, 1, s, classes, truncation)
    mode = mode or ("keyframes" if len(keys) >= 2 else "circle")
    if (mode == "circle" or audio is not None) and not keys:
        keys = L.from_seeds(pipe, 1, seed, classes, truncation)
    dirs = D.for_latents(run_dir, {k.directions for k in keys})
    return animate(
        pipe, keys, out, frames, fps, loop, mode, method, easing, size, resample, seed, dirs, progress, audio, amap
    )
