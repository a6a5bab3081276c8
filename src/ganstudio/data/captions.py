"""Captioned pictures: where captions come from, and their sentence embeddings for a text-conditioned run.

A dataset's ``captions[i]`` is one text per picture whose *lines* are that picture's captions (a picture
may have several: "red apple" and "a red apple, fruit"). Sources:

  * a folder with sidecar files: ``cat.png`` + ``cat.txt`` (one caption a line);
  * a folder with a manifest at its top: ``captions.jsonl`` / ``metadata.jsonl`` (one JSON object a line,
    ``{"file": "cat.png", "caption": "a cat"}``; ``file_name`` / ``image`` and ``text`` are accepted too,
    and ``caption`` may be a list) or ``captions.csv`` / ``metadata.csv`` (a header row naming those
    columns). Several rows for one file add captions. A manifest naming files that are not in the folder
    is refused, listing the first few. The manifest wins over sidecars when both exist;
  * emoji: the Unicode name plus keyword phrases from its subgroup (``emoji_captions``);
  * clip art: the title, description and keywords of each drawing's SVG metadata, or the title made from the file
    name when the SVGs are not installed (``data.clipart``).

Pictures without a caption (or with an empty one) are counted in ONE warning; a text-conditioned run
then trains them on the empty caption, which is what "no text" means to it.

``CaptionTable`` (``caption_table(ds, model)``): every caption's embedding (M, D) and, per picture, where
its rows start and how many it has: what training draws one caption per picture from.
"""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import textembed
from ..errors import UserError
from .base import ImageDataset

MANIFESTS = ("captions.jsonl", "metadata.jsonl", "captions.csv", "metadata.csv")
FILE_KEYS = ("file", "file_name", "image", "path")
TEXT_KEYS = ("caption", "text", "captions")
SHOW = 5  # missing files named in an error


def lines(caption: str) -> list[str]:
    """A picture's captions: the non-empty lines of its caption text, stripped."""
    return [s.strip() for s in caption.splitlines() if s.strip()]


def _manifest_rows(path: Path) -> list[tuple[str, list[str]]]:
    """(file, captions) per row of a JSONL or CSV manifest; a damaged one is a UserError naming the line."""
    rows: list[tuple[str, list[str]]] = []
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        records: list[tuple[int, dict]] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}: line {n} is not JSON ({e.msg}); write one object a line") from None
            if not isinstance(rec, dict):
                raise UserError(f'{path}: line {n} is not an object; write {{"file": ..., "caption": ...}}')
            records.append((n, rec))
    else:
        records = list(enumerate(csv.DictReader(text.splitlines()), 2))
    for n, rec in records:
        f = next((rec[k] for k in FILE_KEYS if rec.get(k)), None)
        if not isinstance(f, str):
            raise UserError(f"{path}: row {n} names no file; give a 'file' column (or file_name / image)")
        cap = next((rec[k] for k in TEXT_KEYS if k in rec), "")
        caps = [str(c) for c in cap] if isinstance(cap, list) else [str(cap or "")]
        f = f.replace("\\", "/")
        rows.append((f[2:] if f.startswith("./") else f, caps))
    return rows


class FolderCaptions:
    """``caption(rel) -> text`` for a folder's pictures (their paths relative to the folder), from a manifest
    or sidecars; ``warn()`` afterwards reports, in one warning, the pictures that had none."""

    def __init__(self, root: Path, manifest: Path | None):
        self.root, self.manifest = root, manifest
        self.table: dict[str, list[str]] = {}
        if manifest is not None:
            missing: list[str] = []
            for f, caps in _manifest_rows(manifest):
                if not (root / f).is_file():
                    missing.append(f)
                    continue
                self.table.setdefault(f, []).extend(c for c in caps if c.strip())
            if missing:
                shown = ", ".join(missing[:SHOW]) + (f" and {len(missing) - SHOW} more" if len(missing) > SHOW else "")
                raise UserError(
                    f"{manifest.name} names {len(missing)} picture(s) that are not in {root}: {shown}; "
                    "fix the paths (relative to the folder) or remove those rows"
                )
        self.without: list[str] = []

    def __call__(self, rel: str) -> str:
        if self.manifest is not None:
            caps = self.table.get(rel, [])
        else:
            side = (self.root / rel).with_suffix(".txt")
            caps = lines(side.read_text(encoding="utf-8", errors="replace")) if side.is_file() else []
        if not caps:
            self.without.append(rel)
        return "\n".join(caps)

    def warn(self, total: int) -> None:
        if self.without:
            some = ", ".join(self.without[:SHOW])
            warnings.warn(
                f"{len(self.without)} of {total} pictures in {self.root} have no caption (or an empty one), "
                f"e.g. {some}; a text-conditioned run trains them on the empty caption",
                stacklevel=3,
            )


def find_manifest(root: Path) -> Path | None:
    return next((root / m for m in MANIFESTS if (root / m).is_file()), None)


def folder_captions(root: Path) -> FolderCaptions | None:
    """The folder's caption source, or None when it has neither a manifest nor any sidecar ``.txt``."""
    root = root.expanduser().resolve()
    manifest = find_manifest(root)
    if manifest is None and next(root.rglob("*.txt"), None) is None:
        return None
    return FolderCaptions(root, manifest)


def emoji_captions(name: str, subgroup: str) -> str:
    """An emoji's captions: its name, "a <name>", and a keyword phrase from its subgroup ("food-fruit" ->
    "red apple, fruit food")."""
    words = [w for w in subgroup.replace("&", " ").split("-") if w and w != "other"]
    out = [name, name if name.startswith(("a ", "an ")) else f"a {name}"]
    if words:
        out.append(f"{name}, {' '.join(reversed(words))}")
    return "\n".join(dict.fromkeys(out))


def _emoji_keywords(ds: ImageDataset) -> tuple[str, ...]:
    from . import emoji

    listing = emoji.list_path()
    sub = {e.name: e.subgroup for e in emoji.parse(listing.read_text(encoding="utf-8"))} if listing else {}
    return tuple(emoji_captions(c, sub.get(c, "")) if c in sub else c for c in ds.captions)


# Sources whose one caption per picture (a name) gains keyword captions for text-conditioned training,
# by dataset name: the emoji keep their Unicode names as ``captions`` (what the rest of ganstudio shows).
KEYWORDS = {"emoji": _emoji_keywords}


@dataclass(frozen=True)
class CaptionTable:
    """Every caption of a dataset embedded once.

    ``embeddings`` (M, D) float32 unit rows; ``start`` / ``count`` (N,) int64: picture i's captions are rows
    ``start[i] .. start[i] + count[i] - 1`` (a picture without captions has one row: the empty text);
    ``texts`` the M caption texts; ``shared`` (M,) bool: the row's text also captions another picture (or is
    the empty text), so no single picture is "the picture of that caption"."""

    embeddings: torch.Tensor
    start: torch.Tensor
    count: torch.Tensor
    texts: tuple[str, ...]
    model: str
    shared: torch.Tensor


def all_captions(ds: ImageDataset) -> tuple[str, ...]:
    """Per picture, its caption lines including the source's keyword captions (``KEYWORDS``)."""
    expand = KEYWORDS.get(ds.name)
    return expand(ds) if expand is not None and ds.captions else ds.captions


def caption_table(ds: ImageDataset, model: str = textembed.DEFAULT_MODEL) -> CaptionTable:
    """Embed ``ds``'s captions (``all_captions``) with ``model`` (cached on disk by ``textembed``). A dataset
    without any caption is a UserError: a text-conditioned run needs captioned pictures."""
    if not ds.captions or not any(lines(c) for c in ds.captions):
        raise UserError(
            f"{ds.name} has no captions, and this run reads text: use emoji or clipart, or a folder with "
            "cat.png + cat.txt sidecars or a captions.jsonl manifest"
        )
    texts: list[str] = []
    start, count = [], []
    pictures_of: dict[str, set[int]] = {}
    for i, c in enumerate(all_captions(ds)):
        caps = lines(c) or [""]
        start.append(len(texts))
        count.append(len(caps))
        texts += caps
        for t in caps:
            pictures_of.setdefault(t, set()).add(i)
    emb = torch.from_numpy(textembed.embed(texts, model))
    shared = torch.tensor([not t or len(pictures_of[t]) > 1 for t in texts], dtype=torch.bool)
    return CaptionTable(
        emb, torch.tensor(start, dtype=torch.int64), torch.tensor(count, dtype=torch.int64), tuple(texts), model, shared
    )


def reference_bank(
    ds: ImageDataset, model: str = textembed.DEFAULT_MODEL
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What a retrieving G keeps (``model.retrieve``): its captions' unit embeddings (M, D), the picture of each
    caption row (M,) int64, and the pictures (N, C, H, W) uint8."""
    table = caption_table(ds, model)
    rows = torch.repeat_interleave(torch.arange(len(table.count)), table.count)
    return table.embeddings, rows, ds.images
