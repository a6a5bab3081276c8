"""Breeding latents, like Artbreeder's children and mix: crossover or blend, then mutation.

Modes (``MODES`` registry), for P >= 2 parents:
  ``crossover``: every dimension of z is copied from one parent picked uniformly at random.
  ``blend``: two parents: slerp at a random t ~ U(0, 1), so the child lies on the arc between them;
      more parents: Dirichlet(1) weights on the parents' unit directions (norm mixed the same way).
Each mode also returns the parents' weights (crossover: the share of dimensions each gave; blend:
1 - t, t or the Dirichlet weights); class weights, truncation and edits are mixed with those weights.

Mutation with strength m in [0, 1] is variance preserving: z' = sqrt(1 - m^2) z + m eps,
eps ~ N(0, I), so children stay typical samples of the prior (m = 1: a fresh random latent).
Children record their parents' ids (lineage) and how they were made (``origin``).

Parents drawn from prompts (a run that reads text) give children whose text is a ``text_mix`` of the parents'
prompts with the same weights, the mixed embedding scaled to the parents' weighted length (1: every caption's
embedding is a unit vector), so "an apple" x "a rocket" breeds pictures of something in between, and each
child's latent names both prompts and remakes exactly. Parents that read the same text pass it on unchanged.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .. import latents as L
from ..errors import UserError
from .interpolate import TextEmbed, blend_edits, slerp


def crossover(zs: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """zs (P, D) -> child (D,), weights (P,), info."""
    P, D = zs.shape
    pick = torch.randint(P, (D,), generator=gen)
    child = zs.gather(0, pick[None]).squeeze(0)
    w = torch.bincount(pick, minlength=P).float() / D
    return child, w, {}


def blend(zs: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, dict]:
    P = len(zs)
    if P == 2:
        t = float(torch.rand((), generator=gen))
        return slerp(zs[0], zs[1], t), torch.tensor([1 - t, t]), {"t": t}
    w = -torch.log(torch.rand(P, generator=gen).clamp_min(1e-12))  # Dirichlet(1) via normalised exponentials
    w = w / w.sum()
    norms = zs.norm(dim=1)
    u = (w[:, None] * zs / norms[:, None]).sum(0)
    return u / u.norm() * (w * norms).sum(), w, {}


MODES: dict[str, Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor, dict]]] = {
    "crossover": crossover,
    "blend": blend,
}


def mutate(z: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Variance-preserving gaussian mutation: sqrt(1 - s^2) z + s eps (identity at s = 0)."""
    if strength == 0:
        return z
    return math.sqrt(1 - strength**2) * z + strength * torch.randn(z.shape, generator=gen)


def breed(
    parents: Sequence[L.Latent],
    children: int = 8,
    mode: str = "crossover",
    mutation: float = 0.0,
    seed: int = 0,
    run: str | None = None,
    step: int | None = None,
    text_embed: TextEmbed | None = None,
) -> list[L.Latent]:
    """``children`` new latents from ``parents`` (pure: same inputs and seed, same children). Parents with
    prompts: pass ``text_embed`` (parts -> embedding, e.g. ``lambda p: latents.mix_embedding(pipe, p)``) so the
    children's text embedding keeps unit length (without it: the plain weighted sum)."""
    if len(parents) < 2:
        raise UserError(f"breeding needs at least two parents, got {len(parents)}")
    if mode not in MODES:
        raise UserError(f"unknown breeding mode {mode!r}; choose one of {', '.join(MODES)}")
    if not 0 <= mutation <= 1:
        raise UserError(f"--mutation must be in [0, 1], got {mutation}")
    if children <= 0:
        raise UserError(f"--children must be positive, got {children}")
    if len({len(p.z) for p in parents}) > 1 or len({p.classes is None for p in parents}) > 1:
        raise UserError("these parents come from different kinds of run; breed latents of one run")
    runs_ = {p.run for p in parents if p.run}
    if len(runs_) > 1:
        raise UserError(f"parents come from different runs ({', '.join(sorted(runs_))}); breed latents of one run")
    if len({p.has_text for p in parents}) > 1:
        raise UserError("some parents were drawn from a prompt and some were not; breed prompted pictures together")
    zs = torch.stack([p.z_tensor for p in parents])
    embeds = None
    if parents[0].has_text and len({p.text_parts for p in parents}) > 1 and text_embed is not None:
        embeds = torch.stack([text_embed(p.text_parts).double() for p in parents])
    run_name = run or (next(iter(runs_)) if len(runs_) == 1 else None)  # every child: the parents' run
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(children):
        z, w, info = MODES[mode](zs, gen)
        z = mutate(z, mutation, gen)
        classes = None
        if parents[0].classes is not None:
            classes = (w[:, None] * torch.tensor([p.classes for p in parents], dtype=torch.float32)).sum(0)
            classes = classes / classes.sum().clamp_min(1e-12)
        edits, ref = blend_edits(parents, w.tolist())
        child = L.Latent(
            z=tuple(z.tolist()),
            classes=None if classes is None else tuple(classes.tolist()),
            truncation=float(sum(float(wi) * p.truncation for wi, p in zip(w, parents))),
            edits=edits,
            directions=ref,
            parents=tuple(p.id for p in parents),
            origin={
                "op": "breed",
                "mode": mode,
                "mutation": mutation,
                "seed": seed,
                "child": i,
                "weights": [round(float(x), 6) for x in w],
                **info,
            },
            run=run_name,
            step=step,
        )
        if parents[0].has_text:  # the mixed prompt, pulled toward the run's captions as its parents were, on average
            anchor = min(1.0, max(0.0, sum(float(wi) * p.anchor for wi, p in zip(w, parents))))
            share = (w / w.sum()).tolist()
            over = L.blend_over(parents, share)  # the pictures drawn over, mixed as the noise is
            strength = sum(float(s) * p.over_strength for s, p in zip(share, parents)) if over is not None else 1.0
            child = L.with_text(child, mix_text(parents, w, embeds)).with_(
                anchor=anchor, over=over, over_strength=min(1.0, strength)
            )
        out.append(child)
    return out


def mix_text(
    parents: Sequence[L.Latent], w: torch.Tensor, embeds: torch.Tensor | None
) -> tuple[tuple[str, str, float], ...]:
    """The parents' text parts mixed with weights ``w``, scaled so the child's embedding has the parents'
    weighted length (``embeds``: the parents' (P, D) embeddings; None: not scaled, or, when every parent reads
    the same text, that text)."""
    if len({p.text_parts for p in parents}) == 1:
        return parents[0].text_parts
    if embeds is None:
        return L.merge_parts([(p.text_parts, float(wi)) for p, wi in zip(parents, w)])
    wd = w.double()
    mixed = (wd[:, None] * embeds).sum(0)
    n = float(mixed.norm())
    if n < 1e-6:
        raise UserError("the parents' prompts cancel out at these weights; pick other parents or another --seed")
    scale = float((wd * embeds.norm(dim=1)).sum()) / n
    return L.merge_parts([(p.text_parts, float(wi) * scale) for p, wi in zip(parents, wd)])


def breed_run(
    run_dir: str | Path,
    parents: str | Sequence,
    children: int = 8,
    mode: str = "crossover",
    mutation: float = 0.3,
    seed: int = 0,
    out_dir: str | Path | None = None,
    checkpoint: str = "latest",
    device: str = "cpu",
    pitch: int | str | None = None,
) -> list[Path]:
    """CLI entry: breed parent latent files; write each child's PNG + JSON and a grid (parents on top).

    Prompted parents (a run that reads text) give children that mix their prompts (see the module docstring).
    A sound run writes each child as ``childNN-<id>.wav`` + its spectrogram ``.png`` + ``.json``, and
    ``grid.png`` + ``grid.wav`` (the parents, then the children, 0.2 s apart) + ``grid.npz``; every note plays
    ``pitch`` (a class name like "C4"; by default the first parent's), so the children differ in timbre only."""
    from .. import media
    from ..media_audio import write_wav
    from ..pipeline import load
    from . import directions as D
    from . import sound as S

    pars = L.load_many(parents) if isinstance(parents, str) else list(parents)
    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    name = L.run_name(pipe)
    for p in pars:
        if p.run and name and p.run != name:
            raise UserError(f"parent {p.id} was made by run {p.run}, not {name}; pass that run's folder")
    if pitch is not None and not pipe.is_sound:
        raise UserError("--class applies to breeding a sound run (the pitch the children play)")
    dirs = D.for_latents(run_dir, {p.directions for p in pars})
    L.check_compatible(pars, pipe, dirs, exact=False)  # before anything is mixed: a prompt for a run without text
    if pipe.is_sound:
        pars = S.hold_pitch(pipe, pars, pitch)
    kids = breed(pars, children, mode, mutation, seed, name, pipe.step, lambda parts: L.mix_embedding(pipe, parts))
    if out_dir is None:
        tag = hashlib.sha256(f"{[p.id for p in pars]}{mode}{mutation}{seed}".encode()).hexdigest()[:8]
        out_dir = Path(run_dir) / "bred" / f"{mode}-{tag}"
    out_dir = Path(out_dir)
    stems = [f"child{i:02d}-{kid.id}" for i, kid in enumerate(kids)]
    images = L.render(pipe, kids, dirs)
    parent_imgs = L.render(pipe, pars, dirs) if pipe.is_sound else L.render_fast(pipe, pars, dirs)
    written: list[Path] = []
    if pipe.is_sound:
        kid_waves, par_waves = pipe.to_audio(images), pipe.to_audio(parent_imgs)
        images, parent_imgs = S.strip_pictures(images).float() / 255, S.strip_pictures(parent_imgs).float() / 255
        written += L.save_with_latents(images, kids, out_dir, stems)
        written += [write_wav(out_dir / f"{s}.wav", w, pipe.sample_rate) for s, w in zip(stems, kid_waves)]
    else:
        written += L.save_with_latents(images, kids, out_dir, stems)
    nrow = max(len(pars), min(len(kids), 8))
    pad = torch.ones((nrow - len(pars), *parent_imgs.shape[1:]))
    grid = torch.cat([parent_imgs, pad, images])
    grid_path = media.save_grid(grid, out_dir / "grid.png", nrow=nrow, scale=max(1, 96 // images.shape[-2]))
    written += [grid_path, L.save_batch(pars + kids, L.sidecar(grid_path, batch=True))]  # parents, then children
    if pipe.is_sound:
        both = np.concatenate([par_waves, kid_waves])
        written.append(S.write_notes(grid_path.with_suffix(".wav"), both, pipe.sample_rate, gap=0.2))
    return written
