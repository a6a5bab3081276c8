"""Transparent pictures (``data.background="transparent"``): RGBA, 4 channels, straight alpha, for the
sources whose pictures have alpha (emoji, clipart, folders), resized on premultiplied alpha; a clear
error for the others. Real font, a handful of glyphs; folders of a few tiny PNGs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ganstudio.data import DataConfig, _reshape, clipart, emoji, folder, load_dataset
from ganstudio.data.base import ImageDataset
from ganstudio.errors import UserError
from ganstudio.training.options import build_run_config

EXCERPT = """\
# group: Food & Drink
# subgroup: food-fruit
1F34E                                                  ; fully-qualified     # 🍎 E0.6 red apple
1F34C                                                  ; fully-qualified     # 🍌 E0.6 banana
1F349                                                  ; fully-qualified     # 🍉 E0.6 watermelon
# subgroup: food-vegetable
1F955                                                  ; fully-qualified     # 🥕 E1.0 carrot
"""


@pytest.fixture
def excerpt(emoji_list):
    return emoji_list(EXCERPT)


def _disc(size=(24, 24), colour=(220, 30, 30), clear=(0, 255, 0, 0), box=(4, 4, 19, 19)) -> Image.Image:
    """An opaque disc on transparent pixels whose (invisible) colour is ``clear``'s: green by default, so a
    resize that ignores alpha would fringe the disc green."""
    im = Image.new("RGBA", size, clear)
    ImageDraw.Draw(im).ellipse(box, fill=(*colour, 255))
    return im


def test_emoji_rendered_transparent_keep_alpha(excerpt):
    images, missing = emoji.render(excerpt[:2], 32, background="transparent")
    assert images.shape == (2, 4, 32, 32) and images.dtype == np.uint8 and missing == []
    assert (images[:, 3, 0, 0] == 0).all() and (images[:, 3, -1, -1] == 0).all()  # the margin: transparent
    assert (images[:, 3, 16, 16] == 255).all()  # the middle of the glyph: opaque
    apple = images[0].astype(int)
    assert apple[0, 12:20, 12:20].mean() > apple[1, 12:20, 12:20].mean() + 60  # still a red apple


def test_emoji_dataset_transparent_is_cached_apart_from_the_flat_one(excerpt, monkeypatch):
    rgba = load_dataset(DataConfig(name="emoji", background="transparent"), default_resolution=16)
    assert rgba.images.shape[1:] == (4, 16, 16) and len(rgba) == len([e for e in excerpt if not e.held_out])
    assert (rgba.images[:, 3, 0, 0] == 0).all() and (rgba.images[:, 3, 8, 8] > 200).all()  # corners, middles
    flat = load_dataset(DataConfig(name="emoji"), default_resolution=16)  # another cache entry, not the RGBA one
    assert flat.images.shape[1:] == (3, 16, 16) and (flat.images[:, :, 0, 0] == 255).all()
    monkeypatch.setattr(emoji, "render", lambda *a, **k: pytest.fail("rendered twice"))
    again = load_dataset(DataConfig(name="emoji", background="transparent"), default_resolution=16)
    assert torch.equal(again.images, rgba.images)
    # non-square: the square renders are resized, on premultiplied alpha
    wide = load_dataset(DataConfig(name="emoji", background="transparent", height=8), default_resolution=16)
    assert wide.images.shape[1:] == (4, 8, 16)


def test_rgba_resize_is_premultiplied_no_fringe():
    x = torch.from_numpy(np.asarray(_disc()).transpose(2, 0, 1).copy())[None]
    out = _reshape(ImageDataset("t", x, None), 10, None).images[0].numpy().astype(int)
    seen = out[3] > 0
    assert out.shape == (4, 10, 10) and seen.any() and (out[3] == 0).any() and ((out[3] > 0) & (out[3] < 255)).any()
    assert (out[1][seen] < 60).all() and (out[0][seen] > 180).all()  # edges stay red: no green from the clear pixels


@pytest.fixture
def pngs(tmp_path):
    root = tmp_path / "art"
    (root / "a").mkdir(parents=True)
    _disc((30, 20), box=(8, 3, 21, 16)).save(root / "a" / "wide.png")  # wide: letterboxed with "pad"
    _disc(colour=(30, 30, 220)).save(root / "a" / "blue.png")
    la = Image.new("LA", (24, 24), (0, 0))
    ImageDraw.Draw(la).rectangle((6, 6, 17, 17), fill=(90, 255))
    la.save(root / "a" / "grey.png")
    Image.new("RGB", (24, 24), (10, 200, 10)).save(root / "a" / "opaque.jpg")
    return root


def test_folder_of_rgba_pngs_keeps_alpha_letterboxes_transparent_and_caches_by_background(pngs, monkeypatch):
    cfg = DataConfig(name=str(pngs), background="transparent", fit="pad", resolution=16)
    ds = load_dataset(cfg)
    assert ds.images.shape == (4, 4, 16, 16) and ds.images.dtype == torch.uint8
    pics = dict(zip(["blue", "grey", "opaque", "wide"], ds.images.numpy().astype(int), strict=True))  # sorted names
    for name in ("blue", "grey", "wide"):
        assert pics[name][3, 0, 0] == 0 and pics[name][3, 8, 8] == 255  # transparent corners, opaque middle
    assert (pics["opaque"][3] == 255).all() and np.abs(pics["opaque"][:3, 8, 8] - [10, 200, 10]).max() < 4  # JPEG
    assert tuple(pics["grey"][:3, 8, 8]) == (90, 90, 90)  # grey with alpha: RGBA too
    assert (pics["wide"][3, :2] == 0).all() and (pics["wide"][3, -2:] == 0).all()  # the letterbox: transparent
    seen = pics["wide"][3] > 0
    assert (pics["wide"][1][seen] < 80).all()  # resized on premultiplied alpha: no green fringe
    flat = load_dataset(DataConfig(name=str(pngs), fit="pad", resolution=16))  # white: another cache entry
    assert flat.images.shape[1] == 3 and (flat.images[0, :, 0, 0] == 255).all()
    monkeypatch.setattr(folder, "_try_decode", lambda args: pytest.fail("decoded twice"))
    assert torch.equal(load_dataset(cfg).images, ds.images)  # the transparent cache entry, read back


def test_clipart_transparent(tmp_path, monkeypatch):
    root = tmp_path / "png"
    (root / "food").mkdir(parents=True)
    _disc((40, 20), box=(12, 2, 27, 17)).save(root / "food" / "apple_01.png")
    monkeypatch.setattr(clipart, "ROOTS", (root,))
    ds = load_dataset(DataConfig(name="clipart", background="transparent"), default_resolution=16)
    assert ds.images.shape == (1, 4, 16, 16) and ds.captions == ("apple",)
    pic = ds.images[0].numpy().astype(int)
    assert pic[3, 0, 0] == 0 and pic[3, 8, 8] == 255 and pic[0, 8, 8] > 180


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist", "digits"])
def test_sources_without_alpha_refuse_transparent_in_one_line(name):
    with pytest.raises(
        UserError, match=rf"^data\.background=transparent .* but {name} has none: use emoji, clipart"
    ) as e:
        load_dataset(DataConfig(name=name, background="transparent"))
    assert "\n" not in str(e.value)


def test_config_checks_and_the_set_flag(tmp_path):
    with pytest.raises(UserError, match="4 channels"):
        DataConfig(name="emoji", background="transparent", channels=3)
    with pytest.raises(UserError, match=r"needs data\.background=transparent"):
        DataConfig(name="emoji", channels=4)
    with pytest.raises(UserError, match="pix2pix"):
        DataConfig(name="emoji", background="transparent", pairs="sketch")
    with pytest.raises(UserError, match="or transparent"):
        DataConfig(name="emoji", background="see-through")
    assert DataConfig(name="emoji", background="transparent", channels=4).transparent
    cfg = build_run_config(data=str(tmp_path), model="dcgan", sets=["data.background=transparent"])
    assert cfg.data.background == "transparent" and cfg.data.transparent
    with pytest.raises(UserError, match="pix2pix"):  # pix2pix's default sketch pairs cannot be RGBA
        build_run_config(data=str(tmp_path), model="pix2pix", sets=["data.background=transparent"])
