"""The classifier's ``shape`` augmentation and the ``emoji`` extractor (a colour feature space).

Real font, real list format: a short excerpt of ``emoji-test.txt`` keeps the renders to a handful of glyphs.
"""

from __future__ import annotations

import json

import pytest
import torch

from ganstudio.cli import main
from ganstudio.data import DataConfig
from ganstudio.errors import UserError
from ganstudio.features import get_extractor, resolve_spec
from ganstudio.features.classifier import (
    AUGMENTS,
    augment_batch,
    default_augment,
    find_classifier,
    shape_augment,
    train_classifier,
)

EXCERPT = """\
# group: Smileys & Emotion
# subgroup: face-smiling
1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face
1F601                                                  ; fully-qualified     # 😁 E0.6 beaming face with smiling eyes
1F602                                                  ; fully-qualified     # 😂 E0.6 face with tears of joy
# group: Animals & Nature
# subgroup: animal-mammal
1F405                                                  ; fully-qualified     # 🐅 E1.0 tiger
1F408                                                  ; fully-qualified     # 🐈 E0.7 cat
1F415                                                  ; fully-qualified     # 🐕 E0.7 dog
# group: Food & Drink
# subgroup: food-fruit
1F34E                                                  ; fully-qualified     # 🍎 E0.6 red apple
1F34C                                                  ; fully-qualified     # 🍌 E0.6 banana
1F347                                                  ; fully-qualified     # 🍇 E0.6 grapes
"""


def _disc(b: int = 4, size: int = 24) -> torch.Tensor:
    """(b, 3, size, size) in [-1, 1]: a red disc (1, -1, -1) on white (1, 1, 1), off centre."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    inside = ((yy - size * 0.45) ** 2 + (xx - size * 0.4) ** 2 < (size * 0.25) ** 2).float()
    x = torch.ones(b, 3, size, size)
    x[:, 1:] -= 2 * inside
    return x


def test_shape_augment_keeps_shape_range_and_colours_and_is_seeded():
    x = _disc()
    a = shape_augment(x, torch.Generator().manual_seed(1), p=1.0)  # every picture transformed
    assert a.shape == x.shape and a.dtype == x.dtype
    assert a.min() >= -1 - 1e-5 and a.max() <= 1 + 1e-5  # only moved and mixed, never pushed out of range
    # no hue change: red stays at 1 everywhere, green and blue move together (red, white and their mixtures)
    torch.testing.assert_close(a[:, 0], torch.ones_like(a[:, 0]))
    torch.testing.assert_close(a[:, 1], a[:, 2])
    # seeded: the same generator state gives the same pictures, another seed others
    assert torch.equal(a, shape_augment(x, torch.Generator().manual_seed(1), p=1.0))
    b = shape_augment(x, torch.Generator().manual_seed(2), p=1.0)
    assert not torch.allclose(a, b)
    # it changes the picture, and each picture of the batch differently
    assert (a - x).abs().mean() > 0.02
    assert all(not torch.allclose(a[0], a[i]) for i in range(1, len(a)))
    # what training uses: the defaults (half the pictures transformed), drawn from the training generator
    default = augment_batch(x, "shape", torch.Generator().manual_seed(1))
    assert torch.equal(default, shape_augment(x, torch.Generator().manual_seed(1)))


def test_shape_augment_geometry_flip_identity_and_scale():
    x = _disc(2)
    g = torch.Generator().manual_seed(0)
    still = dict(scale=(1.0, 1.0), shift=0.0, degrees=0.0, blur=0.0, p=1.0)
    torch.testing.assert_close(shape_augment(x, g, flip=0.0, **still), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(shape_augment(x, g, flip=1.0, **still), x.flip(3), atol=1e-5, rtol=0)
    # scale 0.5: the disc's area shrinks to about a quarter (the white border continues outside)
    half = shape_augment(x, g, scale=(0.5, 0.5), shift=0.0, degrees=0.0, blur=0.0, flip=0.0, p=1.0)
    area = lambda t: float((t[:, 1] < 0).float().sum())
    assert 0.18 < area(half) / area(x) < 0.32
    # blur only: the disc stays where it is, its edge softens
    soft = shape_augment(x, torch.Generator().manual_seed(3), scale=(1.0, 1.0), shift=0.0, degrees=0.0, flip=0.0, p=1.0)
    assert soft[:, 1].unique().numel() > x[:, 1].unique().numel()
    torch.testing.assert_close(soft.mean(), x.mean(), atol=0.02, rtol=0)
    # p: the share of pictures transformed, the others pass unchanged
    torch.testing.assert_close(shape_augment(x, g, p=0.0), x, atol=1e-5, rtol=0)
    many = _disc(32)
    some = shape_augment(many, torch.Generator().manual_seed(0), p=0.5)
    kept = ((some - many).abs().amax((1, 2, 3)) < 1e-5).sum()
    assert 6 <= kept <= 26


def test_augment_choice_per_data(tmp_path):
    assert set(AUGMENTS) == {"none", "shift", "shape"}
    x = _disc(2)
    assert torch.equal(augment_batch(x, "none", torch.Generator()), x)
    assert augment_batch(x, "shift", torch.Generator().manual_seed(0)).shape == x.shape
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_batch(x, "hue", torch.Generator())
    assert default_augment(DataConfig(name="emoji"), 3) == "shape"
    assert default_augment(DataConfig(name="clipart"), 3) == "shape"
    assert default_augment(DataConfig(name="fashion-mnist"), 1) == "shift"
    assert default_augment(DataConfig(name="digits"), 3) == "shift"  # a grey source converted: still grey shapes
    assert default_augment(DataConfig(name=str(tmp_path)), 3) == "shape"  # a colour folder
    assert default_augment(DataConfig(name=str(tmp_path)), 1) == "shift"
    with pytest.raises(UserError, match="unknown augmentation"):
        train_classifier("digits", augment="hue")


# ---- the emoji extractor ----------------------------------------------------------------------


@pytest.fixture
def excerpt(emoji_list, tmp_path, monkeypatch):
    emoji_list(EXCERPT)
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "emoji-test.txt"


def test_emoji_extractor_says_how_to_train_it(excerpt):
    with pytest.raises(UserError, match=r"ganstudio features train --data emoji") as e:
        get_extractor("emoji")
    assert "\n" not in str(e.value)


def test_emoji_classifier_trains_with_shape_augmentation_and_serves_any_colour_run(excerpt, capsys):
    args = ["features", "train", "--data", "emoji", "--epochs", "2", "--widths", "4,8", "--batch-size", "4"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "shape augmentation" in out
    path = find_classifier("emoji")
    meta = json.loads((path / "meta.json").read_text())
    assert meta["augment"] == "shape" and meta["augment_params"]["scale"] == [0.75, 1.1]  # chosen for colour data
    assert meta["config"]["widths"] == [4, 8] and meta["epochs"] == 2 and meta["config"]["resolution"] == 64
    assert meta["accuracy_split"] == "test" and meta["n_val"] >= 1

    ext = get_extractor("emoji")  # whatever the run's data
    assert ext.name == "classifier-emoji" and ext.input_size == (64, 64) and ext.input_channels == 3
    assert ext.class_names == ("Smileys & Emotion", "Animals & Nature", "Food & Drink")
    for size, channels in ((32, 3), (128, 3), (28, 1)):  # resized to its 64 px, grey repeated to RGB
        f = ext.extract(torch.randint(0, 256, (2, channels, size, size), dtype=torch.uint8))
        assert f.feats.shape == (2, meta["config"]["hidden"]) and f.probs.shape == (2, 3)
    # an emoji run at any size: auto picks the same classifier (trained on the emoji at their native 64 px)
    run_data = DataConfig(name="emoji", resolution=32)
    assert resolve_spec("auto", run_data) == "classifier"
    assert get_extractor("auto", run_data).id == ext.id
    # an emoji run with other options has no classifier of its own: auto takes the emoji one
    assert resolve_spec("auto", DataConfig(name="emoji", background="black")) == "emoji"

    # --augment shift overrides the choice, and is recorded
    assert main([*args, "--augment", "shift", "--force"]) == 0
    assert json.loads((path / "meta.json").read_text())["augment"] == "shift"
