"""Atomic file writes shared by every module that saves user-visible files.

Write to a temp file in the same folder, then ``os.replace``: readers (and a kill -9) never see half a
file. Run state (JSON and text: ``atomic_write_text/json``) and exports are also fsynced, so they
survive a power cut; pictures (``atomic_write_bytes``, ``atomic_file`` by default) are not.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_file(path: str | Path, suffix: str | None = None, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write the file to (by any library). On a clean exit the
    file gets a plain ``open()``'s permissions (mkstemp makes 0600) and replaces ``path``; on an error it
    is deleted and ``path`` is untouched. The rename alone means no reader or kill ever sees half a file;
    ``fsync`` also survives a power cut, at ~1 ms+ per file (kept for run state and exports, not for the
    many pictures a generate writes). ``suffix`` (default: ``path``'s) is for libraries that pick the
    format from the name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_file(path, fsync=True) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def file_mode(base: int = 0o666) -> int:
    """The mode a plain open() (base 0o666) or mkdir() (0o777) would give under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
