"""Pictures grouped by look (``data.clusters``): classes for a folder that has none.

A conditional GAN learns a varied set much faster than an unconditional one (on emoji at 64 px the
subgroup-conditional preset reaches in 10 minutes what the unconditional one does not in 30), but an
artist's folder rarely comes sorted into sub-folders. Grouping the pictures by how they look and
conditioning on the groups gives an unlabelled folder most of that gain (Liu et al., "Diverse image
generation via self-conditioned GANs", CVPR 2020, cluster the data to condition on; here the clustering is
done once, before training, on fixed features). The groups also become something to draw *from*:
``--class "cluster 3"`` draws more like the pictures of group 3.

How: every picture (composited on white when it has alpha, grey made RGB) is resized to 64 px and described
by the fixed random-convolution network of ``ganstudio.randconv`` (colour, texture and a 4 x 4 layout; the
same features ``folder-rcf`` scores with); each feature is standardised over the set and k-means (k-means++
seeding from a fixed seed, then Lloyd's steps in float64) splits the set into K groups, numbered by size,
largest first: "cluster 1" ... "cluster K" (under ``auto``, a group of fewer than ``MIN_AUTO_GROUP`` pictures is
folded into its neighbours first, so K may come out smaller). Deterministic for one set of pictures; the features
are float32 convolutions, so on another CPU a picture lying on a boundary between two groups may fall in the other.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from .. import randconv
from ..errors import UserError
from .base import ImageDataset

AUTO = "auto"
PER_CLUSTER = 45  # pictures per group that ``auto`` aims at (measured on emoji: benchmarks/README.md)
MAX_AUTO = 100
# ``auto`` folds a group smaller than this into its neighbours: k-means gives an outlier picture a group of its own,
# and a conditional G then learns that one picture by heart (on 300 clip-art pictures, "cluster 7" was one pattern
# tile and every seed of it drew a copy of it; benchmarks/README.md, session 24).
MIN_AUTO_GROUP = PER_CLUSTER // 5
SEED = 0
MAX_STEPS = 100
BATCH = 256


def auto_k(n: int) -> int:
    """How many groups ``data.clusters=auto`` makes of ``n`` pictures (1 for fewer than about 70)."""
    return max(1, min(MAX_AUTO, round(n / PER_CLUSTER)))


def _as_rgb(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W), C in 1/3/4 -> float (N, 3, SIZE, SIZE) in [0, 1]; alpha composited on white."""
    u = x.float() / 255.0
    if u.shape[1] == 4:
        a = u[:, 3:]
        u = u[:, :3] * a + (1 - a)
    elif u.shape[1] == 1:
        u = u.expand(-1, 3, -1, -1)
    if u.shape[-2:] != (randconv.SIZE, randconv.SIZE):
        u = F.interpolate(u, size=(randconv.SIZE, randconv.SIZE), mode="bilinear", antialias=True, align_corners=False)
    return u.clamp(0, 1)


def features(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float64 (N, randconv.DIMS), each column standardised over the N pictures."""
    w = randconv.weights()
    with torch.no_grad():
        f = torch.cat([randconv.describe(_as_rgb(images[i : i + BATCH]), w) for i in range(0, len(images), BATCH)])
    f = f.double()
    return (f - f.mean(0)) / f.std(0).clamp(min=1e-6) if len(f) > 1 else f - f.mean(0)


def kmeans(x: torch.Tensor, k: int, seed: int = SEED, max_steps: int = MAX_STEPS) -> torch.Tensor:
    """float (N, D) -> int64 (N,) group of each row, groups numbered by size (largest first; ties: the group
    whose first row comes first). k-means++ seeding, then Lloyd's steps until no row moves."""
    n = len(x)
    g = torch.Generator().manual_seed(seed)
    chosen = [int(torch.randint(n, (1,), generator=g))]
    d2 = ((x - x[chosen[0]]) ** 2).sum(1)
    for _ in range(k - 1):  # each next centre drawn with probability proportional to its squared distance
        if float(d2.sum()) <= 0:  # fewer distinct pictures than groups: the rest start on duplicates
            nxt = next(i for i in range(n) if i not in chosen)
        else:
            nxt = int(torch.multinomial(d2 / d2.sum(), 1, generator=g))
        chosen.append(nxt)
        d2 = torch.minimum(d2, ((x - x[nxt]) ** 2).sum(1))
    centres = x[chosen].clone()
    labels = torch.cdist(x, centres).argmin(1)
    for _ in range(max_steps):
        for j in range(k):
            members = labels == j
            if members.any():
                centres[j] = x[members].mean(0)
        new = torch.cdist(x, centres).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    return _by_size(labels, k)


def _by_size(labels: torch.Tensor, k: int) -> torch.Tensor:
    sizes = torch.bincount(labels, minlength=k)
    first = torch.full((k,), len(labels), dtype=torch.long).scatter_reduce(
        0, labels, torch.arange(len(labels)), reduce="amin"
    )
    order = sorted(range(k), key=lambda j: (-int(sizes[j]), int(first[j])))
    rank = torch.empty(k, dtype=torch.long)
    rank[torch.tensor(order)] = torch.arange(k)
    return rank[labels]


def name(j: int) -> str:
    """Group ``j``'s class name (0-based: the largest group is "cluster 1")."""
    return f"cluster {j + 1}"


def fold_small_groups(x: torch.Tensor, labels: torch.Tensor, min_size: int) -> torch.Tensor:
    """Groups of fewer than ``min_size`` rows, smallest first, each row moved to the nearest centre (mean) of the
    other groups, until every group has ``min_size`` rows or one group is left; renumbered by size (``kmeans``)."""
    labels = labels.clone()
    while True:
        present, sizes = labels.unique(return_counts=True)
        if len(present) == 1 or int(sizes.min()) >= min_size:
            break
        small = int(present[sizes.argmin()])
        others = [int(j) for j in present if int(j) != small]
        centres = torch.stack([x[labels == j].mean(0) for j in others])
        members = labels == small
        labels[members] = torch.tensor(others)[torch.cdist(x[members], centres).argmin(1)]
    present = labels.unique()
    compact = torch.empty(int(present.max()) + 1, dtype=torch.long)
    compact[present] = torch.arange(len(present))
    return _by_size(compact[labels], len(present))


def label_by_look(ds: ImageDataset, clusters: int | str) -> ImageDataset:
    """``ds`` with its labels replaced by groups of look (``clusters`` groups exactly, or ``auto``: about
    ``auto_k`` groups, none under ``MIN_AUTO_GROUP`` pictures); ``auto`` leaves a dataset that has labels of its own
    as it is."""
    if clusters == AUTO:
        if ds.labels is not None:
            return ds
        k = auto_k(len(ds))
    else:
        k = int(clusters)
        if k > len(ds):
            raise UserError(
                f"data.clusters={k} asks for more groups than there are pictures ({len(ds)}): "
                f"use at most {len(ds)}, or data.clusters=auto"
            )
    if k == 1:
        labels = torch.zeros(len(ds), dtype=torch.long)
    else:
        x = features(ds.images)
        labels = kmeans(x, k)
        if clusters == AUTO:
            labels = fold_small_groups(x, labels, MIN_AUTO_GROUP)
            k = int(labels.max()) + 1
    names = tuple(name(j) for j in range(k))
    return dataclasses.replace(ds, labels=labels, class_names=names)
