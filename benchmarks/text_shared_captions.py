"""A caption that many pictures share (a folder captioned like classes: "animal mammal" on 56 emoji), measured: what
makes one prompt's seeds differ, and how near they come to the training pictures?

    python benchmarks/text_shared_captions.py --make-folder /tmp/subgroups       # 1,445 emoji, 96 captions
    ganstudio train --data /tmp/subgroups --preset emoji-text --steps 1800 --threads 2 \
        --set train.checkpoint_every=600 --out runs/sub                          # 16 minutes on 2 cores
    python benchmarks/text_shared_captions.py --run runs/sub/00001-lightweight-subgroups --checkpoint 1800 \
        --out benchmarks/results/text-shared-captions-1800.json --grid docs/showcase/text-shared-captions-1800.png

``--make-folder``: the training emoji (not the held-out ones), each captioned by its Unicode subgroup in words
("food-fruit" -> "food fruit"; a sidecar ``.txt`` per picture), so every caption names 1-76 pictures.

A retrieving G (``model.retrieve``) trains each caption over the softmax blend of its nearest captions' pictures: for a
shared caption that is a fixed blend of eight of its own pictures (equal cosines), the same for every training row.
When sampling, ``retrieve_variety`` shifts each bank row by the noise, which breaks those ties: each seed draws over
one crisp picture of the caption. Two sampling rules on the same run, every caption, 8 seeds each:

- ``per_seed``: the library's rule (each bank row its own shift);
- ``blend``: the rows of one caption shifted together, so they stay tied and each seed draws over their blend, as in
  training (the rule tried and measured against in session 22).

``variety``: the mean pixel difference ([0, 1]) between a caption's seed 0 and its other seeds; ``nearest_training``:
each picture's mean pixel difference to its nearest training picture (0: a copy), beside ``data_spacing``, each
training picture's to its nearest other one. The grid: six captions (rows) x 8 seeds, ``per_seed`` left, ``blend``
right.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganstudio import pipeline
from ganstudio.data import emoji as emoji_data
from ganstudio.models.lightweight import shift_directions

GRID_CAPTIONS = ("animal mammal", "food fruit", "face smiling", "transport ground", "sky & weather", "heart")
SEEDS = 8


def make_folder(out: Path) -> None:
    listing = emoji_data.list_path()
    assert listing is not None, "the emoji list (unicode-data) is not installed: make data"
    chosen = [e for e in emoji_data.select(emoji_data.parse(listing.read_text())) if not e.held_out]
    pictures, missing = emoji_data.render(chosen, 64)
    kept = [e for i, e in enumerate(chosen) if i not in set(missing)]
    out.mkdir(parents=True, exist_ok=True)
    for i, (e, p) in enumerate(zip(kept, pictures)):
        Image.fromarray(p.transpose(1, 2, 0)).save(out / f"e{i:04d}.png")
        (out / f"e{i:04d}.txt").write_text(e.subgroup.replace("-", " ") + "\n")
    print(f"{out}: {len(kept)} pictures, {len({e.subgroup for e in kept})} captions")


def tie_shared_captions(G) -> None:
    """The ``blend`` rule: rows with the same caption embedding take the first one's shift direction."""
    directions = shift_directions(len(G.ref_keys), G.z_dim)
    _, caption = torch.unique(G.ref_keys, dim=0, return_inverse=True)
    first = torch.full((int(caption.max()) + 1,), len(caption))
    first = first.scatter_reduce(0, caption, torch.arange(len(caption)), reduce="amin")
    G._shift = directions[first[caption]]


def sample(pipe, captions: list[str]) -> list[torch.Tensor]:
    with torch.no_grad():
        return [pipe(n=SEEDS, seed=0, prompt=c).images for c in captions]


def l1_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(A, C, H, W), (B, C, H, W) -> (A, B) mean |pixel| differences (one kernel: no (A, B, pixels) tensor)."""
    return torch.cdist(a.flatten(1), b.flatten(1), p=1) / a[0].numel()


def nearest_distance(x: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W), (P, C, H, W) in [0, 1] -> (B,) each picture's mean |pixel| difference to its nearest training one."""
    return l1_distances(x, train).min(1).values


def spacing(train: torch.Tensor) -> torch.Tensor:
    """(P, C, H, W) in [0, 1] -> (P,) each training picture's mean |pixel| difference to its nearest other one."""
    d = l1_distances(train, train)
    return d.fill_diagonal_(float("inf")).min(1).values


def grid_rows(rows: list[torch.Tensor]) -> np.ndarray:
    x = torch.cat(rows)
    g = (x.clamp(0, 1) * 255).byte().permute(0, 2, 3, 1).numpy()[..., :3]
    h, w = g.shape[1:3]
    return g.reshape(len(rows), SEEDS, h, w, 3).transpose(0, 2, 1, 3, 4).reshape(len(rows) * h, SEEDS * w, 3)


def measure(run: str, checkpoint: str, out: Path | None, grid: Path | None) -> None:
    results: dict = {"run": run, "checkpoint": checkpoint, "seeds": SEEDS}
    shown: list[np.ndarray] = []
    for rule in ("per_seed", "blend"):
        pipe = pipeline.load(run, checkpoint=checkpoint)
        G = pipe.G
        captions = sorted(set(json.loads((Path(run) / "captions.json").read_text())["texts"]))
        if rule == "blend":
            tie_shared_captions(G)
        train = G.ref_images.float() / 255
        if "data_spacing" not in results:
            results["data_spacing"] = float(spacing(train).mean())
        drawn = sample(pipe, captions)
        variety = [float((x[:1] - x[1:]).abs().mean()) for x in drawn]
        near = torch.cat([nearest_distance(x, train) for x in drawn])
        results[rule] = {
            "captions": len(captions),
            "variety": float(np.mean(variety)),
            "nearest_training": float(near.mean()),
        }
        print(rule, results[rule])
        shown.append(grid_rows([drawn[captions.index(c)] for c in GRID_CAPTIONS if c in captions]))
    print("data_spacing", results["data_spacing"])
    if out:
        out.write_text(json.dumps(results, indent=1) + "\n")
        print("wrote", out)
    if grid:
        gap = np.full((shown[0].shape[0], 8, 3), 255, np.uint8)
        Image.fromarray(np.concatenate([shown[0], gap, shown[1]], 1)).resize(
            ((shown[0].shape[1] * 2 + 8) * 3, shown[0].shape[0] * 3), Image.Resampling.NEAREST
        ).save(grid)
        rows = [c for c in GRID_CAPTIONS if c in captions]
        grid.with_suffix(".txt").write_text(
            "left: per_seed (the library's sampling), right: blend (the rows of one caption tied, as in training)\n"
            + "".join(f"row {i + 1}: {c}\n" for i, c in enumerate(rows))
            + f"columns: seeds 0-{SEEDS - 1}\n"
        )
        print("wrote", grid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make-folder", type=Path, help="write the subgroup-captioned emoji folder here, and stop")
    ap.add_argument("--run")
    ap.add_argument("--checkpoint", default="latest")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--grid", type=Path)
    a = ap.parse_args()
    if a.make_folder:
        make_folder(a.make_folder)
    elif a.run:
        measure(a.run, a.checkpoint, a.out, a.grid)
    else:
        ap.error("give --make-folder DIR or --run RUN")


if __name__ == "__main__":
    main()
