"""The works of a gallery: which latents hang (favourites, then curated samples), their pictures, captions and
variations, and the keyframes of a run's living painting.

Each work is written as ``works/<run>/<stem>.png`` with its ``Latent`` JSON beside it (``latents.save_with_latents``),
so any picture in the gallery can be remade with ``ganstudio generate RUN --from works/<run>/<stem>.json``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import latents as L
from .. import runs
from ..creative.breed import mutate
from ..errors import UserError
from ..generate import build_latents, file_stem
from ..pipeline import Pipeline, load
from .favourites import favourites

VARIATION_STRENGTH = 0.35  # mutate(): sqrt(1 - s^2) z + s eps; 0.35 keeps the likeness and changes details
LIVING_KEYFRAMES = 6  # latents a living painting walks through, in a loop


@dataclass
class Work:
    latent: L.Latent
    source: str  # "favourite", "curated" or "sample"
    image: torch.Tensor  # (C, H, W) in [0, 1]
    shown_step: int  # the checkpoint step that drew it (a favourite's own when the run still has it)
    variations: list[tuple[L.Latent, torch.Tensor]] = field(default_factory=list)


@dataclass
class RunWorks:
    run_dir: Path
    key: str  # the run's folder name in the gallery (unique among the gallery's runs)
    config: dict  # config.json
    pipe: Pipeline
    works: list[Work]
    keyframes: torch.Tensor  # (K, z_dim) effective z of the living painting's keyframes
    keyframe_classes: torch.Tensor | None  # (K, num_classes) or None


def _pipe_for(run_dir: Path, step: int | None, cache: dict[int, Pipeline], latest: Pipeline) -> Pipeline:
    if step is None or step == latest.step:
        return latest
    if step not in cache:
        if runs.find_checkpoint(run_dir, step) is None:
            return latest
        cache[step] = load(run_dir, checkpoint=step)
    return cache[step]


def _render(pipe: Pipeline, lats: list[L.Latent], dirs) -> torch.Tensor:
    # exact=False: a favourite whose checkpoint was pruned is drawn by the nearest one we have (its caption says so)
    return L.render(pipe, lats, dirs, exact=False)


def collect(
    run_dir: Path,
    key: str,
    n: int,
    seed: int,
    curate: int | None,
    n_favourites: int,
    n_variations: int,
    checkpoint: str = "latest",
    prompts: Sequence[str] | None = None,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
) -> RunWorks:
    """Up to ``n`` works of the run: its newest favourites (at most ``n_favourites``), then samples from seeds
    ``seed, seed+1, ...`` (the best ``n`` of ``curate`` by the run's discriminator when ``curate`` is given).
    A run that reads text draws its samples from ``prompts`` in turn, each place with its own seeds (None: each seed
    from its training caption, ``Pipeline.caption_for_seed``), steered away from ``negative`` when given."""
    from ..creative import directions as D

    pipe = load(run_dir, checkpoint=checkpoint)
    works: list[Work] = []
    cache: dict[int, Pipeline] = {}
    for lat in favourites(run_dir, min(n, n_favourites)):
        try:
            dirs = D.for_latents(run_dir, [lat.directions])
            fpipe = _pipe_for(run_dir, lat.step, cache, pipe)
            works.append(Work(lat, "favourite", _render(fpipe, [lat], dirs)[0], fpipe.step))
        except UserError as e:
            print(f"warning: favourite {lat.id} of {run_dir.name} left out: {e}", file=sys.stderr)
    rest = n - len(works)
    if rest > 0:
        try:
            lats, dirs = _samples(pipe, run_dir, rest, seed, curate, prompts, negative, negative_weight)
        except UserError as e:
            if not curate:
                raise
            # curation reads the run's training pictures (the copy check); say how to do without them
            raise UserError(f"{e} (or hang plain seeds: --curate 0)") from None
        images = L.render(pipe, lats, dirs)
        source = "curated" if curate else "sample"
        works += [Work(lat, source, im, pipe.step) for lat, im in zip(lats, images)]
    for i, w in enumerate(works):
        if n_variations:
            w.variations = variations(
                pipe if w.shown_step == pipe.step else cache[w.shown_step], w.latent, n_variations, seed + i
            )
    keys = [w.latent for w in works[:LIVING_KEYFRAMES]]
    if any(k.over is not None for k in keys):  # the exported generator retrieves its own references
        print(
            f"warning: {run_dir.name}'s living painting walks works drawn over your pictures over the run's own "
            "pictures instead (the exported generator takes no picture to draw over)",
            file=sys.stderr,
        )
    dirs = D.for_latents(run_dir, {l.directions for l in keys})
    return RunWorks(
        run_dir,
        key,
        runs.read_config_dict(run_dir),
        pipe,
        works,
        L.effective_z(keys, dirs),
        L.condition_matrix(pipe, keys),
    )


def _samples(
    pipe: Pipeline,
    run_dir: Path,
    n: int,
    seed: int,
    curate: int | None,
    prompts: Sequence[str] | None,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
):
    """``n`` sample latents (and their directions): seeds from ``seed`` (the best ``n`` of ``curate``; a text run's
    seed draws its training caption, ``Pipeline.caption_for_seed``), or for a run that reads text and ``prompts``, one
    per prompt in turn (place i: seeds from ``seed + i * per``, the best of ``per`` = curate // n)."""
    if not pipe.reads_text or not prompts:  # prompts are for the gallery's runs that read text
        if pipe.reads_text and pipe.caption_for_seed(seed) is None:
            raise UserError(f"{run_dir.name} reads text but keeps no training captions; give prompts: --prompt TEXT")
        return build_latents(pipe, n, seed, curate=curate if curate else None, run_dir=run_dir)
    per = max(1, (curate or 0) // n)
    lats = []
    for i in range(n):
        got, _ = build_latents(
            pipe,
            1,
            seed + i * per,
            prompt=prompts[i % len(prompts)],
            curate=per if curate else None,
            run_dir=run_dir,
            negative=negative,
            negative_weight=negative_weight,
        )
        lats += got
    return lats, None


def variations(pipe: Pipeline, lat: L.Latent, k: int, seed: int) -> list[tuple[L.Latent, torch.Tensor]]:
    """``k`` seeded mutations of ``lat`` (same class, truncation and edits), each a child latent of it."""
    from ..creative import directions as D

    gen = torch.Generator().manual_seed(seed)
    kids = [
        lat.with_(
            z=tuple(mutate(lat.z_tensor, VARIATION_STRENGTH, gen).tolist()),
            parents=(lat.id,),
            origin={"op": "variation", "strength": VARIATION_STRENGTH, "seed": seed, "index": j},
            step=pipe.step,
        )
        for j in range(k)
    ]
    dirs = D.for_latents(pipe.run_dir or ".", {lat.directions})
    return list(zip(kids, _render(pipe, kids, dirs)))


def stem(lat: L.Latent) -> str:
    return file_stem(lat) if lat.origin.get("op") == "seed" else lat.id


def caption(rw: RunWorks, w: Work) -> tuple[str, list[list[str]]]:
    """(one-line caption, [label, value] rows for the details panel)."""
    cfg, lat = rw.config, w.latent
    seed = lat.origin.get("seed") if lat.origin.get("op") == "seed" else None
    cls = _class_label(rw.pipe, lat)
    text = lat.text_label if lat.has_text else None  # a text run's picture is named by its prompt first
    parts = ([f"“{text}”"] if text else []) + [rw.key, f"step {w.shown_step}"]
    parts += [f"seed {seed}"] if seed is not None else [f"latent {lat.id}"]
    if cfg.get("preset"):
        parts.append(f"preset {cfg['preset']}")
    if cls:
        parts.append(cls)
    if lat.truncation != 1.0:
        parts.append(f"ψ {lat.truncation:g}")
    rows = [
        ["run", rw.key],
        ["model", f"{cfg.get('model')} on {cfg.get('data', {}).get('name')}"],
        ["preset", str(cfg.get("preset") or "none")],
        [
            "checkpoint step",
            str(w.shown_step) + (f" (made at {lat.step})" if lat.step not in (None, w.shown_step) else ""),
        ],
        ["chosen as", w.source],
        ["seed", str(seed) if seed is not None else "n/a (" + str(lat.origin.get("op", "made in the studio")) + ")"],
        ["latent", lat.id],
        ["truncation ψ", f"{lat.truncation:g}"],
    ]
    if cls:
        rows.append(["class", cls])
    if text:
        rows.append(["prompt", text + (f" (anchored {lat.anchor:g})" if lat.anchor else "")])
    if lat.edits:
        rows.append(["edits", ", ".join(f"{i}:{a:+g}" for i, a in lat.edits) + f" ({lat.directions})"])
    cur = lat.origin.get("curate")
    if cur:
        rows.append(["realism rank", f"{cur['rank'] + 1} of {cur['of']} (D score {cur['score']:.3g})"])
    return " · ".join(parts), rows


def _class_label(pipe: Pipeline, lat: L.Latent) -> str | None:
    if lat.classes is None:
        return None
    w = torch.tensor(lat.classes)
    i = int(w.argmax())
    name = pipe.class_names[i] if i < len(pipe.class_names) else str(i)
    return name if float(w.max()) >= 0.999 else f"{name} ({float(w.max()):.0%})"
