"""Which pictures to train on and how to shape them: ``DataConfig``, and the paired-data spec parser."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import ImageColor

from ..errors import UserError
from .base import check

PAIR_KINDS = ("sketch", "grayscale", "folders")
LABEL_BY = ("group", "subgroup")
MAX_WIDTH = 16  # the widest sketch stroke a spec may ask for, in pixels
TRANSPARENT = "transparent"  # data.background that keeps the pictures' alpha: RGBA, 4 channels


def parse_pairs(spec: str) -> tuple[str, int | None]:
    """``"sketch:2"`` -> ("sketch", 2); ``"grayscale"`` -> ("grayscale", None). One-line UserError otherwise."""
    kind, sep, arg = str(spec).partition(":")
    if kind not in PAIR_KINDS:
        raise UserError(f"data.pairs must be one of {', '.join(PAIR_KINDS)} (or sketch:WIDTH), got {spec!r}")
    if not sep:
        return kind, None
    if kind != "sketch" or not arg.isdigit() or not 1 <= int(arg) <= MAX_WIDTH:
        raise UserError(
            f"data.pairs {spec!r}: only sketch takes a width, a whole number of pixels 1..{MAX_WIDTH} (e.g. sketch:2)"
        )
    return kind, int(arg)


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on and how to shape them.

    name: a dataset name (``ganstudio datasets`` lists them) or a folder path.
    resolution: output side length in pixels; None keeps the source's own.
    channels: 1 (grayscale) or 3 (RGB); None keeps the source's own. 4 (RGBA) only goes with
        ``background="transparent"``, which makes every picture 4 channels anyway.
    limit: keep only the first ``limit`` images after a seeded shuffle (small-data runs).
    fit: how a folder image whose aspect differs from the output's is shaped: ``"crop"`` scales the
        short side to the output and center-crops the rest; ``"pad"`` scales the whole image to fit
        inside the output (aspect kept) and letterboxes it with black.
    flip: horizontal-flip augmentation. Only recorded here: the training loop flips images at batch
        time; no loader (the folder loader included) duplicates images for it.
    labels: folder datasets only: class labels from the names of the folder's first-level
        sub-folders (sorted); every image must then be inside one of them.
    height: output height in pixels for non-square output (width is ``resolution``, e.g. 64 x 48);
        None means square.
    pairs: image-to-image (pix2pix) data: each image becomes the target of an input made from it,
        ``"sketch"`` (strokes drawn from its edges; ``"sketch:W"`` sets the nominal stroke width W px),
        ``"grayscale"`` (colourisation), or ``"folders"`` (``name`` holds ``A/`` inputs and ``B/``
        targets with matching file names). None: plain images. See ``data.pairs``.
    background: the colour transparent pictures (emoji glyphs, clip art, PNGs with alpha) are composited
        on: a CSS colour name or ``#rrggbb``; or ``"transparent"``: keep their alpha, so the pictures are
        RGBA (4 channels, straight alpha; a picture without alpha is opaque) and the model learns, and
        draws, transparent pictures. Only sources that can have alpha take it (emoji, clipart, folders).
    skin_tones, flags: emoji only: keep the skin-tone variants / the flags (both out by default: the
        variants repeat a glyph five times, flags are mostly stripes).
    label_by: emoji only: the classes are Unicode's ``group`` s ("Food & Drink") or ``subgroup`` s
        ("food-fruit").
    clusters: classes made from the pictures themselves: K groups of look (k-means on fixed random-conv
        features, ``data.clusters``), named "cluster 1" (the largest) to "cluster K", which replace any labels
        the source has; ``"auto"`` makes about one group per 45 pictures, and only for data without labels of
        its own (a folder with ``labels``, emoji, clipart keep theirs); None or ``"none"``: no groups.
    """

    name: str = "fashion-mnist"
    split: str = "train"
    resolution: int | None = None
    channels: int | None = None
    limit: int | None = None
    subset_seed: int = 0
    fit: str = "crop"
    flip: bool = False
    labels: bool = False
    height: int | None = None
    pairs: str | None = None
    background: str = "white"
    skin_tones: bool = False
    flags: bool = False
    label_by: str = "group"
    clusters: int | str | None = None

    def __post_init__(self) -> None:
        check(self.split in ("train", "test"), f"data.split must be 'train' or 'test', got {self.split!r}")
        check(
            self.resolution is None or 4 <= self.resolution <= 1024,
            f"data.resolution must be between 4 and 1024, got {self.resolution}",
        )
        check(self.channels in (None, 1, 3, 4), f"data.channels must be 1, 3 or 4, got {self.channels}")
        if self.transparent:
            check(
                self.channels in (None, 4),
                f"data.background=transparent keeps alpha, so the pictures have 4 channels (RGBA), not "
                f"{self.channels}: drop data.channels, or pick a background colour",
            )
            check(
                self.pairs is None,
                "data.background=transparent makes 4-channel (RGBA) pictures, which image-to-image (pix2pix) "
                "pairs do not take: pick a background colour",
            )
        else:
            check(
                self.channels != 4,
                "data.channels=4 (RGBA) needs data.background=transparent (it keeps the pictures' alpha)",
            )
        check(self.limit is None or self.limit > 0, f"data.limit must be positive, got {self.limit}")
        check(self.fit in ("crop", "pad"), f"data.fit must be 'crop' or 'pad', got {self.fit!r}")
        check(isinstance(self.flip, bool), f"data.flip must be true or false, got {self.flip!r}")
        check(isinstance(self.labels, bool), f"data.labels must be true or false, got {self.labels!r}")
        check(
            self.height is None or (isinstance(self.height, int) and 4 <= self.height <= 1024),
            f"data.height must be between 4 and 1024, got {self.height}",
        )
        if self.pairs is not None:
            parse_pairs(self.pairs)  # raises a one-line UserError for a bad spec
        try:
            if not self.transparent:
                ImageColor.getrgb(self.background)
        except (ValueError, AttributeError):
            raise UserError(
                f"data.background must be a colour name, #rrggbb or transparent, got {self.background!r}"
            ) from None
        check(
            isinstance(self.skin_tones, bool) and isinstance(self.flags, bool),
            "data.skin_tones and data.flags must be true or false",
        )
        check(self.label_by in LABEL_BY, f"data.label_by must be one of {', '.join(LABEL_BY)}, got {self.label_by!r}")
        check(
            self.clusters in (None, "none", "auto")
            or (isinstance(self.clusters, int) and not isinstance(self.clusters, bool) and 1 <= self.clusters <= 1000),
            f"data.clusters must be a number of groups 1..1000, auto or none, got {self.clusters!r}",
        )
        if self.clustered and self.clusters != "auto":
            check(
                not self.labels,
                f"data.labels (classes from sub-folders) and data.clusters={self.clusters} (classes from the "
                "pictures' look) both make the classes: drop one",
            )
        if self.clustered:
            check(self.pairs is None, "data.clusters groups plain pictures; image-to-image pairs take no classes")

    @property
    def clustered(self) -> bool:
        """Whether classes may come from groups of look (``clusters`` a number or ``auto``)."""
        return self.clusters not in (None, "none")

    @property
    def transparent(self) -> bool:
        """Whether the pictures keep their alpha (``background="transparent"``): RGBA, 4 channels."""
        return self.background == TRANSPARENT
