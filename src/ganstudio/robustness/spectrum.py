"""The frequency-spectrum baseline: Fourier features of a picture + logistic regression.

Generators that upsample leave periodic traces in the high frequencies of their pictures (Durall et al.,
CVPR 2020; Frank et al., ICML 2020). Two feature kinds (``FEATURES``):

``radial``   the azimuthally averaged log power spectrum (Durall et al.): one number per integer radius
             of the centred 2-D spectrum, R = floor(sqrt((H/2)^2 + (W/2)^2)) + 1 numbers;
``fourier``  the whole centred log-magnitude spectrum, H * W numbers (Frank et al. use the DCT; the
             Fourier magnitude carries the same upsampling peaks).

Pictures are turned grey (ITU-R 601 luma) first, so grey and colour pictures give the same features.
``SpectrumClassifier`` standardises the features and applies a logistic regression, fitted by L-BFGS with
an L2 penalty (``fit``); it is an ``nn.Module`` mapping float pictures (N, C, H, W) in [0, 1] to logits
(N,), so it is saved, calibrated and judged exactly like the CNN detector.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["FEATURES", "SpectrumClassifier", "feature_size", "fourier_features", "radial_features"]

_LUMA = (0.299, 0.587, 0.114)
_EPS = 1e-8  # keeps log() finite on an all-flat picture (a power of 0)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """float (N, C, H, W) -> (N, H, W)."""
    if x.shape[1] == 1:
        return x[:, 0]
    return torch.einsum("nchw,c->nhw", x[:, :3], torch.tensor(_LUMA, dtype=x.dtype))


def _log_power(x: torch.Tensor) -> torch.Tensor:
    """float (N, C, H, W) -> centred log power spectrum (N, H, W)."""
    f = torch.fft.fftshift(torch.fft.fft2(_gray(x)), dim=(-2, -1))
    return torch.log(f.real**2 + f.imag**2 + _EPS)


def _radius(h: int, w: int) -> torch.Tensor:
    """(H, W) integer distance of each frequency from the centre of a shifted spectrum."""
    yy = torch.arange(h, dtype=torch.float32) - h // 2
    xx = torch.arange(w, dtype=torch.float32) - w // 2
    return torch.sqrt(yy[:, None] ** 2 + xx[None, :] ** 2).floor().long()


def radial_features(x: torch.Tensor) -> torch.Tensor:
    """float (N, C, H, W) -> (N, R): the mean log power at each integer radius (azimuthal average)."""
    p = _log_power(x)
    n, h, w = p.shape
    r = _radius(h, w).flatten()
    bins = int(r.max()) + 1
    sums = torch.zeros(n, bins, dtype=p.dtype).index_add_(1, r, p.reshape(n, -1))
    counts = torch.bincount(r, minlength=bins).to(p.dtype)
    return sums / counts


def fourier_features(x: torch.Tensor) -> torch.Tensor:
    """float (N, C, H, W) -> (N, H * W): the whole centred log-magnitude spectrum."""
    return 0.5 * _log_power(x).flatten(1)  # log |F| = log(|F|^2) / 2


FEATURES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "radial": radial_features,
    "fourier": fourier_features,
}


def feature_size(kind: str, height: int, width: int) -> int:
    if kind == "radial":
        return math.isqrt((height // 2) ** 2 + (width // 2) ** 2) + 1
    return height * width


class SpectrumClassifier(nn.Module):
    """Spectrum features -> standardised -> linear logit. float (N, C, H, W) in [0, 1] -> logits (N,)."""

    mean: torch.Tensor  # (D,) feature means on the training pictures (a buffer: saved with the weights)
    std: torch.Tensor  # (D,) their standard deviations

    def __init__(self, kind: str, height: int, width: int):
        super().__init__()
        if kind not in FEATURES:
            raise ValueError(f"unknown spectrum features {kind!r}; choose one of {', '.join(FEATURES)}")
        self.kind = kind
        d = feature_size(kind, height, width)
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))
        self.linear = nn.Linear(d, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return (FEATURES[self.kind](x) - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(x)).squeeze(1)

    @torch.no_grad()
    def standardise_on(self, x: torch.Tensor) -> None:
        f = FEATURES[self.kind](x)
        self.mean.copy_(f.mean(0))
        self.std.copy_(f.std(0).clamp_min(1e-6))

    def fit(self, x: torch.Tensor, y: torch.Tensor, l2: float = 1e-3, max_iter: int = 200) -> float:
        """Fit on float pictures ``x`` (N, C, H, W) in [0, 1] and labels ``y`` (N,) in {0, 1} (1 = generated);
        returns the final training loss (mean binary cross-entropy + l2 * |w|^2 / 2)."""
        self.standardise_on(x)
        with torch.no_grad():
            f = self.features(x)
        yf = y.float()
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        opt = torch.optim.LBFGS(self.linear.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            logits = self.linear(f).squeeze(1)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, yf)
            loss = loss + 0.5 * l2 * self.linear.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():  # LBFGS.step returns the first loss, not the last: measure it again
            logits = self.linear(f).squeeze(1)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, yf)
            return float(loss + 0.5 * l2 * self.linear.weight.pow(2).sum())
