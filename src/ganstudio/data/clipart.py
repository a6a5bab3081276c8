"""``clipart``: Debian's Open Clip Art Library pictures (``openclipart-png``) on a background, titles as captions.

About 8,100 transparent PNGs in topic folders (animals, food, people, transportation, ...): each is
composited on ``data.background`` (white by default) and letterboxed in the same colour ("pad": clip art
is a whole object, a crop would cut it), labelled by its topic folder, captioned with a title made from
its file name ("chemistry_flask_matthew__02.png" -> "chemistry flask matthew"). With
``data.background="transparent"`` the pictures keep their alpha (RGBA, letterboxed in transparent
pixels) for a model that draws transparent clip art. The folder loader does
the decoding and caching, so the first load takes a few seconds per thousand pictures and later loads
read the cache. There is no held-out split: ``split="test"`` is refused.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from PIL import ImageColor

from ..config.data import DataConfig
from ..errors import UserError
from . import folder
from .base import ImageDataset

ROOTS = (Path("/usr/share/openclipart/png"),)
NATIVE_RESOLUTION = 64
INSTALL = "install Debian's openclipart-png (`make data` does, as root)"
_NUMBERED = re.compile(r"[_\s-]*\d+$")


def root() -> Path | None:
    return next((r for r in ROOTS if r.is_dir()), None)


def locate() -> str | None:
    found = root()
    return None if found is None else str(found)


def title(rel: str) -> str:
    """A caption from a picture's file name: its stem, underscores as spaces, a trailing number dropped."""
    stem = Path(rel).stem
    words = _NUMBERED.sub("", stem).replace("_", " ").replace("-", " ")
    return " ".join(words.split()) or stem


def load(cfg: DataConfig, resolution: int | None) -> ImageDataset:
    found = root()
    if found is None:
        raise UserError(f"clipart: the Open Clip Art pictures are not installed; {INSTALL}")
    if cfg.split != "train":
        raise UserError("clipart has no held-out split; use data.split=train (or hold pictures out with data.limit)")
    shaped = dataclasses.replace(
        cfg, name=str(found), labels=True, fit="pad", resolution=resolution or NATIVE_RESOLUTION
    )
    bg = (0, 0, 0) if cfg.transparent else ImageColor.getrgb(cfg.background)[:3]  # transparent: the loader keeps alpha
    ds = folder.load(found, shaped, letterbox=(bg[0], bg[1], bg[2]), caption=title)
    return dataclasses.replace(ds, name="clipart", source=f"Open Clip Art Library ({found})")
