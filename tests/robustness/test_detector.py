"""The provenance detector: scores with known values, a tiny detector trained end to end, its folder, the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio import cli
from ganstudio.errors import UserError
from ganstudio.robustness import detector as D

# ---- scores on constructed cases --------------------------------------------------------------


def test_average_precision_known_values():
    assert D.average_precision([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    # scikit-learn's documented example: ranks 1, 0, 1 after the top -> (1/2)(1) + (1/2)(2/3) = 0.8333...
    assert D.average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(5 / 6)
    # Worst ranking: positives last, at ranks 3 and 4 -> (1/2)(1/3) + (1/2)(2/4).
    assert D.average_precision([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == pytest.approx(5 / 12)
    # All scores tied: one threshold, precision = the share of positives.
    assert D.average_precision([0.5] * 5, [1, 0, 0, 1, 0]) == pytest.approx(2 / 5)
    assert np.isnan(D.average_precision([0.2, 0.3], [0, 0]))


def test_expected_calibration_error_known_values():
    # 10 pictures all at p = 0.8 with 8 generated: confidence 0.8, accuracy 0.8 -> 0.
    y = [1] * 8 + [0] * 2
    assert D.expected_calibration_error([0.8] * 10, y) == pytest.approx(0.0)
    # All at 0.9, half generated: confidence 0.9, accuracy 0.5 -> 0.4.
    assert D.expected_calibration_error([0.9] * 10, [1, 0] * 5) == pytest.approx(0.4)
    # Two bins: 4 at p = 0.1 (confidence 0.9), all real (accuracy 1), and 4 at p = 0.7, 2 generated
    # (confidence 0.7, accuracy 0.5): (4/8) * 0.1 + (4/8) * 0.2 = 0.15.
    assert D.expected_calibration_error([0.1] * 4 + [0.7] * 4, [0] * 4 + [1, 1, 0, 0]) == pytest.approx(0.15)
    assert D.expected_calibration_error([0.0, 1.0], [0, 1]) == pytest.approx(0.0)


def test_balanced_accuracy_and_threshold_choice():
    probs = [0.05, 0.1, 0.2, 0.3, 0.32, 0.35, 0.4]
    labels = [0, 0, 0, 0, 1, 1, 1]
    t = D.best_threshold(probs, labels)
    assert 0.3 < t < 0.32  # the only perfect cut; 0.5 would call every picture real
    assert D.balanced_accuracy(probs, labels, t) == 1.0
    assert D.balanced_accuracy(probs, labels, 0.5) == 0.5
    # Unbalanced classes weigh equally: 3 of 4 real right, 1 of 3 generated right -> (0.75 + 1/3) / 2.
    assert D.balanced_accuracy([0.1, 0.2, 0.3, 0.9, 0.8, 0.2, 0.1], [0, 0, 0, 0, 1, 1, 1], 0.5) == pytest.approx(
        (0.75 + 1 / 3) / 2
    )
    with pytest.raises(ValueError, match="both"):
        D.best_threshold([0.1, 0.2], [1, 1])


def test_threshold_rules_weigh_sources_as_they_say():
    # Real at 0.1-0.4; source 1 (the given generator, 8 pictures) at 0.9; source 2 (a hard simulated one,
    # 2 pictures) at 0.3 and 0.35, inside the real ones.
    real = [0.1, 0.15, 0.2, 0.25, 0.32, 0.4]
    probs = torch.tensor(real + [0.9] * 8 + [0.3, 0.35])
    y = torch.tensor([0.0] * 6 + [1.0] * 10)
    source = torch.tensor([0] * 6 + [1] * 8 + [2] * 2)
    rules = {name: rule(probs, y, source) for name, rule in D.THRESHOLD_RULES.items()}
    # Pooled: source 2 is 2 of 10 positives; cutting above every real picture (tnr 1, tpr 0.8) is best.
    assert 0.4 < rules["pooled"] < 0.9
    # Per source: source 2's recall weighs as much as source 1's. Cutting at 0.275 (tnr 4/6 + mean recall 1 =
    # 1.667) beats cutting at 0.335 (5/6 + 3/4 = 1.583) and above every real picture (1 + 1/2).
    assert 0.25 < rules["per-source"] < 0.3
    # Worst source: tnr + min recall; cutting below 0.3 keeps source 2 at recall 1 with tnr 4/6 (1.667).
    assert rules["worst-source"] == rules["per-source"]
    # Without several sources every rule is the pooled one.
    one = torch.tensor([0] * 6 + [1] * 10)
    by_source = ("pooled", "per-source", "worst-source")
    assert {D.THRESHOLD_RULES[r](probs, y, one) for r in by_source} == {rules["pooled"]}
    with pytest.raises(UserError, match="threshold_rule"):
        D.DetectorConfig(threshold_rule="median")


def test_false_flag_rules_read_the_real_pictures_only():
    real = torch.arange(100) / 100  # 0.00 .. 0.99
    fake = torch.tensor([0.2, 0.5, 0.99])
    probs, y = torch.cat([real, fake]), torch.cat([torch.zeros(100), torch.ones(3)])
    t = D.false_flag_threshold(probs, y, 0.05)
    assert t == pytest.approx(0.945) and int((real > t).sum()) == 5  # midway between the 95th and 96th real score
    assert D.false_flag_threshold(probs, y, 0.0) == pytest.approx(0.99) and not (real > 0.99).any()
    source = torch.cat([torch.zeros(100, dtype=torch.long), torch.tensor([1, 2, 2])])
    assert D.THRESHOLD_RULES["real-95"](probs, y, source) == t
    assert D.THRESHOLD_RULES["real-99"](probs, y, source) == pytest.approx(0.985)
    # the generated pictures do not move it
    assert D.false_flag_threshold(torch.cat([real, fake * 0.1]), y, 0.05) == t
    with pytest.raises(ValueError, match="real pictures"):
        D.false_flag_threshold([0.5, 0.6], [1, 1], 0.05)


def test_worst_source_differs_from_the_mean_when_a_source_is_hopeless():
    # Source 2 sits below three of the four real pictures. The mean rule gives it up (above 0.5: tnr 1 +
    # (1 + 0) / 2 = 1.5); the worst-source rule keeps it (below 0.3: tnr 1/4 + min(1, 1) = 1.25, against 1 + 0).
    probs = torch.tensor([0.05, 0.3, 0.4, 0.5, 0.9, 0.95, 0.1, 0.12])
    y = torch.tensor([0.0, 0, 0, 0, 1, 1, 1, 1])
    source = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    mean = D.best_threshold(probs, y, source, "mean")
    worst = D.best_threshold(probs, y, source, "min")
    assert worst < 0.3 and 0.5 < mean < 0.9
    with pytest.raises(ValueError, match="combine"):
        D.best_threshold(probs, y, source, "max")


def test_temperature_scaling_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8000, generator=g) * 2
    y = (torch.rand(8000, generator=g) < torch.sigmoid(z)).float()  # labels drawn from calibrated sigmoid(z)
    t = D._fit_temperature(3 * z, y)  # over-confident logits: the best temperature is 3
    # The maximum-likelihood T has a relative standard error of 1 / sqrt(Fisher information) = 2.3 % here (n = 8000); 8 % is 3.5 of them.
    assert t == pytest.approx(3.0, rel=0.08)


def test_shape_pictures_converts_channels_alpha_and_size():
    rgba = torch.zeros(2, 4, 10, 10, dtype=torch.uint8)
    rgba[:, 0] = 255  # red, fully transparent: becomes the white background
    x = D.shape_pictures(rgba, 1, (8, 8))
    assert x.shape == (2, 1, 8, 8) and (x == 255).all()
    grey = torch.full((1, 1, 8, 8), 70, dtype=torch.uint8)
    assert torch.equal(D.shape_pictures(grey, 3, (8, 8)), grey.expand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="uint8"):
        D.shape_pictures(grey.float(), 1, (8, 8))


def test_config_refuses_bad_values():
    with pytest.raises(UserError, match="kind"):
        D.DetectorConfig(kind="resnet50")
    with pytest.raises(UserError, match="p_jpeg"):
        D.DetectorConfig(p_jpeg=1.5)


# ---- a tiny detector, trained end to end -----------------------------------------------------------


@pytest.fixture(scope="module")
def pictures(run):
    """(real, generated): 96 digits and 96 samples of a 30-step MLP run, uint8 (96, 1, 8, 8)."""
    real = D.shape_pictures(D.pictures_from("digits", 96, seed=0), 1, (8, 8))
    fake = D.pictures_from(str(run), 96, seed=0)
    assert real.shape == fake.shape == (96, 1, 8, 8) and fake.dtype == torch.uint8
    return real, fake


@pytest.fixture(scope="module")
def trained(pictures, tmp_path_factory):
    real, fake = pictures
    cfg = D.DetectorConfig(resolution=8, width=8, epochs=6, batch_size=16, lr=3e-3, val_fraction=0.25)
    det = D.train_detector(real, fake, cfg, {"trained_on": {"fake": "tiny"}})
    return det, det.save(tmp_path_factory.mktemp("det") / "tiny")


def test_a_tiny_detector_tells_an_untrained_generator_from_digits(pictures, trained):
    det, _ = trained
    real, fake = pictures
    s = det.scores(real, fake)
    assert s["ap"] > 0.9 and s["accuracy"] > 0.8
    assert 0 <= s["ece"] <= 1 and det.temperature > 0 and 0 <= det.threshold <= 1
    assert det.info["validation"]["n"] == 2 * (24 + 24)  # clean + augmented copy of a quarter of each class
    p = det.probability(fake)
    assert p.shape == (96,) and ((p >= 0) & (p <= 1)).all()
    assert torch.equal(det.is_generated(fake), p > det.threshold)


def test_a_detector_folder_round_trips_exactly(pictures, trained):
    det, folder = trained
    assert sorted(f.name for f in folder.iterdir()) == ["detector.json", "detector.safetensors"]
    back = D.load_detector(folder)
    _, fake = pictures
    assert torch.equal(back.probability(fake), det.probability(fake))
    assert back.threshold == det.threshold and back.temperature == det.temperature
    assert back.info["trained_on"] == {"fake": "tiny"} and back.config == det.config


def test_a_deep_ensemble_averages_its_members_and_round_trips(pictures, trained, tmp_path):
    real, fake = pictures
    single, _ = trained
    cfg = dataclasses.replace(single.config, members=2)
    det = D.train_detector(real, fake, cfg)
    assert isinstance(det.model, D.MeanLogits) and len(det.model.members) == 2
    # member 0 is the single detector's CNN (same seed, same pictures): bit for bit
    a, b = det.model.members[0].state_dict(), single.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(det.model.members[1].head.weight, det.model.members[0].head.weight)
    x = D._to_input(fake[:8])
    with torch.no_grad():
        mean = (det.model.members[0](x) + det.model.members[1](x)) / 2
    torch.testing.assert_close(det.logits(fake[:8]), mean, rtol=1e-6, atol=1e-6)
    back = D.load_detector(det.save(tmp_path / "ensemble"))
    assert back.config.members == 2 and torch.equal(back.probability(fake), det.probability(fake))
    assert det.scores(real, fake)["ap"] > 0.9
    with pytest.raises(UserError, match="needs the cnn kind"):
        D.DetectorConfig(kind="spectrum-radial", members=2)
    with pytest.raises(UserError, match="members"):
        D.DetectorConfig(members=0)


def test_neighbour_residual_keeps_each_block_s_differences_from_its_corner():
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(1, 2, 5, 5)
    r = D.neighbour_residual(x)
    assert r.shape == x.shape
    for i in range(5):
        for j in range(5):  # the block's top-left pixel (an odd last row/column belongs to the block before)
            ci, cj = min(i - i % 2, 4), min(j - j % 2, 4)
            assert torch.equal(r[0, :, i, j], x[0, :, i, j] - x[0, :, ci, cj])
    assert (r[..., ::2, ::2] == 0).all()
    # A picture made by 2x nearest upsampling has no residual at all; one pixel off shows exactly there.
    up = torch.rand(3, 1, 4, 4).repeat_interleave(2, -2).repeat_interleave(2, -1)
    assert torch.equal(D.neighbour_residual(up), torch.zeros_like(up))
    up[1, 0, 3, 5] += 0.5
    assert D.neighbour_residual(up).nonzero().tolist() == [[1, 0, 3, 5]]


@pytest.mark.parametrize("reads", ["npr", "pixels+npr"])
def test_a_detector_reading_the_neighbour_residual_trains_and_round_trips(pictures, trained, reads, tmp_path):
    real, fake = pictures
    single, _ = trained
    det = D.train_detector(real, fake, dataclasses.replace(single.config, input=reads))
    first = det.model.body[0]
    assert first.in_channels == (2 if reads == "pixels+npr" else 1)
    back = D.load_detector(det.save(tmp_path / reads))
    assert back.config.input == reads and torch.equal(back.probability(fake), det.probability(fake))
    assert det.scores(real, fake)["ap"] > 0.8
    # The npr CNN sees no difference between a picture and the same picture plus a constant per 2x2 block.
    if reads == "npr":
        blocks = (torch.rand(4, 1, 4, 4) * 40).round().repeat_interleave(2, -2).repeat_interleave(2, -1)
        x = real[:4] // 2  # room for the blocks' constants: nothing clips at 255
        a, b = det.logits(x), det.logits(x + blocks.to(torch.uint8))
        # equal up to float32 rounding: (x + c) / 255 * 2 - 1 minus its corner is x's residual to ~1e-7, and six
        # layers of at most 288-term sums keep that far below 1e-4
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        assert not torch.allclose(det.logits(x), det.logits(x.flip(-1)), rtol=1e-4, atol=1e-4)  # it does read them
    with pytest.raises(UserError, match="input"):
        D.DetectorConfig(input="edges")
    with pytest.raises(UserError, match="needs the cnn kind"):
        D.DetectorConfig(kind="spectrum-radial", input="npr")


@pytest.mark.parametrize("kind", ["spectrum-radial", "spectrum-fourier"])
def test_the_spectrum_baseline_trains_saves_and_loads(pictures, kind, tmp_path):
    real, fake = pictures
    det = D.train_detector(real, fake, D.DetectorConfig(kind=kind, resolution=8, val_fraction=0.25))
    back = D.load_detector(det.save(tmp_path / kind))
    torch.testing.assert_close(back.probability(real), det.probability(real), rtol=0, atol=0)
    assert det.scores(real, fake)["ap"] > 0.7


def test_evaluate_returns_one_row_per_fake_set_and_perturbation(pictures, trained):
    det, _ = trained
    real, fake = pictures
    rows = D.evaluate(det, real[:32], {"a": fake[:32], "b": fake[32:64]}, ["clean", "jpeg75"])
    assert [(r["fake"], r["perturbation"]) for r in rows] == [
        ("a", "clean"),
        ("b", "clean"),
        ("a", "jpeg75"),
        ("b", "jpeg75"),
    ]
    assert all(r["n_real"] == r["n_fake"] == 32 for r in rows)
    with pytest.raises(UserError, match="perturbation"):
        D.evaluate(det, real, {"a": fake}, ["jpeg10"])


def test_broken_detector_folders_give_one_line_errors(trained, tmp_path):
    _, folder = trained
    with pytest.raises(UserError, match="does not exist"):
        D.load_detector(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a detector folder"):
        D.load_detector(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "detector.safetensors").write_bytes((folder / "detector.safetensors").read_bytes())
    meta = json.loads((folder / "detector.json").read_text())
    (bad / "detector.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot read"):
        D.load_detector(bad)
    (bad / "detector.json").write_text(json.dumps({**meta, "config": {**meta["config"], "colour": 1}}))
    with pytest.raises(UserError, match="unknown field"):
        D.load_detector(bad)
    (bad / "detector.json").write_text(json.dumps({**meta, "config": {**meta["config"], "width": 4}}))
    with pytest.raises(UserError, match="does not match"):
        D.load_detector(bad)
    (bad / "detector.safetensors").write_bytes(b"garbage")
    (bad / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="does not match"):
        D.load_detector(bad)


# ---- the command line ------------------------------------------------------------------------------


def _png(path, array):
    Image.fromarray(array).save(path)
    return path


def test_detect_prints_a_probability_per_file(pictures, trained, tmp_path, capsys):
    det, folder = trained
    real, fake = pictures
    a = _png(tmp_path / "real.png", real[0, 0].numpy())
    b = _png(tmp_path / "sub" / "fake.png", fake[0, 0].numpy()) if (tmp_path / "sub").mkdir() is None else None
    assert cli.main(["detect", str(a), str(tmp_path / "sub"), "--detector", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("real.png") and out[1].endswith("fake.png")
    assert float(out[0].split()[0]) == pytest.approx(float(det.probability(real[:1])[0]), abs=5e-5)
    assert float(out[1].split()[0]) == pytest.approx(float(det.probability(fake[:1])[0]), abs=5e-5)
    assert cli.main(["detect", str(b), "--detector", str(folder), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["pictures"]
    assert rows[0]["file"] == str(b) and rows[0]["resized"] is False


def test_detect_reads_a_larger_colour_picture_and_says_it_resized(trained, tmp_path, capsys):
    _, folder = trained
    p = _png(tmp_path / "big.png", np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    assert cli.main(["detect", str(p), "--detector", str(folder)]) == 0
    assert "resized to 8x8" in capsys.readouterr().out


def test_detect_errors_are_one_line(trained, tmp_path, capsys):
    _, folder = trained
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    assert cli.main(["detect", str(text), "--detector", str(folder)]) == 2
    assert "is not a picture" in capsys.readouterr().err
    assert cli.main(["detect", str(tmp_path / "missing.png"), "--detector", str(folder)]) == 2
    assert "does not exist" in capsys.readouterr().err
    good = _png(tmp_path / "ok.png", np.zeros((8, 8), np.uint8))
    assert cli.main(["detect", str(good)]) == 2
    assert "--detector" in capsys.readouterr().err
    assert cli.main(["detect", str(good), "--detector", str(tmp_path / "no-detector")]) == 2
    err = capsys.readouterr().err
    assert "detector train" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "nopics").mkdir()
    assert cli.main(["detect", str(tmp_path / "nopics"), "--detector", str(folder)]) == 2
    assert "no picture files" in capsys.readouterr().err


def test_detector_train_and_evaluate_commands(run, tmp_path, capsys):
    out = tmp_path / "det"
    args = ["detector", "train", "--real", "digits", "--fake", str(run), "--out", str(out), "--n", "48"]
    assert cli.main([*args, "--fake", str(run), "--epochs", "1", "--width", "4", "--kind", "cnn"]) == 0
    assert (out / "detector.safetensors").is_file() and "ganstudio detect" in capsys.readouterr().out
    assert D.load_detector(out).info["trained_on"]["fake"] == [str(run), str(run)]  # --fake repeats
    res = tmp_path / "eval.json"
    ev = ["detector", "evaluate", str(out), "--real", "digits", "--fake", str(run), "--n", "16"]
    assert cli.main([*ev, "--perturb", "clean,jpeg50", "--json", str(res)]) == 0
    rows = json.loads(res.read_text())["rows"]
    assert [r["perturbation"] for r in rows] == ["clean", "jpeg50"]
    assert "jpeg50" in capsys.readouterr().out
    assert cli.main([*args, "--kind", "resnet50"]) == 2
    assert "--kind must be one of cnn" in capsys.readouterr().err
    # the reading and the threshold rule are checked before anything is loaded or written
    bad = tmp_path / "det-bad"
    assert cli.main([*args[:-4], "--out", str(bad), "--n", "48", "--input", "edges"]) == 2
    err = capsys.readouterr().err
    assert "detector input must be one of pixels, npr, pixels+npr" in err and len(err.strip().splitlines()) == 1
    assert cli.main([*args[:-4], "--out", str(bad), "--n", "48", "--threshold-rule", "real-90"]) == 2
    assert "real-95, real-99" in capsys.readouterr().err and not bad.exists()
    npr = tmp_path / "det-npr"
    assert (
        cli.main(
            [
                *args[:-4],
                "--out",
                str(npr),
                "--n",
                "48",
                "--epochs",
                "1",
                "--width",
                "4",
                "--input",
                "npr",
                "--threshold-rule",
                "real-95",
            ]
        )
        == 0
    )
    back = D.load_detector(npr)
    assert back.config.input == "npr" and back.config.threshold_rule == "real-95"
    assert back.threshold == back.info["validation"]["thresholds"]["real-95"]
    assert cli.main([*ev, "--perturb", "jpeg10"]) == 2
    assert "unknown perturbation" in capsys.readouterr().err
