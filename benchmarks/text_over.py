"""Drawing a prompt over a picture the generator never saw (``ganstudio generate RUN --prompt TEXT --over PICTURE``):
does G draw the words, and does the picture stay recognisable?

    python benchmarks/text_over.py --run runs/NNNNN-lightweight-emoji --checkpoint 1800 \
        --out benchmarks/results/text-over-1800.json --grid docs/showcase/text-over-1800.png

The pictures drawn over are the 156 held-out emoji (the run never saw them, pictures or names). Two kinds of prompt:

- ``another name``: each picture gets the name of a random training emoji (seeded). Scored by the judge of
  ``text_bench.py`` (trained on real pictures only): ``prefers``, the share of pictures it finds closer to the prompt
  than to the picture's own name (2-way); ``r_precision``, the prompt ranked first among 100 emoji names; and
  ``keeps``, the share of pictures whose nearest of the 156 held-out pictures, by the judge's image embedding, is
  the picture they were drawn over (chance: 1 in 156). Three columns: the picture as it is, G's drawing of the
  prompt over it, and G's own drawing of the prompt (over its nearest training picture, as without ``--over``).
- ``recolour``: "a red <its own name>", and blue, green, yellow, purple. ``on colour``: the share of the picture's
  coloured pixels (not near-white, not near-grey) whose nearest of the five colours is the named one, before and
  after; ``keeps`` as above.

- ``strength``: the ``another name`` prompts at ``--over-strength`` 1, 0.75, 0.5, 0.25 (the picture G draws over is
  that share of the picture plus the rest of the prompt's own nearest training pictures), with ``variety``: the mean
  pixel difference between seeds 0 and 1 of the same prompt and picture.

The grid: the first row is the pictures (held-out emoji, photographs from scikit-image, clip art), each row below
one prompt drawn over each of them, the rows named in its ``.txt``; ``<grid>-strength.png``: the first photograph
under four prompts, a row each, at strengths 1, 0.75, 0.5, 0.25 and 0 (the prompt alone).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from text_bench import emoji_sets, prefers, to32, train_judge

from ganstudio import media
from ganstudio.data import ImageDataset
from ganstudio.features.text_match import r_precision
from ganstudio.pipeline import load

COLOURS = {
    "red": (215, 40, 40),
    "blue": (40, 90, 220),
    "green": (50, 170, 60),
    "yellow": (240, 205, 40),
    "purple": (140, 60, 185),
}
GRID_PROMPTS = ["a red heart", "a green apple", "a blue car", "a yellow star", "a purple flower", "a grinning cat"]
STRENGTHS = (1.0, 0.75, 0.5, 0.25)
STRENGTH_PROMPTS = ["a red heart", "a grinning cat", "a sunflower", "a snowman"]
GRID_EMOJI = ["maple leaf", "tiger", "guitar", "sunflower"]
GRID_PHOTOS = ["astronaut", "chelsea", "coffee"]
GRID_CLIPART = ["food/candied_apples_ganson.png", "food/fries_ganson.png"]


def own_drawing(pipe, prompts: list[str]) -> torch.Tensor:
    return torch.cat([pipe(n=1, seed=0, prompt=p).images for p in prompts])


def drawn_over(pipe, prompts: list[str], pictures: torch.Tensor, strength: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Each prompt over its picture (uint8 (N, C, h, w) at G's drawing size) at ``strength``, one seed."""
    urls = [media.png_data_url(a) for a in pictures.numpy()]
    return torch.cat(
        [
            pipe(n=1, seed=seed, prompt=p, over=u, over_strength=strength).images
            for p, u in zip(prompts, urls, strict=True)
        ]
    )


@torch.no_grad()
def keeps(matcher, images: torch.Tensor, sources: torch.Tensor) -> float:
    """Share of ``images`` whose nearest of ``sources`` (judge image embeddings, cosine) is their own (row i)."""
    a = F.normalize(matcher.image_embeddings(to32(images)), dim=1)
    b = F.normalize(matcher.image_embeddings(sources), dim=1)
    return float(((a @ b.T).argmax(1) == torch.arange(len(a))).float().mean())


def on_colour(images: torch.Tensor, colour: str) -> float:
    """Share of the coloured pixels (saturated enough, not near-white) of float (N, 3, H, W) pictures in [0, 1]
    whose nearest of COLOURS is ``colour``."""
    x = images.permute(0, 2, 3, 1).reshape(-1, 3) * 255
    sat = x.max(1).values - x.min(1).values
    x = x[(sat > 60) & (x.min(1).values < 230)]
    if not len(x):
        return 0.0
    names = list(COLOURS)
    centres = torch.tensor([COLOURS[n] for n in names], dtype=torch.float32)
    nearest = torch.cdist(x, centres).argmin(1)
    return float((nearest == names.index(colour)).float().mean())


def grid_pictures(test: ImageDataset, size: int) -> tuple[list[torch.Tensor], list[str]]:
    """The grid's first row: held-out emoji, scikit-image photographs, clip art; float (3, size, size) in [0, 1]."""
    from skimage import data as skdata

    from ganstudio.data.folder import fit_picture

    pics, names = [], []
    for n in GRID_EMOJI:
        pics.append(test.images[test.captions.index(n)].float() / 255)
        names.append(n)
    for n in GRID_PHOTOS:
        im = Image.fromarray(getattr(skdata, n)())
        pics.append(torch.from_numpy(fit_picture(im, (size, size), 3)).float() / 255)
        names.append(f"photo: {n}")
    for rel in GRID_CLIPART:
        path = Path("/usr/share/openclipart/png") / rel
        if path.is_file():
            with Image.open(path) as im:
                pics.append(torch.from_numpy(fit_picture(im, (size, size), 3)).float() / 255)
            names.append(f"clip art: {path.stem}")
    return pics, names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a retrieving text run (--preset emoji-text or emoji-text-64)")
    ap.add_argument("--checkpoint", default="latest")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/text-over.json")
    ap.add_argument("--grid", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.monotonic()
    train, test, _ = emoji_sets(32)
    matcher = train_judge(train, test)
    pipe = load(a.run, a.checkpoint)
    if not pipe.draws_over:
        raise SystemExit(f"{a.run} does not draw over pictures (train it with --preset emoji-text)")
    pool = list(train.captions + test.captions)
    held, pictures = list(test.captions), test.images
    rng = np.random.default_rng(0)
    others = [train.captions[i] for i in rng.choice(len(train), len(held), replace=False)]
    over = drawn_over(pipe, others, pictures)
    own = own_drawing(pipe, others)
    results: dict = {"run": str(a.run), "step": pipe.step, "pictures": len(held), "another_name": {}, "recolour": {}}
    for label, x in (("the picture as it is", pictures.float() / 255), ("drawn over it", over), ("G's own", own)):
        r, _ = r_precision(matcher, to32(x), others, pool)
        results["another_name"][label] = {
            "prefers": prefers(matcher, to32(x), others, held),
            "r_precision": r,
            "keeps": keeps(matcher, x, pictures),
        }
        print("another name", label, results["another_name"][label], flush=True)
    # --over-strength: part the picture, part the prompt's own nearest training pictures (and the seeds vary again)
    results["strength"] = {}
    for s in STRENGTHS:
        x = drawn_over(pipe, others, pictures, s) if s < 1 else over
        x1 = drawn_over(pipe, others, pictures, s, seed=1)
        r, _ = r_precision(matcher, to32(x), others, pool)
        results["strength"][f"{s:g}"] = {
            "prefers": prefers(matcher, to32(x), others, held),
            "r_precision": r,
            "keeps": keeps(matcher, x, pictures),
            "variety": float((x - x1).abs().mean()),  # seeds 0 and 1 of the same prompt and picture
        }
        print("strength", s, results["strength"][f"{s:g}"], flush=True)
    for colour in COLOURS:
        prompts = [f"a {colour} {n}" for n in held]
        x = drawn_over(pipe, prompts, pictures)
        results["recolour"][colour] = {
            "on_colour_before": on_colour(pictures.float() / 255, colour),
            "on_colour_after": on_colour(x, colour),
            "keeps": keeps(matcher, x, pictures),
        }
        print("recolour", colour, results["recolour"][colour], flush=True)
    if a.grid:
        pics, names = grid_pictures(test, pipe.drawn_shape[2])
        size = pipe(n=1, prompt="a red heart").images.shape[-1]  # the run's output size (64 px runs enlarge)
        row0 = [F.interpolate(p[None], size=(size, size), mode="nearest")[0] for p in pics]
        rows = [torch.stack(row0)]
        for prompt in GRID_PROMPTS:
            u8 = torch.stack([(p * 255).round().to(torch.uint8) for p in pics])
            rows.append(drawn_over(pipe, [prompt] * len(pics), u8))
        media.save_grid(torch.cat(rows), a.grid, nrow=len(pics), scale=max(1, 128 // size))
        Path(a.grid).with_suffix(".txt").write_text(
            "columns: "
            + "; ".join(names)
            + "\nrow 1: the pictures as they are\n"
            + "".join(f"row {i + 2}: {p!r} drawn over each\n" for i, p in enumerate(GRID_PROMPTS))
        )
        results["grid"] = {"file": a.grid, "columns": names, "prompts": GRID_PROMPTS}
        # the strength grid: one photograph, a row per prompt, columns from all of it to none of it
        photo = torch.stack([(pics[len(GRID_EMOJI)] * 255).round().to(torch.uint8)])
        cols = (1.0, 0.75, 0.5, 0.25, 0.0)
        rows = [
            drawn_over(pipe, [p], photo, s) if s > 0 else pipe(n=1, seed=0, prompt=p).images
            for p in STRENGTH_PROMPTS
            for s in cols
        ]
        strength_grid = Path(a.grid).with_name(Path(a.grid).stem + "-strength.png")
        media.save_grid(torch.cat(rows), strength_grid, nrow=len(cols), scale=max(1, 128 // size))
        strength_grid.with_suffix(".txt").write_text(
            f"{names[len(GRID_EMOJI)]} under " + ", ".join(repr(p) for p in STRENGTH_PROMPTS) + " (one row each)\n"
            "columns: --over-strength " + ", ".join(f"{s:g}" for s in cols[:-1]) + ", and 0: the prompt alone\n"
        )
        results["strength_grid"] = str(strength_grid)
    results["seconds"] = round(time.monotonic() - t0, 1)
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {a.out} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
