"""Simulated generator artefacts (AutoGAN) for the provenance detector: the decoders, the option, the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from ganstudio import cli
from ganstudio.errors import UserError
from ganstudio.robustness import detector as D
from ganstudio.robustness.simulate import UPSAMPLING, fit_simulators, simulate


@pytest.fixture(scope="module")
def digits():
    return D.shape_pictures(D.pictures_from("digits", 64, seed=0), 1, (8, 8))


def _sharpness(x: torch.Tensor) -> float:
    lap = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return float(torch.nn.functional.conv2d(x, lap).abs().mean())


@torch.no_grad()
def _plain(decs, x: torch.Tensor) -> torch.Tensor:
    """The decoders' own outputs (0-255 floats, no detail added back), grouped by decoder."""
    return torch.cat([d(x[k :: len(decs)].float() / 255) for k, d in enumerate(decs)]).mul(255)


def _l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().mean() / 255)


def test_simulated_pictures_look_like_their_inputs_but_are_not_them(digits):
    decs = fit_simulators(digits, 4, steps=80, seed=0)  # all four at the first level (LEVELS[0] = 1)
    assert [d.upsampling for d in decs] == list(UPSAMPLING) == ["transpose", "nearest", "bilinear", "dense"]
    s = simulate(decs, digits)
    assert s.shape == digits.shape and s.dtype == torch.uint8
    assert (s != digits).float().mean() > 0.3  # changed pictures, not copies
    plain, plain0 = _plain(decs, digits), _plain(fit_simulators(digits, 4, steps=0, seed=0), digits)
    order = torch.cat([torch.arange(k, len(digits), 4) for k in range(4)])  # the order of _plain's pictures
    # Fitting makes the decoders reconstruct: far closer to their inputs than unfitted decoders, and each
    # simulated picture is closer to its own input than to another picture.
    assert _l1(plain, digits[order]) < 0.5 * _l1(plain0, digits[order])
    assert _l1(s, digits) < _l1(s, digits.roll(1, 0))
    # The input's fine detail is kept: the simulated picture is about as sharp as its input (mean absolute
    # Laplacian), where a plain reconstruction is blurrier.
    assert _sharpness(s[order].float()) > 0.8 * _sharpness(digits[order].float()) > _sharpness(plain)


def test_decoders_are_fitted_at_three_levels(digits):
    from ganstudio.robustness.simulate import LEVELS

    lines = []
    fit_simulators(digits, 12, steps=16, seed=0, progress=lines.append)
    steps = [int(line.split("after ")[1].split()[0]) for line in lines]
    assert LEVELS == (1.0, 0.25, 0.0625) and steps == [16] * 4 + [4] * 4 + [1] * 4


def test_simulation_is_deterministic_under_a_seed(digits):
    a = simulate(fit_simulators(digits, 2, steps=5, seed=3), digits)
    b = simulate(fit_simulators(digits, 2, steps=5, seed=3), digits)
    c = simulate(fit_simulators(digits, 2, steps=5, seed=4), digits)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_simulation_keeps_odd_sizes_and_colour():
    x = torch.randint(0, 256, (5, 3, 10, 9), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    s = simulate(fit_simulators(x, 4, steps=2, seed=0), x)
    assert s.shape == x.shape and s.dtype == torch.uint8
    with pytest.raises(ValueError, match="uint8"):
        simulate(fit_simulators(x, 1, steps=0), x.float())


def test_bad_simulate_values_are_refused_in_one_line():
    for kw, word in (({"simulate": -1}, "simulate"), ({"simulate": 65}, "simulate"), ({"simulate_steps": -2}, "steps")):
        with pytest.raises(UserError, match=word) as e:
            D.DetectorConfig(**kw)
        assert "\n" not in str(e.value)


def test_a_detector_trained_with_simulated_fakes_records_it_and_round_trips(digits, run, tmp_path):
    fake = D.pictures_from(str(run), 64, seed=0)
    cfg = D.DetectorConfig(
        resolution=8, width=4, epochs=1, batch_size=16, val_fraction=0.25, simulate=3, simulate_steps=5
    )
    det = D.train_detector(digits, fake, cfg)
    val = det.info["validation"]
    assert val["n"] == 2 * (16 + 16 + 16)  # held-out real, generated and simulated, clean + augmented
    assert 0 <= val["without_simulated"]["threshold"] <= 1 and 0 <= val["without_simulated"]["simulated_recall"] <= 1
    assert set(val["thresholds"]) == set(D.THRESHOLD_RULES) and val["thresholds"]["pooled"] == det.threshold
    # Recalibrating from the same pictures rebuilds the same validation set: its own rule gives its threshold
    # back bit for bit, another rule the threshold recorded for it, and nothing is retrained.
    same = D.recalibrate(det, digits, fake)
    assert (same.threshold, same.temperature) == (det.threshold, det.temperature) and same.model is det.model
    worst = D.recalibrate(det, digits, fake, rule="worst-source")
    assert worst.threshold == val["thresholds"]["worst-source"] and worst.config.threshold_rule == "worst-source"
    assert det.config.threshold_rule == "pooled"  # the original is untouched
    with pytest.raises(UserError, match="threshold_rule"):
        D.recalibrate(det, digits, fake, rule="median")
    folder = det.save(tmp_path / "det")
    meta = json.loads((folder / "detector.json").read_text())
    assert meta["config"]["simulate"] == 3 and meta["config"]["simulate_steps"] == 5
    back = D.load_detector(folder)
    assert back.config == det.config and torch.equal(back.probability(fake), det.probability(fake))


def test_detector_train_command_takes_simulate(run, tmp_path, capsys):
    out = tmp_path / "det"
    args = ["detector", "train", "--real", "digits", "--fake", str(run), "--out", str(out), "--n", "48"]
    assert cli.main([*args, "--epochs", "1", "--width", "4", "--simulate", "2", "--simulate-steps", "3"]) == 0
    worst_args = [*args[:-3], str(tmp_path / "worst"), "--n", "48", "--epochs", "1", "--width", "4"]
    rule = ["--threshold-rule", "worst-source"]
    assert cli.main([*worst_args, "--simulate", "2", "--simulate-steps", "3", *rule]) == 0
    assert "simulated decoder 2/2" in capsys.readouterr().out
    cfg = json.loads((out / "detector.json").read_text())["config"]
    assert (cfg["simulate"], cfg["simulate_steps"], cfg["threshold_rule"]) == (2, 3, "pooled")
    worst = json.loads((tmp_path / "worst" / "detector.json").read_text())
    assert worst["config"]["threshold_rule"] == "worst-source"
    assert worst["threshold"] == worst["validation"]["thresholds"]["worst-source"]
    bad = tmp_path / "bad"
    assert cli.main([*args[:-3], str(bad), "--n", "48", "--simulate", "99"]) == 2
    err = capsys.readouterr().err
    assert "simulate" in err and len(err.strip().splitlines()) == 1 and not bad.exists()
    assert cli.main([*args[:-3], str(bad), "--n", "48", "--threshold-rule", "median"]) == 2
    err = capsys.readouterr().err
    assert "threshold_rule" in err and len(err.strip().splitlines()) == 1 and not bad.exists()
    with pytest.raises(SystemExit) as e:
        cli.main([*args, "--simulate", "-1"])
    assert e.value.code == 2 and "--simulate" in capsys.readouterr().err
