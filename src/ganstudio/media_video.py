"""Video, GIF and PNG-sequence writers. Knows nothing about GANs.

Frames at this boundary are uint8 arrays shaped (T, H, W, 3) or (T, H, W) (grayscale). RGBA pictures
(4 channels) are composited over white (``media.BACKGROUND``) first: MP4 and GIF have no (usable) alpha.

- MP4: H.264 (libx264), yuv420p, through imageio-ffmpeg's bundled ffmpeg binary; odd sizes are
  padded to even (yuv420p needs it). Plays in browsers, QuickTime and phones.
- GIF: Pillow, looping forever. Pillow merges identical consecutive frames into one (adding their
  durations), so timing is kept but a walk that pauses may hold fewer frames than it was given.
- PNG sequence: ``frame000000.png``... in a folder (for editing software).
All writers are atomic: they write a temporary file (folder) beside the target, then rename it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from . import media
from .errors import UserError
from .fsutil import atomic_file, file_mode

RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def to_rgb_frames(images) -> np.ndarray:
    """(T, C, H, W) float in [0, 1] or uint8 -> (T, H, W, 3) uint8 (RGBA composited over white)."""
    a = media.flatten(images)
    if a.shape[1] == 1:
        a = np.repeat(a, 3, axis=1)
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def resize_frames(frames: np.ndarray, size: int | None, resample: str = "lanczos") -> np.ndarray:
    """Scale (T, H, W, 3) so the longer side is ``size`` pixels (None: unchanged)."""
    if not size:
        return frames
    if resample not in RESAMPLE:
        raise UserError(f"unknown resampling {resample!r}; choose one of {', '.join(RESAMPLE)}")
    h, w = frames.shape[1:3]
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    if (nh, nw) == (h, w):
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((nw, nh), RESAMPLE[resample])) for f in frames])


def pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad (T, H, W, C) at the bottom/right by edge pixels to even H and W (yuv420p needs it)."""
    h, w = frames.shape[1:3]
    ph, pw = h % 2, w % 2
    if not (ph or pw):
        return frames
    return np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")


def write_mp4(
    frames: Iterable[np.ndarray],
    path: str | Path,
    fps: float = 30,
    quality: int = 18,
    shape: tuple[int, int] | None = None,
) -> Path:
    """H.264 MP4 (yuv420p). ``frames``: (T, H, W, 3) uint8, or an iterable of (H, W, 3) with ``shape=(H, W)``."""
    import imageio_ffmpeg

    path = Path(path)
    if isinstance(frames, np.ndarray):
        frames = pad_even(frames)
        shape = frames.shape[1:3]
    if shape is None:
        raise UserError("write_mp4 needs the frame shape for an iterable of frames")
    h, w = shape
    if h % 2 or w % 2:
        raise UserError(f"H.264 in yuv420p needs even sizes, got {w}x{h}")
    with atomic_file(path, suffix=".mp4") as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            (w, h),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=1,
            output_params=["-crf", str(quality)],
            ffmpeg_log_level="error",
        )
        try:
            writer.send(None)
            for f in frames:
                writer.send(np.ascontiguousarray(f[..., :3] if f.ndim == 3 else np.repeat(f[..., None], 3, 2)))
        finally:
            writer.close()  # ffmpeg finishes the file (or, after an error, exits) before it is moved or deleted
    return path


def write_gif(frames: np.ndarray, path: str | Path, fps: float = 30) -> Path:
    """Looping GIF with Pillow (each frame ``1000 / fps`` ms; browsers round below 20 ms up)."""
    path = Path(path)
    ims = [Image.fromarray(f) for f in frames]
    with atomic_file(path, suffix=".gif") as tmp:
        ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:], duration=round(1000 / fps), loop=0)
    return path


def write_png_sequence(frames: np.ndarray, folder: str | Path, fps: float = 30) -> Path:
    """``folder/frame000000.png``...; the folder is built beside the target and renamed into place."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        for i, f in enumerate(frames):
            Image.fromarray(f).save(tmp / f"frame{i:06d}.png")
        if folder.exists():
            if any(p for p in folder.iterdir() if not p.name.startswith("frame")):
                raise UserError(f"{folder} exists and holds other files; choose an empty or new folder")
            shutil.rmtree(folder)
        os.chmod(tmp, file_mode(0o777))  # mkdtemp makes a private folder; this one is an ordinary folder
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


WRITERS: dict[str, Callable[..., Path]] = {".mp4": write_mp4, ".gif": write_gif, "": write_png_sequence}


def write_frames(frames: np.ndarray, path: str | Path, fps: float = 30) -> Path:
    """Write (T, H, W, 3) uint8 frames by the target's suffix: .mp4, .gif, or a folder (no suffix)."""
    p = Path(path)
    suffix = "" if str(path).endswith(("/", os.sep)) else p.suffix.lower()
    if suffix not in WRITERS:
        raise UserError(f"cannot write {p.name}: use a .mp4 or .gif file name, or a folder for PNG frames")
    if len(frames) == 0:
        raise UserError("no frames to write")
    if frames.ndim == 4 and frames.shape[-1] == 4:  # RGBA frames: over white, as to_rgb_frames makes them
        frames = np.ascontiguousarray(media.flatten(frames.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1))
    return WRITERS[suffix](frames, p, fps=fps)


def count_frames(path: str | Path) -> int:
    """Frames in an MP4 (by decoding, via imageio-ffmpeg), a GIF, or a PNG-sequence folder."""
    p = Path(path)
    if p.is_dir():
        return len(list(p.glob("frame*.png")))
    if p.suffix.lower() == ".gif":
        with Image.open(p) as im:
            return int(getattr(im, "n_frames", 1))  # a GIF's frame count (PIL's ImageFile stubs lack it)
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(p))[0]


def mux_audio(video: str | Path, audio: str | Path, out: str | Path, duration: float | None = None) -> Path:
    """``out``: ``video``'s H.264 stream (copied, not re-encoded) plus ``audio`` (any file ffmpeg reads) as
    AAC, cut or padded with silence to ``duration`` seconds (default: the video's), so both streams end
    together and the video stays frame-accurate. Atomic, like the writers above."""
    import subprocess

    import imageio_ffmpeg

    if duration is None:  # frames / fps: the container's own duration is rounded to 10 ms
        reader = imageio_ffmpeg.read_frames(str(video))
        fps = float(next(reader)["fps"])
        reader.close()
        duration = imageio_ffmpeg.count_frames_and_secs(str(video))[0] / fps
    with atomic_file(Path(out), suffix=".mp4") as tmp:
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-i", str(video), "-i", str(audio),
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "192k",
            "-af", "apad", "-t", f"{duration:.6f}", "-movflags", "+faststart", str(tmp),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["ffmpeg failed"])[-1]
            raise UserError(
                f"cannot add the sound {Path(audio).name} to the video ({last}); give a WAV, FLAC or OGG file"
            )
    return Path(out)
