"""Best of K: draw K pictures of a prompt and keep the one a matching model trained on the run's own captions likes
best (DALL-E's reranking). Does it lift R-precision on held-out names, and what does it cost in variety?

    python benchmarks/text_rerank.py --run runs/NNNNN-lightweight-emoji --checkpoint 1800 \
        --out benchmarks/results/text-rerank-1800.json

Two rerankers, neither of them the judge:

- ``D``: the run's own discriminator's matching head (XMC-GAN's ``CaptionMatch``, trained on the training pairs with
  the run; the cosine of D's features of a picture and the prompt's embedding);
- ``train-only matcher``: ``text_generalisation.py``'s yardstick (the judge's recipe, seed 1, trained on the TRAIN
  split only). It shares the judge's architecture and recipe, so a gain it brings may be the judge's taste as much as
  the prompt's: reported, not counted.

For each prompt set (the 156 held-out names; 200 training names as in ``text_bench.py``), ``retrieve_variety`` V
(how far the noise moves which neighbours a picture is drawn over) and K: two pictures per prompt, each the best of K
seeds (the first K of seeds 0..M-1 and of seeds M..2M-1, M the largest K); their R-precision among 100
(``text_bench.py``'s judge and pool) and their variety (the mean pixel difference between the two). K = 1 is plain
sampling (seeds 0 and M). Also the ceiling of any reranker: the share of prompts with a judge hit among their first K
seeds (the judge as an oracle, not a method).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from text_bench import emoji_sets, to32, train_judge

from ganstudio import runs
from ganstudio.features.text_match import MatchConfig, r_precision, train_matcher
from ganstudio.models import build
from ganstudio.pipeline import load


def d_matcher(pipe):
    """(pictures (K, C, H, W) in [0, 1], prompt embedding (T,)) -> (K,) the run's D's matching-head cosines."""
    _, D = build(pipe.config.model, pipe.config.model_config)
    D.load_state_dict(runs.find_checkpoint(pipe.run_dir, pipe.step).tensors("D"))
    D.eval()
    if getattr(D, "match", None) is None:
        raise SystemExit("this run's D has no matching head (model_config.match_weight 0)")

    @torch.no_grad()
    def score(x: torch.Tensor, e: torch.Tensor, prompt: str) -> torch.Tensor:
        _, _, _, h = D.forward_parts(x * 2 - 1, e.expand(len(x), -1))
        return D.match(h, e[None]).squeeze(1)

    return score


def matcher_scores(matcher):
    @torch.no_grad()
    def score(x: torch.Tensor, e: torch.Tensor, prompt: str) -> torch.Tensor:
        a = F.normalize(matcher.image_embeddings(to32(x)), dim=1)
        return a @ F.normalize(matcher.text_embeddings([prompt]), dim=1)[0]

    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--checkpoint", default="1800")
    ap.add_argument("--varieties", default="0.025,0.05,0.1")
    ap.add_argument("--ks", default="1,4,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/text-rerank.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.monotonic()
    train, test, _ = emoji_sets(32)
    judge = train_judge(train, test)
    pipe = load(a.run, a.checkpoint)
    rerankers = {"D": d_matcher(pipe), "train-only matcher": matcher_scores(train_matcher(train, MatchConfig(seed=1)))}
    pool = list(train.captions + test.captions)
    rng = np.random.default_rng(0)
    sets = {
        "held-out": list(test.captions),
        "train": [train.captions[i] for i in rng.choice(len(train), 200, replace=False)],
    }
    ks = [int(k) for k in a.ks.split(",")]
    rows = []
    for variety in (float(v) for v in a.varieties.split(",")):
        pipe.G.ref_variety = variety
        for name, prompts in sets.items():
            # every K's candidates: the first K of each half
            drawn = [pipe(n=2 * max(ks), seed=0, prompt=p) for p in prompts]
            # the ceiling of any reranker: a prompt counts when any of its first K seeds is a hit for the judge
            m = max(ks)
            rep_m = [p for p in prompts for _ in range(m)]
            _, hit = r_precision(judge, to32(torch.cat([o.images[:m] for o in drawn])), rep_m, pool)
            hit = np.asarray(hit).reshape(len(prompts), m)
            oracle = {k: round(100 * float(hit[:, :k].any(1).mean()), 1) for k in ks}
            rows.append({"variety_setting": variety, "prompts": name, "reranker": "judge (oracle)", "any_hit": oracle})
            print(rows[-1], flush=True)
            for who, score in rerankers.items():
                for k in ks:
                    if k == 1 and who != "D":
                        continue  # plain sampling: one row is enough
                    picks, diffs = [], []
                    for o, p in zip(drawn, prompts, strict=True):
                        half = max(ks)
                        cand = torch.cat([o.images[:k], o.images[half : half + k]])
                        s = score(cand, o.classes[0], p)
                        i, j = int(s[:k].argmax()), k + int(s[k:].argmax())
                        picks.append(cand[[i, j]])
                        diffs.append(float((cand[i] - cand[j]).abs().mean()))
                    rep = [p for p in prompts for _ in range(2)]
                    r, _ = r_precision(judge, to32(torch.cat(picks)), rep, pool)
                    row = {"variety_setting": variety, "prompts": name, "reranker": "none" if k == 1 else who, "k": k}
                    row |= {"r_precision": round(100 * float(r), 1), "variety": round(float(np.mean(diffs)), 3)}
                    rows.append(row)
                    print(row, flush=True)
    out = {"run": str(a.run), "step": pipe.step, "rows": rows, "seconds": round(time.monotonic() - t0, 1)}
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"-> {a.out} ({out['seconds']} s)")


if __name__ == "__main__":
    main()
