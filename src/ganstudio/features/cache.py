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

import numpy as np
import torch

from ..cache import cache_root, discard, read_npz, write_npz

CACHE_VERSION = 1


def features_root() -> Path:
    return cache_root() / "features"


def reference_root() -> Path:
    return features_root() / "reference"


def cached_models(prefix: str, data_key: str) -> list[tuple[dict, dict]]:
    """Per cached model folder ``features_root()/<prefix>*`` whose meta.json reads (sorted): its listing row
    (path, the ``data_key`` of its data, accuracy and split) and its meta."""
    root = features_root()
    out = []
    for p in sorted(root.glob(f"{prefix}*")) if root.is_dir() else []:
        try:
            meta = json.loads((p / "meta.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        row = {
            "path": str(p),
            "data": meta.get("data", {}).get(data_key),
            "accuracy": meta.get("accuracy"),
            "accuracy_split": meta.get("accuracy_split"),
        }
        out.append((row, meta))
    return out


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


def save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write arrays + JSON meta atomically; a failure to write only warns (the cache is an optimisation)."""
    write_npz(
        path, {**arrays, "__meta__": np.array(json.dumps({**meta, "cache_version": CACHE_VERSION}))}, "evaluation cache"
    )


def load_npz(path: Path, expect: dict | None = None) -> tuple[dict[str, np.ndarray], dict] | None:
    """(arrays, meta) from a cache file, or None when missing, unreadable or when ``meta`` does not
    contain every item of ``expect`` (the entry is then deleted)."""
    arrays = read_npz(path)
    if arrays is None:
        return None
    try:
        meta = json.loads(str(arrays.pop("__meta__")[()]))
        if meta.get("cache_version") == CACHE_VERSION and all(meta.get(k) == v for k, v in (expect or {}).items()):
            return arrays, meta
    except (KeyError, ValueError):  # another version's fields
        pass
    discard(path)
    return None
