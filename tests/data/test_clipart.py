"""The clipart source: transparent pictures on the background colour, topic folders as classes, titles as captions.

A small tree of real transparent PNGs stands in for Debian's 8,100 (loading those takes ~20 s); the real
folder is checked to be where the source looks.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ganstudio.data import SOURCES, DataConfig, clipart, load_dataset
from ganstudio.errors import UserError


@pytest.fixture
def tree(tmp_path, monkeypatch):
    root = tmp_path / "png"
    for rel, colour in (
        ("animals/red_fox_benji_01.png", (200, 30, 30)),
        ("food/green-apple_02.png", (30, 160, 30)),
        ("food/fruit/blue_plum.png", (30, 30, 200)),
    ):
        im = Image.new("RGBA", (40, 20), (0, 0, 0, 0))  # wide and transparent: letterboxed, composited
        ImageDraw.Draw(im).ellipse((12, 2, 28, 18), fill=(*colour, 255))
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        im.save(root / rel)
    monkeypatch.setattr(clipart, "ROOTS", (root,))
    return root


def test_titles_from_file_names():
    assert clipart.title("science/chemistry_flask_matthew__02.png") == "chemistry flask matthew"
    assert clipart.title("food/green-apple_02.png") == "green apple"
    assert clipart.title("shapes/star_68pt03step.png") == "star 68pt03step"
    assert clipart.title("x/123.png") == "123"


def test_load_composites_on_the_background_letterboxes_in_it_and_keeps_titles(tree):
    ds = load_dataset(DataConfig(name="clipart", background="#ffff00"), default_resolution=16)
    assert ds.name == "clipart" and ds.images.shape == (3, 3, 16, 16)
    assert ds.class_names == ("animals", "food")
    assert sorted(ds.captions) == ["blue plum", "green apple", "red fox benji"]
    by_caption = dict(zip(ds.captions, ds.images.numpy().astype(int), strict=True))
    for name, channel in (("red fox benji", 0), ("green apple", 1), ("blue plum", 2)):
        pic = by_caption[name]
        assert (pic[:, 0, 0] == [255, 255, 0]).all()  # letterbox and transparent corners: the background
        assert pic[channel, 8, 8] > 150 and np.argmax(pic[:, 8, 8]) == channel  # the drawing's own colour
    labels = dict(zip(ds.captions, ds.labels.tolist(), strict=True))
    assert labels == {"red fox benji": 0, "green apple": 1, "blue plum": 1}


def test_clipart_errors_and_the_real_folder(tree, monkeypatch):
    with pytest.raises(UserError, match="no held-out split"):
        load_dataset(DataConfig(name="clipart", split="test"))
    monkeypatch.setattr(clipart, "ROOTS", (tree / "missing",))
    with pytest.raises(UserError, match="openclipart-png"):
        load_dataset(DataConfig(name="clipart"))
    monkeypatch.undo()
    assert SOURCES["clipart"].locate() == "/usr/share/openclipart/png"  # installed by `make data`


@pytest.mark.parametrize("reference", ["test", "train"])
def test_evaluation_halves_clipart_like_a_folder(tree, reference):
    """clipart has no held-out split: the evaluation's real sets are two seeded halves (a run on clipart was
    unscorable before: evaluate asked the source for split="test")."""
    from ganstudio.evaluation.reference import load_real

    assert SOURCES["clipart"].test_split is False and SOURCES["emoji"].test_split is True
    Image.new("RGBA", (20, 20), (90, 60, 30, 255)).save(tree / "animals" / "brown_bear.png")  # 4: the minimum
    real = load_real(DataConfig(name="clipart"), reference, n=10, default_resolution=16)
    assert real.describe["reference_split"] == "folder-half"
    assert len(real.reference) == len(real.held_out) == 2
