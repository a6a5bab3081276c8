"""What 1,445 captioned pictures teach about names never seen: a matching model trained like the judge
(``features.text_match``) but on the emoji TRAIN split only, scored by R-precision (the name first among 100) on
the real pictures of the held-out emoji, whose names and pictures it never saw, and on training ones.

    python benchmarks/text_generalisation.py [--seed 1] [--widths 32,64,128] [--threads 1]

The judge of ``text_bench.py`` trains on both splits (it must know every picture it judges); this one does not, so
its held-out score is how far contrastive learning on the training pairs alone carries to unseen names: a yardstick
for what a generator trained on the same pairs can be expected to draw from an unseen name. Also scored: each
held-out name's nearest training picture (by the sentence model; text_bench's ``nearest``). Writes
benchmarks/results/text-generalisation-<seed>-<widths>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from text_bench import emoji_sets, nearest_training_pictures

from ganstudio.features.text_match import MatchConfig, r_precision, train_matcher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="the judge uses seed 0; another seed keeps them apart")
    ap.add_argument("--widths", default="32,64,128", help="the image tower's widths (the judge's: 32,64,128)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    widths = tuple(int(w) for w in a.widths.split(","))
    train, test, _ = emoji_sets(32)
    matcher = train_matcher(train, MatchConfig(seed=a.seed, widths=widths), log=print)
    pool = list(train.captions + test.captions)  # distractors: every emoji name, as in text_bench
    held, _ = r_precision(matcher, test.images, list(test.captions), pool)
    seen, _ = r_precision(matcher, train.images[:400], list(train.captions[:400]), pool)
    # no generator: each held-out name gets the training picture of its nearest training name (text_bench's `nearest`)
    near, _ = r_precision(matcher, nearest_training_pictures(train)(list(test.captions)), list(test.captions), pool)
    result = {
        "trained_on": f"emoji train split ({len(train)} pictures)",
        "config": {"seed": a.seed, "widths": list(widths)},
        "train_seconds": matcher.meta["seconds"],  # when it was trained (it is cached after)
        "r_precision_held_out_real": held,
        "r_precision_training_real": seen,
        "r_precision_held_out_nearest_training_picture": near,
        "held_out": len(test),
    }
    out = Path(__file__).parent / "results" / f"text-generalisation-{a.seed}-{'-'.join(map(str, widths))}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"held-out real pictures {100 * held:.1f} %, their nearest training pictures {100 * near:.1f} %, "
        f"training real pictures {100 * seen:.1f} % -> {out}"
    )


if __name__ == "__main__":
    main()
