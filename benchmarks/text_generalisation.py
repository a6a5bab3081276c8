"""What 1,445 captioned pictures teach about names never seen: a matching model trained like the judge
(``features.text_match``) but on the emoji TRAIN split only, scored by R-precision (the name first among 100) on
the real pictures of the held-out emoji, whose names and pictures it never saw, and on training ones.

    python benchmarks/text_generalisation.py [--seed 1] [--widths 32,64,128] [--epochs 60] [--threads 1]
    python benchmarks/text_generalisation.py --extra-style /usr/share/rubygems-integration/all/gems/gemojione-3.3.0/assets/png

The judge of ``text_bench.py`` trains on both splits (it must know every picture it judges); this one does not, so
its held-out score is how far contrastive learning on the training pairs alone carries to unseen names: a yardstick
for what a generator trained on the same pairs can be expected to draw from an unseen name. Also scored: each
held-out name's nearest training picture (by the sentence model; text_bench's ``nearest``).

``--extra-style DIR``: a second picture of each training emoji in another art style, from a folder of PNGs named by
code point (EmojiOne's ``1F34E.png``, ``1F468-200D-1F373.png``; Debian's ``ruby-gemojione``, installed by hand:
``apt-get install ruby-gemojione``), framed as the font's glyphs are (``data.emoji.frame``) and captioned with the
same name. Held-out emoji keep one style (the font's) and no second picture. Does a name's concept, seen in two
styles, carry further to unseen names? Writes benchmarks/results/text-generalisation-<seed>-<widths>[-<tag>].json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from text_bench import emoji_sets, nearest_training_pictures

from ganstudio.data import emoji as E
from ganstudio.data.base import ImageDataset
from ganstudio.features.text_match import MatchConfig, r_precision, train_matcher


def with_extra_style(train: ImageDataset, folder: Path) -> tuple[ImageDataset, int]:
    """``train`` plus, for each of its emoji that ``folder`` has a PNG of, that picture under the same caption;
    and how many were added."""
    files = {p.stem.upper(): p for p in folder.glob("*.png")}
    listing = E.list_path()
    assert listing is not None
    by_name = {e.name: e for e in E.parse(listing.read_text(encoding="utf-8"))}
    size = train.images.shape[-1]
    pictures, captions, labels = [], [], []
    for i, name in enumerate(train.captions):
        path = files.get("-".join(c for c in by_name[name].codepoints if c != "FE0F"))  # file names drop FE0F
        framed = None if path is None else E.frame(Image.open(path).convert("RGBA"), size, (255, 255, 255))
        if framed is not None:
            pictures.append(framed)
            captions.append(name)
            labels.append(int(train.labels[i]))
    if not pictures:
        raise SystemExit(f"--extra-style: no PNG in {folder} is named by a training emoji's code points")
    mixed = ImageDataset(
        name=f"{train.name}+{folder.name}",
        images=torch.cat([train.images, torch.from_numpy(np.stack(pictures))]),
        labels=torch.cat([train.labels, torch.tensor(labels)]),
        class_names=train.class_names,
        source=f"{train.source} + {folder}",
        captions=tuple(train.captions) + tuple(captions),
    )
    return mixed, len(pictures)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1, help="the judge uses seed 0; another seed keeps them apart")
    ap.add_argument("--widths", default="32,64,128", help="the image tower's widths (the judge's: 32,64,128)")
    ap.add_argument("--epochs", type=int, default=60, help="the judge's: 60")
    ap.add_argument("--extra-style", type=Path, help="a folder of another emoji set's PNGs named by code point")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    widths = tuple(int(w) for w in a.widths.split(","))
    train, test, _ = emoji_sets(32)
    taught, added = train, 0
    if a.extra_style is not None:
        taught, added = with_extra_style(train, a.extra_style)
        print(f"--extra-style: {added} more pictures of the {len(train)} training emoji")
    matcher = train_matcher(taught, MatchConfig(seed=a.seed, widths=widths, epochs=a.epochs), log=print)
    pool = list(train.captions + test.captions)  # distractors: every emoji name, as in text_bench
    held, _ = r_precision(matcher, test.images, list(test.captions), pool)
    seen, _ = r_precision(matcher, train.images[:400], list(train.captions[:400]), pool)
    # no generator: each held-out name gets the training picture of its nearest training name (text_bench's `nearest`)
    near, _ = r_precision(matcher, nearest_training_pictures(train)(list(test.captions)), list(test.captions), pool)
    result = {
        "trained_on": f"emoji train split ({len(train)} pictures)"
        + (f" + {added} pictures in the style of {a.extra_style}" if added else ""),
        "config": {"seed": a.seed, "widths": list(widths), "epochs": a.epochs},
        "train_seconds": matcher.meta["seconds"],  # when it was trained (it is cached after)
        "r_precision_held_out_real": held,
        "r_precision_training_real": seen,
        "r_precision_held_out_nearest_training_picture": near,
        "held_out": len(test),
    }
    tag = "".join([f"-{a.epochs}ep" if a.epochs != 60 else "", "-extra-style" if added else ""])
    out = Path(__file__).parent / "results" / f"text-generalisation-{a.seed}-{'-'.join(map(str, widths))}{tag}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"held-out real pictures {100 * held:.1f} %, their nearest training pictures {100 * near:.1f} %, "
        f"training real pictures {100 * seen:.1f} % -> {out}"
    )


if __name__ == "__main__":
    main()
