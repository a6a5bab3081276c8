"""Per-pair image metrics (l1, psnr, ssim): known values, and SSIM against scikit-image."""

import numpy as np
import pytest
import torch

from ganstudio.metrics.paired import l1, psnr, ssim


@pytest.mark.numerics
def test_psnr_ssim_l1_known_values():
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim(x, x), torch.ones(3, dtype=torch.float64))
    assert torch.isinf(psnr(x, x)).all() and torch.equal(l1(x, x), torch.zeros(3, dtype=torch.float64))
    a, b = torch.zeros(2, 1, 8, 8), torch.full((2, 1, 8, 8), 0.1)
    assert torch.allclose(psnr(a, b), torch.full((2,), 20.0, dtype=torch.float64))  # MSE 0.01 -> 20 dB
    assert torch.allclose(l1(a, b), torch.full((2,), 0.1, dtype=torch.float64))
    assert ssim(x, torch.rand_like(x)).max() < 0.2  # unrelated noise: near 0


@pytest.mark.numerics
def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(1)
    for c in (1, 3):
        a = torch.rand(2, c, 28, 28, generator=g)
        b = (a + 0.2 * torch.randn(2, c, 28, 28, generator=g)).clamp(0, 1)
        ours = ssim(a, b)
        for i in range(2):
            ref = metrics.structural_similarity(
                a[i].numpy().astype(np.float64),
                b[i].numpy().astype(np.float64),
                channel_axis=0,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=1.0,
            )
            assert abs(float(ours[i]) - ref) < 1e-6
