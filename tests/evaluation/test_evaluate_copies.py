"""The near-copy rule as evaluation uses it: moved and mirrored twins are flagged in the row, the
result JSON says how each twin was edited, the panel shows it fitted, the calibration is cached."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganstudio import evaluation
from ganstudio.data import DataConfig
from ganstudio.evaluation import builtin, reference
from ganstudio.features import Features, get_extractor
from ganstudio.features.cache import reference_root
from ganstudio.metrics import functional as M

DATA = DataConfig(name="digits", resolution=16)


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.mktemp("copies-cache")))
        yield evaluation.prepare_reference(
            DATA, get_extractor("folder-rcf"), n=60, originality_n=150, log=lambda s: None
        )


def test_moved_and_mirrored_twins_are_flagged_and_the_json_says_how(ref, tmp_path, move):
    twins = ref.real.twins.images
    moves = [(1, 0), (0, -2), (-3, 1), (2, 2), (-1, -3), (3, -1)]
    copies = torch.cat([move(twins[i : i + 1], dy, dx) for i, (dy, dx) in enumerate(moves)] + [twins[6:8].flip(-1)])
    fresh = ref.real.held_out.images[:30]  # real training pictures that are not twins
    row, details = evaluation.score(torch.cat([copies, fresh]), ref)
    assert details["rule"] == "invariant+pixel" and details["invariance"]["max_shift"] == 3
    assert details["num_flagged_invariant"] >= 8 and details["num_flagged_pixel"] < 8  # moves fool the pixel part
    flagged_copies = sorted(i for i in details["worst_indices"] if i < 8)
    assert flagged_copies == list(range(8)) and sorted(details["worst_train_indices"][:8]) == list(range(8))
    assert row["copy_fraction"] >= 8 / 38  # the eight copies, at most a few fresh pictures besides
    assert row["copy_fraction"] <= 11 / 38, row["copy_fraction"]
    # the real row (held-out pictures against twins disjoint from them) is the false-alarm rate
    assert ref.real_row["copy_fraction"] < 0.05 and ref.real_originality["rule"] == "invariant+pixel"

    res = evaluation.build_result(tmp_path, 7, 38, 0, ref, row, details, {}, torch.cat([copies, fresh]))
    worst = {w["sample"]: w for w in res["originality"]["generated"]["worst"]}
    assert worst[0]["twin_edit"] == {
        "mirrored": False,
        "zoom": pytest.approx(1, abs=1e-3),
        "move_px": [pytest.approx(1, abs=1e-3), pytest.approx(0, abs=1e-3)],
    }
    assert worst[2]["twin_edit"]["move_px"] == [pytest.approx(-3, abs=1e-3), pytest.approx(1, abs=1e-3)]
    assert all(worst[i]["twin_edit"]["mirrored"] for i in (6, 7))
    assert "moved up to 3 px, mirrored, cropped to 90%" in res["data"]["twins"]
    assert (tmp_path / res["originality"]["panel"]).is_file()
    # the panel: samples, twins as fitted (equal to the samples in the central region), twins as stored
    grid = evaluation.originality_panel(torch.cat([copies, fresh]), ref, details)
    assert grid.shape[0] == 3 * (16 + 2) + 2

    def cell(r: int, c: int) -> np.ndarray:
        return grid[2 + r * 18 : 2 + r * 18 + 16, 2 + c * 18 : 2 + c * 18 + 16].astype(int)

    col = details["worst_indices"].index(2)  # moved by (-3, 1): differs from its twin, equals it fitted
    assert np.abs(cell(0, col) - cell(1, col))[3:-3, 3:-3].max() <= 1
    assert np.abs(cell(0, col) - cell(2, col))[3:-3, 3:-3].max() > 50


def test_the_pixel_rule_when_the_shape_is_unknown(ref, move):
    twins = ref.real.twins.images
    copies = torch.cat([move(twins[i : i + 1], 2, -2) for i in range(8)])
    fake = Features(np.random.default_rng(0).normal(size=(8, ref.feats.feats.shape[1])), None)
    px = reference.pixels(twins)
    args = (fake, reference.pixels(copies), ref.feats, ref.mu, ref.sigma, None, 0, px)
    pixel_row, pixel_details = evaluation.compute_row(*args, M.nearest_neighbours(px, px, exclude_self=True)[0])
    inv_row, inv_details = evaluation.compute_row(*args, ref.twin_self_nn, pixel_shape=tuple(twins.shape[1:]))
    assert pixel_details["rule"] == "pixel" and "worst_transforms" not in pixel_details
    assert inv_details["rule"] == "invariant+pixel" and inv_row["copy_fraction"] == 1.0
    assert pixel_row["copy_fraction"] < 0.5, pixel_row["copy_fraction"]


def test_twin_distances_are_cached_per_invariance(ref, tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path))
    twins = ref.real.twins.images[:40]
    first = reference.cached_self_nn(twins, log=lambda s: None)
    files = list(reference_root().glob("selfnn-inv*.npz"))
    assert len(files) == 1 and builtin.copy_invariance(twins.shape).cache_tag in files[0].name
    logs: list[str] = []
    again = reference.cached_self_nn(twins, log=logs.append)
    assert logs == [] and np.array_equal(first, again)  # read back, not recomputed
    direct = M.copy_calibration(twins.float() / 255, builtin.copy_invariance(twins.shape))
    np.testing.assert_allclose(first, direct, rtol=1e-6)
