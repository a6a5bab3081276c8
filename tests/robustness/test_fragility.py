"""Metric fragility: the torch FID equals the metric's, its gradient is right, and bounded perturbations
move FID the way they are pushed; the CLI writes JSON + table and refuses bad input in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganstudio.cli import main
from ganstudio.errors import UserError
from ganstudio.features.randconv import RandomConvExtractor
from ganstudio.metrics import functional as M
from ganstudio.robustness.fragility import FidTorch, fid_fragility, fragility_table


def _feats(n: int, d: int, shift: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.3 + shift


def test_torch_fid_equals_the_metric():
    real, fake = _feats(80, 6, 0.0, 0), _feats(60, 6, 0.5, 1)
    got = float(FidTorch(real)(torch.from_numpy(fake)))
    # same formula, both in float64: only eigensolver rounding differs (~1e-13 relative)
    assert got == pytest.approx(M.fid(fake, real), rel=1e-9)


def test_torch_fid_gradient_matches_finite_differences():
    real, fake = _feats(50, 4, 0.0, 2), _feats(40, 4, 0.3, 3)
    fid = FidTorch(real)
    f = torch.from_numpy(fake).requires_grad_(True)
    (g,) = torch.autograd.grad(fid(f), f)
    h = 1e-6
    for i, j in [(0, 0), (5, 2), (39, 3)]:
        up, down = fake.copy(), fake.copy()
        up[i, j] += h
        down[i, j] -= h
        fd = (M.fid(up, real) - M.fid(down, real)) / (2 * h)
        # central differences: O(h^2) truncation plus ~1e-16 * FID / h rounding
        assert float(g[i, j]) == pytest.approx(fd, abs=1e-6, rel=1e-4)


@pytest.fixture(scope="module")
def pictures() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    real = torch.rand(48, 3, 16, 16, generator=g) * 0.6 + 0.2
    fake = (torch.rand(48, 3, 16, 16, generator=g) * 0.6 + 0.3).clamp(0, 1)
    return fake, real


def test_bounded_perturbations_move_fid_the_way_they_are_pushed(pictures):
    fake, real = pictures
    ext = RandomConvExtractor()
    eps = 4 / 255
    res = fid_fragility(fake, real, ext, [eps], steps=3, kid_subsets=5, kid_size=20)
    rows = {r["mode"]: r for r in res["rows"]}
    assert set(rows) == {"random", "up", "down"} and not res["skipped"]
    clean = res["clean"]["fid"]
    assert rows["up"]["fid"] > clean and rows["down"]["fid"] < clean
    assert rows["up"]["fid"] > rows["random"]["fid"] - 1e-9 or rows["random"]["fid"] < clean
    for r in rows.values():
        assert r["max_change"] <= eps + 1e-6  # float32 rounding of x +- eps, pixels <= 1
        assert r["fid_change"] == pytest.approx(r["fid"] - clean)
    table = fragility_table(res)
    assert "| 4 | up |" in table and "folder-rcf" in table


def test_eps_zero_leaves_the_scores_unchanged(pictures):
    fake, real = pictures
    res = fid_fragility(
        fake, real, RandomConvExtractor(), [0.0], modes=["random", "down"], steps=1, kid_subsets=3, kid_size=20
    )
    for r in res["rows"]:
        assert r["fid"] == res["clean"]["fid"] and r["kid"] == res["clean"]["kid"]


def test_bad_modes_and_eps_are_user_errors(pictures):
    fake, real = pictures
    with pytest.raises(UserError, match="unknown fragility mode"):
        fid_fragility(fake, real, RandomConvExtractor(), [0.01], modes=["sideways"])
    with pytest.raises(UserError, match="eps"):
        fid_fragility(fake, real, RandomConvExtractor(), [2.0])


def test_cli_fragility_on_a_run(run, tmp_path, capsys):
    out = tmp_path / "frag.json"
    argv = ["robustness", "fragility", str(run), "--features", "folder-rcf", "--n", "24", "--eps", "2/255"]
    assert main([*argv, "--modes", "random,down", "--steps", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [r["mode"] for r in res["rows"]] == ["random", "down"] and res["rows"][0]["eps_255"] == 2
    assert out.with_suffix(".md").read_text().startswith("features: folder-rcf")
    with pytest.raises(SystemExit) as e:
        main([*argv, "--eps", "3/0"])
    assert e.value.code == 2
    assert "not a number or fraction" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "x.txt")]) == 2
    assert "must name a .json file" in capsys.readouterr().err
