"""4-channel (RGBA) models: every noise-to-image family builds, trains a step and previews on transparent
pictures (``data.background="transparent"``); pix2pix refuses RGBA in one clear line."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from ganstudio.config import RunConfig
from ganstudio.errors import UserError
from ganstudio.models import FAMILIES, build
from ganstudio.models.pix2pix import Pix2PixConfig
from ganstudio.training import Trainer, prepare

NOISE_FAMILIES = sorted(n for n, f in FAMILIES.items() if f.task.name == "noise-to-image")


@pytest.fixture(scope="module")
def rgba_folder(tmp_path_factory, make_rgba_folder):
    """Eight 16 px transparent PNGs: a coloured disc each, somewhere on transparent pixels."""
    return make_rgba_folder(tmp_path_factory.mktemp("rgba"), 8, seed=0)


def rgba_config(name: str, folder, steps: int = 1) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": name,
            "data": {"name": str(folder), "resolution": 16, "background": "transparent"},
            "model_config": {} if name == "mlp" else {"g_channels": 8, "d_channels": 8, "max_channels": 16},
            "train": {
                "steps": steps,
                "batch_size": 4,
                "threads": 1,
                "device": "cpu",
                "seed": 5,
                "augment": ["color", "translation", "cutout"],
            },
        }
    )


@pytest.mark.parametrize("name", NOISE_FAMILIES)
def test_family_builds_at_4_channels(name):
    cfg = FAMILIES[name].config_cls(resolution=16, channels=4)
    G, D = build(name, cfg)
    x = G(torch.randn(3, G.z_dim))
    assert x.shape == (3, 4, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (3,)


@pytest.mark.parametrize("name", NOISE_FAMILIES)
def test_family_trains_a_step_on_rgba_and_previews_rgba(name, rgba_folder, tmp_path):
    cfg, ds = prepare(rgba_config(name, rgba_folder))
    assert ds.shape == (4, 16, 16) and cfg.model_config.channels == 4
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    before = [p.detach().clone() for p in t.g_params]
    out = t.train_step()
    assert all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, t.g_params, strict=True))
    preview = t.preview()
    assert preview.images.shape[1:] == (4, 16, 16)
    [png] = t.family.task.write_preview(preview, tmp_path / "preview")
    with Image.open(png) as im:
        assert im.mode == "RGBA" and im.getpixel((0, 0))[3] == 0  # the grid's border: transparent


def test_pix2pix_refuses_rgba_in_one_line():
    with pytest.raises(UserError, match="pix2pix paints 1- or 3-channel pictures, not RGBA") as e:
        Pix2PixConfig(channels=4)
    assert "\n" not in str(e.value)
