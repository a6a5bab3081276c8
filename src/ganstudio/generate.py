"""Generation to files: a grid and/or one PNG per image, each with its latent beside it.

Per-image files are named by seed (``seed000007.png`` + ``seed000007.json``); edited or remade
latents that are not plain seeds are named by seed and latent id, or by id. A grid ``g.png`` gets
its latents as a batch in ``g.npz``. Any of those files given back to ``--from`` remakes the same
pixels (same PNG bytes): every path renders through ``latents.render``; a prompt sheet's ``.npz`` gives back the
same sheet (its rows found in the latents: ``sheet_rows``). Remade latents that share a seed get their latent id
in the name, so none overwrites another.

Sound runs (task noise-to-sound) write the same files with sound beside them: the grid is the
spectrograms as pictures (magma colours, low frequencies at the bottom) plus ``g.wav`` (every note in
turn, 0.2 s apart); per-item files are ``seed000007.wav`` + its spectrogram ``.png`` + ``.json``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from . import latents as L
from . import media, textembed
from .errors import UserError
from .media_audio import spectrogram_picture, write_wav
from .pipeline import OVER_NEEDS_PROMPT, load


def build_latents(
    pipe,
    n: int = 64,
    seed: int = 0,
    truncation: float = 1.0,
    classes=None,
    edits: str | Sequence | None = None,
    directions: str | None = None,
    prompt: str | None = None,
    curate: int | None = None,
    run_dir: str | Path | None = None,
    embedder=None,
    anchor: float = 0.0,
    over=None,
    over_strength: float = 1.0,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
):
    """The latents a ``generate`` call draws: seeds, optional prompt, edits, and curation. Returns (latents,
    directions or None). A run that reads text draws from the prompt itself (its embedding conditions G), or
    without one each seed from one of its own training captions (``Pipeline.caption_for_seed``; None for other
    runs, and for a text run that keeps no captions, which then draws the empty caption; each latent keeps it);
    other runs map it to a class blend + named edits (``creative.prompt``); ``anchor`` pulls a text run's prompt
    toward its nearest training captions (``Pipeline.anchored``); ``over`` (a file, PNG data URL or PIL image):
    the picture a retrieving text run draws the prompt over (``Pipeline.over_picture``), kept in each latent, at
    ``over_strength`` in (0, 1] (the rest: the prompt's own nearest training pictures); ``negative``: text a text
    run's prompt is steered away from, at ``negative_weight`` (``latents.with_negative``)."""
    run_dir = run_dir if run_dir is not None else pipe.run_dir
    edit_list = L.parse_edits(edits) if isinstance(edits, str) or edits is None else list(edits)
    dirs = None
    if edit_list or directions:
        from .creative import directions as D

        dirs = D.find(run_dir, directions, pipe.step)
    text_prompt = prompt if prompt and getattr(pipe, "reads_text", False) else None
    if anchor and text_prompt is None:
        raise UserError(
            "--anchor pulls a prompt toward the captions a text run trained on; give --prompt to a run that reads "
            "text (--preset emoji-text)"
        )
    if text_prompt is not None and classes is not None:
        raise UserError("give either --class or --prompt, not both")
    if negative is not None and text_prompt is None:
        raise UserError(
            L.NEGATIVE_NEEDS_PROMPT if getattr(pipe, "reads_text", False) or not prompt else L.NEGATIVE_FOR_TEXT_RUNS
        )
    drawn = None if text_prompt is None else L.with_negative(text_prompt, negative, negative_weight)
    over_strength = L.check_over_strength(over_strength, over is not None)
    picture = None
    if over is not None:
        if text_prompt is None and getattr(pipe, "draws_over", False):
            raise UserError(OVER_NEEDS_PROMPT)
        picture = pipe.over_picture(over)  # refused in one line by a run whose G does not draw over pictures
    if prompt and text_prompt is None:
        from .creative import prompt as P

        if classes is not None:
            raise UserError("give either --class or --prompt, not both")
        if dirs is None:
            dirs = _named_directions(run_dir, pipe.step)
        match = P.interpret(
            prompt,
            pipe.class_names if pipe.num_classes else (),
            dirs.names if dirs is not None else {},
            embedder=embedder,
        )
        classes = None if match.classes is None else match.classes
        edit_list = list(match.edits) + edit_list
    resolved: list[tuple[int, float]] = []
    ref = None
    if edit_list:
        if dirs is None:  # not reached: edits come from D.find's file above, or from a prompt naming directions
            raise UserError("edits need directions: run `ganstudio directions RUN` first")
        resolved = dirs.resolve(edit_list)
        ref = dirs.ref
    if curate and curate < n:
        raise UserError(f"--curate must be at least --n ({n}), got {curate}")
    count = curate or n
    own = not prompt and classes is None  # a text run asked for nothing: its seeds' own training captions
    lats = L.from_training_captions(pipe, count, seed, truncation, resolved, ref) if own else []
    if not lats:
        lats = L.from_seeds(
            pipe, count, seed, classes, truncation, resolved, ref, drawn, anchor, picture, over_strength
        )
    if curate:
        from .creative import curate as C

        return C.select(pipe, lats, n, dirs), dirs
    return lats, dirs


def prompt_list(prompt: str | Sequence[str] | None) -> list[str]:
    """``--prompt`` given once, several times (a prompt sheet) or not at all -> the prompts; an empty one is refused
    (it would silently draw the empty caption)."""
    prompts = [] if prompt is None else [prompt] if isinstance(prompt, str) else list(prompt)
    if any(not p.strip() for p in prompts):
        raise UserError('--prompt is empty; give the text to draw, e.g. --prompt "a red apple"')
    return prompts


def sheet_rows(lats: Sequence[L.Latent]) -> list[str] | None:
    """The prompts of a prompt sheet's latents, one per row, or None when they are not one: two or more equal runs,
    each of one prompt (the next run another), drawn from the same noise."""
    first = lats[0].text_label if lats else None  # a prompt, or one steered away from a negative
    n = next((i for i, lat in enumerate(lats) if lat.text_label != first), len(lats))
    if first is None or n == len(lats) or len(lats) % n:
        return None
    rows = [lats[i : i + n] for i in range(0, len(lats), n)]
    names = [r[0].text_label for r in rows]
    if None in names or any(
        {lat.text_label for lat in r} != {r[0].text_label} or [lat.z for lat in r] != [lat.z for lat in rows[0]]
        for r in rows
    ):
        return None  # a row without a prompt (the empty caption) is no prompt sheet's
    return [str(name) for name in names]


def prompt_mode(run_dir: str | Path) -> str:
    """One line saying what a prompt does with this run: its generator reads the text, or the prompt is mapped
    to the nearest class (and named directions)."""
    from . import runs

    mc = runs.read_config_dict(runs.require_run(run_dir)).get("model_config", {})
    if mc.get("text_dim"):
        return f"this run reads text: the generator draws from the prompt's {mc.get('text_model')} embedding"
    return "this run does not read text: the prompt is mapped to its nearest class and named directions"


def anchor_note(pipe, prompt: str, strength: float) -> str:
    """One line naming the training captions an anchored prompt is pulled toward, nearest first."""
    near = ", ".join(f"{t!r} ({c:.2f})" for t, c in pipe.known_captions(prompt, 3))
    return f"anchored at {strength:g} toward the run's nearest training captions: {near}"


def reference_note(pipe, prompt, anchor: float = 0.0) -> str | None:
    """One line naming the training picture a retrieving run draws the prompt over (None for other runs)."""
    caption = pipe.reference_caption(prompt, anchor)
    if caption is None:
        return None
    more = "; the seeds also draw over its neighbours" if getattr(pipe.G, "ref_variety", 0) else ""
    return f"drawn over the training picture of {caption!r} (model.retrieve){more}"


def _named_directions(run_dir, step):
    """The run's directions whose names prompts may use (None when the run has none)."""
    from .creative import directions as D

    if run_dir is None or not D.available(run_dir):
        return None
    return D.find(run_dir, None, step)


def file_stem(lat: L.Latent) -> str:
    seed = lat.origin.get("seed") if lat.origin.get("op") == "seed" else None
    if seed is not None and not lat.edits and not lat.parents:
        return f"seed{seed:06d}"
    return f"seed{seed:06d}-{lat.id}" if seed is not None else lat.id


def remake_checkpoint(lats: Sequence[L.Latent], checkpoint: str) -> str:
    """The checkpoint to remake latents with: their own step unless one was asked for."""
    steps = {l.step for l in lats if l.step is not None}
    if len(steps) > 1:
        raise UserError(
            f"these latents come from several checkpoints ({', '.join(map(str, sorted(steps)))}); "
            "remake them in separate calls"
        )
    if checkpoint == "latest" and steps:
        return str(steps.pop())
    return checkpoint


def generate_to_files(
    run_dir: str | Path,
    n: int = 64,
    seed: int = 0,
    checkpoint: str = "latest",
    grid: str | Path | None = None,
    out_dir: str | Path | None = None,
    truncation: float = 1.0,
    classes=None,
    device: str = "cpu",
    from_latent: str | None = None,
    edits: str | None = None,
    directions: str | None = None,
    prompt: str | Sequence[str] | None = None,
    curate: int | None = None,
    anchor: float = 0.0,
    over=None,
    over_strength: float = 1.0,
    negative: str | Sequence[str] | None = None,
    negative_weight: float = L.NEGATIVE_WEIGHT,
) -> list[Path]:
    """Sample ``n`` images (or remake ``from_latent`` files: comma-separated JSON/npz/folders); write a grid
    (+ ``.npz`` of its latents), per-image PNGs (+ ``.json`` each), or (neither given) a grid in the run folder.

    Several prompts (a list) make a prompt sheet: ``n`` pictures of each, from the same seeds, one grid row per
    prompt (its ``.txt`` names the rows), per-image files prefixed ``p01-``, ``p02-``, ... by prompt.

    ``edits``: ``"0:+2.5,sleeves:-1"`` (indices or names of ``directions``: a file, a method, or the run's
    default; with ``from_latent`` they are added on top of the latents' own). ``from_latent`` keeps each
    latent's own truncation and class. ``prompt``: text mapped to a class (blend) and named directions.
    ``curate``: draw this many and keep the ``n`` that the run's discriminator finds most realistic.
    ``anchor`` in [0, 1]: a text run's prompt pulled toward its nearest training captions.
    ``over`` (a file, PNG data URL or PIL image): the picture a retrieving text run draws the prompt(s) over, at
    ``over_strength`` in (0, 1]. ``negative``: text (or several) a text run's prompt(s) are steered away from, each
    at ``negative_weight`` in (0, 1].
    Returns the written paths.
    """
    if n <= 0:
        raise UserError(f"--n must be positive, got {n}")
    if not 0 < truncation <= 2:
        raise UserError(f"--truncation must be in (0, 2], got {truncation}")
    anchor = textembed.anchor_strength(anchor)
    prompts = prompt_list(prompt)
    if from_latent:
        if classes is not None or prompts or curate or anchor or over is not None or over_strength != 1 or negative:
            raise UserError(
                "--from remakes latents as they were; --class/--prompt/--curate/--anchor/--over/--negative do not apply "
                "(use --edit to change them)"
            )
        lats = L.load_many(from_latent)
        ckpt = remake_checkpoint(lats, checkpoint)
        try:
            pipe = load(run_dir, checkpoint=ckpt, device=device)
        except UserError as e:
            if ckpt != checkpoint:
                raise UserError(
                    f"latent {lats[0].id} was made at checkpoint step {ckpt}, which run {run_dir} "
                    f"no longer has ({e}); it cannot be remade exactly"
                ) from None
            raise
        from .creative import directions as D

        dirs = D.for_latents(run_dir, {l.directions for l in lats})
        L.check_compatible(lats, pipe, dirs)
        extra = L.parse_edits(edits)
        if extra:
            edir = D.find(run_dir, directions, pipe.step) if directions or dirs is None else dirs
            if dirs is not None and edir.ref != dirs.ref:
                raise UserError(f"the latents' edits use {dirs.ref}; --edit must use the same directions file")
            dirs = edir
            lats = [L.add_edits(l, dirs.resolve(extra), dirs.ref) for l in lats]
    else:
        pipe = load(run_dir, checkpoint=checkpoint, device=device)
        lats, dirs = [], None
        asked: list[str | None] = list(prompts) or [None]
        if over is not None and prompts and getattr(pipe, "draws_over", False):
            over = pipe.over_picture(over)  # read and shaped once for every row of a sheet (a fitted one passes as is)
        for p in asked:  # a prompt sheet: the same seeds for every prompt, one after another
            got, dirs = build_latents(
                pipe,
                n,
                seed,
                truncation,
                classes,
                edits,
                directions,
                p,
                curate,
                run_dir,
                anchor=anchor,
                over=over,
                over_strength=over_strength,
                negative=negative,
                negative_weight=negative_weight,
            )
            lats += got
    images = L.render(pipe, lats, dirs)
    waves = None
    if pipe.is_sound:  # what gets written as pictures is the spectrogram, drawn for eyes; the sound beside it
        waves = pipe.to_audio(images)
        images = torch.from_numpy(spectrogram_picture(images.mul(2).sub(1).numpy())).float().div(255)
    written: list[Path] = []
    if grid is None and out_dir is None:
        tag = (
            ""
            if (not from_latent and not edits and not prompts and not curate and not anchor and over is None)
            else "-" + hashlib.sha256("".join(l.id for l in lats).encode()).hexdigest()[:8]
        )
        grid = Path(run_dir) / "generated" / f"step{pipe.step}-seed{seed}-n{len(lats)}{tag}.png"
    # a prompt sheet, asked for or remade from its latents (--from sheet.npz gives back the same grid, byte for byte)
    rows = (
        [lats[i * (len(lats) // len(prompts))].text_label or p for i, p in enumerate(prompts)]  # with any negative
        if len(prompts) > 1
        else sheet_rows(lats)
        if from_latent
        else None
    )
    per_row = len(lats) // len(rows) if rows else 0
    if grid is not None:
        h = images.shape[-2]
        written.append(media.save_grid(images, grid, nrow=per_row or None, scale=max(1, 96 // h)))
        written.append(L.save_batch(lats, L.sidecar(grid, batch=True)))
        if rows:  # which row is which prompt, as the showcase grids have it
            named = Path(grid).with_suffix(".txt")
            named.write_text("".join(f"row {i}: {p}\n" for i, p in enumerate(rows, 1)), encoding="utf-8")
            written.append(named)
        if waves is not None:
            written.append(_write_sequence(waves, pipe.sample_rate, Path(grid).with_suffix(".wav")))
    if out_dir is not None:
        stems = [file_stem(lat) for lat in lats]
        if rows:  # the same seeds under every prompt: the prompt's number keeps the files apart
            stems = [f"p{i // per_row + 1:02d}-{s}" for i, s in enumerate(stems)]
        seen: set[str] = set()
        for i, (stem, lat) in enumerate(zip(stems, lats, strict=True)):  # one seed, two recipes: never overwrite
            stems[i] = stem if stem not in seen else f"{stem}-{lat.id}"
            seen.add(stems[i])
        written += L.save_with_latents(images, lats, out_dir, stems)
        if waves is not None:
            written += [write_wav(Path(out_dir) / f"{s}.wav", w, pipe.sample_rate) for s, w in zip(stems, waves)]
    return written


def _write_sequence(waves, sample_rate: int, path: Path) -> Path:
    """(N, samples) notes one after another, 0.2 s of silence after each, as one WAV."""
    gap = np.zeros((len(waves), int(0.2 * sample_rate)), np.float32)
    return write_wav(path, np.concatenate([waves, gap], axis=1).reshape(-1), sample_rate)
