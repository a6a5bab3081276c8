"""The shift-, mirror- and crop-invariant near-copy rule: metrics.functional.invariant_nearest,
invariant_self_nn, copy_calibration, apply_copy_transform and originality(..., invariance=...)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganstudio.metrics import functional as M

INV = M.CopyInvariance(candidates=100)  # fewer than the training pictures: all three passes run
DIRECTIONS = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)]


def _textured(rng: np.random.Generator, n: int, size: int = 24) -> torch.Tensor:
    """Random pictures in [0, 1] on a black background: a few blobs with stripes, asymmetric enough
    that a picture and its mirror image differ."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    out = np.zeros((n, size, size))
    for _ in range(3):
        cy, cx = rng.uniform(5, size - 5, (2, n))
        w = rng.uniform(2.0, 4.0, n)
        freq, phase = rng.uniform(0.6, 1.4, n), rng.uniform(0, 2 * np.pi, n)
        r2 = (yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2
        stripes = 0.6 + 0.4 * np.sin(freq[:, None, None] * xx + phase[:, None, None])
        out += rng.uniform(0.4, 1.0, (n, 1, 1)) * np.exp(-r2 / (2 * w[:, None, None] ** 2)) * stripes
    return torch.from_numpy(np.clip(out, 0, 1)).float()[:, None]


def _crop(x: torch.Tensor, frac: float, y0: int, x0: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ch, cw = round(h * frac), round(w * frac)
    return F.interpolate(x[..., y0 : y0 + ch, x0 : x0 + cw], size=(h, w), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    train, fresh = _textured(rng, 200), _textured(rng, 60)
    cal = M.copy_calibration(train, INV)  # (N, 2): invariant and pixel distances
    return train, fresh, cal, rng


def test_moved_mirrored_and_cropped_copies_are_flagged_fresh_pictures_are_not(data, move):
    train, fresh, cal, rng = data
    src = rng.choice(len(train), 24, replace=False)
    moved = torch.cat(
        [
            move(train[i : i + 1], a * m, b * m)
            for k, i in enumerate(src)
            for a, b in [DIRECTIONS[k % 8]]
            for m in [1 + k % 3]
        ]
    )
    mirrored = train[src].flip(-1)
    cropped = torch.cat([_crop(train[i : i + 1], 0.9 + 0.05 * (k % 2), k % 3, (k // 3) % 3) for k, i in enumerate(src)])
    for name, copies in (("moved", moved), ("mirrored", mirrored), ("cropped", cropped)):
        o = M.originality(copies, train, cal, invariance=INV)
        assert o["copy_fraction"] == 1.0, (name, o["copy_fraction"], max(o["distance_ratio"]))
        assert o["nn_index"] == src.tolist(), name  # the twin found is the source picture
        assert o["rule"] == "invariant+pixel" and o["invariance"] == INV.describe()
        assert o["num_flagged_invariant"] == len(src)  # the invariant distance alone finds every one
    o = M.originality(fresh, train, cal, invariance=INV)
    assert o["copy_fraction"] <= 1 / 60, o["copy_fraction"]
    assert 0.7 < o["median_ratio"] < 1.5  # fresh pictures sit at the training set's own spacing
    # the pixel rule, calibrated the same way in its own distance, misses the moved copies
    px = M.originality(moved.flatten(1), train.flatten(1), cal[:, 1])
    assert px["copy_fraction"] < 0.5, px["copy_fraction"]


def test_noisy_unmoved_copies_stay_flagged_through_the_pixel_part(data):
    train, _, cal, rng = data
    src = rng.choice(len(train), 24, replace=False)
    noisy = (train[src] + 0.06 * torch.randn(24, 1, 24, 24, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    o = M.originality(noisy, train, cal, invariance=INV)
    assert o["copy_fraction"] == 1.0 and o["num_flagged_pixel"] == 24
    assert o["num_flagged_invariant"] < 12  # the edits' minimum lowered that threshold below the noise
    assert o["nn_index"] == src.tolist() and o["pixel_nn_index"] == src.tolist()
    alone = M.originality(noisy, train, cal[:, 0], invariance=INV)  # a 1-D calibration: the invariant part only
    assert alone["rule"] == "invariant" and "pixel_threshold" not in alone
    assert alone["num_flagged"] == o["num_flagged_invariant"]


def test_the_transform_says_how_the_twin_became_the_sample(data, move):
    train, _, _, _ = data
    t = train[:3]
    d, idx, tf = M.invariant_nearest(torch.cat([move(t[:1], 2, -1), t[1:2].flip(-1), _crop(t[2:3], 0.9, 1, 1)]), train)
    assert idx.tolist() == [0, 1, 2]
    assert d[:2] == pytest.approx([0, 0], abs=1e-3)
    np.testing.assert_allclose(tf[0], [0, 1, 2, -1], atol=1e-3)  # moved down 2, left 1
    np.testing.assert_allclose(tf[1], [1, 1, 0, 0], atol=1e-3)  # mirrored
    assert tf[2][0] == 0 and tf[2][1] == pytest.approx(24 / round(24 * 0.9), abs=0.02)  # zoomed in by 24/22
    # the transform applied to the twin reproduces the sample (central region, bilinear resampling)
    fitted = M.apply_copy_transform(train[idx], tf)
    s = INV.max_shift
    q = torch.cat([move(t[:1], 2, -1), t[1:2].flip(-1), _crop(t[2:3], 0.9, 1, 1)])
    err = (fitted - q)[..., s:-s, s:-s].abs().amax((1, 2, 3))
    assert err[:2].max() < 1e-4 and err[2] < 0.1, err


def test_without_invariance_it_is_the_plain_pixel_distance(data):
    train, fresh, _, _ = data
    plain = M.CopyInvariance(max_shift=0, flips=False, min_crop=1.0, candidates=len(train), refine=len(train))
    d, idx, tf = M.invariant_nearest(fresh[:20], train, plain)
    d_ref, idx_ref = M.nearest_neighbours(fresh[:20].flatten(1), train.flatten(1))
    np.testing.assert_allclose(d, d_ref, rtol=1e-4)
    assert idx.tolist() == idx_ref.tolist()
    assert np.all(tf == [0, 1, 0, 0])


def test_flags_do_not_depend_on_the_pixel_scale(data, move):
    train, fresh, _, _ = data
    gen = torch.cat([fresh[:10], move(train[:5], 1, 1), train[5:10].flip(-1)])
    res = []
    for scale, offset in ((1, 0), (2, -1), (255, 0)):  # [0, 1], [-1, 1], the uint8 scale
        t = train * scale + offset
        cal = M.copy_calibration(t, INV, n=40, seed=0)
        res.append((cal, M.originality(gen * scale + offset, t, cal, invariance=INV, top_k=5)))
    (cal_a, a), (cal_b, b), (_, c) = res
    np.testing.assert_allclose(cal_b, 2 * cal_a, rtol=1e-3)
    assert a["flagged"] == b["flagged"] == c["flagged"] and sum(a["flagged"]) == 10
    np.testing.assert_allclose(b["nn_distance"], 2 * np.asarray(a["nn_distance"]), rtol=1e-3, atol=1e-3)
    assert b["threshold"] == pytest.approx(2 * a["threshold"], rel=1e-3)
    assert a["nn_index"] == b["nn_index"] == c["nn_index"]
    assert set(a["worst_indices"]) | set(b["worst_indices"]) <= set(range(10, 20))  # the copies, all at ~0


def test_self_distances_skip_the_picture_itself(data):
    train, _, cal, _ = data
    assert cal.shape == (len(train), 2) and cal.min() > 0
    dup = torch.cat([train[:20], train[:1].flip(-1)])  # picture 20 is picture 0 mirrored
    d, which = M.invariant_self_nn(dup, INV)
    assert which.tolist() == list(range(21))
    assert d[0] == pytest.approx(0, abs=1e-3) and d[20] == pytest.approx(0, abs=1e-3) and d[1:20].min() > 0.1
    d5, w5 = M.invariant_self_nn(train, INV, n=5, seed=1)
    assert len(d5) == 5 and np.allclose(d5, cal[w5, 0], rtol=1e-5)


def test_bad_settings_and_edge_cases_are_refused_clearly(data):
    train, fresh, cal, _ = data
    with pytest.raises(ValueError, match="max_shift 12 is too large for 24x24"):
        M.invariant_nearest(fresh[:2], train, M.CopyInvariance(max_shift=12))
    with pytest.raises(ValueError, match="too large"):
        M.originality(fresh[:0], train, cal, invariance=M.CopyInvariance(max_shift=30))
    for bad in ({"max_shift": -1}, {"max_shift": 1.5}, {"min_crop": 0.2}, {"min_crop": 1.2}, {"candidates": 0}):
        with pytest.raises(ValueError):
            M.CopyInvariance(**bad)
    with pytest.raises(ValueError, match="images shaped"):
        M.originality(fresh.flatten(1), train.flatten(1), invariance=INV)
    with pytest.raises(ValueError, match="train_feats is empty"):
        M.originality(fresh, train[:0], invariance=INV)
    with pytest.raises(ValueError, match="at least 2 images"):
        M.invariant_self_nn(train[:1])
    with pytest.raises(ValueError, match="same set"):
        M.invariant_nearest(fresh[:3], train, exclude_self=True)
    with pytest.raises(ValueError, match="images but refs"):
        M.invariant_nearest(fresh[:3, :, :20], train)
    with pytest.raises(ValueError, match="NaN"):
        M.invariant_nearest(torch.full((1, 1, 24, 24), float("nan")), train)
    with pytest.raises(ValueError, match="train_self_nn must be"):
        M.originality(fresh[:2], train, np.zeros((5, 3)), invariance=INV)
    empty = M.originality(fresh[:0], train, cal, invariance=INV)  # no samples: nothing flagged, no error
    assert empty["copy_fraction"] == 0.0 and empty["nn_distance"] == [] and empty["nn_transform"] == []
    d, _, tf = M.invariant_nearest(fresh[:0], train)
    assert d.shape == (0,) and tf.shape == (0, 4)
    assert M.CopyInvariance().fitted(8, 8).max_shift == 2 and M.CopyInvariance().fitted(64, 28).max_shift == 3
