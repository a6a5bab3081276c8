"""The clipart source: transparent pictures on the background colour, topic folders as classes, titles as captions
(from the SVG twins' metadata when they are installed, else from the file names).

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


def svg(title: str, creator: str, keywords=(), description: str = "") -> str:
    """An SVG with Inkscape/Open Clip Art's RDF metadata, as Debian's openclipart-svg files have it."""
    bag = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg"><metadata><rdf:RDF><cc:Work rdf:about="">'
        f"<dc:title>{title}</dc:title><dc:description>{description}</dc:description>"
        f"<dc:subject><rdf:Bag>{bag}</rdf:Bag></dc:subject>"
        "<dc:publisher><cc:Agent><dc:title>Open Clip Art Library</dc:title></cc:Agent></dc:publisher>"
        f"<dc:creator><cc:Agent><dc:title>{creator}</dc:title></cc:Agent></dc:creator>"
        "</cc:Work></rdf:RDF></metadata><rect width='1' height='1'/></svg>"
    )


def test_metadata_is_the_drawings_own_not_its_agents():
    m = clipart.read_metadata(
        svg("Red &amp; white lighthouse", "Matthew Gates", ["boat", "", "boat", "sea_side"], "A tower")
    )
    assert m == clipart.Metadata("Red & white lighthouse", "A tower", ("boat", "sea side"), "Matthew Gates")
    assert clipart.read_metadata("<svg/>") is None
    for written in ("Clipart by Benji Park - Red Fox", "Red Fox by Benji Park", "Benji Park: Red Fox_02"):
        assert clipart._caption(clipart.read_metadata(svg(written, "Benji Park")), 1, "x/fox.png") == "Red Fox"


def test_captions_come_from_the_svg_twins_when_installed(tree):
    twins = tree.parent / "svg"
    (twins / "animals").mkdir(parents=True)
    (twins / "food").mkdir()
    (twins / "animals" / "red_fox_benji_01.svg").write_text(
        svg(
            "Clipart by Benji Park - Red Fox",
            "Benji Park",
            ["animal", "Benji Park", "lemon_theme_icon", "fox"],
            "A red fox sitting, drawn for http://example.org",
        )
    )
    # a collection's name is no drawing's title: more than COLLECTION drawings share it
    for i in range(clipart.COLLECTION + 1):
        (twins / "food" / f"other_{i}.svg").write_text(svg("Lemon SVG theme", "Jose", ["food"]))
    (twins / "food" / "green-apple_02.svg").write_text(
        svg("Lemon SVG theme", "Jose", ["fruit", "apple"], "A green apple")
    )
    ds = load_dataset(DataConfig(name="clipart"), default_resolution=16)
    captions = dict(zip([c.splitlines()[0] for c in ds.captions], ds.captions, strict=True))
    # the author and collection keywords are dropped; a description with a link is no caption
    assert captions["Red Fox"] == "Red Fox\nRed Fox, animal, fox"
    # the collection's title gives way to the file name's; its description and keywords stay
    assert captions["green apple"] == "green apple\nA green apple\ngreen apple, fruit, apple"
    assert captions["blue plum"] == "blue plum"  # no SVG twin: the title made from the file name
