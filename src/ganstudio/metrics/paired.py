"""Per-pair image metrics for image-to-image results: an output against its true target.

Pure functions on torch tensors: two (N, C, H, W) batches in [0, 1] (any float dtype) -> (N,) float64.

    l1     mean absolute error
    psnr   10 log10(data_range^2 / MSE) in dB; identical images give +inf
    ssim   Wang et al. 2004 with an 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, means over the
           window positions that fit inside the image ("valid"; scikit-image's
           ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
           data_range=1)`` gives the same numbers), averaged over channels
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA, SSIM_RADIUS = 1.5, 5  # 11x11 window: scipy's gaussian_filter truncate=3.5 at sigma 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(
            f"expected two (N, C, H, W) batches of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a.double(), b.double()


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pair mean absolute error: (N, C, H, W) x2 in [0, 1] -> (N,) float64."""
    a, b = _pair(a, b)
    return (a - b).abs().flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-pair peak signal-to-noise ratio in dB: (N, C, H, W) x2 -> (N,) float64 (inf when equal)."""
    a, b = _pair(a, b)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)


def _window(sigma: float, radius: int) -> torch.Tensor:
    k = torch.exp(-(torch.arange(-radius, radius + 1, dtype=torch.float64) ** 2) / (2 * sigma**2))
    return k / k.sum()


def ssim(
    a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS
) -> torch.Tensor:
    """Per-pair structural similarity: (N, C, H, W) x2 -> (N,) float64; see the module doc.

    Images smaller than the window use a window shrunk to fit (radius = (min side - 1) // 2).
    """
    a, b = _pair(a, b)
    _, c, h, w = a.shape
    radius = min(radius, (min(h, w) - 1) // 2)
    k = _window(sigma, radius)
    kx, ky = k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:  # separable Gaussian, "valid" positions only
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


__all__ = ["l1", "psnr", "ssim"]
