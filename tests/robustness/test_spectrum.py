"""The spectrum baseline: features with known values, and a logistic regression that finds upsampling traces."""

from __future__ import annotations

import math

import pytest
import torch

from ganstudio.robustness.spectrum import (
    FEATURES,
    SpectrumClassifier,
    feature_size,
    fourier_features,
    radial_features,
)


@pytest.mark.parametrize("kind", list(FEATURES))
@pytest.mark.parametrize(("h", "w"), [(28, 28), (16, 16), (9, 12), (5, 5)])
def test_feature_size_matches_the_features(kind, h, w):
    assert FEATURES[kind](torch.rand(3, 1, h, w)).shape == (3, feature_size(kind, h, w))


def test_a_flat_picture_has_power_only_at_zero_frequency():
    x = torch.full((1, 1, 16, 16), 0.5)
    f = radial_features(x)[0]
    assert f[0] == pytest.approx(math.log((0.5 * 256) ** 2), rel=1e-5)  # DC = sum of the pixels
    assert (f[1:] < math.log(1e-6)).all()  # every other frequency: log of (float noise + eps)


def test_a_cosine_peaks_at_its_own_radius():
    n, k = 32, 5
    xx = torch.arange(n, dtype=torch.float32)
    x = (0.5 + 0.4 * torch.cos(2 * math.pi * k * xx / n)).expand(1, 1, n, n)
    f = radial_features(x)[0]
    assert int(f[1:].argmax()) + 1 == k  # besides DC, the power sits at radius k


def test_features_ignore_circular_shifts_and_colour_of_a_grey_picture():
    x = torch.rand(2, 1, 12, 12)
    for fn in (radial_features, fourier_features):
        torch.testing.assert_close(fn(torch.roll(x, (3, 5), dims=(2, 3))), fn(x), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fn(x.expand(-1, 3, -1, -1)), fn(x), atol=1e-4, rtol=1e-4)  # luma weights sum to 1


def test_logistic_regression_finds_a_checkerboard_trace():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 1, 16, 16, generator=g)
    checker = ((torch.arange(16)[:, None] + torch.arange(16)[None]) % 2).float()
    fake = (torch.rand(64, 1, 16, 16, generator=g) * 0.8 + 0.2 * checker).clamp(0, 1)
    x, y = torch.cat([real, fake]), torch.cat([torch.zeros(64), torch.ones(64)])
    for kind in FEATURES:
        m = SpectrumClassifier(kind, 16, 16)
        loss = m.fit(x, y)
        assert loss < 0.2
        with torch.no_grad():
            assert ((m(x) > 0).float() == y).float().mean() == 1.0
        assert m.mean.shape == (feature_size(kind, 16, 16),)


def test_unknown_feature_kind_is_refused():
    with pytest.raises(ValueError, match="radial"):
        SpectrumClassifier("wavelet", 8, 8)
