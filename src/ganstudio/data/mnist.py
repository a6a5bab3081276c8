"""MNIST and Fashion-MNIST: found on disk (env, cache, Debian) or downloaded with SHA-256 checks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..cache import cache_root
from ..errors import UserError
from .base import ImageDataset
from .download import fetch
from .idx import read_idx


@dataclass(frozen=True)
class IdxSource:
    name: str
    class_names: tuple[str, ...]
    mirrors: tuple[str, ...]
    sha256: dict = field(default_factory=dict)  # canonical .gz file name -> sha256


FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

MNIST = IdxSource(
    "mnist",
    tuple(str(i) for i in range(10)),
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
)
FASHION_MNIST = IdxSource(
    "fashion-mnist",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
)


def search_dirs(name: str) -> list[Path]:
    """Where IDX files are looked for, in order: $GANSTUDIO_DATA, the cache, Debian's datasets."""
    dirs = []
    if os.environ.get("GANSTUDIO_DATA"):
        root = Path(os.environ["GANSTUDIO_DATA"])
        dirs += [root / name, root]
    dirs += [cache_root() / name, Path("/usr/share/datasets") / name]
    return dirs


def _find(stem: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        for candidate in (d / (stem + ".gz"), d / stem):
            if candidate.is_file():
                return candidate
    return None


def locate(src: IdxSource, split: str = "train") -> tuple[Path, Path] | None:
    """The (images, labels) files of a split if both are on disk, else None."""
    dirs = search_dirs(src.name)
    img, lab = (_find(s, dirs) for s in FILES[split])
    return (img, lab) if img and lab else None


def download(
    src: IdxSource, split: str = "train", mirrors: list[str] | None = None, dest_dir: Path | None = None
) -> tuple[Path, Path]:
    """Download a split's two files into the cache, verified by SHA-256."""
    if os.environ.get("GANSTUDIO_OFFLINE"):
        raise UserError(
            f"{src.name} not found and GANSTUDIO_OFFLINE is set; put its IDX files in "
            f"$GANSTUDIO_DATA/{src.name}/ or install Debian's dataset-{src.name}"
        )
    dest_dir = dest_dir or cache_root() / src.name
    out = []
    for stem in FILES[split]:
        fn = stem + ".gz"
        out.append(fetch(fn, src.sha256[fn], list(mirrors or src.mirrors), dest_dir))
    return out[0], out[1]


def load(src: IdxSource, split: str = "train", allow_download: bool = True) -> ImageDataset:
    found = locate(src, split)
    if found is None:
        if not allow_download:
            raise UserError(f"{src.name} ({split}) not found in {', '.join(map(str, search_dirs(src.name)))}")
        try:
            found = download(src, split)
        except UserError as e:
            raise UserError(
                f"{src.name} not found on disk and not downloadable ({e}); install Debian's "
                f"dataset-{src.name}, set GANSTUDIO_DATA, or use --data digits"
            ) from None
    img_path, lab_path = found
    images = read_idx(img_path, expect_ndim=3)
    labels = read_idx(lab_path, expect_ndim=1)
    if len(images) != len(labels):
        raise UserError(
            f"{img_path} has {len(images)} images but {lab_path} has {len(labels)} labels; "
            "they must come from the same split"
        )
    if labels.size and labels.max() >= len(src.class_names):
        raise UserError(f"{lab_path} has label {labels.max()} but {src.name} has {len(src.class_names)} classes")
    return ImageDataset(
        name=src.name,
        images=torch.from_numpy(np.array(images))[:, None],  # copy: frombuffer arrays are read-only
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=src.class_names,
        source=str(img_path.parent),
    )
