"""The perturbations keep shape, dtype and range, and do what their names say."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganstudio.robustness import perturb


def _pictures(n: int = 6, c: int = 1, side: int = 24, seed: int = 0) -> torch.Tensor:
    """uint8 (n, c, side, side): smooth shapes plus texture, like small photos."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    out = []
    for _ in range(n):
        cy, cx = torch.randint(6, side - 6, (2,), generator=g)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < 30).float() * 180
        noise = torch.rand(c, side, side, generator=g) * 60
        out.append((disc + noise).clamp(0, 255))
    return torch.stack(out).round().to(torch.uint8)


@pytest.mark.parametrize("name", list(perturb.PERTURBATIONS))
@pytest.mark.parametrize("c", [1, 3])
def test_every_perturbation_keeps_shape_dtype_and_range(name, c):
    x = _pictures(c=c)
    y = perturb.PERTURBATIONS[name](x)
    assert y.shape == x.shape and y.dtype == torch.uint8
    if name == "clean":
        assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()  # a copy: perturbing never aliases the input
    else:
        assert not torch.equal(x, y)  # textured pictures: every perturbation changes some pixels


def test_jpeg_error_grows_as_quality_falls():
    x = _pictures(n=8)
    err = {q: (perturb.jpeg(x, q).float() - x.float()).abs().mean().item() for q in (95, 75, 50)}
    assert 0 < err[95] < err[75] < err[50]


def test_jpeg_of_a_flat_picture_stays_flat():
    # A flat block is its DC coefficient alone; quantising DC moves it by at most half a step of 8 levels
    # / 8 (the DC gain), i.e. well under one grey level after the decoder rounds; allow 1 for rounding.
    x = torch.full((2, 1, 16, 16), 137, dtype=torch.uint8)
    y = perturb.jpeg(x, 50)
    assert (y.int() - 137).abs().max() <= 1 and y.unique().numel() == 1


def test_jpeg_refuses_bad_input():
    with pytest.raises(ValueError, match="quality"):
        perturb.jpeg(_pictures(), 0)
    with pytest.raises(ValueError, match="uint8"):
        perturb.jpeg(_pictures().float(), 75)
    with pytest.raises(ValueError, match="uint8"):
        perturb.jpeg(_pictures(c=4), 75)


def test_blur_of_an_impulse_is_the_gaussian():
    x = torch.zeros(1, 1, 21, 21, dtype=torch.uint8)
    x[0, 0, 10, 10] = 255
    sigma = 1.0
    y = perturb.blur(x, sigma)[0, 0].double()
    t = np.arange(-3, 4)  # the kernel reaches ceil(3 sigma) = 3 px each way
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    want = 255 * np.outer(k, k)
    got = y[7:14, 7:14].numpy()
    assert np.abs(got - want).max() <= 0.5 + 1e-9  # rounding to uint8 is the only error
    assert y.sum() == pytest.approx(255, abs=49 * 0.5)  # mass kept, up to 49 roundings of at most 0.5


def test_blur_keeps_flat_pictures_and_zero_sigma_is_identity():
    flat = torch.full((1, 3, 9, 9), 200, dtype=torch.uint8)
    assert torch.equal(perturb.blur(flat, 2.0), flat)  # reflected edges: no dark border
    x = _pictures()
    assert torch.equal(perturb.blur(x, 0.0), x)
    # A blur lowers the total variation (sum of neighbour differences).
    tv = lambda a: (a.float().diff(dim=-1).abs().sum() + a.float().diff(dim=-2).abs().sum()).item()
    assert tv(perturb.blur(x, 1.0)) < 0.5 * tv(x)
    with pytest.raises(ValueError, match="sigma"):
        perturb.blur(x, -1.0)


def test_blur_is_safe_on_pictures_smaller_than_its_kernel():
    x = torch.randint(0, 256, (1, 1, 4, 4), dtype=torch.uint8)
    assert perturb.blur(x, 3.0).shape == x.shape


def test_resize_down_and_up_removes_the_finest_detail():
    side = 16
    checker = ((torch.arange(side)[:, None] + torch.arange(side)[None]) % 2 * 255).to(torch.uint8)
    x = checker.expand(1, 1, side, side).contiguous()
    y = perturb.resize(x, 0.5)
    # The 1-px checkerboard sits at the Nyquist frequency of the full size: halving averages it to mid-grey
    # (127.5, rounded either way) away from the borders, where the antialiasing filter is cut and renormalised.
    assert y.shape == x.shape and (y[..., 3:-3, 3:-3].int() - 128).abs().max() <= 1
    assert (y.int() - 128).abs().max() <= 8
    flat = torch.full((1, 1, side, side), 90, dtype=torch.uint8)
    assert torch.equal(perturb.resize(flat, 0.5), flat)
    assert torch.equal(perturb.resize(x, 1.0), x)
    with pytest.raises(ValueError, match="scale"):
        perturb.resize(x, 1.5)


def test_augment_is_seeded_and_its_probabilities_hold():
    x = _pictures(n=40)
    a = perturb.augment(x, torch.Generator().manual_seed(1))
    b = perturb.augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(perturb.augment(x, torch.Generator().manual_seed(1), p_blur=0, p_jpeg=0), x)
    # p_jpeg = 1, no blur: every picture equals a JPEG of itself at some quality in [30, 100].
    j = perturb.augment(x, torch.Generator().manual_seed(2), p_blur=0, p_jpeg=1)
    for i in range(0, 40, 8):
        assert any(torch.equal(j[i : i + 1], perturb.jpeg(x[i : i + 1], q)) for q in range(30, 101))
    # p = 0.5 each: the share of untouched pictures is about 1/4 (binomial, n = 40: 3 sd is 0.21).
    changed = (perturb.augment(x, torch.Generator().manual_seed(3)) != x).flatten(1).any(1).float().mean().item()
    assert abs((1 - changed) - 0.25) < 3 * math.sqrt(0.25 * 0.75 / 40)
