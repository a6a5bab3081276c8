"""Negative prompts (``ganstudio generate RUN --prompt TEXT --negative WORDS``), measured: does steering away from some
words take them out of the picture while the picture stays what the prompt names?

    python benchmarks/text_negative.py --run runs/NNNNN-lightweight-emoji --checkpoint 1800 \
        --out benchmarks/results/text-negative-1800.json --grid docs/showcase/text-negative-1800.png

G reads ``unit(e_prompt - w * e_negative)`` (``latents.with_negative``), at weights ``--weights`` (0: the prompt as
written). Two kinds of negative, on the emoji of both splits (the held-out ones' names were never trained on):

- ``colour``: every emoji whose real picture is mostly one of five colours (over half of its coloured pixels nearest
  red, blue, green, yellow or purple: ``text_over.on_colour``) and whose name does not say that colour: its name,
  not that colour ("strawberry", not "red"). ``on_colour``: the share of the coloured pixels of G's pictures nearest
  the colour steered away from (2 seeds); ``r_precision``: the judge of ``text_bench.py`` (trained on real pictures
  only) ranks the name first among 100 emoji names (does the picture stay the thing?).
- ``look-alike``: each held-out name, not the training caption whose picture G draws it over (a retrieving run's
  reference, ``Pipeline.reference_caption``): ``r_precision`` as above, and ``prefers``: the judge finds the picture
  closer to the name than to that caption (2-way).

- ``projected``: the held-out ``colour`` set again, with the negative projected out instead of subtracted,
  ``unit(e - s (e . n) n)`` for ``s`` in ``--projections`` (1 removes the prompt's part along it; more pushes past):
  the other way to steer, measured against the one ``--negative`` takes.

- ``retrieval`` (``--retrieval``, alone): the held-out ``colour`` set with the negative applied to the choice of
  picture instead: G draws the prompt as written over the training picture whose name, among the prompt's 8 nearest
  training names, scores best by ``cos(prompt) - w cos(negative)`` (w = 0: the nearest name's picture alone), and
  ``text`` also with the prompt steered by ``--negative``'s 0.5. Where does a negative act: in the words G reads,
  or in the picture it draws over?

The grid: one row per prompt and weight (``--grid``; rows named in its ``.txt``), 8 seeds each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from text_bench import emoji_sets, prefers, to32, train_judge
from text_over import COLOURS, on_colour

from ganstudio import latents as L
from ganstudio import media
from ganstudio.features.text_match import r_precision
from ganstudio.pipeline import load

GRID = [
    ("a strawberry", "red"),
    ("a heart", "red"),
    ("a flower", "yellow"),
    ("a car", "red"),
    ("a cat", "yellow"),
    ("a leaf", "green"),
]


def draw(pipe, prompts: list[str], negatives: list[str | None], weight: float, seeds: int) -> torch.Tensor:
    """(len(prompts) * seeds, C, H, W) in [0, 1]: each prompt steered from its negative at ``weight`` (0: as written)."""
    out = []
    for p, n in zip(prompts, negatives, strict=True):
        steer = {"negative": n, "negative_weight": weight} if weight > 0 and n else {}
        out.append(pipe(n=seeds, seed=0, prompt=p, **steer).images)
    return torch.cat(out)


def projected(pipe, prompts: list[str], negatives: list[str], s: float, seeds: int) -> torch.Tensor:
    """As ``draw``, with each negative projected out of its prompt: G reads unit(e - s (e . n) n)."""
    out = []
    for p, n in zip(prompts, negatives, strict=True):
        e, u = pipe.embed_prompt(p).double(), pipe.embed_prompt(n).double()
        y = e - s * (e @ u) * u
        out.append(pipe.generate(pipe.latents(seeds, 0), (y / y.norm()).float()[None].expand(seeds, -1).clone()))
    return torch.cat(out)


def over_chosen(pipe, train, prompts: list[str], negatives: list[str], w: float, text_w: float, seeds: int):
    """``retrieval``: each prompt drawn over the training picture its negative steers the choice to (see above)."""
    bank = torch.stack([pipe.embed_prompt(t) for t in train.captions]).double()
    out = []
    for p, n in zip(prompts, negatives, strict=True):
        e, u = pipe.embed_prompt(p).double(), pipe.embed_prompt(n).double()
        sim = bank @ e
        top = torch.topk(sim, 8).indices
        pick = int(top[int((sim[top] - w * (bank[top] @ u)).argmax())])
        y = e - text_w * u
        y = (y / y.norm()).float()[None].expand(seeds, -1).clone()
        out.append(pipe.generate(pipe.latents(seeds, 0), y, over=train.images[pick][None]))
    return torch.cat(out)


def dominant(images: torch.Tensor, names: list[str]) -> list[tuple[str, str]]:
    """(name, colour) for each picture whose coloured pixels are over half one colour its name does not say."""
    out = []
    for x, name in zip(images.float() / 255, names, strict=True):
        share = {c: on_colour(x[None, :3], c) for c in COLOURS}
        c = max(share, key=lambda k: share[k])
        if share[c] > 0.5 and c not in name.split():
            out.append((name, c))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a run that reads text (--preset emoji-text or emoji-text-64)")
    ap.add_argument("--checkpoint", default="latest")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--weights", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--projections", default="1,2,3")
    ap.add_argument("--retrieval", action="store_true", help="only the retrieval rows (a retrieving run)")
    ap.add_argument("--out", default="benchmarks/results/text-negative.json")
    ap.add_argument("--grid", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.monotonic()
    weights = [float(w) for w in a.weights.split(",")]
    train, test, _ = emoji_sets(32)
    matcher = train_judge(train, test)
    pipe = load(a.run, a.checkpoint)
    pool = list(train.captions + test.captions)
    results: dict = {"run": str(a.run), "step": pipe.step, "seeds": a.seeds, "colour": {}, "look-alike": {}}
    if a.retrieval:
        pairs = dominant(test.images, list(test.captions))
        names, colours = [n for n, _ in pairs], [c for _, c in pairs]
        results = {"run": str(a.run), "step": pipe.step, "seeds": a.seeds, "emoji": len(names), "retrieval": {}}
        for w, text_w in ((0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (2.0, 0.0), (1.0, 0.5)):
            x = over_chosen(pipe, train, names, colours, w, text_w, a.seeds)
            per = x.view(len(names), a.seeds, *x.shape[1:])
            row = {
                "on_colour": sum(on_colour(p, c) for p, c in zip(per, colours, strict=True)) / len(names),
                "r_precision": r_precision(matcher, to32(x), [n for n in names for _ in range(a.seeds)], pool)[0],
            }
            results["retrieval"][f"picture {w:g}, text {text_w:g}"] = row
            print("retrieval", w, text_w, row, flush=True)
        Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
        return

    for split, ds in (("train", train), ("held-out", test)):
        pairs = dominant(ds.images, list(ds.captions))
        names, colours = [n for n, _ in pairs], [c for _, c in pairs]
        real = torch.cat([ds.images[ds.captions.index(n)][None] for n in names]).float() / 255
        rows = {
            "real": {
                "on_colour": sum(on_colour(r[None], c) for r, c in zip(real, colours, strict=True)) / len(names),
                "r_precision": r_precision(matcher, real, names, pool)[0],
            }
        }
        for w in weights:
            x = draw(pipe, names, colours, w, a.seeds)
            per = x.view(len(names), a.seeds, *x.shape[1:])
            caps = [n for n in names for _ in range(a.seeds)]
            rows[f"{w:g}"] = {
                "on_colour": sum(on_colour(p, c) for p, c in zip(per, colours, strict=True)) / len(names),
                "r_precision": r_precision(matcher, to32(x), caps, pool)[0],
            }
            print(split, "colour", w, rows[f"{w:g}"], flush=True)
        results["colour"][split] = {"emoji": len(names), **rows}
        if split == "held-out":
            results["projected"] = {}
            for proj in [float(v) for v in a.projections.split(",") if v]:
                x = projected(pipe, names, colours, proj, a.seeds)
                per = x.view(len(names), a.seeds, *x.shape[1:])
                results["projected"][f"{proj:g}"] = {
                    "on_colour": sum(on_colour(p, c) for p, c in zip(per, colours, strict=True)) / len(names),
                    "r_precision": r_precision(matcher, to32(x), [n for n in names for _ in range(a.seeds)], pool)[0],
                }
                print("projected", proj, results["projected"][f"{proj:g}"], flush=True)

    held = list(test.captions)
    refs = [pipe.reference_caption(n) for n in held]
    if all(r is not None for r in refs):
        caps = [n for n in held for _ in range(a.seeds)]
        others = [r for r in refs for _ in range(a.seeds)]
        for w in weights:
            x = draw(pipe, held, list(refs), w, a.seeds)
            results["look-alike"][f"{w:g}"] = {
                "r_precision": r_precision(matcher, to32(x), caps, pool)[0],
                "prefers": prefers(matcher, to32(x), caps, others),  # type: ignore[arg-type]
            }
            print("look-alike", w, results["look-alike"][f"{w:g}"], flush=True)

    if a.grid:
        rows_x, names_txt = [], []
        for prompt, colour in GRID:
            for w in (0.0, 0.5, 1.0):
                rows_x.append(pipe(n=8, seed=0, prompt=L.with_negative(prompt, colour if w else None, w or 0.5)).images)
                names_txt.append(prompt + (f", not {colour} (weight {w:g})" if w else ""))
        size = rows_x[0].shape[-1]
        media.save_grid(torch.cat(rows_x), a.grid, nrow=8, scale=max(1, 96 // size))
        Path(a.grid).with_suffix(".txt").write_text("".join(f"row {i}: {t}\n" for i, t in enumerate(names_txt, 1)))
        results["grid"] = {"file": a.grid, "rows": names_txt}
    results["seconds"] = round(time.monotonic() - t0, 1)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "grid"}, indent=2))


if __name__ == "__main__":
    main()
