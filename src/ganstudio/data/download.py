"""Checksummed downloads into the cache: a file is used only after its SHA-256 matches.

Bytes go to ``<name>.part`` first and are renamed into place only once verified, so a
truncated transfer or a wrong file is removed, never used.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import UserError


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(filename: str, sha256: str, mirrors: list[str], dest_dir: Path, timeout: float = 30.0) -> Path:
    """Download ``filename`` from the first mirror that serves it with the right checksum.

    Raises UserError listing what each mirror did when none succeeds.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    part = dest_dir / (filename + ".part")
    problems = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as f:
                expected = r.headers.get("Content-Length")
                n = 0
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    f.write(chunk)
                    n += len(chunk)
            if expected is not None and n != int(expected):
                raise OSError(f"truncated: got {n} of {expected} bytes")
            got = sha256_file(part)
            if got != sha256:
                raise OSError(f"checksum mismatch (sha256 {got[:12]}..., expected {sha256[:12]}...)")
            os.replace(part, dest)
            return dest
        except (OSError, urllib.error.URLError, ValueError) as e:
            part.unlink(missing_ok=True)
            problems.append(f"{url}: {getattr(e, 'reason', None) or e}")
    raise UserError(f"could not download {filename}: " + "; ".join(problems))
