"""The emoji source: Debian's Noto Color Emoji drawn in colour, labelled by Unicode group, names as captions.

Real font, real list format; a short excerpt of ``emoji-test.txt`` keeps the renders to a handful of glyphs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganstudio.cli import main
from ganstudio.data import SOURCES, DataConfig, emoji, load_dataset
from ganstudio.errors import UserError


@pytest.fixture
def excerpt(emoji_excerpt):
    return emoji_excerpt  # tests/conftest.py's EMOJI_EXCERPT


def test_parse_keeps_fully_qualified_emoji_with_group_subgroup_and_name(excerpt):
    assert [e.name for e in excerpt] == [
        "grinning face",
        "smiling face",
        "waving hand",
        "waving hand: medium skin tone",
        "tiger",
        "red apple",
        "banana",
        "carrot",
        "flag: France",
    ]
    apple = excerpt[5]
    assert (apple.group, apple.subgroup, apple.codepoints, apple.text) == (
        "Food & Drink",
        "food-fruit",
        ("1F34E",),
        "🍎",
    )
    assert excerpt[1].text == "\u263a\ufe0f"
    assert [e.name for e in emoji.select(excerpt)] == [
        "grinning face",
        "smiling face",
        "waving hand",
        "tiger",
        "red apple",
        "banana",
        "carrot",
    ]
    assert len(emoji.select(excerpt, skin_tones=True, flags=True)) == 9
    assert [e.name for e in excerpt if e.held_out] == ["tiger"]  # the test split's share of the excerpt


def test_render_draws_colour_glyphs_on_the_background_and_reports_what_the_font_lacks(excerpt):
    future = emoji.Emoji(("10FFFD",), "Symbols", "other", "a code point no font draws")
    images, missing = emoji.render([excerpt[5], future, excerpt[7]], 32, background="#00ff00")
    assert images.shape == (2, 3, 32, 32) and images.dtype == np.uint8 and missing == [1]
    assert (images[:, :, 0, 0] == [0, 255, 0]).all()  # the corners are background (a margin around the ink)
    apple, carrot = images.astype(int)
    centre = (slice(None), slice(12, 20), slice(12, 20))
    assert apple[centre][0].mean() > apple[centre][1].mean() + 60  # red apple: red dominates its centre
    assert carrot[centre][0].mean() > carrot[centre][2].mean() + 60  # carrot: orange, far more red than blue


def test_load_labels_captions_splits_and_cache(excerpt, monkeypatch):
    train = load_dataset(DataConfig(name="emoji", split="train"), default_resolution=16)
    test = load_dataset(DataConfig(name="emoji", split="test"), default_resolution=16)
    kept = emoji.select(excerpt)
    assert len(train) + len(test) == len(kept) and len(train) > 0
    assert sorted(train.captions + test.captions) == sorted(e.name for e in kept)
    assert set(test.captions) == {e.name for e in kept if e.held_out}  # the held-out tenth, by code-point hash
    assert train.images.shape[1:] == (3, 16, 16)
    groups = {e.name: e.group for e in kept}
    assert [train.class_names[i] for i in train.labels.tolist()] == [groups[c] for c in train.captions]
    # a second load reads the cache: rendering again would fail here
    monkeypatch.setattr(emoji, "render", lambda *a, **k: pytest.fail("rendered twice"))
    again = load_dataset(DataConfig(name="emoji", split="train"), default_resolution=16)
    assert torch.equal(again.images, train.images) and again.captions == train.captions


def test_options_subgroups_skin_tones_flags_and_limit_keep_captions_aligned(excerpt):
    everything = [e for e in emoji.select(excerpt, skin_tones=True, flags=True) if not e.held_out]
    ds = load_dataset(DataConfig(name="emoji", label_by="subgroup", skin_tones=True, flags=True), default_resolution=8)
    assert ds.captions == tuple(e.name for e in everything)
    assert set(ds.class_names) == {e.subgroup for e in everything}
    small = load_dataset(DataConfig(name="emoji", limit=2, skin_tones=True, flags=True), default_resolution=8)
    group_of = {e.name: e.group for e in everything}
    assert len(small) == 2 and [small.class_names[i] for i in small.labels.tolist()] == [
        group_of[c] for c in small.captions
    ]


def test_missing_font_or_list_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_EMOJI_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(UserError, match="fonts-noto-color-emoji"):
        load_dataset(DataConfig(name="emoji"))
    assert SOURCES["emoji"].locate() is None
    monkeypatch.delenv("GANSTUDIO_EMOJI_FONT")
    monkeypatch.setenv("GANSTUDIO_EMOJI_LIST", str(tmp_path / "none.txt"))
    with pytest.raises(UserError, match=r"emoji-test\.txt"):
        load_dataset(DataConfig(name="emoji"))
    with pytest.raises(UserError, match=r"data\.background"):
        DataConfig(name="emoji", background="not a colour")
    with pytest.raises(UserError, match=r"data\.label_by"):
        DataConfig(name="emoji", label_by="colour")


def test_datasets_lists_emoji_and_a_conditional_run_trains_on_it(excerpt, tmp_path, capsys):
    assert main(["datasets"]) == 0
    assert "emoji" in capsys.readouterr().out
    assert (
        main(
            [
                "train",
                "--data",
                "emoji",
                "--model",
                "dcgan",
                "--resolution",
                "16",
                "--conditional",
                "--batch-size",
                "2",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "runs"),
                "--quiet",
            ]
        )
        == 0
    )
    run = next((tmp_path / "runs").iterdir())
    assert run.name.endswith("-dcgan-emoji") and (run / "samples" / "latest.png").exists()
    assert main(["generate", str(run), "--class", "Food & Drink", "--n", "2", "--grid", str(tmp_path / "g.png")]) == 0


def test_subgroups_map_to_their_groups_for_a_judge_of_groups(excerpt, tmp_path, monkeypatch):
    from ganstudio.data import coarse_classes

    assert coarse_classes(("food-fruit", "animal-mammal", "food-vegetable")) == (
        "Food & Drink",
        "Animals & Nature",
        "Food & Drink",
    )
    assert coarse_classes(("food-fruit", "T-shirt")) is None  # not all subgroups: no hierarchy to use
    monkeypatch.setenv("GANSTUDIO_EMOJI_LIST", str(tmp_path / "absent.txt"))
    assert coarse_classes(("food-fruit",)) is None


def test_a_subgroup_run_is_judged_in_the_group_classifiers_classes(excerpt):
    """evaluation.core.judged_classes: the run's class k -> the extractor's class of its group."""
    from types import SimpleNamespace

    from ganstudio.evaluation.core import judged_classes

    groups = SimpleNamespace(num_classes=3, class_names=("Smileys & Emotion", "Animals & Nature", "Food & Drink"))
    run = SimpleNamespace(num_classes=3, class_names=("food-vegetable", "face-smiling", "food-fruit"))
    assert judged_classes(run, groups).tolist() == [2, 0, 2]
    same = SimpleNamespace(num_classes=3, class_names=groups.class_names)
    assert judged_classes(same, groups).tolist() == [0, 1, 2]
    other = SimpleNamespace(num_classes=2, class_names=("T-shirt", "Trouser"))
    assert judged_classes(other, groups) is None


def test_a_subgroup_run_draws_a_whole_group_when_asked_for_one(excerpt, tmp_path, capsys):
    """`--class "Food & Drink"` on a run conditioned on subgroups: the group's subgroups in turn."""
    from ganstudio import load

    args = ["train", "--data", "emoji", "--model", "dcgan", "--resolution", "16", "--conditional"]
    args += ["--set", "data.label_by=subgroup", "--batch-size", "2", "--steps", "1", "--out", str(tmp_path / "r")]
    assert main([*args, "--quiet"]) == 0
    run = next((tmp_path / "r").iterdir())
    pipe = load(run)
    food = [i for i, c in enumerate(pipe.class_names) if c.startswith("food-")]
    assert len(food) == 2  # food-fruit and food-vegetable in the excerpt's training split
    w = pipe.class_weights("Food & Drink", 4)
    assert w.argmax(1).tolist() == [food[0], food[1], food[0], food[1]]
    assert pipe.class_weights("food-fruit", 1).argmax(1).item() == pipe.class_names.index("food-fruit")
    assert main(["generate", str(run), "--class", "Food & Drink", "--n", "2", "--out", str(tmp_path / "g")]) == 0
    assert main(["generate", str(run), "--class", "Travel & Places", "--n", "1"]) == 2
    assert "their groups: " in capsys.readouterr().err
