"""Latent walks as videos: keyframe walks (slerp between keyframes, eased) and smooth noise loops.

Walk modes (``WALKS`` registry):
  ``keyframes``: through the given latents in order (``loop`` returns to the first), slerp with
      cosine easing, so motion slows into each keyframe.
  ``circle``: a great-circle noise loop, z(theta) = a cos(theta) + b sin(theta) with a, b ~ N(0, I)
      (a closed curve in the plane of a and b through the origin's sphere shell),
      drawn from ``seed``: every frame is itself an exact N(0, I) sample (cos^2 + sin^2 = 1), and the
      last frame flows back into the first, so the video loops seamlessly.
Frames are written by ``media_video`` (MP4 H.264 / GIF / PNG folder), with the frames' latents
as ``<name>.npz`` beside the video (``frames/latents.npz`` for a folder). PNG frames (at ``size=0``) are
rendered one latent at a time, so each is, pixel for pixel, what ``generate --from`` makes of its latent.

Prompts as keyframes (``prompts=["an apple", "a rocket"]``, ``--prompts``): a run that reads text draws
keyframe i from prompt i at one noise (``seed``, or ``seeds[i]``), and the walk moves the sentence embedding
along with z (``interpolate``: each frame keeps a ``text_mix`` of the two prompts). A class-conditional run maps
each prompt to its nearest class (and named directions), as ``generate --prompt`` does.

Sound runs (task noise-to-sound) walk through timbres at one pitch and write sound (``creative.sound``):
``walk.wav`` (the walk's notes one after another, ``fps`` notes per second), ``walk.png`` (their
spectrograms side by side) and ``walk.npz`` (their latents).
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
from . import sound as S

PICTURE_FRAMES, PICTURE_FPS = 120, 30.0
NOTES_PER_STEP = 8  # sound walks: notes from one keyframe to the next


def slug(text: str, limit: int = 24) -> str:
    """A file-name-safe short form of a prompt: "A red apple!" -> "a-red-apple"."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "prompt"


def text_embed_of(pipe) -> I.TextEmbed:
    """parts -> the embedding G reads for them (the run's text model, each prompt checked against its hash)."""
    return lambda parts: L.mix_embedding(pipe, parts)


def keyframe_walk(
    pipe,
    keyframes: Sequence[L.Latent],
    frames: int,
    loop: bool = False,
    method: str = "slerp",
    easing: str = "cosine",
    seed: int = 0,
) -> list[L.Latent]:
    return I.path(keyframes, frames, loop, method, easing, text_embed_of(pipe))


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
    return [  # everything but z (classes, truncation, edits, prompt) is the first keyframe's
        base.with_(
            z=tuple(z[i].tolist()),
            parents=(base.id,) if keyframes else (),
            origin={"op": "circle", "seed": seed, "frame": i, "frames": frames},
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
    exact: bool = False,
):
    """(T, H, W, 3) uint8 frames for latents, rendered in batches with a progress bar (``exact``: one latent
    at a time, as ``generate --from`` renders them, bit for bit)."""
    import numpy as np
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(lats), desc="frames", unit="frame", disable=not progress, leave=False) as bar:
        for s in range(0, len(lats), batch_size):
            part = lats[s : s + batch_size]
            chunk = (
                L.render(pipe, part, directions, exact=False)
                if exact
                else L.render_fast(pipe, part, directions, batch_size)
            )
            out.append(media_video.resize_frames(media_video.to_rgb_frames(chunk), size, resample))
            bar.update(len(chunk))
    return np.concatenate(out)


def latents_path(out: str | Path) -> Path:
    p = Path(out)
    if p.suffix.lower() in (".mp4", ".gif", ".wav"):
        return p.with_suffix(".npz")
    return p / "latents.npz"


def animate(
    pipe,
    keyframes: Sequence[L.Latent],
    out: str | Path,
    frames: int | None = None,
    fps: float | None = None,
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
    pitch: int | str | None = None,
) -> list[Path]:
    """Render a walk and write it (.mp4/.gif/folder) plus its latents. Returns the written paths.

    With ``audio`` (a sound file) the walk follows the sound (``audio_react``; ``frames`` and ``mode`` are
    then unused: the sound's length sets the frame count) and an MP4 gets the sound as its audio track.
    A sound run writes ``out`` (.wav: the notes of the walk, ``fps`` notes per second, by default one right
    after another), the spectrogram strip (.png) and the latents (.npz), every note at ``pitch`` (a class
    name or index; by default the first keyframe's). ``frames``/``fps`` default to 120 at 30 fps for
    pictures; for sound to 8 notes per keyframe step (16 for a circle)."""
    if mode not in WALKS:
        raise UserError(f"unknown walk {mode!r}; choose one of {', '.join(WALKS)}")
    sound = bool(getattr(pipe, "is_sound", False))
    if sound:
        S.check_wav_out(out, "a walk")
        if audio is not None:
            raise UserError("--audio steers picture walks; a sound run's walk is already sound (drop --audio)")
    else:
        if pitch is not None:
            raise UserError("--class for a walk of a picture run goes with --seeds (the keyframes' class)")
        if Path(out).suffix.lower() not in media_video.WRITERS and not str(out).endswith(("/", "\\")):
            raise UserError(f"cannot write {Path(out).name}: use a .mp4 or .gif file name, or a folder for PNG frames")
    if frames is None:
        if not sound:
            frames = PICTURE_FRAMES
        elif mode == "circle" or len(keyframes) < 2:
            frames = 2 * NOTES_PER_STEP
        else:
            frames = NOTES_PER_STEP * (len(keyframes) - (0 if loop else 1)) + (0 if loop else 1)
    if frames < 2:
        raise UserError(f"--frames must be at least 2, got {frames}")
    if fps is not None and fps <= 0:
        raise UserError(f"--fps must be positive, got {fps}")
    if sound:
        keyframes = S.hold_pitch(pipe, keyframes, pitch)
    L.check_compatible(keyframes, pipe, directions, exact=False)
    if audio is not None:
        amap = audio_map or AR.AudioMap()
        feats = AR.load_features(audio, fps or PICTURE_FPS, amap)
        lats = AR.walk_latents(pipe, keyframes, feats, amap, seed, Path(audio).name)
    else:
        lats = WALKS[mode](pipe, keyframes, frames, loop=loop, method=method, easing=easing, seed=seed)
    if sound:
        spec, waves = S.render_notes(pipe, lats, directions)
        wav = S.write_notes(out, waves, pipe.sample_rate, fps)
        strip = S.write_strip(Path(out).with_suffix(".png"), spec)
        return [wav, strip, L.save_batch(lats, latents_path(wav))]
    fps = fps or PICTURE_FPS
    folder = Path(out).suffix.lower() not in (".mp4", ".gif")
    video = render_frames(pipe, lats, directions, size, resample, progress=progress, exact=folder)
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


def prompt_keyframes(
    pipe,
    prompts: Sequence[str],
    seeds: Sequence[int],
    seed: int = 0,
    truncation: float = 1.0,
    run_dir: str | Path | None = None,
    embedder=None,
    over=None,
    over_strength: float = 1.0,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
) -> list[L.Latent]:
    """One keyframe per prompt, keyframe i at noise ``seeds[i]`` (or ``seed`` for every prompt, so only what the
    picture shows changes). A run that reads text draws from each prompt (``over``: every keyframe over that
    picture, ``Pipeline.over_picture``, at ``over_strength``; ``negative``: every keyframe steered away from it,
    ``latents.with_negative``); a class-conditional run maps each to its nearest class and named directions
    (``creative.prompt``); other runs are refused in one line."""
    from . import directions as D
    from . import prompt as P

    prompts = [str(p).strip() for p in prompts]
    if any(not p for p in prompts):
        raise UserError("a prompt is empty; describe each keyframe, e.g. --prompts 'an apple' 'a rocket'")
    if seeds and len(seeds) not in (1, len(prompts)):
        raise UserError(f"--seeds gives {len(seeds)} seeds for {len(prompts)} prompts; give one, or one per prompt")
    noise = [seeds[i % len(seeds)] if seeds else seed for i in range(len(prompts))]
    if getattr(pipe, "is_sound", False):
        raise UserError("this sound run plays pitches and does not read text; walk with --seeds and --class C4")
    over_strength = L.check_over_strength(over_strength, over is not None)
    picture = None if over is None else pipe.over_picture(over)  # refused in one line by runs that cannot
    if negative is not None and not pipe.reads_text:
        raise UserError(L.NEGATIVE_FOR_TEXT_RUNS)
    if pipe.reads_text:
        return [
            L.from_seeds(
                pipe,
                1,
                s,
                truncation=truncation,
                prompt=L.with_negative(p, negative, negative_weight),
                over=picture,
                over_strength=over_strength,
            )[0]
            for p, s in zip(prompts, noise)
        ]
    dirs = D.find(run_dir, None, pipe.step) if run_dir is not None and D.available(run_dir) else None
    named = dirs.names if dirs is not None else {}
    if not pipe.num_classes and not named:
        raise UserError(
            "this run neither reads text nor has classes or named directions, so prompts mean nothing to it; "
            "train one that reads text (--preset emoji-text) or walk with --seeds"
        )
    out = []
    for p, s in zip(prompts, noise):
        match = P.interpret(p, pipe.class_names if pipe.num_classes else (), named, embedder=embedder)
        edits = dirs.resolve(list(match.edits)) if dirs is not None and match.edits else []
        lat = L.from_seeds(
            pipe, 1, s, match.classes, truncation, edits, dirs.ref if edits and dirs is not None else None
        )[0]
        out.append(lat.with_(origin={**lat.origin, "prompt": p, "matched": match.describe()}))
    return out


def animate_run(
    run_dir: str | Path,
    out: str | Path | None = None,
    seeds: Sequence[int] = (),
    latent_files: str | None = None,
    frames: int | None = None,
    fps: float | None = None,
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
    prompts: Sequence[str] = (),
    embedder=None,
    over=None,
    over_strength: float = 1.0,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
) -> list[Path]:
    """CLI entry: keyframes from ``seeds`` and/or latent files, or from ``prompts`` (one each, at ``seed`` or
    ``seeds[i]``), or a circle loop when none is given; with ``audio``, a walk that follows the sound
    (``audio_map``: a JSON file or inline JSON). ``out`` defaults to ``RUN/animations/<name>.mp4`` (``.wav``
    for a sound run). For a sound run ``classes`` is the pitch every note plays. ``over``: a picture the prompts'
    keyframes are drawn over (a retrieving text run; ``Pipeline.over_picture``), at ``over_strength``;
    ``negative``: text every prompt keyframe is steered away from, at ``negative_weight``."""
    from ..pipeline import load
    from . import directions as D

    amap = AR.load_map(audio_map) if audio is not None else None
    if audio is None and audio_map:
        raise UserError("--audio-map needs --audio (the sound the walk follows)")
    if prompts and latent_files:
        raise UserError("give keyframes either as --prompts or as --from latent files, not both")
    if prompts and classes is not None:
        raise UserError("give either --class or --prompts, not both")
    if negative is not None and not prompts:
        raise UserError("--negative steers the walk's prompts away from some text; give them: --prompts 'a' 'b'")
    if over is not None and not prompts:
        raise UserError(
            "--over draws the walk's prompts over a picture; give them: --prompts 'a red heart' 'a blue car'"
        )
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    sound = pipe.is_sound
    keys: list[L.Latent] = []

    def seed_key(s: int) -> list[L.Latent]:  # a text run's seed draws its own training caption, not the empty one
        own = L.from_training_captions(pipe, 1, s, truncation) if classes is None else []
        return own or L.from_seeds(pipe, 1, s, classes, truncation)

    if prompts:
        keys = prompt_keyframes(
            pipe, prompts, seeds, seed, truncation, run_dir, embedder, over, over_strength, negative, negative_weight
        )
    else:
        if latent_files:
            keys += L.load_many(latent_files)
        for s in seeds:
            keys += seed_key(s)
    mode = mode or ("keyframes" if len(keys) >= 2 else "circle")
    if (mode == "circle" or audio is not None) and not keys:
        keys = seed_key(seed)
    if out is None:
        tag = "prompts-" + "-".join(slug(p) for p in prompts) if prompts else "-".join(map(str, seeds or [seed]))
        name = f"audio-{Path(audio).stem}" if audio else f"walk-{tag}"
        out = Path(run_dir) / "animations" / f"{name}{'.wav' if sound else '.mp4'}"
    dirs = D.for_latents(run_dir, {k.directions for k in keys})
    return animate(
        pipe,
        keys,
        out,
        frames,
        fps,
        loop,
        mode,
        method,
        easing,
        size,
        resample,
        seed,
        dirs,
        progress,
        audio,
        amap,
        pitch=classes if sound else None,
    )
