"""Where extractors and reference statistics are cached, and how data is fingerprinted.

    $GANSTUDIO_CACHE/features/classifier-<data>-<hash12>/   model.safetensors + meta.json
    $GANSTUDIO_CACHE/features/reference/<key>.npz            real-data features / statistics

``$GANSTUDIO_CACHE`` defaults to ``~/.cache/ganstudio``. npz files are plain arrays, written
atomically and read with ``allow_pickle=False``; JSON metadata rides along as a 0-d string array.
An unreadable or mismatching cache entry is deleted and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cache import cache_root, write_npz

CACHE_VERSION = 1


def features_root() -> Path:
    return cache_root() / "features"


def reference_root() -> Path:
    return features_root() / "reference"


def data_hash(images: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | None = None) -> str:
    """sha256 (hex) of a dataset's uint8 images (N, C, H, W) and optional labels (N,): shape + bytes."""
    h = hashlib.sha256()
    for name, a in (("images", images), ("labels", labels)):
        if a is None:
            h.update(f"{name}:none|".encode())
            continue
        arr = a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)
        arr = np.ascontiguousarray(arr)
        h.update(f"{name}:{arr.dtype}:{arr.shape}|".encode())
        h.update(arr.data.cast("B"))
    return h.hexdigest()


def key_of(obj: Any) -> str:
    """A short stable hash of a JSON-able object (cache keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]


def save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write arrays + JSON meta atomically; a failure to write only warns (the cache is an optimisation)."""
    write_npz(
        path, {**arrays, "__meta__": np.array(json.dumps({**meta, "cache_version": CACHE_VERSION}))}, "evaluation cache"
    )


def load_npz(path: Path, expect: dict | None = None) -> tuple[dict[str, np.ndarray], dict] | None:
    """(arrays, meta) from a cache file, or None when missing, unreadable or when ``meta`` does not
    contain every item of ``expect`` (the entry is then deleted)."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"][()]))
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
        if meta.get("cache_version") != CACHE_VERSION or any(meta.get(k) != v for k, v in (expect or {}).items()):
            raise ValueError("cache entry does not match")
        return arrays, meta
    except Exception:
        path.unlink(missing_ok=True)
        return None
