"""Captioned pictures: sidecar .txt files (several lines = several captions), JSONL/CSV manifests, the one
warning for pictures without a caption, the clear error for a manifest naming missing files, emoji keyword
captions, and the caption table a text-conditioned run draws from."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio import textembed
from ganstudio.data import DataConfig, ImageDataset, load_dataset
from ganstudio.data.captions import caption_table, emoji_captions, lines
from ganstudio.errors import UserError

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220)}


def _pictures(root, names):
    root.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        rgb = list(COLOURS.values())[i % 3]
        Image.new("RGB", (8, 8), rgb).save(root / f"{n}.png")
    return root


def _load(root):
    return load_dataset(DataConfig(name=str(root), resolution=8))


def test_sidecars_give_several_captions_and_one_warning_counts_the_uncaptioned(tmp_path):
    root = _pictures(tmp_path / "f", ["a", "b", "c", "d"])
    (root / "a.txt").write_text("a red square\n\n  red box  \n")
    (root / "b.txt").write_text("   \n")  # empty: counted
    (root / "c.txt").write_text("a blue square")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _load(root)
    mine = [w for w in caught if "no caption" in str(w.message)]
    assert len(mine) == 1 and "2 of 4" in str(mine[0].message)  # b (empty) and d (no sidecar), in ONE warning
    assert [lines(c) for c in ds.captions] == [["a red square", "red box"], [], ["a blue square"], []]


def test_folder_without_any_caption_has_none_and_warns_nothing(tmp_path):
    root = _pictures(tmp_path / "f", ["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _load(root).captions == ()


def test_jsonl_manifest_rows_add_captions_and_lists_are_captions(tmp_path):
    root = _pictures(tmp_path / "f", ["a", "b", "c"])
    rows = [
        {"file": "a.png", "caption": "a red square"},
        {"file_name": "./a.png", "text": "crimson tile"},
        {"image": "b.png", "caption": ["green", "a green square"]},
    ]
    (root / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (root / "a.txt").write_text("ignored: the manifest wins")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _load(root)
    assert [lines(c) for c in ds.captions] == [["a red square", "crimson tile"], ["green", "a green square"], []]
    assert sum("no caption" in str(w.message) for w in caught) == 1  # c.png


def test_csv_manifest(tmp_path):
    root = _pictures(tmp_path / "f", ["a", "b"])
    (root / "captions.csv").write_text('file,caption\na.png,"a red square, small"\nb.png,a green square\n')
    assert [lines(c) for c in _load(root).captions] == [["a red square, small"], ["a green square"]]


def test_manifest_naming_missing_files_is_one_clear_error_listing_the_first_few(tmp_path):
    root = _pictures(tmp_path / "f", ["a"])
    rows = [{"file": "a.png", "caption": "ok"}] + [{"file": f"gone{i}.png", "caption": "x"} for i in range(7)]
    (root / "captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(UserError) as e:
        _load(root)
    msg = str(e.value)
    assert "7 picture(s)" in msg and "gone0.png" in msg and "gone4.png" in msg and "and 2 more" in msg
    assert "gone6.png" not in msg and "\n" not in msg


def test_damaged_manifest_line_is_named(tmp_path):
    root = _pictures(tmp_path / "f", ["a"])
    (root / "captions.jsonl").write_text('{"file": "a.png", "caption": "ok"}\n{not json\n')
    with pytest.raises(UserError, match="line 2 is not JSON"):
        _load(root)


def test_emoji_keyword_captions():
    assert lines(emoji_captions("red apple", "food-fruit")) == ["red apple", "a red apple", "red apple, fruit food"]
    assert lines(emoji_captions("an egg", "food-prepared")) == ["an egg", "an egg, prepared food"]


def test_caption_table_rows_per_picture_and_its_refusal_without_captions():
    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    ds = ImageDataset("made", images, None, captions=("a red square\nred box", "", "a blue square"))
    t = caption_table(ds, "words-64")
    assert t.start.tolist() == [0, 2, 3] and t.count.tolist() == [2, 1, 1]
    assert t.texts == ("a red square", "red box", "", "a blue square")  # the uncaptioned: the empty caption
    assert t.embeddings.shape == (4, textembed.dim("words-64"))
    norms = t.embeddings.norm(dim=1).numpy()
    assert np.allclose(norms[[0, 1, 3]], 1, atol=1e-6) and norms[2] == 0  # unit rows; the empty text is zero
    with pytest.raises(UserError, match="no captions"):
        caption_table(ImageDataset("bare", images, None), "words-64")
