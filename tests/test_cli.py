"""The CLI end to end on a tiny dataset, called in-process (one library call per subcommand)."""

import json

import pytest

from ganstudio.cli import main


@pytest.fixture
def tiny_json(tmp_path):
    f = tmp_path / "tiny.json"
    f.write_text(json.dumps({"model": "mlp", "model_config": {"g_hidden": [32], "d_hidden": [32], "resolution": 8}}))
    return str(f)


def _train(tmp_path, tiny_json, *extra):
    return main(
        [
            "train",
            "--data",
            "digits",
            "--resolution",
            "8",
            "--config",
            tiny_json,
            "--steps",
            "12",
            "--batch-size",
            "16",
            "--out",
            str(tmp_path / "runs"),
            "--quiet",
            "--log-every",
            "4",
            *extra,
        ]
    )


def test_train_generate_end_to_end(tmp_path, tiny_json, capsys):
    assert _train(tmp_path, tiny_json) == 0
    run = next((tmp_path / "runs").glob("00001-mlp-digits"))
    assert "run folder:" in capsys.readouterr().out
    g1, g2 = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["generate", str(run), "--n", "9", "--seed", "7", "--grid", str(g1)]) == 0
    assert main(["generate", str(run), "--n", "9", "--seed", "7", "--grid", str(g2)]) == 0
    assert g1.read_bytes() == g2.read_bytes()  # same seed, same images
    assert main(["generate", str(run), "--n", "3", "--seed", "5", "--out-dir", str(tmp_path / "each")]) == 0
    assert sorted(p.name for p in (tmp_path / "each").glob("*.png")) == [
        "seed000005.png",
        "seed000006.png",
        "seed000007.png",
    ]
    assert main(["generate", str(run), "--checkpoint", "12", "--n", "1"]) == 0
    # resume: --steps is the run's total
    assert main(["train", "--resume", str(run), "--steps", "16", "--quiet"]) == 0
    assert int((run / "checkpoints" / "latest").read_text()) == 16


def test_dry_run_prints_resolved_config(tmp_path, tiny_json, capsys):
    assert _train(tmp_path, tiny_json, "--dry-run") == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["model_config"]["resolution"] == 8 and cfg["train"]["steps"] == 12
    assert not (tmp_path / "runs").exists()


def test_datasets_lists_sources(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"mnist", "fashion-mnist", "digits"} <= rows.keys()
    assert rows["digits"]["found"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "nope", "--data", "digits"], "unknown model 'nope'"),
        (["train", "--data", "no-such-data"], "unknown dataset 'no-such-data'"),
        (["train", "--data", "digits", "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "--data", "digits", "--loss", "magic"], "unknown loss 'magic'"),
        (["generate", "/nonexistent/run"], "does not exist"),
        (["generate", ".", "--n", "0"], "must be positive"),
        (["train", "--resume", "/nonexistent/run"], "does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(argv, message, capsys):
    with pytest.raises(SystemExit) if argv[-1] == "0" else _nothing():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unreadable_checkpoint(tmp_path, tiny_json, capsys):
    assert _train(tmp_path, tiny_json) == 0
    run = next((tmp_path / "runs").glob("0*"))
    (run / "checkpoints" / "000000012" / "G.safetensors").write_bytes(b"garbage")
    capsys.readouterr()
    assert main(["generate", str(run), "--n", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "damaged" in err and len(err.splitlines()) == 1


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@pytest.mark.parametrize("preset, family, conditional", [("fashion-mnist", "dcgan", True), ("seed", "mlp", False)])
def test_demo_trains_the_best_preset_and_the_seed_is_one_flag_away(tmp_path, capsys, preset, family, conditional):
    from ganstudio.data import resolve_auto

    data, _ = resolve_auto()  # Debian's Fashion-MNIST where installed, else the digits fallback
    argv = ["demo", "--minutes", "0.02", "--out", str(tmp_path)] + (
        [] if preset == "fashion-mnist" else ["--preset", preset]
    )
    assert main(argv) == 0
    (run,) = tmp_path.iterdir()
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["model"], cfg["preset"], cfg["conditional"], cfg["data"]["name"]) == (family, preset, conditional, data)
    assert (run / "samples" / "latest.png").exists()
    out = capsys.readouterr().out
    assert ("--class 0" in out) == conditional  # conditional runs are told how to ask for one class


def test_demo_unknown_preset_is_one_line(tmp_path, capsys):
    assert main(["demo", "--preset", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown preset 'nope'; choose one of seed" in capsys.readouterr().err


def test_choosing_the_pix2pix_family_is_enough(tmp_path, capsys):
    """``--model pix2pix`` trains with the family's own schedule and sketch pairs (issue 13's defect)."""
    from ganstudio import runs

    assert (
        main(
            [
                "train",
                "--data",
                "digits",
                "--model",
                "pix2pix",
                "--resolution",
                "16",
                "--limit",
                "64",
                "--steps",
                "2",
                "--batch-size",
                "16",
                "--out",
                str(tmp_path / "runs"),
                "--quiet",
            ]
        )
        == 0
    )
    run = next((tmp_path / "runs").iterdir())
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["schedule"] == "pix2pix" and cfg["data"]["pairs"] == "sketch"
    assert runs.find_checkpoint(run).step == 2
    assert f"ganstudio translate {run}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--model", "dcgan", "--schedule", "pix2pix"], "trains image-to-image models, but 'dcgan' is noise-to-image"),
        (["--model", "pix2pix", "--schedule", "alternating"], "but 'pix2pix' is image-to-image"),
        (["--model", "mlp", "--set", "data.pairs=sketch"], "drop data.pairs or use --model pix2pix"),
        (["--model", "pix2pix", "--conditional"], "does not take class labels"),
        (["--model", "mlp", "--schedule", "nope"], "unknown schedule 'nope'"),
        (["--model", "nope"], "unknown model 'nope'"),
    ],
)
def test_refused_combinations_leave_no_run_folder(tmp_path, capsys, flags, says):
    assert main(["train", "--data", "digits", *flags, "--steps", "2", "--out", str(tmp_path / "runs"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_init_from_takes_the_source_model_and_refuses_another_family(tmp_path, tiny_json, capsys):
    """One build_run_config serves the CLI and the studio: --init-from brings the source's family, model
    config, conditioning and size, whatever the preset says; another --model is refused before any folder."""
    assert _train(tmp_path, tiny_json) == 0
    src = next((tmp_path / "runs").iterdir())
    out = tmp_path / "tuned"
    assert (
        main(
            [
                "train",
                "--data",
                "digits",
                "--preset",
                "fashion-mnist",
                "--init-from",
                str(src),
                "--steps",
                "2",
                "--batch-size",
                "16",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    tuned = json.loads(next(out.iterdir()).joinpath("config.json").read_text())
    source = json.loads((src / "config.json").read_text())
    assert tuned["model"] == "mlp" and tuned["model_config"] == source["model_config"]
    assert tuned["conditional"] is False and tuned["train"]["lr_g"] == 5e-4  # the preset's training, the source's model
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "--data",
                "digits",
                "--model",
                "dcgan",
                "--init-from",
                str(src),
                "--steps",
                "2",
                "--out",
                str(tmp_path / "never"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "its weights belong to a 'mlp' model" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_an_unsorted_folder_trains_on_groups_of_look_and_draws_one(tmp_path, capsys):
    """``--clusters K``: a folder without sub-folders becomes K classes, named in the run, drawn by name."""
    from PIL import Image

    from ganstudio import runs

    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(12):  # two looks: red squares and blue squares
        Image.new("RGB", (24, 24), (200 + i, 0, 0) if i % 2 else (0, 0, 200 + i)).save(folder / f"{i:02d}.png")
    argv = ["train", "--data", str(folder), "--model", "dcgan", "--conditional", "--clusters", "2"]
    argv += ["--resolution", "16", "--steps", "1", "--batch-size", "4", "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(argv) == 0
    run = next((tmp_path / "runs").iterdir())
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["clusters"] == 2 and cfg["class_names"] == ["cluster 1", "cluster 2"]
    assert runs.find_checkpoint(run).step == 1
    assert main(["generate", str(run), "--class", "cluster 2", "--n", "2", "--grid", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([("some" if a == "2" else a) for a in argv])
    assert exit_.value.code == 2
    assert "--clusters: expects a number of groups, auto or none, got 'some'" in capsys.readouterr().err
