"""The ``classifier`` extractor: a small CNN trained on a labelled dataset (classifier-FID).

``train_classifier(data)`` trains it on the data's train split and measures its accuracy on the
test split (Fashion-MNIST, MNIST, digits) or, for a labelled image folder, on a seeded 10 %
hold-out. It is cached in ``$GANSTUDIO_CACHE/features/classifier-<data>-<hash12>/`` as
``model.safetensors`` + ``meta.json`` (accuracy, data hash, architecture config), where hash12
starts the sha256 of the training images and labels. Its penultimate layer (after ReLU) gives the
features, its softmax the class predictions: the classifier-FID / classifier score of the MNIST
GAN literature, computed with a network that knows the data's classes.

Architecture (``ClassifierConfig``): per width w, Conv3x3(w) - BatchNorm - ReLU - MaxPool2; then
Flatten - Linear(hidden) - ReLU [features] - Dropout - Linear(num_classes) [logits]. Inputs are
the images in [0, 1] mapped to [-1, 1] at ``resolution`` x ``resolution``, ``in_channels`` channels.

Augmentation (``AUGMENTS``, recorded in meta.json): ``shift`` (random 1-pixel shifts; grey digits and
clothes) or ``shape`` (for half the pictures a random scale, shift, small rotation, mild blur and
horizontal flip, never a hue change: the network must judge shape and colour, not remember the exact
glyph). ``shape`` is the default for colour data (emoji, clipart, 3-channel folders). ``RECIPES`` holds
the measured defaults of a dataset (emoji: 30 epochs, four conv blocks; benchmarks/README.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..config.base import check, from_dict, to_dict
from ..data import SOURCES, DataConfig, ImageDataset, load_dataset
from ..errors import UserError
from ..runs import atomic_write_json, slug
from .base import Extractor, sha256_tensors, to_unit_float
from .cache import cached_models, data_hash, features_root

HOLDOUT_FRACTION = 0.1  # labelled folders have no test split: this share is held out for accuracy
AUGMENTS = {
    "none": "no augmentation",
    "shift": "random 1-pixel shifts (grey digits and clothes)",
    "shape": "random scale, shift, rotation, mild blur and horizontal flip for half the pictures, no hue change "
    "(colour pictures: judge shape and colour, not the exact glyph)",
}
COLOUR_SOURCES = ("emoji", "clipart")  # named colour datasets: ``shape`` augmentation by default
# the ``shape`` augmentation: scale range, largest shift (share of the side), largest rotation
# (degrees), largest blur sigma (pixels), flip probability
SHAPE_SCALE, SHAPE_SHIFT, SHAPE_DEGREES, SHAPE_BLUR, SHAPE_FLIP = (0.75, 1.1), 0.125, 12.0, 1.0, 0.5
SHAPE_P = 0.5  # share of the pictures transformed (the others pass unchanged: clean glyphs are learnt too)
DEFAULT_RECIPE = {"epochs": 5, "widths": (16, 32), "hidden": 128}
# measured defaults per named dataset (benchmarks/README.md, "Emoji-group classifier")
RECIPES: dict[str, dict] = {"emoji": {"epochs": 30, "widths": (16, 32, 64, 128), "hidden": 128}}


@dataclass(frozen=True)
class ClassifierConfig:
    in_channels: int = 1
    resolution: int = 28
    num_classes: int = 10
    widths: tuple[int, ...] = (16, 32)
    hidden: int = 128
    dropout: float = 0.3

    def __post_init__(self) -> None:
        check(self.in_channels in (1, 3), f"classifier in_channels must be 1 or 3, got {self.in_channels}")
        check(self.num_classes >= 2, f"a classifier needs at least 2 classes, got {self.num_classes}")
        check(len(self.widths) >= 1 and all(w > 0 for w in self.widths), "classifier widths must be positive")
        check(
            self.resolution // 2 ** len(self.widths) >= 1,
            f"resolution {self.resolution} is too small for {len(self.widths)} pooling blocks",
        )


class SmallCNN(nn.Module):
    """x (B, in_channels, R, R) in [-1, 1] -> (features (B, hidden), logits (B, num_classes))."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        layers: list[nn.Module] = []
        c = cfg.in_channels
        for w in cfg.widths:
            layers += [
                nn.Conv2d(c, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c = w
        self.conv = nn.Sequential(*layers)
        side = cfg.resolution // 2 ** len(cfg.widths)
        self.fc = nn.Linear(c * side * side, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = F.relu(self.fc(self.conv(x).flatten(1)))
        return f, self.head(self.drop(f))


class ClassifierExtractor(Extractor):
    """A trained ``SmallCNN`` loaded from its cache folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        meta_path, weights = self.path / "meta.json", self.path / "model.safetensors"
        try:
            self.meta = json.loads(meta_path.read_text())
            self.cfg = from_dict(ClassifierConfig, self.meta["config"], "classifier config")
            state = load_file(str(weights))
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise UserError(
                f"cannot read the classifier in {self.path} ({e}); delete it and run `ganstudio features train` again"
            ) from None
        except Exception as e:  # safetensors raises several types on corrupt files
            raise UserError(f"classifier weights {weights} are damaged ({e}); delete {self.path} and retrain") from None
        self.model = SmallCNN(self.cfg)
        self.model.load_state_dict(state)
        self.model.eval()
        self.name = f"classifier-{slug(self.meta['data']['name'])}"
        self.id = sha256_tensors(state, to_dict(self.cfg))[:12]
        self.num_classes = self.cfg.num_classes
        self.class_names = tuple(self.meta.get("class_names", ()))
        self.input_channels = self.cfg.in_channels
        self.input_size = (self.cfg.resolution, self.cfg.resolution)
        acc = self.meta.get("accuracy")
        self.description = (
            f"small CNN classifier trained on {self.meta['data']['name']}"
            + (f", {100 * acc:.2f} % {self.meta.get('accuracy_split', 'held-out')} accuracy" if acc is not None else "")
            + "; penultimate-layer features, softmax classes"
        )

    def _forward(self, x: torch.Tensor):
        f, logits = self.model(x * 2 - 1)
        return f, torch.softmax(logits.float(), dim=1)

    def extra_info(self) -> dict:
        return {
            "accuracy": self.meta.get("accuracy"),
            "accuracy_split": self.meta.get("accuracy_split"),
            "data": self.meta.get("data"),
            "data_hash": self.meta.get("data_hash"),
            "path": str(self.path),
        }


# ---- data ----------------------------------------------------------------------------------


def classifier_data_config(data: str | DataConfig) -> DataConfig:
    """The data a classifier for ``data`` trains on: native resolution for named datasets,
    class labels from sub-folders for folders, never a subset."""
    cfg = data if isinstance(data, DataConfig) else DataConfig(name=str(data))
    is_folder = cfg.name not in SOURCES
    if is_folder and not Path(cfg.name).expanduser().is_dir():
        raise UserError(f"unknown dataset {cfg.name!r}: use one of {', '.join(SOURCES)} or a folder of images")
    return dataclasses.replace(
        cfg,
        split="train",
        limit=None,
        flip=False,
        labels=is_folder or cfg.labels,
        resolution=cfg.resolution if is_folder else None,
        channels=cfg.channels if is_folder else None,
        height=None,
    )


def _train_and_val(cfg: DataConfig) -> tuple[ImageDataset, ImageDataset, str]:
    train = load_dataset(cfg)
    if train.labels is None or train.num_classes < 2:
        raise UserError(
            f"{cfg.name} has no class labels (need >= 2 classes; for a folder, one sub-folder "
            "per class); use --features folder-rcf for unlabelled data"
        )
    if cfg.name in SOURCES and SOURCES[cfg.name].test_split:
        return train, load_dataset(dataclasses.replace(cfg, split="test")), "test"
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(train), generator=g)
    n_val = max(1, int(len(train) * HOLDOUT_FRACTION))
    return train.subset(perm[n_val:]), train.subset(perm[:n_val]), f"holdout-{int(100 * HOLDOUT_FRACTION)}%"


def classifier_dir(cfg: DataConfig, dhash: str) -> Path:
    return features_root() / f"classifier-{slug(cfg.name)}-{dhash[:12]}"


def find_classifier(data: str | DataConfig) -> Path | None:
    """The cached classifier trained on exactly this data (same images and labels), or None."""
    cfg = classifier_data_config(data)
    root = features_root()
    candidates = sorted(root.glob(f"classifier-{slug(cfg.name)}-*")) if root.is_dir() else []
    candidates = [c for c in candidates if (c / "meta.json").is_file() and (c / "model.safetensors").is_file()]
    if not candidates:
        return None
    train = load_dataset(cfg)
    dh = data_hash(train.images, train.labels)
    path = classifier_dir(cfg, dh)
    if path in candidates:
        return path
    # a classifier trained on the same data with another hold-out split: match the stored full-data hash
    for c in candidates:
        try:
            if json.loads((c / "meta.json").read_text()).get("data_hash") == dh:
                return c
        except (OSError, json.JSONDecodeError):
            continue
    return None


# ---- training ------------------------------------------------------------------------------


@torch.no_grad()
def accuracy(model: SmallCNN, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        x = to_unit_float(images[i : i + batch_size]) * 2 - 1
        correct += int((model(x)[1].argmax(1) == labels[i : i + batch_size]).sum())
    return correct / max(1, len(images))


def default_augment(cfg: DataConfig, channels: int) -> str:
    """``shape`` for colour pictures (the named colour sources, 3-channel folders), else ``shift``."""
    return "shape" if cfg.name in COLOUR_SOURCES or (cfg.name not in SOURCES and channels == 3) else "shift"


def train_classifier(
    data: str | DataConfig,
    epochs: int | None = None,
    batch_size: int = 128,
    lr: float = 3e-3,
    weight_decay: float = 5e-4,
    widths: tuple[int, ...] | None = None,
    hidden: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    augment: str | None = None,
) -> Path:
    """Train (or find cached) the classifier for ``data``; returns its cache folder.

    AdamW with a one-cycle learning-rate schedule. ``augment`` is one of ``AUGMENTS`` (None: ``shape``
    for colour data, else ``shift``); ``epochs``, ``widths`` and ``hidden`` default to the data's
    ``RECIPES`` entry, else ``DEFAULT_RECIPE``. With ``force`` an existing classifier for the same data
    is retrained and replaced.
    """
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    if augment is not None and augment not in AUGMENTS:
        raise UserError(f"unknown augmentation {augment!r}; choose one of {', '.join(AUGMENTS)}")
    if threads:
        torch.set_num_threads(threads)
    cfg = classifier_data_config(data)
    recipe = {**DEFAULT_RECIPE, **RECIPES.get(cfg.name, {})}
    epochs = recipe["epochs"] if epochs is None else epochs
    widths = tuple(recipe["widths"] if widths is None else widths)
    hidden = recipe["hidden"] if hidden is None else hidden
    full = load_dataset(cfg)
    dhash = data_hash(full.images, full.labels)
    out = classifier_dir(cfg, dhash)
    if out.is_dir() and (out / "meta.json").is_file() and not force:
        log(f"classifier for {cfg.name} already trained: {out} (use --force to retrain)")
        return out
    train, val, val_name = _train_and_val(cfg)
    c, h, w = train.shape
    if h != w:
        raise UserError(f"the classifier needs square images; {cfg.name} gives {w}x{h} (set --resolution)")
    ccfg = ClassifierConfig(in_channels=c, resolution=h, num_classes=train.num_classes, widths=widths, hidden=hidden)
    augment = augment or default_augment(cfg, c)
    with torch.random.fork_rng(devices=[]):  # weights and dropout from our seed; the global RNG is untouched
        torch.manual_seed(seed)
        model, history = _fit(ccfg, train, val, val_name, epochs, batch_size, lr, weight_decay, seed, log, augment)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "kind": "classifier",
        "data": to_dict(cfg),
        "data_hash": dhash,
        "num_classes": train.num_classes,
        "class_names": list(train.class_names),
        "config": to_dict(ccfg),
        "accuracy": history[-1]["accuracy"],
        "accuracy_split": val_name,
        "n_train": len(train),
        "n_val": len(val),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "seed": seed,
        "augment": augment,
        "augment_params": _augment_params(augment),
        "train_seconds": history[-1]["seconds"],
        "history": history,
        "weights_sha256": sha256_tensors(state, to_dict(ccfg)),
    }
    _write_atomic_dir(out, state, meta)
    log(f"classifier saved: {out} ({100 * meta['accuracy']:.2f} % {val_name} accuracy)")
    return out


def _fit(
    ccfg: ClassifierConfig,
    train: ImageDataset,
    val: ImageDataset,
    val_name: str,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    log: Callable[[str], None],
    augment: str = "shift",
) -> tuple[SmallCNN, list[dict]]:
    model = SmallCNN(ccfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = max(1, math.ceil(len(train) / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    g = torch.Generator().manual_seed(seed)
    images, labels, val_labels = train.images, train.labels, val.labels
    if labels is None or val_labels is None:
        raise UserError(
            f"a classifier needs class labels; {train.name} has none "
            "(for a folder, put each class in its own sub-folder)"
        )
    history = []
    t0 = time.monotonic()
    log(
        f"training a {ccfg.widths} CNN classifier on {len(train)} {train.name} images ({train.num_classes} classes), "
        f"{epochs} epochs, {augment} augmentation; accuracy on {val_name} ({len(val)} images)"
    )
    for epoch in range(epochs):
        loss = train_epoch(
            model,
            opt,
            sched,
            len(train),
            batch_size,
            g,
            lambda idx: (augment_batch(to_unit_float(images[idx]) * 2 - 1, augment, g), labels[idx]),
        )
        acc = accuracy(model, val.images, val_labels)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": round(loss, 5),
                "accuracy": round(acc, 5),
                "seconds": round(time.monotonic() - t0, 1),
            }
        )
        log(
            f"  epoch {epoch + 1}/{epochs}: loss {loss:.4f}, {val_name} accuracy "
            f"{100 * acc:.2f} %, {time.monotonic() - t0:.0f} s"
        )
    model.eval()
    return model, history


def train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.OneCycleLR,
    n: int,
    batch_size: int,
    g: torch.Generator,
    batch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
) -> float:
    """One epoch of cross-entropy training of a (features, logits) classifier over ``n`` examples in a
    random order drawn from ``g``; ``batch(idx)`` gives the (inputs, labels) of indices ``idx``. A
    batch of one is skipped (BatchNorm needs two); the one-cycle schedule never steps past its end.
    Returns the mean loss."""
    model.train()
    perm = torch.randperm(n, generator=g)
    loss_sum, seen = 0.0, 0
    for i in range(0, len(perm), batch_size):
        idx = perm[i : i + batch_size]
        if len(idx) < 2:  # BatchNorm needs two samples
            continue
        x, y = batch(idx)
        _, logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched.last_epoch + 1 < sched.total_steps:
            sched.step()
        loss_sum += float(loss.detach()) * len(idx)
        seen += len(idx)
    return loss_sum / max(1, seen)


def augment_batch(x: torch.Tensor, augment: str, g: torch.Generator) -> torch.Tensor:
    """One of ``AUGMENTS`` applied to a batch (B, C, H, W) in [-1, 1], drawing from ``g``."""
    if augment == "shape":
        return shape_augment(x, g)
    if augment == "shift":
        return _shift(x, 1, g)
    if augment == "none":
        return x
    raise ValueError(f"unknown augmentation {augment!r}; choose one of {', '.join(AUGMENTS)}")


def _augment_params(augment: str) -> dict:
    if augment == "shape":
        return {
            "scale": list(SHAPE_SCALE),
            "shift": SHAPE_SHIFT,
            "degrees": SHAPE_DEGREES,
            "blur": SHAPE_BLUR,
            "flip": SHAPE_FLIP,
            "p": SHAPE_P,
        }
    return {"max_shift_px": 1} if augment == "shift" else {}


def shape_augment(
    x: torch.Tensor,
    g: torch.Generator,
    scale: tuple[float, float] = SHAPE_SCALE,
    shift: float = SHAPE_SHIFT,
    degrees: float = SHAPE_DEGREES,
    blur: float = SHAPE_BLUR,
    flip: float = SHAPE_FLIP,
    p: float = SHAPE_P,
) -> torch.Tensor:
    """Per picture of ``x`` (B, C, H, W), with probability ``p`` (the others pass unchanged): a random
    scale in ``scale``, a shift of up to ``shift`` of the side in each direction, a rotation of up to
    ``degrees``, a horizontal flip with probability ``flip`` (one bilinear resampling; outside the
    picture its border colour continues, i.e. the background), then a Gaussian blur of sigma up to
    ``blur`` pixels. Colours are never changed, only moved and mixed with their neighbours, so the
    output stays in the input's range. All draws come from ``g``."""
    if x.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(x.shape)}")
    b, c, h, w = x.shape
    u = torch.rand(b, 7, generator=g, dtype=torch.float64).to(x.dtype)
    on = (u[:, 6] < p).to(x.dtype)  # 0: this picture is left as it is
    s = 1 + on * (scale[0] - 1 + (scale[1] - scale[0]) * u[:, 0])
    a = on * math.radians(degrees) * (2 * u[:, 1] - 1)
    t = on[:, None] * 2 * shift * (2 * u[:, 2:4] - 1)  # normalised coordinates span 2 per side
    f = torch.where((u[:, 4] < flip) & (on > 0), -1.0, 1.0).to(x.dtype)
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    # theta maps output to input coordinates: the inverse of scale-then-rotate, the flip on the output's x
    theta = torch.stack([torch.stack([cos * f, -sin, t[:, 0]], 1), torch.stack([sin * f, cos, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if blur <= 0:
        return out
    r = max(1, math.ceil(2 * blur))
    d = torch.arange(-r, r + 1, dtype=x.dtype)
    sigma = (on * blur * u[:, 5]).clamp_min(1e-3)  # 1e-3: a kernel of one tap
    k = torch.exp(-(d[None] ** 2) / (2 * sigma[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, 2r+1), one kernel per picture
    y = F.pad(out.reshape(1, b * c, h, w), (r, r, r, r), mode="replicate")
    y = F.conv2d(y, k.view(b * c, 1, 1, 2 * r + 1), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, 2 * r + 1, 1), groups=b * c)
    return y.view(b, c, h, w)


def _shift(x: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """Random translation of each image by up to ``max_shift`` pixels (zero-padded at -1 = black)."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, b), generator=g)
    rows = (dy[:, None] + torch.arange(h)[None]).view(b, 1, h, 1).expand(b, x.shape[1], h, w + 2 * max_shift)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None]).view(b, 1, 1, w).expand(b, x.shape[1], h, w)
    return out.gather(3, cols)


def _write_atomic_dir(out: Path, state: dict[str, torch.Tensor], meta: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".tmp-{out.name}-"))
    try:
        save_file(state, str(tmp / "model.safetensors"))
        atomic_write_json(tmp / "meta.json", meta)
        if out.exists():
            old = out.parent / f".old-{out.name}-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_classifier(data: str | DataConfig | None = None, path: str | Path | None = None) -> ClassifierExtractor:
    """The cached classifier at ``path``, or the one trained on ``data``; UserError when there is none."""
    if path is not None:
        p = Path(path).expanduser()
        if not (p / "meta.json").is_file():
            raise UserError(
                f"{path} is not a classifier folder (no meta.json); `ganstudio features list` shows the cached ones"
            )
        return ClassifierExtractor(p)
    if data is None:
        raise UserError("the classifier extractor needs a dataset (or a classifier folder: classifier:PATH)")
    name = data.name if isinstance(data, DataConfig) else str(data)
    found = find_classifier(data)
    if found is None:
        raise UserError(
            f"no classifier trained on {name} in {features_root()}; train one with "
            f"`ganstudio features train --data {name}` (a few minutes on a CPU), "
            "or evaluate with --features folder-rcf"
        )
    return ClassifierExtractor(found)


def list_classifiers() -> list[dict]:
    return [{**row, "data_hash": meta.get("data_hash", "")[:12]} for row, meta in cached_models("classifier-", "name")]


__all__ = [
    "AUGMENTS",
    "RECIPES",
    "ClassifierConfig",
    "ClassifierExtractor",
    "SmallCNN",
    "augment_batch",
    "classifier_data_config",
    "default_augment",
    "find_classifier",
    "list_classifiers",
    "load_classifier",
    "shape_augment",
    "train_classifier",
]
