"""Was this picture made by a GAN? A provenance detector after Wang et al. (CVPR 2020).

A small CNN (or the frequency-spectrum baseline, ``spectrum``) is trained on real pictures (label 0) against
the pictures of ONE generator (label 1), with Wang's augmentation (random blur, random JPEG, p = 0.5 each,
``perturb.augment``), then judged on generators it never saw and after JPEG, blur and resizing.

After training, on held-out validation pictures (clean plus one augmented copy, the conditions it was
trained for) it fits a temperature ``T`` (probability = sigmoid(logit / T), so that a probability means
what it says) and chooses the decision ``threshold`` on that probability that maximises balanced accuracy;
Wang et al. kept 0.5 and lost up to 29 points of accuracy on unseen generators while their AP stayed high.

Shapes at the boundary: pictures are uint8 (N, C, H, W) with the detector's C (1 or 3) and size (see
``shape_pictures``); probabilities are float (N,), the probability that each picture is generated.

A detector folder holds ``detector.safetensors`` (the weights) and ``detector.json`` (``DetectorConfig``,
threshold, temperature, what it was trained on, its validation scores); nothing is pickled.

Scores (``average_precision``, ``balanced_accuracy``, ``expected_calibration_error``) follow the usual
definitions: AP as scikit-learn's ``average_precision_score`` (sum over thresholds of recall gain times
precision, tied scores grouped), ECE as Guo et al. (2017) on the confidence of the predicted class with
equal-width bins over [0.5, 1].
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config.base import check, from_dict, to_dict
from ..errors import UserError
from . import perturb
from .spectrum import SpectrumClassifier

__all__ = [
    "INPUTS",
    "KINDS",
    "THRESHOLD_RULES",
    "Detector",
    "DetectorConfig",
    "average_precision",
    "balanced_accuracy",
    "best_threshold",
    "expected_calibration_error",
    "load_detector",
    "recalibrate",
    "robust_accuracy",
    "shape_pictures",
    "train_detector",
]

FORMAT = "ganstudio-detector"
VERSION = 1
WEIGHTS = "detector.safetensors"
CONFIG = "detector.json"
ROBUST_CHECK_STEPS = 10  # PGD steps of the robust-accuracy check after adversarial training


@dataclass(frozen=True)
class DetectorConfig:
    """How a detector is built and trained.

    kind: ``cnn`` (the detector), ``spectrum-radial`` or ``spectrum-fourier`` (the baseline, see ``spectrum``).
    channels, resolution, height: the pictures it reads (others are shaped to them by ``shape_pictures``).
    width: the CNN's channels after its first conv (doubled at each of its two strided convs).
    epochs, batch_size, lr: CNN training (Adam); l2: the baseline's logistic-regression penalty.
    p_blur, p_jpeg, blur_sigma_max, jpeg_quality_min: Wang's augmentation (``perturb.augment``).
    val_fraction: share of each class held out to choose the threshold and the temperature.
    adv_eps, adv_steps, adv_clean_weight: PGD adversarial training (CNN only; Madry et al.): with
    ``adv_eps`` > 0 (L-inf, pixels in [0, 1]) every augmented batch is also attacked by PGD-``adv_steps``
    against the current model (``attacks.attack``, eval mode) and the loss is ``adv_clean_weight`` *
    clean + (1 - ``adv_clean_weight``) * adversarial; eps ramps up from 0 over the first epoch. 0: off.
    members: a deep ensemble (Lakshminarayanan et al. 2017; CNN only): that many CNNs, each with its own seed
    (initialisation, data order, augmentation) on the same pictures, their logits averaged; the temperature
    and threshold are then chosen for the average. 1: one CNN.
    threshold_rule: how the decision threshold is chosen on the validation pictures (``THRESHOLD_RULES``):
    ``pooled`` maximises balanced accuracy with every generated picture counted once; ``per-source`` counts the
    given generator and each simulated decoder as one source of equal weight (recall averaged over sources),
    ``worst-source`` maximises the worst source's balanced accuracy (without ``simulate`` these three agree);
    ``real-95`` / ``real-99`` read the held-out real pictures only and flag at most 5 % / 1 % of them
    (``false_flag_threshold``).
    simulate, simulate_steps: simulated generator artefacts (``simulate``; Zhang et al. 2019, AutoGAN): with
    ``simulate`` = n > 0, n small generator-like autoencoders (transposed-conv, nearest, bilinear or dense
    upsampling in turn) are fitted for up to ``simulate_steps`` steps to reconstruct the real training
    pictures, and every real picture passed through one of them (its fine detail kept) joins the generated class (the real and the generated
    class weigh equally in the loss; the given generator and the simulated ones share the generated half).
    Validation pictures are simulated the same way from held-out real ones. 0: off (Wang's setting).
    input: what the CNN reads (``INPUTS``): ``pixels`` (Wang's), ``npr`` (the neighbouring-pixel residual of
    Tan et al., CVPR 2024: each picture minus its own 2x nearest-neighbour down-and-up-sampled copy, where the
    traces of a generator's upsampling layers live and the picture's content mostly cancels) or
    ``pixels+npr`` (both, stacked as channels).
    """

    kind: str = "cnn"
    channels: int = 1
    resolution: int = 28
    height: int | None = None
    width: int = 16
    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-3
    l2: float = 1e-3
    p_blur: float = 0.5
    p_jpeg: float = 0.5
    blur_sigma_max: float = 1.0
    jpeg_quality_min: int = 30
    val_fraction: float = 0.1
    seed: int = 0
    adv_eps: float = 0.0
    adv_steps: int = 5
    adv_clean_weight: float = 0.5
    simulate: int = 0
    simulate_steps: int = 100
    members: int = 1
    threshold_rule: str = "pooled"
    input: str = "pixels"

    def __post_init__(self) -> None:
        check(self.kind in KINDS, f"detector kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        check(self.channels in (1, 3), f"detector channels must be 1 or 3, got {self.channels}")
        check(self.resolution >= 8 and (self.height or 8) >= 8, "detector pictures must be at least 8 px a side")
        for name in ("width", "epochs", "batch_size"):
            check(getattr(self, name) > 0, f"detector {name} must be positive, got {getattr(self, name)}")
        check(self.lr > 0 and self.l2 >= 0, f"detector lr must be > 0 and l2 >= 0, got {self.lr}, {self.l2}")
        for name in ("p_blur", "p_jpeg"):
            check(0 <= getattr(self, name) <= 1, f"detector {name} must be in [0, 1], got {getattr(self, name)}")
        check(self.blur_sigma_max >= 0, f"detector blur_sigma_max must be >= 0, got {self.blur_sigma_max}")
        check(1 <= self.jpeg_quality_min <= 100, f"jpeg_quality_min must be 1-100, got {self.jpeg_quality_min}")
        check(0 < self.val_fraction < 1, f"detector val_fraction must be in (0, 1), got {self.val_fraction}")
        check(0 <= self.adv_eps <= 1, f"detector adv_eps must be in [0, 1] (pixels in [0, 1]), got {self.adv_eps}")
        check(
            self.adv_eps == 0 or self.kind == "cnn",
            f"adversarial training (adv_eps) needs the cnn kind, not {self.kind!r} (a spectrum baseline has no PGD loop)",
        )
        check(self.adv_steps >= 1, f"detector adv_steps must be >= 1, got {self.adv_steps}")
        check(0 <= self.adv_clean_weight < 1, f"adv_clean_weight must be in [0, 1), got {self.adv_clean_weight}")
        check(
            isinstance(self.simulate, int) and 0 <= self.simulate <= 64,
            f"detector simulate (number of simulated decoders) must be 0-64, got {self.simulate!r}",
        )
        check(
            isinstance(self.simulate_steps, int) and self.simulate_steps >= 0,
            f"detector simulate_steps must be >= 0, got {self.simulate_steps!r}",
        )
        check(
            isinstance(self.members, int) and 1 <= self.members <= 16,
            f"detector members (CNNs in the ensemble) must be 1-16, got {self.members!r}",
        )
        check(
            self.members == 1 or self.kind == "cnn",
            f"an ensemble (members > 1) needs the cnn kind, not {self.kind!r}; use members 1",
        )
        check(
            self.threshold_rule in THRESHOLD_RULES,
            f"detector threshold_rule must be one of {', '.join(THRESHOLD_RULES)}, got {self.threshold_rule!r}",
        )
        check(
            self.input in INPUTS,
            f"detector input must be one of {', '.join(INPUTS)}, got {self.input!r}",
        )
        check(
            self.input == "pixels" or self.kind == "cnn",
            f"detector input {self.input!r} needs the cnn kind (a spectrum baseline reads pixels); use input=pixels",
        )

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the pictures it reads."""
        return (self.height or self.resolution, self.resolution)


# ---------------------------------------------------------------------------------------------
# scores


def _as_numpy(a: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def average_precision(scores, labels) -> float:
    """AP of ranking ``labels`` == 1 first by ``scores`` (higher = more likely positive): the sum over
    distinct score thresholds of (recall gain) * precision, as scikit-learn computes it. NaN without positives."""
    s, y = _as_numpy(scores).astype(np.float64), _as_numpy(labels).astype(bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the last index of each group of tied scores
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def balanced_accuracy(probs, labels, threshold: float) -> float:
    """Mean of the accuracy on positives (prob > threshold) and on negatives (prob <= threshold)."""
    p, y = _as_numpy(probs), _as_numpy(labels).astype(bool)
    accs = [float(np.mean(p[y] > threshold))] if y.any() else []
    accs += [float(np.mean(p[~y] <= threshold))] if (~y).any() else []
    return float(np.mean(accs))


def best_threshold(probs, labels, groups=None, combine: str = "mean") -> float:
    """The threshold (predict positive when prob > threshold) with the highest balanced accuracy on these
    scores: midway between two neighbouring distinct scores (the first of equal best ones, lowest).

    ``groups`` (N,) ints, optional: where each positive came from. Then every group's recall counts on its own:
    ``combine="mean"`` maximises tnr + the mean over groups of their recall (each source weighs the same, however
    many pictures it has), ``"min"`` maximises the worst group's balanced accuracy (tnr + its recall)."""
    p, y = _as_numpy(probs).astype(np.float64), _as_numpy(labels).astype(bool)
    if not y.any() or y.all():
        raise ValueError("choosing a threshold needs both real and generated pictures")
    if combine not in ("mean", "min"):
        raise ValueError(f"combine must be 'mean' or 'min', got {combine!r}")
    g = np.zeros(len(p), dtype=np.int64) if groups is None else _as_numpy(groups).astype(np.int64)
    u = np.unique(p)
    cands = np.r_[u[0] - 1e-6, (u[:-1] + u[1:]) / 2, u[-1]]  # everything positive ... nothing positive
    neg = np.sort(p[~y])
    tnr = np.searchsorted(neg, cands, side="right") / len(neg)
    tprs = []
    for k in np.unique(g[y]):
        pos = np.sort(p[y & (g == k)])
        tprs.append(1.0 - np.searchsorted(pos, cands, side="right") / len(pos))
    tpr = np.stack(tprs)  # (groups, candidates)
    score = tnr + (tpr.mean(0) if combine == "mean" else tpr.min(0))
    return float(cands[int(np.argmax(score))])


def false_flag_threshold(probs, labels, rate: float) -> float:
    """The lowest threshold that flags at most ``rate`` of the real (label 0) pictures, midway between the last
    real score it lets pass and the first it flags (the Neyman-Pearson choice: it reads only the real pictures,
    the one class a validation set knows as well as the test does; generated ones may come from anywhere)."""
    p, y = _as_numpy(probs).astype(np.float64), _as_numpy(labels).astype(bool)
    if y.all():
        raise ValueError("choosing a threshold by false flags needs real pictures")
    if not 0 <= rate < 1:
        raise ValueError(f"the false-flag rate must be in [0, 1), got {rate}")
    neg = np.sort(p[~y])
    n, k = len(neg), math.floor(rate * len(neg) + 1e-9)  # k real pictures may be flagged
    return float(neg[-1] if k == 0 else (neg[n - k - 1] + neg[n - k]) / 2)


Rule = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], float]

# probs (M,), labels (M,) 0/1, source (M,): 0 real, 1 the given generator, 2 + k simulated decoder k -> threshold
THRESHOLD_RULES: dict[str, Rule] = {
    "pooled": lambda p, y, source: best_threshold(p, y),
    "per-source": lambda p, y, source: best_threshold(p, y, source, "mean"),
    "worst-source": lambda p, y, source: best_threshold(p, y, source, "min"),
    "real-95": lambda p, y, source: false_flag_threshold(p, y, 0.05),
    "real-99": lambda p, y, source: false_flag_threshold(p, y, 0.01),
}


def expected_calibration_error(probs, labels, bins: int = 15) -> float:
    """ECE (Guo et al. 2017) of binary predictions: confidence c = max(p, 1 - p), prediction p > 0.5;
    sum over equal-width bins of c in [0.5, 1] of (share of pictures) * |accuracy - mean confidence|."""
    p, y = _as_numpy(probs).astype(np.float64), _as_numpy(labels).astype(bool)
    conf = np.maximum(p, 1 - p)
    correct = (p > 0.5) == y
    idx = np.clip(np.floor((conf - 0.5) * 2 * bins).astype(int), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


# ---------------------------------------------------------------------------------------------
# pictures


def shape_pictures(x: torch.Tensor, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (N, C, H, W), C in {1, 3, 4} -> uint8 (N, channels, *size): alpha composited over white,
    grey <-> colour converted (ITU-R 601 luma), resized with antialiased bilinear when the size differs."""
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3, 4):
        raise ValueError(f"expected uint8 pictures (N, 1/3/4, H, W), got {x.dtype} {tuple(x.shape)}")
    if x.shape[1] == 4:
        from ..media import flatten

        x = torch.from_numpy(flatten(x.numpy()))
    if x.shape[1] != channels:
        if channels == 3:
            x = x.expand(-1, 3, -1, -1).contiguous()
        else:
            luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * luma).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    if tuple(x.shape[2:]) != size and len(x):
        u = F.interpolate(x.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        x = u.round().clamp(0, 255).to(torch.uint8)
    return x


def _to_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1], what every detector kind reads."""
    return x.float().div_(255.0)


# ---------------------------------------------------------------------------------------------
# kinds


def neighbour_residual(x: torch.Tensor) -> torch.Tensor:
    """float (N, C, H, W) -> (N, C, H, W): x minus its 2x nearest-neighbour down- and up-sampled copy (NPR,
    Tan et al. 2024). Each 2x2 block keeps its differences from its top-left pixel, which is 0; an odd last
    row or column is compared with the one before it, as the upsampling would have copied it."""
    h, w = x.shape[-2:]
    up = x[..., ::2, ::2].repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    return x - up[..., :h, :w]


class Reading(NamedTuple):
    """What the CNN reads: ``read`` maps float (N, C, H, W) in [-1, 1] to (N, C * ``factor``, H, W)."""

    factor: int
    read: Callable[[torch.Tensor], torch.Tensor]


INPUTS: dict[str, Reading] = {
    "pixels": Reading(1, lambda x: x),
    "npr": Reading(1, neighbour_residual),
    "pixels+npr": Reading(2, lambda x: torch.cat([x, neighbour_residual(x)], 1)),
}


class CNN(nn.Module):
    """Five 3x3 convs (two strided) at full resolution first, where upsampling traces live, then global
    average + max pooling and a linear logit. float (N, C, H, W) in [0, 1] -> logits (N,). ``reads`` picks
    what the first conv sees (``INPUTS``): the pixels, their neighbouring-pixel residual, or both."""

    def __init__(self, channels: int, width: int, reads: str = "pixels"):
        super().__init__()
        w = width
        act = nn.LeakyReLU(0.2)
        self.reads = reads
        self.body = nn.Sequential(
            nn.Conv2d(channels * INPUTS[reads].factor, w, 3, padding=1),
            act,
            nn.Conv2d(w, w, 3, padding=1),
            act,
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            act,
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            act,
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1),
            act,
        )
        self.head = nn.Linear(8 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(INPUTS[self.reads].read(x * 2 - 1))
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)).squeeze(1)


Progress = Callable[[str], None]


def _augment(x: torch.Tensor, cfg: DetectorConfig, g: torch.Generator) -> torch.Tensor:
    return perturb.augment(x, g, cfg.p_blur, cfg.p_jpeg, cfg.blur_sigma_max, cfg.jpeg_quality_min)


class TwoLogits(nn.Module):
    """A detector network as a two-class model for ``attacks``: float (N, C, H, W) in [0, 1] (already shaped)
    -> logits (N, 2) = [0, asinh(logit * scale - offset)]; class 1 wins exactly when logit * scale > offset.
    ``Detector.judge`` sets scale 1/T and offset logit(threshold): the detector's own verdict.

    asinh keeps the verdict and the direction of every input gradient of the cross-entropy (a monotone map
    of the one logit), but its gradient does not underflow when the detector is sure: on the raw logit a
    detector at logit 100 has a cross-entropy gradient of exp(-100), exactly 0 in float32, and PGD would stand
    still (gradient masking by saturation: the attack, not the detector, would look weak)."""

    def __init__(self, net: nn.Module, scale: float = 1.0, offset: float = 0.0):
        super().__init__()
        self.net, self.scale, self.offset = net, scale, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.asinh(self.net(x) * self.scale - self.offset)
        return torch.stack([torch.zeros_like(z), z], 1)


def _fit_cnn(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: DetectorConfig,
    progress: Progress,
    weight: torch.Tensor | None = None,
) -> None:
    """Adam on binary cross-entropy (per-picture ``weight``s, default 1); every batch freshly augmented
    (Wang's Blur+JPEG); with ``cfg.adv_eps`` also PGD adversarial training on the augmented batch."""
    from .attacks import AttackConfig, attack

    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    per_epoch = math.ceil(len(x) / cfg.batch_size)
    steps = cfg.epochs * per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.1)
    judge = TwoLogits(model)
    model.train()
    step = 0
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(x), generator=g)
        total, seen = 0.0, 0
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            xb = _to_input(_augment(x[idx], cfg, g))
            wb = None if weight is None else weight[idx]
            loss = F.binary_cross_entropy_with_logits(model(xb), y[idx].float(), weight=wb)
            if cfg.adv_eps > 0:
                eps = cfg.adv_eps * min(1.0, (step + 1) / per_epoch)  # ramp over the first epoch
                acfg = AttackConfig("pgd-linf", eps, cfg.adv_steps, seed=cfg.seed * 1_000_003 + step)
                xa = attack(judge, xb, y[idx], acfg)  # eval mode inside, train mode restored
                adv = F.binary_cross_entropy_with_logits(model(xa), y[idx].float(), weight=wb)
                loss = cfg.adv_clean_weight * loss + (1 - cfg.adv_clean_weight) * adv
            step += 1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
        progress(f"epoch {epoch + 1}/{cfg.epochs}: loss {total / seen:.4f}")
    model.eval()


def _fit_spectrum(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: DetectorConfig,
    progress: Progress,
    weight: torch.Tensor | None = None,
) -> None:
    """One augmented copy of the training set (the same augmentation as the CNN), then L-BFGS (unweighted)."""
    assert isinstance(model, SpectrumClassifier)
    g = torch.Generator().manual_seed(cfg.seed)
    loss = model.fit(_to_input(_augment(x, cfg, g)), y, l2=cfg.l2)
    progress(f"logistic regression on {model.kind} spectra: loss {loss:.4f}")
    model.eval()


class MeanLogits(nn.Module):
    """A deep ensemble: float (N, C, H, W) -> the mean of its members' logits (N,)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)


def _build_cnn(cfg: DetectorConfig) -> nn.Module:
    if cfg.members == 1:
        return CNN(cfg.channels, cfg.width, cfg.input)
    return MeanLogits([CNN(cfg.channels, cfg.width, cfg.input) for _ in range(cfg.members)])


def member_seed(cfg: DetectorConfig, k: int) -> int:
    """The seed of ensemble member ``k`` (member 0 keeps ``cfg.seed``: a 1-member ensemble is the single CNN)."""
    return cfg.seed + 7919 * k


def _fit_cnns(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: DetectorConfig,
    progress: Progress,
    weight: torch.Tensor | None = None,
) -> None:
    """One CNN, or each member of an ensemble in turn with its own seed (``member_seed``)."""
    if not isinstance(model, MeanLogits):
        _fit_cnn(model, x, y, cfg, progress, weight)
        return
    for k, member in enumerate(model.members):
        _fit_cnn(member, x, y, dataclasses.replace(cfg, seed=member_seed(cfg, k)), _prefixed(progress, k, cfg), weight)
    model.eval()


def _prefixed(progress: Progress, k: int, cfg: DetectorConfig) -> Progress:
    return lambda s: progress(f"member {k + 1}/{cfg.members}: {s}")


@dataclass(frozen=True)
class Kind:
    build: Callable[[DetectorConfig], nn.Module]
    fit: Callable[[nn.Module, torch.Tensor, torch.Tensor, DetectorConfig, Progress, torch.Tensor | None], None]
    description: str


KINDS: dict[str, Kind] = {
    "cnn": Kind(_build_cnn, _fit_cnns, "a small CNN (Wang et al.), or a deep ensemble of them (members)"),
    "spectrum-radial": Kind(
        lambda c: SpectrumClassifier("radial", *c.size),
        _fit_spectrum,
        "azimuthal log power spectrum + logistic regression (Durall et al.)",
    ),
    "spectrum-fourier": Kind(
        lambda c: SpectrumClassifier("fourier", *c.size),
        _fit_spectrum,
        "whole log-magnitude spectrum + logistic regression (Frank et al.)",
    ),
}


# ---------------------------------------------------------------------------------------------
# the detector


class Detector:
    """A trained detector: ``probability(pictures)`` and ``is_generated(pictures)``; ``save``/``load_detector``."""

    def __init__(
        self,
        model: nn.Module,
        config: DetectorConfig,
        threshold: float = 0.5,
        temperature: float = 1.0,
        info: dict | None = None,
    ):
        self.model, self.config = model.eval(), config
        self.threshold, self.temperature = threshold, temperature
        self.info = info or {}  # what it was trained on, validation scores: recorded, never read back as code

    @torch.no_grad()
    def logits(self, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """uint8 pictures (N, C, H, W), any C/size (shaped first) -> raw logits (N,)."""
        x = shape_pictures(x, self.config.channels, self.config.size)
        out = [self.model(_to_input(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
        return torch.cat(out) if out else torch.empty(0)

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pictures (N, C, H, W) -> (N,) calibrated probability that each is generated."""
        return torch.sigmoid(self.logits(x) / self.temperature)

    def is_generated(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 pictures (N, C, H, W) -> (N,) bool, at the threshold chosen on validation data."""
        return self.probability(x) > self.threshold

    def judge(self) -> TwoLogits:
        """The detector as a two-class model on shaped float pictures in [0, 1], deciding at its threshold."""
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        return TwoLogits(self.model, 1.0 / self.temperature, math.log(t / (1 - t))).eval()

    def scores(
        self, real: torch.Tensor, fake: torch.Tensor, thresholds: dict[str, float] | None = None
    ) -> dict[str, float | dict[str, float]]:
        """AP, balanced accuracy at the chosen threshold and at 0.5, ECE, and each class's accuracy; with
        ``thresholds`` (name -> threshold) also ``accuracy_at``: the balanced accuracy at each of them."""
        p = torch.cat([self.probability(real), self.probability(fake)])
        y = torch.cat([torch.zeros(len(real)), torch.ones(len(fake))])
        t = self.threshold
        extra = {"accuracy_at": {k: balanced_accuracy(p, y, v) for k, v in thresholds.items()}} if thresholds else {}
        return {
            **extra,
            "ap": average_precision(p, y),
            "accuracy": balanced_accuracy(p, y, t),
            "accuracy_at_0.5": balanced_accuracy(p, y, 0.5),
            "real_accuracy": float((p[: len(real)] <= t).float().mean()) if len(real) else float("nan"),
            "fake_accuracy": float((p[len(real) :] > t).float().mean()) if len(fake) else float("nan"),
            "ece": expected_calibration_error(p, y),
        }

    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        from ..fsutil import atomic_file, atomic_write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        with atomic_file(folder / WEIGHTS) as tmp:
            save_file(state, str(tmp))
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "config": to_dict(self.config),
            "threshold": self.threshold,
            "temperature": self.temperature,
            **self.info,
        }
        atomic_write_json(folder / CONFIG, meta)
        return folder


def load_detector(folder: str | Path) -> Detector:
    """A detector folder (``detector.json`` + ``detector.safetensors``) -> Detector; one-line UserError otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    meta_path, weights = folder / CONFIG, folder / WEIGHTS
    if not folder.is_dir():
        raise UserError(f"detector folder {folder} does not exist; train one with `ganstudio detector train`")
    if not meta_path.is_file() or not weights.is_file():
        raise UserError(f"{folder} is not a detector folder (needs {CONFIG} and {WEIGHTS}): `ganstudio detector train`")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {meta_path}: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(f"{meta_path} is not a ganstudio detector config (format {FORMAT!r} missing)")
    if meta.get("version") != VERSION:
        raise UserError(
            f"{meta_path} has detector format version {meta.get('version')}; this ganstudio reads {VERSION}"
        )
    cfg = from_dict(DetectorConfig, meta.get("config", {}), f"{meta_path} config")
    model = KINDS[cfg.kind].build(cfg)
    try:
        model.load_state_dict(load_file(str(weights)))
    except (SafetensorError, RuntimeError, OSError) as e:
        raise UserError(f"{weights} does not match its {CONFIG} ({str(e).splitlines()[0]})") from None
    threshold, temperature = meta.get("threshold"), meta.get("temperature")
    if not isinstance(threshold, (int, float)) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise UserError(f"{meta_path}: threshold and temperature (> 0) must be numbers")
    info = {k: v for k, v in meta.items() if k not in ("format", "version", "config", "threshold", "temperature")}
    return Detector(model, cfg, float(threshold), float(temperature), info)


# ---------------------------------------------------------------------------------------------
# training


def _fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The T > 0 minimising the cross-entropy of sigmoid(logits / T) (Guo et al.'s temperature scaling)."""
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    return t if math.isfinite(t) and t > 0 else 1.0


def _split(n: int, fraction: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=g)
    k = max(1, round(n * fraction))
    return order[k:], order[:k]


class _Pictures(NamedTuple):
    """A detector's pictures, shaped: training ``x`` (N, C, H, W) uint8 with labels ``y`` (N,) long and loss
    ``weight`` (N,) or None; validation ``xv`` (M, C, H, W) uint8 with ``source`` (M,) long: 0 real, 1 the
    given generator, 2 + k simulated decoder k. ``real_val``/``fake_val``: the held-out real and given-generator
    pictures (clean), for the robust-accuracy check."""

    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor | None
    xv: torch.Tensor
    source: torch.Tensor
    real_val: torch.Tensor
    fake_val: torch.Tensor


def _pictures(real: torch.Tensor, fake: torch.Tensor, cfg: DetectorConfig, say: Progress) -> _Pictures:
    """Split, simulate and weigh: everything ``train_detector`` trains and validates on, a function of the
    pictures and ``cfg`` only (so ``recalibrate`` rebuilds the same validation pictures)."""
    if len(real) < 2 or len(fake) < 2:
        raise UserError(f"a detector needs at least 2 real and 2 generated pictures, got {len(real)} and {len(fake)}")
    real = shape_pictures(real, cfg.channels, cfg.size)
    fake = shape_pictures(fake, cfg.channels, cfg.size)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    r_tr, r_val = _split(len(real), cfg.val_fraction, g)
    f_tr, f_val = _split(len(fake), cfg.val_fraction, g)
    sim_tr = sim_val = fake[:0]
    if cfg.simulate:  # simulated generator artefacts: real pictures through generator-like decoders
        from .simulate import fit_simulators, simulate

        decoders = fit_simulators(real[r_tr], cfg.simulate, cfg.simulate_steps, seed=cfg.seed, progress=say)
        sim_tr, sim_val = simulate(decoders, real[r_tr]), simulate(decoders, real[r_val])
    x = torch.cat([real[r_tr], fake[f_tr], sim_tr])
    y = torch.cat([torch.zeros(len(r_tr), dtype=torch.long), torch.ones(len(f_tr) + len(sim_tr), dtype=torch.long)])
    weight = None
    if len(sim_tr):  # real and generated weigh equally; the given generator and the simulated ones half each
        weight = torch.cat(
            [
                torch.ones(len(r_tr)),
                torch.full((len(f_tr),), len(r_tr) / (2 * len(f_tr))),
                torch.full((len(sim_tr),), len(r_tr) / (2 * len(sim_tr))),
            ]
        )
    # Validation: the held-out pictures clean and once augmented, the conditions the detector was trained for
    # (with simulate, the simulated pictures of the held-out real ones count as generated too; simulated
    # picture i came from decoder i % simulate, see ``simulate.simulate``).
    xv = torch.cat([real[r_val], fake[f_val], sim_val])
    sim_source = 2 + torch.arange(len(sim_val)) % max(cfg.simulate, 1)
    source = torch.cat(
        [torch.zeros(len(r_val), dtype=torch.long), torch.ones(len(f_val), dtype=torch.long), sim_source]
    )
    xv = torch.cat([xv, _augment(xv, cfg, torch.Generator().manual_seed(cfg.seed + 2))])
    return _Pictures(x, y, weight, xv, torch.cat([source, source]), real[r_val], fake[f_val])


def _calibrate(det: Detector, xv: torch.Tensor, source: torch.Tensor) -> None:
    """Fit ``det``'s temperature and choose its threshold by ``det.config.threshold_rule`` on the validation
    pictures ``xv`` from ``source`` (see ``_Pictures``); record the validation scores, and the threshold every
    other rule would have chosen, in ``det.info["validation"]``."""
    yv = (source > 0).float()
    logits = det.logits(xv)
    det.temperature = _fit_temperature(logits, yv)
    probs = torch.sigmoid(logits / det.temperature)
    thresholds = {name: rule(probs, yv, source) for name, rule in THRESHOLD_RULES.items()}
    det.threshold = thresholds[det.config.threshold_rule]
    det.info["validation"] = {
        "n": len(yv),
        "ap": average_precision(probs, yv),
        "accuracy": balanced_accuracy(probs, yv, det.threshold),
        "ece": expected_calibration_error(probs, yv),
        "thresholds": thresholds,
    }
    if bool(
        (source >= 2).any()
    ):  # the same figures without the simulated pictures, and the threshold they would choose
        m = source < 2
        det.info["validation"]["without_simulated"] = {
            "ap": average_precision(probs[m], yv[m]),
            "threshold": best_threshold(probs[m], yv[m]),
            "simulated_recall": float((probs[source >= 2] > det.threshold).float().mean()),
        }


def train_detector(
    real: torch.Tensor,
    fake: torch.Tensor,
    cfg: DetectorConfig,
    info: dict | None = None,
    progress: Progress | None = None,
) -> Detector:
    """Train on uint8 real (N, C, H, W) vs fake (M, C, H, W) pictures (shaped to ``cfg`` first), then
    choose the temperature and the threshold on the held-out ``cfg.val_fraction`` of each."""
    say: Progress = progress or (lambda s: None)
    data = _pictures(real, fake, cfg, say)
    torch.manual_seed(cfg.seed)
    model = KINDS[cfg.kind].build(cfg)
    KINDS[cfg.kind].fit(model, data.x, data.y, cfg, say, data.weight)
    det = Detector(model, cfg, info=dict(info or {}))
    _calibrate(det, data.xv, data.source)
    say(
        f"validation: AP {det.info['validation']['ap']:.4f}, accuracy {det.info['validation']['accuracy']:.4f} "
        f"at threshold {det.threshold:.3f} ({cfg.threshold_rule}), temperature {det.temperature:.3f}"
    )
    if cfg.adv_eps > 0:  # what adversarial training bought, on the clean held-out pictures
        rob = robust_accuracy(det, data.real_val, data.fake_val, cfg.adv_eps, steps=ROBUST_CHECK_STEPS)
        det.info["validation"]["robust"] = rob
        say(
            f"validation under PGD-{rob['steps']} at eps {cfg.adv_eps:.4g}: accuracy {rob['accuracy']:.4f} "
            f"(clean {rob['clean_accuracy']:.4f})"
        )
    return det


def recalibrate(
    det: Detector, real: torch.Tensor, fake: torch.Tensor, rule: str | None = None, progress: Progress | None = None
) -> Detector:
    """``det`` with its temperature and threshold chosen again, by ``rule`` (default: its own), on the
    validation pictures it was trained with: ``real`` and ``fake`` must be the pictures ``train_detector`` was
    given (the split and the simulated pictures are rebuilt from them and the config; nothing is retrained).
    Returns a new Detector sharing the model; ``det`` is unchanged."""
    rule = rule or det.config.threshold_rule
    cfg = dataclasses.replace(det.config, threshold_rule=rule)  # the config refuses an unknown rule
    data = _pictures(real, fake, cfg, progress or (lambda s: None))
    out = Detector(det.model, cfg, info={k: v for k, v in det.info.items() if k != "validation"})
    _calibrate(out, data.xv, data.source)
    return out


def robust_accuracy(det: Detector, real: torch.Tensor, fake: torch.Tensor, eps: float, steps: int = 10) -> dict:
    """Balanced accuracy of ``det`` at its threshold on uint8 ``real`` vs ``fake`` pictures, clean and under
    PGD-``steps`` (L-inf ``eps``, pixels in [0, 1]) that pushes each picture to the other verdict.
    Returns {"eps", "steps", "clean_accuracy", "accuracy", "real_accuracy", "fake_accuracy"} (attacked
    figures unless named clean); the attack's budget and range are checked (``attacks.robust_correct``)."""
    from .attacks import AttackConfig, predict, robust_correct

    if det.config.kind != "cnn":
        raise UserError(f"a PGD attack needs a cnn detector, this one is {det.config.kind}")
    cfg = det.config
    r = _to_input(shape_pictures(real, cfg.channels, cfg.size))
    f = _to_input(shape_pictures(fake, cfg.channels, cfg.size))
    x = torch.cat([r, f])
    y = torch.cat([torch.zeros(len(r)), torch.ones(len(f))]).long()
    judge = det.judge()
    ok = robust_correct(judge, x, y, AttackConfig("pgd-linf", eps, steps, seed=cfg.seed))
    clean = predict(judge, x) == y

    def balanced(c: torch.Tensor) -> float:
        return float((c[: len(r)].float().mean() + c[len(r) :].float().mean()) / 2)

    return {
        "eps": eps,
        "steps": steps,
        "clean_accuracy": balanced(clean),
        "accuracy": balanced(ok),
        "real_accuracy": float(ok[: len(r)].float().mean()),
        "fake_accuracy": float(ok[len(r) :].float().mean()),
    }


# ---------------------------------------------------------------------------------------------
# evaluation


def evaluate(
    det: Detector,
    real: torch.Tensor,
    fakes: dict[str, torch.Tensor],
    perturbations: Iterable[str] = tuple(perturb.PERTURBATIONS),
    thresholds: dict[str, float] | None = None,
) -> list[dict]:
    """Scores of ``det`` on ``real`` vs each named set of generated pictures, under each perturbation.

    Every input is uint8 (N, C, H, W); the perturbation applies to real and generated pictures alike (a
    JPEG'd real picture must stay real). One row per (fake set, perturbation): the names plus ``scores``'s
    (with ``thresholds``, the accuracy at each of them too).
    """
    names = list(perturbations)
    unknown = [p for p in names if p not in perturb.PERTURBATIONS]
    if unknown:
        raise UserError(f"unknown perturbation(s) {', '.join(unknown)}; choose from {', '.join(perturb.PERTURBATIONS)}")
    cfg = det.config
    real = shape_pictures(real, cfg.channels, cfg.size)
    rows = []
    for pname in names:
        fn = perturb.PERTURBATIONS[pname]
        r = fn(real)
        for fname, fake in fakes.items():
            f = fn(shape_pictures(fake, cfg.channels, cfg.size))
            rows.append(
                {
                    "fake": fname,
                    "perturbation": pname,
                    "n_real": len(r),
                    "n_fake": len(f),
                    **det.scores(r, f, thresholds),
                }
            )
    return rows


# ---------------------------------------------------------------------------------------------
# where pictures come from: files, datasets, run folders


def picture_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and the picture files (by extension, sorted) inside folders; UserError if none."""
    from ..data.folder import EXTENSIONS

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in EXTENSIONS and not any(s.startswith(".") for s in f.parts)
            )
            if not found:
                raise UserError(f"no picture files ({', '.join(sorted(EXTENSIONS))}) in folder {p}")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise UserError(f"{p} does not exist; give picture files or folders")
    return out


def read_picture(path: str | Path) -> torch.Tensor:
    """One picture file -> uint8 (C, H, W), C = 1 (grey), 3 (colour) or 4 (with alpha); UserError if unreadable."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ..data.folder import MAX_PIXELS

    try:
        with Image.open(path) as f:
            if f.width * f.height > MAX_PIXELS:
                raise UserError(f"{path}: {f.width}x{f.height} pixels is over the {MAX_PIXELS:,} pixel limit")
            im = ImageOps.exif_transpose(f)
            mode = "L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGBA" if "A" in im.getbands() else "RGB"
            a = np.array(im.convert(mode))  # a writable copy (torch warns on read-only arrays)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise UserError(
            f"{path} is not a picture Pillow can read ({type(e).__name__}); give a PNG, JPEG or WebP"
        ) from None
    return torch.from_numpy(np.ascontiguousarray(a[None] if a.ndim == 2 else a.transpose(2, 0, 1)))


def pictures_from(spec: str, n: int, seed: int = 0, split: str = "train", checkpoint: str = "latest") -> torch.Tensor:
    """uint8 pictures (n, C, H, W) from a run folder (samples with seeds seed..seed+n-1, rounded to uint8 as
    a saved PNG would be), or a dataset name / picture folder (a seeded subset of n; fewer if it has fewer)."""
    from ..data import DataConfig, load_dataset
    from ..pipeline import load

    if (Path(spec) / "config.json").is_file():
        pipe = load(spec, checkpoint=checkpoint)
        images = [pipe(n=min(256, n - i), seed=seed + i).images for i in range(0, n, 256)]
        return torch.cat(images).mul(255).round().clamp(0, 255).to(torch.uint8)  # float [0, 1] -> uint8
    ds = load_dataset(DataConfig(name=spec, split=split))
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return ds.images[idx]
