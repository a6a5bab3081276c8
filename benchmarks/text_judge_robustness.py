"""Is the text judge brittle? R-precision of the REAL held-out emoji pictures (the judge's ceiling, 100 %) after mild
degradations that a generator's pictures show (blur, noise, lost resolution, fewer colour levels, a colour cast).

    python benchmarks/text_judge_robustness.py [--threads 1]

If the judge dropped real pictures for small departures, a generator's low R-precision would partly be the judge's;
it does not (table in benchmarks/text_README.md, session 18). Writes benchmarks/results/text-judge-robustness.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from text_bench import emoji_sets

from ganstudio.data import ImageDataset
from ganstudio.features.text_match import MatchConfig, r_precision, train_matcher


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> separable Gaussian blur (5 taps, edges replicated)."""
    k = torch.arange(-2, 3).float()
    w = torch.exp(-(k**2) / (2 * sigma * sigma))
    w = w / w.sum()
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), w.view(1, 1, 1, 5).expand(3, 1, 1, 5), groups=3)
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), w.view(1, 1, 5, 1).expand(3, 1, 5, 1), groups=3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    train, test, _ = emoji_sets(32)
    both = ImageDataset("emoji", torch.cat([train.images, test.images]), None, captions=train.captions + test.captions)
    judge = train_matcher(both, MatchConfig())  # text_bench's judge (cached)
    pool = list(train.captions + test.captions)
    x = test.images.float() / 255
    g = torch.Generator().manual_seed(0)
    variants = {
        "real": x,
        "blur sigma 0.5": blur(x, 0.5),
        "blur sigma 0.8": blur(x, 0.8),
        "noise std 0.03": x + 0.03 * torch.randn(x.shape, generator=g),
        "noise std 0.06": x + 0.06 * torch.randn(x.shape, generator=g),
        "half resolution (16 px, enlarged)": F.interpolate(
            F.interpolate(x, size=16, mode="area"), size=32, mode="bilinear", align_corners=False
        ),
        "16 levels per channel": (x * 15).round() / 15,
        "colour cast (x 0.9 + 0.05)": x * 0.9 + 0.05,
    }
    result = {}
    for name, v in variants.items():
        r, _ = r_precision(judge, (v.clamp(0, 1) * 255).round().to(torch.uint8), list(test.captions), pool)
        result[name] = r
        print(f"{name:36s} {100 * r:5.1f} %")
    out = Path(__file__).parent / "results" / "text-judge-robustness.json"
    out.write_text(json.dumps({"held_out": len(test), "r_precision": result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
