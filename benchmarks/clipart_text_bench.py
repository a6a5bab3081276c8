"""Text to picture on clip art: which captions teach a generator the words artists type.

    python benchmarks/clipart_text_bench.py --run RUN [--run RUN ...] [--prompts 200] [--seeds 2] [--threads 2]

A judge (``features.text_match``: a small CNN + the frozen MiniLM embedding, trained contrastively on the REAL clip
art, never a generated picture) is trained on Debian's Open Clip Art pictures with the captions of their SVG
metadata (titles, short descriptions, titles with keywords; ``data.clipart.metadata_captions``: needs
``openclipart-svg``) and cached. ``--prompts`` pictures are drawn at random (seed 0); each one's prompt is its
drawing's title ("Lighthouse", "Hot Dog (B and W)"). For each run and prompt, ``--seeds`` pictures are generated
from the prompt, and the judge ranks the prompt among itself + 99 other titles (R-precision); the real pictures of
the prompts give the ceiling. A run trained on the file-name captions ("lighthouse matthew gates") reads these
titles as new wordings; a run trained on the metadata captions has seen them. Writes ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import ganstudio
from ganstudio.data import DataConfig, load_dataset
from ganstudio.data.captions import lines
from ganstudio.features.text_match import MatchConfig, r_precision, train_matcher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", default=[], help="a run that reads text, trained on clipart")
    ap.add_argument("--checkpoint", default="latest")
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=20, help="the judge's epochs over the ~8,100 pictures")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/clipart-text.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    real = load_dataset(DataConfig(name="clipart", resolution=32), 32)
    if all(len(lines(c)) == 1 for c in real.captions):
        raise SystemExit("the clip art's SVG metadata are not installed (apt-get install openclipart-svg)")
    judge = train_matcher(real, MatchConfig(epochs=a.epochs), log=print)
    titles = [lines(c)[0] for c in real.captions]
    pool = sorted(set(titles))
    pick = np.random.default_rng(0).choice(len(real), size=a.prompts, replace=False)
    prompts = [titles[i] for i in pick]
    ceiling, _ = r_precision(judge, real.images[pick], prompts, pool)
    result: dict = {
        "judge": judge.meta | {"titles": len(pool)},
        "prompts": prompts,
        "seeds": a.seeds,
        "real": ceiling,
        "runs": {},
    }
    print(f"real pictures (ceiling): {100 * ceiling:.1f} % of {a.prompts} titles")
    for run in a.run:
        pipe = ganstudio.load(run, checkpoint=a.checkpoint)
        pictures = torch.cat([pipe(n=a.seeds, seed=0, prompt=p).images for p in prompts])
        rate, hits = r_precision(judge, pictures, [p for p in prompts for _ in range(a.seeds)], pool)
        result["runs"][run] = {"step": pipe.step, "r_precision": rate, "hits": hits.astype(int).tolist()}
        print(f"{run} (step {pipe.step}): {100 * rate:.1f} %")
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
