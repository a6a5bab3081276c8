"""Sound feature extractors (features.sound): a log-mel CNN trained on labelled real sounds, read from waveforms.

Real WAV folders (synthetic tones; espeak-ng digits and FluidSynth notes where those programs exist), a few
epochs; the accuracy on held-out sounds is reported; the inception score maths against a hand computation."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from ganstudio.cli import main
from ganstudio.errors import UserError
from ganstudio.features import get_extractor
from ganstudio.features.sound import (
    SoundClassifierConfig,
    load_sound_classifier,
    load_sound_set,
    log_mel,
    train_sound_classifier,
)
from ganstudio.media_audio import write_wav
from ganstudio.metrics import functional as M

SR = 16000


def tone(f: float, seconds: float = 0.5, sr: int = SR, detune: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * f * (1 + detune) * t)).astype(np.float32)


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """Two classes of 10 tones each, a low and a high one, slightly detuned per file."""
    root = tmp_path_factory.mktemp("tones")
    for name, f in (("low", 220.0), ("high", 1760.0)):
        (root / name).mkdir()
        for i in range(10):
            write_wav(root / name / f"{i}.wav", tone(f, detune=i / 300), SR)
    return root


@pytest.fixture(scope="module")
def classifier(tones, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # the tests' cache (conftest's _isolated_cache), also for this fixture
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        return train_sound_classifier(str(tones), epochs=6, widths=(8, 16), log=lambda s: None)


def test_log_mel_shape_and_range():
    cfg = SoundClassifierConfig(num_classes=2)
    x = log_mel(torch.zeros(3, cfg.clip), cfg)
    assert tuple(x.shape) == (3, 1, cfg.n_mels, cfg.frames)
    assert float(x.max()) == pytest.approx(-1.0)  # silence is the floor


def test_trains_reports_held_out_accuracy_and_extracts_waveforms(classifier, tones):
    meta = json.loads((classifier / "meta.json").read_text())
    assert meta["kind"] == "sound-classifier" and meta["class_names"] == ["high", "low"]
    assert meta["n_train"] + meta["n_val"] == 20 and meta["n_val"] == 4  # a seeded 20 % held out
    assert "hold-out" in meta["accuracy_split"] and len(meta["history"]) == 6
    assert meta["accuracy"] == 1.0  # a low and a high tone are easy
    ext = load_sound_classifier(path=classifier)
    assert ext.modality == "sound" and ext.num_classes == 2 and len(ext.id) == 12
    f = ext.extract(np.stack([tone(220.0, 1.0), tone(1760.0, 1.0), tone(230.0, 1.0)]))
    assert f.feats.shape == (3, 128) and f.probs is not None and f.probs.shape == (3, 2)
    np.testing.assert_allclose(f.probs.sum(1), 1, atol=1e-5)
    assert list(f.probs.argmax(1)) == [1, 0, 1]  # low, high, low
    for seconds in (0.3, 1.5):  # a short clip is zero-padded, a long one cut to 1 s
        other = ext.extract(tone(1760.0, seconds)[None])
        assert other.probs is not None and other.probs.argmax() == 0
    # another sample rate is resampled to the extractor's own: the same judgement
    slow = ext.extract(np.stack([tone(220.0, 1.0, sr=8000), tone(1760.0, 1.0, sr=8000)]), sample_rate=8000)
    assert list(slow.probs.argmax(1)) == [1, 0]
    with pytest.raises(UserError, match="waveforms"):
        ext.extract(np.zeros((2, 1, 8, 8), np.float32))  # pictures are refused


def test_cached_like_the_others_and_named_by_spec(classifier, tones):
    mtime = (classifier / "meta.json").stat().st_mtime_ns
    again = train_sound_classifier(str(tones), epochs=6, widths=(8, 16), log=lambda s: None)
    assert again == classifier and (classifier / "meta.json").stat().st_mtime_ns == mtime
    ext = get_extractor(f"sound:{classifier}")
    assert ext.label == load_sound_classifier(path=classifier).label
    with pytest.raises(UserError, match=r"not a sound classifier folder"):
        get_extractor(f"sound:{classifier.parent / 'nope'}")
    with pytest.raises(UserError, match=r"ganstudio features train --data gm-notes"):
        get_extractor("gm-notes")  # none cached here
    with pytest.raises(UserError, match="trained on"):
        get_extractor(f"spoken-digits:{classifier}")  # a folder classifier is not the digits one


def test_inception_score_hand_computation_and_perfect_classifier():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    py = p.mean(0)
    kl = [sum(p[i, k] * math.log(p[i, k] / py[k]) for k in range(2)) for i in range(2)]
    assert M.classifier_score(p, splits=1)["mean"] == pytest.approx(math.exp(sum(kl) / 2), rel=1e-12)
    # a perfect classifier on balanced real labels: IS = K
    labels = np.repeat(np.arange(5), 7)
    assert M.classifier_score(np.eye(5)[labels], splits=1)["mean"] == pytest.approx(5.0)


def test_real_is_of_the_trained_classifier_is_about_k(classifier, tones):
    ext = load_sound_classifier(path=classifier)
    real = load_sound_set(str(tones), "all")
    probs = ext.extract(real.waves).probs
    assert (probs.argmax(1) == real.labels).mean() == 1.0
    # the inception score lies between 1 and K = 2; a classifier this briefly trained is not yet confident
    assert 1 < M.classifier_score(probs, splits=1)["mean"] <= 2


def test_cli_train_list_and_bad_input(tones, tmp_path, capsys):
    assert main(["features", "train", "--data", str(tones), "--epochs", "1", "--widths", "8"]) == 0
    out = capsys.readouterr().out
    assert f"sound classifier: sound-{tones.name}@" in out and "accuracy:" in out and "(chance " in out
    assert main(["features", "list"]) == 0
    assert "cached sound classifiers" in capsys.readouterr().out
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        write_wav(flat / f"{i}.wav", tone(440.0), SR)
    for argv, message in (
        (["features", "train", "--data", str(flat)], "class sub-folder"),
        (["features", "train", "--data", str(tones), "--augment", "shape"], "picture classifiers"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_spoken_digit_folder(tmp_path, capsys):
    """A handful of real espeak-ng digits written as a WAV folder: the digit classifier trains and reports."""
    import subprocess

    from ganstudio.data.spoken_digits import WORDS

    root = tmp_path / "digits"
    for word in WORDS[:3]:
        (root / word).mkdir(parents=True)
        for i, voice in enumerate(("en-us", "en-gb", "en-us+f2", "en-gb+m3")):
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(root / word / f"{i}.wav"), word], check=True)
    assert main(["features", "train", "--data", str(root), "--epochs", "2", "--widths", "8,16"]) == 0
    out = capsys.readouterr().out
    assert "3 classes: one, two, zero" in out and "hold-out (2 sounds)" in out


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="needs fluidsynth and a GM soundfont")
def test_gm_notes_family_classifier_holds_out_instruments():
    """Real FluidSynth notes of four instruments: families as classes, the held-out instruments as the test."""
    from ganstudio.data import gm_notes

    if gm_notes.locate() is None:
        pytest.skip("no General MIDI soundfont")
    path = train_sound_classifier("gm-notes", epochs=1, widths=(8,), programs=(0, 5, 24, 29), pitches=(48, 60, 72),
                                  log=lambda s: None)  # fmt: skip
    meta = json.loads((path / "meta.json").read_text())
    assert meta["class_names"] == list(gm_notes.FAMILIES) and meta["data"]["target"] == "instrument family"
    assert meta["n_train"] == 6 and meta["n_val"] == 6  # programs 0, 24 train; 5, 29 (program % 8 == 5) held out
    assert "held-out instruments" in meta["accuracy_split"] and 0 <= meta["accuracy"] <= 1
    ext = get_extractor(f"gm-notes:{path}")
    assert ext.num_classes == 14
