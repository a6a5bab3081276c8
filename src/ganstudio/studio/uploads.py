"""Files sent from the browser, checked before use: training folders (many files) or zips, a picture
to project, a drawing to paint; a MIDI file to play and a sound file to animate to (``check_midi``,
``check_sound``: suffix, size and a full decode, each refused with one line before anything is written).

Every file is decoded with Pillow before it is kept (size read from the header first, so a
decompression bomb is refused before any pixel is decoded); files that are not readable images are
skipped and reported by name. A zip is refused outright when any member's path is absolute or climbs
out (``..``), when it holds too many members, or when its declared or actual uncompressed size (or
its compression ratio) is too large. Kept files get flat, sanitised names inside
``<runs>/.studio/uploads/<id>/``; nothing from the request ever names a path. A drawing (a data: URL)
is refused by its length before it is decoded, then checked like any other picture.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
from PIL import Image

from .. import runs
from ..data.folder import EXTENSIONS, MAX_PIXELS
from ..errors import UserError
from ..media_audio import AUDIO_SUFFIXES
from .errors import NotFound

UPLOAD_RE = re.compile(r"^upload-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 25 * 2**20  # one picture
    max_total_bytes: int = 300 * 2**20  # one upload, decompressed
    max_files: int = 20_000
    max_ratio: float = 200.0  # zip members compressing better than this are bombs
    max_pixels: int = MAX_PIXELS
    max_midi_bytes: int = 2**20  # one MIDI file (a long piano piece is ~100 KB)
    max_sound_bytes: int = 60 * 2**20  # one sound file for an audio-reactive animation
    max_sound_seconds: float = 600.0  # ... and its length


@dataclass
class Report:
    id: str
    images: int = 0
    skipped: list[str] = field(default_factory=list)
    name: str = ""


def uploads_dir(runs_dir: Path) -> Path:
    return Path(runs_dir) / ".studio" / "uploads"


def _safe_name(i: int, name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[:80] or "image"
    return f"{i:05d}-{stem}"


def _check_image(data: bytes, limits: Limits) -> str | None:
    """None when ``data`` is a decodable picture, else the reason it is not."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > limits.max_pixels:
                return f"{w}x{h} pixels is too large"
            im.load()
    except Image.DecompressionBombError:
        return "too many pixels"
    except Exception as e:  # Pillow raises many types on corrupt data
        return type(e).__name__
    return None


def require_picture(data: bytes, limits: Limits, what: str = "that file") -> None:
    why = _check_image(data, limits)
    if why:
        raise UserError(f"{what} is not a readable picture ({why})")


def read_drawing(data_url: str, limits: Limits, what: str = "the drawing") -> Image.Image:
    """A drawing (or another picture: ``what`` names it in errors) sent as a ``data:image/...;base64,`` URL (its
    form checked by the request schema), as RGB on white: transparent canvas pixels become paper."""
    b64 = data_url.split(",", 1)[1]
    if len(b64) > 4 * (limits.max_file_bytes // 3 + 2):  # base64 of max_file_bytes, refused undecoded
        raise UserError(f"{what} is larger than {limits.max_file_bytes // 2**20} MB")
    try:
        data = base64.b64decode("".join(b64.split()), validate=True)
    except (ValueError, binascii.Error):
        raise UserError(f"{what} is not valid base64 data") from None
    require_picture(data, limits, what)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return flatten(im)


def flatten(im: Image.Image) -> Image.Image:
    """A picture as RGB on white (transparent pixels become paper)."""
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        paper = Image.new("RGB", im.size, (255, 255, 255))
        paper.paste(im, mask=im.getchannel("A"))
        return paper
    return im.convert("RGB")


MIDI_SUFFIXES = (".mid", ".midi")


def check_midi(name: str, data: bytes, limits: Limits) -> None:
    """A one-line UserError unless ``data`` is a Standard MIDI File (type 0 or 1) within the size limit."""
    if Path(name).suffix.lower() not in MIDI_SUFFIXES:
        raise UserError(f"{name} is not a MIDI file; choose a .mid file")
    if len(data) > limits.max_midi_bytes:
        raise UserError(f"{name} is larger than {limits.max_midi_bytes // 2**10} KB; choose a shorter MIDI file")
    if data[:4] != b"MThd":
        raise UserError(f"{name} is not a Standard MIDI File (no MThd header); export the melody as .mid")
    try:
        import mido
    except ImportError:
        raise UserError("playing MIDI files needs mido: pip install 'ganstudio[audio]'") from None
    try:
        list(mido.MidiFile(file=io.BytesIO(data)))  # merging the tracks also refuses type 2 files
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError, TypeError ...
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"{name} is not a readable MIDI file ({why}); give a Standard MIDI File, type 0 or 1") from None


def check_sound(name: str, data: bytes, limits: Limits) -> float:
    """The length in seconds of an uploaded sound file; a one-line UserError unless it is a WAV, FLAC or OGG
    file that decodes completely, within the size and length limits."""
    suffix = Path(name).suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise UserError(f"{name} is not a sound file; choose a WAV, FLAC or OGG file")
    if len(data) > limits.max_sound_bytes:
        raise UserError(f"{name} is larger than {limits.max_sound_bytes // 2**20} MB; choose a shorter sound file")
    try:
        import soundfile
    except ImportError:
        raise UserError("reading sound needs soundfile: pip install 'ganstudio[audio]'") from None
    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError/TypeError for bad files
        raise UserError(
            f"{name} is not a readable sound file ({type(e).__name__}); give a WAV, FLAC or OGG file"
        ) from None
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if info.frames <= 0 or seconds <= 0:
        raise UserError(f"{name} holds no sound; choose a file with at least one sample")
    if seconds > limits.max_sound_seconds:
        raise UserError(f"{name} lasts {seconds:.0f} s, more than {limits.max_sound_seconds:.0f} s; cut it shorter")
    try:
        wave, _ = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:
        raise UserError(f"{name} is damaged ({type(e).__name__} while decoding); re-export it") from None
    if wave.size == 0 or not bool(np.isfinite(wave).all()):
        raise UserError(f"{name} holds no samples or non-finite ones; re-export it")
    return seconds


def safe_stem(name: str, default: str = "file") -> str:
    """A file name's stem, reduced to letters, digits, dot, dash and underscore (never a path)."""
    base = PurePosixPath(name.replace("\\", "/")).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")[:60] or default


class Collector:
    def __init__(self, runs_dir: Path, limits: Limits = Limits(), name: str = ""):
        self.limits = limits
        self.report = Report(id="upload-" + secrets.token_hex(6), name=name[:100])
        self.tmp = uploads_dir(runs_dir) / f".tmp-{self.report.id}"
        self.final = uploads_dir(runs_dir) / self.report.id
        self.tmp.mkdir(parents=True)
        self.total = 0
        self.count = 0

    def _budget(self, n: int) -> None:
        self.total += n
        self.count += 1
        if self.total > self.limits.max_total_bytes:
            raise UserError(f"upload is larger than {self.limits.max_total_bytes // 2**20} MB; send fewer pictures")
        if self.count > self.limits.max_files:
            raise UserError(f"upload has more than {self.limits.max_files} files; send fewer")

    def add(self, name: str, fileobj: BinaryIO) -> None:
        """One uploaded file: a zip of pictures or a picture (read up to the size limit only)."""
        if name.lower().endswith(".zip"):
            self.add_zip(name, fileobj)
        else:
            self.add_file(name, fileobj.read(self.limits.max_file_bytes + 1))

    def add_file(self, name: str, data: bytes) -> None:
        if Path(name).suffix.lower() not in EXTENSIONS:
            self.report.skipped.append(f"{name} (not a picture file)")
            return
        if len(data) > self.limits.max_file_bytes:
            self.report.skipped.append(f"{name} (larger than {self.limits.max_file_bytes // 2**20} MB)")
            return
        self._budget(len(data))
        why = _check_image(data, self.limits)
        if why:
            self.report.skipped.append(f"{name} ({why})")
            return
        (self.tmp / _safe_name(self.report.images, name)).write_bytes(data)
        self.report.images += 1

    def add_zip(self, name: str, fileobj: BinaryIO) -> None:
        try:
            zf = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, OSError):
            raise UserError(f"{name} is not a readable zip file") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > self.limits.max_files:
                raise UserError(f"{name} holds {len(infos)} files, more than {self.limits.max_files}")
            declared = 0
            for info in infos:
                p = info.filename.replace("\\", "/")
                parts = PurePosixPath(p).parts
                if p.startswith("/") or re.match(r"^[A-Za-z]:", p) or ".." in parts:
                    raise UserError(f"{name} contains an unsafe path ({info.filename!r}); refused")
                declared += info.file_size
                if (
                    info.compress_size
                    and info.file_size / info.compress_size > self.limits.max_ratio
                    and info.file_size > 2**20
                ):
                    raise UserError(
                        f"{name} looks like a zip bomb ({info.filename!r} expands "
                        f"{info.file_size // max(info.compress_size, 1)}x); refused"
                    )
            if declared > self.limits.max_total_bytes:
                raise UserError(
                    f"{name} expands to {declared // 2**20} MB, more than "
                    f"{self.limits.max_total_bytes // 2**20} MB; refused"
                )
            for info in infos:
                parts = PurePosixPath(info.filename.replace("\\", "/")).parts
                if info.is_dir() or any(s.startswith(".") or s == "__MACOSX" for s in parts):
                    continue
                if Path(info.filename).suffix.lower() not in EXTENSIONS:
                    self.report.skipped.append(f"{info.filename} (not a picture file)")
                    continue
                with zf.open(info) as f:  # read at most the limit: never trust the declared size
                    data = f.read(self.limits.max_file_bytes + 1)
                self.add_file(info.filename, data)

    def finish(self) -> Report:
        if not self.report.images:
            self.abort()
            shown = "; ".join(self.report.skipped[:5])
            raise UserError("no usable pictures in the upload" + (f" (skipped: {shown})" if shown else ""))
        runs.atomic_write_json(
            self.tmp / "manifest.json",
            {
                "id": self.report.id,
                "name": self.report.name,
                "images": self.report.images,
                "skipped": self.report.skipped,
                "created": time.time(),
            },
        )
        self.tmp.rename(self.final)
        return self.report

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def list_uploads(runs_dir: Path) -> list[dict]:
    root = uploads_dir(runs_dir)
    out = []
    if root.is_dir():
        for p in sorted(root.iterdir()):
            if UPLOAD_RE.match(p.name) and (p / "manifest.json").is_file():
                try:
                    out.append(json.loads((p / "manifest.json").read_text()))
                except (OSError, json.JSONDecodeError):
                    continue
    return out


def upload_path(runs_dir: Path, upload_id: str) -> Path:
    if not UPLOAD_RE.match(upload_id) or not (uploads_dir(runs_dir) / upload_id / "manifest.json").is_file():
        raise NotFound(f"unknown upload {upload_id!r}; upload the pictures again")
    return uploads_dir(runs_dir) / upload_id


def upload_info(runs_dir: Path, upload_id: str) -> dict:
    """An upload's manifest (id, name, images, skipped)."""
    try:
        return json.loads((upload_path(runs_dir, upload_id) / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise NotFound(f"upload {upload_id!r} is damaged; upload the pictures again") from None
