"""``ganstudio evaluate SOUND_RUN --features ...``: the registered metrics in a sound classifier's features, computed
on the waveforms the run's own decoder makes (IF and Griffin-Lim runs alike), with the real row's inception
score beside the generated one. Tiny: tones written as a real WAV folder, a two-step specgan run."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ganstudio
from ganstudio.cli import main
from ganstudio.config import RunConfig
from ganstudio.errors import UserError
from ganstudio.evaluation import evaluate, metrics
from ganstudio.evaluation.core import requested_classes
from ganstudio.evaluation.sound import SAMPLE_BATCH, real_sounds, sample_sounds
from ganstudio.features.sound import load_sound_classifier, train_sound_classifier
from ganstudio.metrics import functional as M
from ganstudio.training import train

SR = 16000
N = 12


@pytest.fixture(scope="module")
def tones(tmp_path_factory, write_tones):
    return write_tones(tmp_path_factory.mktemp("tones"), {"A3": 220.0, "A5": 880.0}, per_class=8)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # conftest's per-test cache folder, also for module fixtures
        path = tmp_path_factory.getbasetemp() / "cache"
        mp.setenv("GANSTUDIO_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def runs(tones, tmp_path_factory, cache, tiny_sound_run):
    """The same tiny run with the default decoder (instantaneous frequency) and magnitude only (Griffin-Lim)."""
    out = tmp_path_factory.mktemp("runs")
    return {"if": tiny_sound_run(tones, out), "gl": tiny_sound_run(tones, out, channels=1)}


@pytest.fixture(scope="module")
def classifier(tones, cache):
    return train_sound_classifier(str(tones), epochs=4, widths=(8, 16), log=lambda s: None)


def test_cli_end_to_end_if_run(runs, classifier, capsys):
    run = runs["if"]
    assert main(["evaluate", str(run), "--n", str(N), "--features", f"sound:{classifier}"]) == 0
    out = capsys.readouterr().out
    assert "decoder:   instantaneous frequency" in out and "inception score (cls score): generated" in out
    assert "originality" not in out  # no near-copy search in pixels for sounds
    res = json.loads((run / "eval" / "000000002.json").read_text())
    assert res["modality"] == "sound" and res["n"] == N and res["extractor"]["modality"] == "sound"
    for row in res["rows"].values():
        for key in ("fid", "kid", "precision", "recall", "coverage", "classifier_score", "classes_covered"):
            assert row[key] is not None
        assert "copy_fraction" not in row
        assert 1 <= row["classifier_score"] <= 2  # two classes
    gen, real = res["rows"]["generated"], res["rows"]["real"]
    assert gen["n"] == N and real["n"] == 8  # half B of the 16 tones
    assert res["is_share"] == pytest.approx(gen["classifier_score"] / real["classifier_score"])
    # every registered metric that applies is in the row (the registry, not a special case); the classifier knows
    # this conditional run's classes, so the generated row also has the requested-class accuracy
    applies = {m.name for m in metrics()} - {"copy_fraction", "nn_ratio_median"}
    assert applies <= set(gen) and "class_accuracy" not in real
    assert 0 <= gen["class_accuracy_min"] <= gen["class_accuracy"] <= 1


def test_scores_the_decoded_audio_and_griffin_lim_differs(runs, classifier, tones):
    ext = load_sound_classifier(path=classifier)
    res = {
        k: evaluate(r, n=N, features=f"sound:{classifier}", write=False, log=lambda s: None) for k, r in runs.items()
    }
    assert res["gl"]["decoder"].startswith("Griffin-Lim") and res["if"]["decoder"].startswith("instantaneous")
    for key, run in runs.items():  # FID by hand from the waveforms `generate` makes
        pipe = ganstudio.load(run)
        waves = sample_sounds(pipe, N)
        out = pipe(n=N, seed=0)
        assert np.array_equal(waves, out.audio)  # the sounds `generate --n 12` writes
        # the classes they were asked for, as the requested-class accuracy reads them
        asked = requested_classes(pipe, N, ext, batch_size=SAMPLE_BATCH)
        assert asked is not None and np.array_equal(asked, out.classes.argmax(1).numpy())
        ref, _, _ = real_sounds(str(tones), "test", N)
        fid = M.fid(ext.extract(waves).feats, ext.extract(ref.waves).feats)
        assert res[key]["rows"]["generated"]["fid"] == pytest.approx(fid, rel=1e-4, abs=1e-6)
    assert res["if"]["rows"]["generated"]["fid"] != res["gl"]["rows"]["generated"]["fid"]
    assert res["if"]["rows"]["real"] == res["gl"]["rows"]["real"]  # the same real sounds, the same row


def test_auto_picks_the_sound_classifier_of_the_run_data(runs, classifier):
    res = evaluate(runs["if"], n=N, write=False, log=lambda s: None)
    assert res["extractor_label"] == load_sound_classifier(path=classifier).label


def test_bad_input_one_line_and_nothing_written(runs, classifier, run, capsys):
    sound_run = runs["gl"]
    before = sorted((sound_run / "eval").glob("*")) if (sound_run / "eval").exists() else []
    cases = [
        ([str(sound_run), "--features", "folder-rcf"], "evaluate it with sound features"),
        ([str(sound_run), "--features", "gm-notes"], "ganstudio features train --data gm-notes"),
        ([str(sound_run), "--features", f"sound:{classifier.parent / 'missing'}"], "not a sound classifier folder"),
        ([str(sound_run), "--features", f"sound:{classifier}", "--fragility", "0.01"], "leave it out for a sound"),
        ([str(sound_run), "--features", f"sound:{classifier}", "--n", "5"], "at least 10"),
        ([str(run), "--features", f"sound:{classifier}"], "makes pictures"),
    ]
    for argv, message in cases:
        assert main(["evaluate", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and "Traceback" not in "\n".join(err)
    after = sorted((sound_run / "eval").glob("*")) if (sound_run / "eval").exists() else []
    assert after == before
    assert not (run / "eval").exists()
    with pytest.raises(UserError, match="--reference"):
        real_sounds("gm-notes", "nope", 10)


def test_folder_runs_always_use_the_held_out_half_and_the_hook_refuses_sound_features(tones, classifier, tmp_path):
    ref, held, split = real_sounds(str(tones), "train", 100)
    assert split == "folder-half" and len(ref) == len(held) == 8  # a folder has no training split of its own
    assert not set(map(bytes, ref.waves)) & set(map(bytes, held.waves))  # disjoint halves
    from ganstudio.evaluation import EvalHook

    cfg = RunConfig.from_dict(
        {
            "model": "specgan",
            "data": {"name": str(tones), "height": 32, "resolution": 16},
            "model_config": {"g_channels": 8, "d_channels": 8},
            "train": {"steps": 2, "batch_size": 4, "threads": 1, "seed": 0},
        }
    )
    with pytest.raises(UserError, match="ganstudio evaluate RUN --features sound:"):
        train(cfg, out=tmp_path, progress=False, extra_hooks=[EvalHook(1, n=10, features=f"sound:{classifier}")])
