"""Benchmark: does ``ganstudio.creative.taste`` learn a simulated user's taste from rated images?

Setup: an unconditional MLP GAN on scikit-learn's 8x8 digits (trained here, ~2 minutes on one CPU
thread, unless --run is given). The simulated rater judges IMAGES, never latents: a nearest-class-
mean classifier in pixel space (class means of the real digits; 90 % accurate on the real data)
names the digit in each picture, and the rater likes exactly the pictures of the target digit.

Protocol per trial: round 1 shows 16 random samples; rounds 2 and 3 show 16 suggestions of the
preference model fitted to all ratings so far (a round with no like yet shows random samples). After
3 rounds (48 ratings) the model is fitted once more and 256 fresh suggestions are judged. Reported:
the target digit's share among random samples (baseline) and among suggestions, and diversity: the
mean pairwise pixel distance of suggestions that show the target digit, relative to the same among
random samples that show it (1.0 = as varied as the generator's own pictures of that digit).

Also measured on the same run: curation (``creative.curate``): precision/recall (k=3, pixels, against
1,000 real digits) of 256 images kept by D's score from pools of 512 / 1024 / 2048, vs 256 random ones.

    python benchmarks/taste_shift.py                 # train, then 5 trials; prints a JSON summary
    python benchmarks/taste_shift.py --run RUN_DIR   # reuse a run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def train_run(out: Path, steps: int = 4000) -> Path:
    from ganstudio.data import DataConfig
    from ganstudio.models.mlp import MLPConfig
    from ganstudio.training import RunConfig, TrainConfig, train

    cfg = RunConfig(
        model="mlp",
        model_config=MLPConfig(g_hidden=(128, 256), d_hidden=(256, 128), resolution=8),
        data=DataConfig(name="digits", resolution=8),
        train=TrainConfig(
            steps=steps,
            batch_size=64,
            lr_g=5e-4,
            lr_d=5e-4,
            beta1=0.5,
            threads=1,
            seed=0,
            device="cpu",
            log_every=500,
            checkpoint_every=1000,
        ),
    )
    return train(cfg, out=out, progress=False)


class Rater:
    """Likes pictures of one digit, as named by a nearest-class-mean classifier on real digits."""

    def __init__(self, resolution: int, target: int):
        from ganstudio.data import DataConfig, load_dataset

        ds = load_dataset(DataConfig(name="digits", resolution=resolution))
        self.real = ds.images.float().div(255).flatten(1)
        self.labels = ds.labels
        self.means = torch.stack([self.real[self.labels == c].mean(0) for c in range(10)])
        self.target = target

    def classify(self, images: torch.Tensor) -> np.ndarray:
        return torch.cdist(images.flatten(1), self.means).argmin(1).numpy()

    def likes(self, images: torch.Tensor) -> np.ndarray:
        return self.classify(images) == self.target


def mean_pairwise(x: torch.Tensor) -> float:
    x = x.flatten(1)
    if len(x) < 2:
        return float("nan")
    d = torch.cdist(x, x)
    return float(d.sum() / (len(x) * (len(x) - 1)))


def trial(
    pipe, rater: Rater, seed: int, rounds: int = 3, per_round: int = 16, n_eval: int = 256, diversity: float = 0.5
) -> dict:
    from ganstudio import latents as L
    from ganstudio.creative import taste as T

    liked, disliked, shares = [], [], []
    for r in range(rounds):
        if liked:
            lats = T.suggest(T.fit(liked, disliked), per_round, diversity, seed=seed * 100 + r)
        else:
            lats = L.from_seeds(pipe, per_round, seed=10_000 * (seed + 1) + r * per_round)
        ok = rater.likes(L.render_fast(pipe, lats))
        shares.append(float(ok.mean()))
        liked += [l for l, k in zip(lats, ok) if k]
        disliked += [l for l, k in zip(lats, ok) if not k]
    if not liked:
        return {"seed": seed, "round_shares": shares, "final_share": 0.0, "likes": 0}
    sugg = T.suggest(T.fit(liked, disliked), n_eval, diversity, seed=seed * 100 + 99)
    imgs = L.render_fast(pipe, sugg)
    ok = rater.likes(imgs)
    z = torch.stack([l.z_tensor for l in sugg])
    return {
        "seed": seed,
        "round_shares": shares,
        "likes": len(liked),
        "final_share": float(ok.mean()),
        "pairwise_target": mean_pairwise(imgs[torch.from_numpy(ok)]),
        "pairwise_z": mean_pairwise(z),
    }


def curation(pipe, rater: Rater, keep: int = 256, pools=(512, 1024, 2048), seeds=(0, 1, 2)) -> dict:
    from ganstudio import latents as L
    from ganstudio.creative import curate as C
    from ganstudio.metrics.functional import precision_recall

    real = rater.real[torch.randperm(len(rater.real), generator=torch.Generator().manual_seed(0))[:1000]]
    D = C.load_discriminator(pipe)
    rows = []
    for s in seeds:
        cands = L.from_seeds(pipe, max(pools), seed=100_000 * (s + 1))
        row = {"seed": s, "random": precision_recall(real, L.render_fast(pipe, cands[:keep]).flatten(1), k=3)}
        for pool in pools:
            kept = C.select(pipe, cands[:pool], keep, D=D)
            imgs = L.render_fast(pipe, kept)
            row[f"curated_{pool}"] = {
                **precision_recall(real, imgs.flatten(1), k=3),
                "digits": len(set(rater.classify(imgs))),
            }
        rows.append(row)
    keys = ["random"] + [f"curated_{p}" for p in pools]
    mean = {k: {m: round(float(np.mean([r[k][m] for r in rows])), 3) for m in ("precision", "recall")} for k in keys}
    return {"keep": keep, "pools": list(pools), "mean": mean, "trials": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=None)
    ap.add_argument("--out", default="benchmarks/out/taste")
    ap.add_argument("--target", type=int, default=None, help="digit the rater likes (default: share nearest 10%%)")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--diversity", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    import ganstudio
    from ganstudio import latents as L

    t0 = time.time()
    run = Path(a.run) if a.run else train_run(Path(a.out))
    t_train = time.time() - t0
    pipe = ganstudio.load(run)
    res = pipe.G.out_shape[-1]
    rater = Rater(res, 0)
    base_lats = L.from_seeds(pipe, 2000, seed=999_000)
    base_imgs = L.render_fast(pipe, base_lats)
    base_cls = rater.classify(base_imgs)
    counts = np.bincount(base_cls, minlength=10)
    rater.target = a.target if a.target is not None else int(np.argmin(np.abs(counts / len(base_cls) - 0.10)))
    base_share = float((base_cls == rater.target).mean())
    base_pair = mean_pairwise(base_imgs[torch.from_numpy(base_cls == rater.target)][:256])
    trials = [trial(pipe, rater, s, diversity=a.diversity) for s in range(a.trials)]
    finals = [t["final_share"] for t in trials]
    div = [t["pairwise_target"] / base_pair for t in trials if "pairwise_target" in t]
    summary = {
        "run": str(run),
        "train_seconds": round(t_train, 1),
        "target_digit": rater.target,
        "baseline_share": round(base_share, 3),
        "class_counts_of_2000_random": counts.tolist(),
        "final_share_mean": round(float(np.mean(finals)), 3),
        "final_share_min": round(float(np.min(finals)), 3),
        "diversity_ratio_mean": round(float(np.mean(div)), 3),
        "random_pairwise_z": round(mean_pairwise(torch.stack([l.z_tensor for l in base_lats[:256]])), 3),
        "trials": trials,
        "curation": curation(pipe, rater),
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(summary, indent=1))
    ok = summary["final_share_min"] >= 0.6 and summary["diversity_ratio_mean"] >= 0.5
    print("PASS" if ok else "FAIL", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
