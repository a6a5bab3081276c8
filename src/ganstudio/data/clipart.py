"""``clipart``: Debian's Open Clip Art Library pictures (``openclipart-png``) on a background, titles as captions.

About 8,100 transparent PNGs in topic folders (animals, food, people, transportation, ...): each is
composited on ``data.background`` (white by default) and letterboxed in the same colour ("pad": clip art
is a whole object, a crop would cut it), labelled by its topic folder, and captioned from the metadata of its
SVG twin when Debian's ``openclipart-svg`` is installed beside it (``/usr/share/openclipart/svg``: each drawing's
title, description and keywords; ``metadata_captions``), else with a title made from its file name
("chemistry_flask_matthew__02.png" -> "chemistry flask matthew": the file names are cut at 24 characters and end with
the author's name, so those captions are poorer). With
``data.background="transparent"`` the pictures keep their alpha (RGBA, letterboxed in transparent
pixels) for a model that draws transparent clip art. The folder loader does
the decoding and caching, so the first load takes a few seconds per thousand pictures and later loads
read the cache. There is no held-out split: ``split="test"`` is refused.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
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


# ---- captions from the SVG twins' metadata (RDF: a cc:Work with dc:title, dc:description, dc:subject keywords) ----
_WORK = re.compile(r"<cc:Work\b.*?</cc:Work>", re.S)
_AGENT = re.compile(r"<cc:Agent\b.*?</cc:Agent>", re.S)  # publisher / creator / rights: names, not the drawing's
_TITLE = re.compile(r"<dc:title>(.*?)</dc:title>", re.S)
_DESCRIPTION = re.compile(r"<dc:description>(.*?)</dc:description>", re.S)
_KEYWORD = re.compile(r"<rdf:li>(.*?)</rdf:li>", re.S)
_CREATOR = re.compile(r"<dc:creator>.*?<dc:title>(.*?)</dc:title>", re.S)
# A title more drawings than this share names their collection ("Lemon SVG theme" 431 times, "gramastar" 1,375),
# not the drawing: those keep the title made from their file name ("fileprint", "star 63pt11step").
COLLECTION = 20
KEYWORDS = 6  # at most this many in the keyword caption, in the file's order
# keywords that tag the collection, not the drawing ("lemon theme icon", "hash", "unsorted"): dropped when one of
# their words is one of these
_NOT_KEYWORDS = {"hash", "icon", "icons", "theme", "clipart", "openclipart", "svg", "remix", "unsorted"}
DESCRIPTION_MAX = 120  # longer ones are specifications and stories, not captions


@dataclass(frozen=True)
class Metadata:
    title: str
    description: str
    keywords: tuple[str, ...]
    creator: str


def _text(fragment: str) -> str:
    return " ".join(html.unescape(fragment).replace("_", " ").split())


def read_metadata(svg: str) -> Metadata | None:
    """The drawing's own title, description and keywords (and its creator's name) from an SVG's RDF metadata;
    None when it has none."""
    work = _WORK.search(svg)
    if work is None:
        return None
    creator = _CREATOR.search(work.group(0))
    own = _AGENT.sub("", work.group(0))
    found_title, found_description = _TITLE.search(own), _DESCRIPTION.search(own)
    return Metadata(
        title=_text(found_title.group(1)) if found_title else "",
        description=_text(found_description.group(1)) if found_description else "",
        keywords=tuple(k for k in dict.fromkeys(_text(k) for k in _KEYWORD.findall(own)) if k),
        creator=_text(creator.group(1)) if creator else "",
    )


def _own_title(meta: Metadata, shared: int) -> str:
    """The metadata's title without its author ("Clipart by Nicu Buculei - arrow08_4" -> "arrow08 4"); "" when it
    names no drawing: empty, the author's name alone, or a collection's (``shared`` by more than COLLECTION)."""
    t = meta.title
    if shared > COLLECTION:
        return ""
    if meta.creator and meta.creator.lower() in t.lower():
        at = t.lower().index(meta.creator.lower())
        t = (t[:at] + t[at + len(meta.creator) :]).strip(" -:,")
        # "Clipart by X - arrow", "Red fox by X": the "by" that introduced the author goes with it
        t = re.sub(r"^(clip ?art )?by\b|\bby$", "", t, flags=re.I).strip(" -:,")
    return " ".join(_NUMBERED.sub("", t).split())


def _caption(meta: Metadata | None, shared: int, rel: str) -> str:
    """A drawing's captions, one a line: its title; its description when short and plain; its title with its
    keywords ("lighthouse, navigation, boat, house, ...")."""
    if meta is None:
        return title(rel)
    name = _own_title(meta, shared) or title(rel)
    lines = [name]
    d = meta.description
    if d and len(d) <= DESCRIPTION_MAX and "@" not in d and "http" not in d and d.lower() != name.lower():
        lines.append(d)
    skip = {name.lower(), meta.creator.lower()}  # a keyword that repeats the title or names the author
    words = [k for k in meta.keywords if k.lower() not in skip and not _NOT_KEYWORDS & set(k.lower().split())]
    words = words[:KEYWORDS]
    if words:
        lines.append(f"{name}, {', '.join(words)}")
    return "\n".join(lines)


@lru_cache(maxsize=2)
def _metadata_of(svg_root: str, stamp: float) -> dict[str, Metadata | None]:
    """Every SVG's metadata under ``svg_root`` by its path relative to it (without the suffix); read once per
    installed copy (``stamp``: the folder's mtime). The 8,121 drawings take under a second."""
    root = Path(svg_root)
    return {
        p.relative_to(root).with_suffix("").as_posix(): read_metadata(p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted(root.rglob("*.svg"))
    }


def metadata_captions(png_root: Path) -> Callable[[str], str] | None:
    """``caption(rel)`` from the metadata of each PNG's SVG twin (``<png_root>/../svg/<rel>.svg``, Debian's
    ``openclipart-svg``), or None when the twins are not installed."""
    svg_root = png_root.parent / "svg"
    if not svg_root.is_dir():
        return None
    meta = _metadata_of(str(svg_root), svg_root.stat().st_mtime)
    shared = Counter(m.title.lower() for m in meta.values() if m is not None)

    def caption(rel: str) -> str:
        m = meta.get(Path(rel).with_suffix("").as_posix())
        return _caption(m, shared[m.title.lower()] if m is not None else 0, rel)

    return caption


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
    ds = folder.load(found, shaped, letterbox=(bg[0], bg[1], bg[2]), caption=metadata_captions(found) or title)
    return dataclasses.replace(ds, name="clipart", source=f"Open Clip Art Library ({found})")
