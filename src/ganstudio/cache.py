"""Where ganstudio keeps what it can rebuild (decoded datasets, sketches, features, downloads), and the
one atomic writer for those cache files.

A cache is an optimisation: a write that fails (read-only or full disk) only warns, and a reader that
finds a damaged entry deletes it and rebuilds. Entries are written to a temporary file beside the
target and renamed into place, so a reader or a ``kill -9`` never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .fsutil import atomic_file


def cache_root() -> Path:
    """``$GANSTUDIO_CACHE``, else ``~/.cache/ganstudio``."""
    return Path(os.environ.get("GANSTUDIO_CACHE", Path.home() / ".cache" / "ganstudio"))


def key_of(obj: Any) -> str:
    """A short stable hash of a JSON-able object (cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]


def read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Every array of a cache file ``write_npz`` wrote, or None when it is missing or unreadable (a damaged
    entry is deleted, so the caller rebuilds it). Callers that find an entry stale ``discard`` it."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # f: closed even on errors
            return {k: z[k] for k in z.files}
    except Exception:  # truncated, garbage, not an npz: rebuild
        discard(path)
        return None


def discard(path: Path) -> None:
    """Delete a cache entry that cannot be used (never fatal: it is only an optimisation)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def write_npz(path: Path, arrays: dict[str, np.ndarray], what: str = "cache") -> bool:
    """Write ``arrays`` as one ``.npz`` atomically; on an OSError warn (naming ``what``) and return False.

    Read such files back with ``np.load(path, allow_pickle=False)``: string arrays must be numpy
    ``str_`` arrays (never objects) for that to work.
    """
    try:
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub: a ** dict might hold allow_pickle
    except OSError as e:
        warnings.warn(f"could not write the {what} {path}: {e}", stacklevel=3)
        return False
    return True
