"""Reader for the IDX format used by MNIST and Fashion-MNIST (raw or gzipped).

Format: 2 zero bytes, a type byte (0x08 = uint8), a dims byte, then one big-endian uint32 per
dimension, then the data. Every failure names the file and says what to do.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import UserError

_UBYTE = 0x08


def read_idx(path: str | Path, expect_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file into a uint8 array of its declared shape.

    Raises UserError (naming ``path``) on a bad magic number, unexpected dimensions,
    a truncated or over-long payload, or a corrupt gzip stream.
    """
    path = Path(path)
    hint = "delete it so that it is found or downloaded again"
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read IDX file {path}: {e.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise UserError(f"IDX file {path} is a corrupt or truncated gzip file; {hint}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE:
        raise UserError(f"{path} is not a uint8 IDX file (bad magic number {raw[:4].hex() or 'empty'}); {hint}")
    ndim = raw[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise UserError(f"IDX file {path} has {ndim} dimensions, expected {expect_ndim} (images 3, labels 1); {hint}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"IDX file {path} is truncated inside its header; {hint}")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    need = int(np.prod(shape, dtype=np.int64))
    have = len(raw) - header
    if have != need:
        what = "truncated" if have < need else "longer than its header says"
        raise UserError(f"IDX file {path} is {what}: header {shape} needs {need} bytes, found {have}; {hint}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array as IDX (gzipped when the name ends in .gz). Used by tests and tools."""
    path = Path(path)
    a = np.ascontiguousarray(array, dtype=np.uint8)
    head = bytes([0, 0, _UBYTE, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    data = head + a.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
