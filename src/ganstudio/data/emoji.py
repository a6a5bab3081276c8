"""``emoji``: Debian's Noto Color Emoji glyphs rendered as colour pictures, labelled by Unicode group.

Sources (both from Debian, installed by ``make`` when missing):
  * the font: ``fonts-noto-color-emoji`` (``NotoColorEmoji.ttf``, a bitmap-in-font (CBDT) face that
    Pillow draws in colour at its one native size, 109 px, with ``embedded_color=True``);
  * the names: ``unicode-data``'s ``emoji/emoji-test.txt``: every fully-qualified emoji with its
    group ("Food & Drink"), subgroup ("food-fruit") and name ("red apple").

Each glyph is drawn at 109 px, cropped to its ink, centred on a square with a 6 % margin, resized
once (Lanczos, on premultiplied alpha so edges do not fringe) to the requested size and composited
on ``data.background``, or, with ``data.background="transparent"``, kept as RGBA (straight alpha: 0
around the glyph). Labels are the groups (``data.label_by="group"``, 8 classes without flags) or
the subgroups; every picture keeps its name as a caption. Skin-tone variants and flags are out
unless ``data.skin_tones`` / ``data.flags`` say otherwise. A fixed tenth of the emoji (by a hash of
the code points, the same on every machine) is the ``test`` split. Rendered sets are cached under
``<cache_root()>/emoji/`` keyed by the font, the list, the options and the size.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageColor, ImageDraw, ImageFont

from ..cache import cache_root, key_of, read_npz, write_npz
from ..config.data import TRANSPARENT, DataConfig
from ..errors import UserError
from .base import ImageDataset

FONT_PATHS = (Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"),)
LIST_PATHS = (Path("/usr/share/unicode/emoji/emoji-test.txt"), Path("/usr/share/unicode-data/emoji/emoji-test.txt"))
NATIVE_SIZE = 109  # the only size the CBDT strikes of Noto Color Emoji come in
MARGIN = 0.06  # of the side, around the glyph's ink
SKIN_TONES = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"}
TEST_EVERY = 10  # one emoji in ten (by code-point hash) is held out
CACHE_VERSION = 1
NATIVE_RESOLUTION = 64  # the default size: the emoji-64 preset, and small enough for a CPU
INSTALL = "install Debian's fonts-noto-color-emoji and unicode-data (`make data` does, as root)"
_LINE = re.compile(r"^\s*([0-9A-F ]+?)\s*;\s*fully-qualified\s*#\s*\S+\s+E\d+\.\d+\s+(.+?)\s*$")


@dataclass(frozen=True)
class Emoji:
    codepoints: tuple[str, ...]  # hex, e.g. ("1F34E",)
    group: str  # "Food & Drink"
    subgroup: str  # "food-fruit"
    name: str  # "red apple"

    @property
    def text(self) -> str:
        return "".join(chr(int(c, 16)) for c in self.codepoints)

    @property
    def held_out(self) -> bool:
        return int(hashlib.sha1(" ".join(self.codepoints).encode()).hexdigest(), 16) % TEST_EVERY == 0


def _find(paths: tuple[Path, ...], env: str) -> Path | None:
    if os.environ.get(env):
        return Path(os.environ[env])
    return next((p for p in paths if p.exists()), None)


def font_path() -> Path | None:
    return _find(FONT_PATHS, "GANSTUDIO_EMOJI_FONT")


def list_path() -> Path | None:
    return _find(LIST_PATHS, "GANSTUDIO_EMOJI_LIST")


def locate() -> str | None:
    """Where the font is, when both it and the emoji list are on this machine."""
    font, names = font_path(), list_path()
    return str(font) if font and font.exists() and names and names.exists() else None


def parse(text: str) -> list[Emoji]:
    """Every fully-qualified emoji of an ``emoji-test.txt``, in the file's order, with its group and subgroup."""
    group = subgroup = ""
    out = []
    for line in text.splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif (m := _LINE.match(line)) is not None:
            out.append(Emoji(tuple(m.group(1).split()), group, subgroup, m.group(2)))
    return out


@lru_cache(maxsize=4)
def _group_of(path: str, mtime_ns: int) -> dict[str, str]:
    """subgroup -> group of the list at ``path`` as it was at ``mtime_ns``: parsed once, not on every call (the
    studio's run listing and every ``--class`` lookup ask)."""
    return {e.subgroup: e.group for e in parse(Path(path).read_text(encoding="utf-8"))}


def group_of_subgroups(subgroups: tuple[str, ...]) -> tuple[str, ...] | None:
    """Each subgroup's group ("food-fruit" -> "Food & Drink") from the installed list, or None when the list is
    absent or a name is not a subgroup there (then the names were not emoji subgroups)."""
    names = list_path()
    if names is None or not names.exists():
        return None
    parent = _group_of(str(names), names.stat().st_mtime_ns)
    if not subgroups or any(s not in parent for s in subgroups):
        return None
    return tuple(parent[s] for s in subgroups)


def select(emoji: list[Emoji], skin_tones: bool = False, flags: bool = False) -> list[Emoji]:
    """Drop the skin-tone variants and the flags unless asked for (and the 'Component' swatches always)."""
    return [
        e
        for e in emoji
        if e.group != "Component"
        and (skin_tones or not SKIN_TONES.intersection(e.codepoints))
        and (flags or e.group != "Flags")
    ]


def render(
    emoji: list[Emoji], size: int, background: str = "white", font: Path | None = None
) -> tuple[np.ndarray, list[int]]:
    """uint8 (N, 3, size, size) pictures of the glyphs the font has, and the indices of those it lacks.

    ``background="transparent"``: (N, 4, size, size) RGBA instead, straight alpha, nothing composited.
    """
    path = font or font_path()
    if path is None or not path.exists():
        raise UserError(f"the Noto Color Emoji font is not installed; {INSTALL}")
    face = ImageFont.truetype(str(path), NATIVE_SIZE)
    keep_alpha = background == TRANSPARENT
    bg = None if keep_alpha else ImageColor.getrgb(background)[:3]
    pictures, missing = [], []
    for i, e in enumerate(emoji):
        canvas = Image.new("RGBA", (NATIVE_SIZE * 3, NATIVE_SIZE * 2), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((NATIVE_SIZE // 2, NATIVE_SIZE // 4), e.text, font=face, embedded_color=True)
        framed = frame(canvas, size, bg)
        if framed is None:  # a newer emoji than this font knows: nothing is drawn
            missing.append(i)
            continue
        pictures.append(framed)
    images = np.stack(pictures) if pictures else np.zeros((0, 4 if keep_alpha else 3, size, size), np.uint8)
    return images, missing


def frame(canvas: Image.Image, size: int, background: tuple[int, ...] | None) -> np.ndarray | None:
    """An RGBA drawing -> uint8 (3, size, size) of its ink centred in a square with a MARGIN, composited on
    ``background`` ((4, size, size) straight alpha when None); None when nothing is drawn. Any emoji picture
    framed this way (another emoji set's PNG too) sits in the picture as the font's glyphs do."""
    box = canvas.getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    side = round(max(glyph.size) / (1 - 2 * MARGIN))
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    small = square.convert("RGBa").resize((size, size), Image.Resampling.LANCZOS).convert("RGBA")
    if background is None:
        return np.asarray(small).transpose(2, 0, 1)
    flat = Image.new("RGB", (size, size), background)
    flat.paste(small, mask=small.getchannel("A"))
    return np.asarray(flat).transpose(2, 0, 1)


def load(cfg: DataConfig, resolution: int | None) -> ImageDataset:
    """The emoji named by ``cfg`` (split, options) at ``resolution`` px (64 when unset), cached after the first render."""
    font, names = font_path(), list_path()
    if font is None or not font.exists():
        raise UserError(f"emoji: the Noto Color Emoji font is not installed; {INSTALL}")
    if names is None or not names.exists():
        raise UserError(f"emoji: the Unicode emoji list (emoji-test.txt) is not installed; {INSTALL}")
    size = resolution or NATIVE_RESOLUTION
    text = names.read_text(encoding="utf-8")
    chosen = [e for e in select(parse(text), cfg.skin_tones, cfg.flags) if e.held_out == (cfg.split == "test")]
    if not chosen:
        raise UserError(f"emoji: {names} lists no emoji for the {cfg.split} split with these options")
    stat = font.stat()
    text_hash = hashlib.sha256(text.encode()).hexdigest()
    key = key_of(
        [
            CACHE_VERSION,
            stat.st_size,
            int(stat.st_mtime),
            text_hash,
            cfg.split,
            cfg.skin_tones,
            cfg.flags,
            cfg.background,
            size,
        ]
    )
    path = cache_root() / "emoji" / f"{key}.npz"
    hit = read_npz(path)
    if hit is not None and {"images", "kept"} <= hit.keys():
        images, kept = hit["images"], hit["kept"]
    else:
        images, missing = render(chosen, size, cfg.background, font)
        lacking = set(missing)
        kept = np.array([i for i in range(len(chosen)) if i not in lacking], np.int64)
        write_npz(path, {"images": images, "kept": kept}, "emoji cache")
    emoji = [chosen[i] for i in kept]
    if not emoji:
        raise UserError(f"emoji: no glyph of {names} could be drawn with {font}")
    by = (lambda e: e.group) if cfg.label_by == "group" else (lambda e: e.subgroup)
    classes = tuple(dict.fromkeys(by(e) for e in emoji))  # in the list's order: Smileys first, as Unicode has it
    index = {c: i for i, c in enumerate(classes)}
    return ImageDataset(
        name="emoji",
        images=torch.from_numpy(np.ascontiguousarray(images)),
        labels=torch.tensor([index[by(e)] for e in emoji], dtype=torch.int64),
        class_names=classes,
        source=f"{font} + {names}",
        captions=tuple(e.name for e in emoji),
    )
