"""Benchmark: does FID rise monotonically as images are blurred, noised, or lose whole modes?

    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/eval_sensitivity.py [--n 2000]

For each extractor (folder-rcf always; classifier when one is cached for Fashion-MNIST) and each
data set, FID between n reference images and n *other* real images damaged at increasing levels
(``ganstudio.features.check``): Gaussian blur sigma (px), Gaussian noise std (in [0, 1] units),
fraction of modes dropped (classes / sub-folders; the remaining modes resampled to n images).

Data sets
    fashion-mnist          reference: n random training images; damaged: n test images
    fashion-mnist-folder   the same test/train images written as PNGs into class sub-folders and
                           read back through the folder loader (the unlabelled-folder path)
    synthetic-modes        a generated RGB folder, 4 sub-folders (discs, dots, squares, stripes)
                           x 500 images at 32 px (the test's folder, bigger)

Writes benchmarks/results/eval_sensitivity.json and .md. Equivalent CLI for one folder:
`ganstudio features check --features folder-rcf --data FOLDER`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganstudio.data import DataConfig, load_dataset
from ganstudio.errors import UserError
from ganstudio.features import get_extractor
from ganstudio.features.check import sensitivity

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT.parent / "tests" / "features"))


def fashion(n: int):
    tr = load_dataset(DataConfig(name="fashion-mnist", split="train"))
    te = load_dataset(DataConfig(name="fashion-mnist", split="test"))
    g = torch.Generator().manual_seed(0)
    ref = tr.images[torch.randperm(len(tr), generator=g)[:n]]
    idx = torch.randperm(len(te), generator=g)[:n]
    return te.images[idx], te.labels[idx], ref, te.class_names


def fashion_folder(n: int, work: Path):
    held, labels, ref, names = fashion(n)
    root = work / "fashion-folder"
    if not root.is_dir():
        for part, imgs, labs in (("ref", ref, None), ("held", held, labels)):
            for i, im in enumerate(imgs):
                c = "all" if labs is None else names[int(labs[i])].replace("/", "-")
                d = root / part / c
                d.mkdir(parents=True, exist_ok=True)
                Image.fromarray(im[0].numpy()).save(d / f"{i:05d}.png")
    h = load_dataset(DataConfig(name=str(root / "held"), labels=True, resolution=28))
    r = load_dataset(DataConfig(name=str(root / "ref"), resolution=28))
    return h.images, h.labels, r.images


def synthetic(n: int, work: Path):
    from test_features import MODES, _draw

    root = work / "synthetic-modes"
    per = max(1, n // 2)
    if not root.is_dir():
        rng = np.random.default_rng(0)
        for kind in MODES:
            (root / kind).mkdir(parents=True)
            for i in range(per):
                Image.fromarray(_draw(kind, rng)).save(root / kind / f"{i:04d}.png")
    ds = load_dataset(DataConfig(name=str(root), labels=True, resolution=32))
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    half = len(ds) // 2
    return ds.images[perm[half:]], ds.labels[perm[half:]], ds.images[perm[:half]]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--work", default="/tmp/eval-sensitivity")
    a = p.parse_args()
    work = Path(a.work)
    out = ROOT / "results" / "eval_sensitivity.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results = []
    sets = {
        "fashion-mnist": lambda: fashion(a.n)[:3],
        "fashion-mnist-folder": lambda: fashion_folder(a.n, work),
        "synthetic-modes": lambda: synthetic(a.n, work),
    }
    extractors = ["folder-rcf"]
    try:
        extractors.append(get_extractor("classifier", DataConfig(name="fashion-mnist")).label and "classifier")
    except UserError as e:
        print(f"(no classifier: {e})", flush=True)
    for name, make in sets.items():
        held, labels, ref = make()
        for spec in extractors:
            if spec == "classifier" and name != "fashion-mnist":
                continue
            ext = get_extractor(spec, DataConfig(name="fashion-mnist"))
            t0 = time.time()
            r = sensitivity(ext, held, labels, ref)
            r.update({"data": name, "seconds": round(time.time() - t0, 1)})
            results.append(r)
            print(
                name,
                ext.label,
                {k: [round(v, 3) for _, v in r[k]] for k in ("blur", "noise", "drop")},
                r["monotonic"],
                flush=True,
            )
            out.write_text(json.dumps(results, indent=2) + "\n")
    lines = []
    for r in results:
        lines.append(
            f"**{r['data']}**, features `{r['extractor']['name']}@{r['extractor']['id']}`, "
            f"{r['n']} damaged vs {r['n_reference']} reference images ({r['seconds']:.0f} s)\n"
        )
        for kind, unit in (("blur", "blur sigma (px)"), ("noise", "noise std"), ("drop", "modes dropped")):
            lines.append(f"| {unit} | " + " | ".join(f"{lvl:g}" for lvl, _ in r[kind]) + " | monotonic |")
            lines.append("|" + "---|" * (len(r[kind]) + 2))
            fids = " | ".join(f"{v:.3f}" for _, v in r[kind])
            lines.append(f"| FID | {fids} | {'yes' if r['monotonic'][kind] else 'NO'} |")
            lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
