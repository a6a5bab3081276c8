"""A run's favourites (pictures liked in the studio), read from the studio's store without the studio.

The studio keeps them in ``<runs>/.studio/studio.sqlite3`` (``studio.store``: table ``images`` with the
run's folder name and the ``Latent`` JSON, table ``ratings`` with 1 for a like). The gallery sits below the
studio in the layers, so it reads that file itself: read-only (``mode=ro``), newest like first, and only
pictures that have a latent (sketch translations have none and cannot be remade).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from ..errors import UserError
from ..latents import Latent

QUERY = (
    "SELECT i.latent FROM images i JOIN ratings r ON r.image_id = i.id "
    "WHERE i.run = ? AND r.value = 1 AND i.latent != 'null' ORDER BY r.updated DESC LIMIT ?"
)


def store_path(run_dir: Path) -> Path:
    return run_dir.parent / ".studio" / "studio.sqlite3"


def favourites(run_dir: Path, limit: int) -> list[Latent]:
    """Up to ``limit`` liked latents of the run, newest first; [] when the studio never ran there."""
    path = store_path(run_dir)
    if not path.is_file() or limit <= 0:
        return []
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute(QUERY, (run_dir.name, limit)).fetchall()
        finally:
            db.close()
    except sqlite3.Error as e:
        print(f"warning: cannot read the studio's favourites in {path} ({e}); using samples only", file=sys.stderr)
        return []
    out = []
    for (text,) in rows:
        try:
            out.append(Latent.from_dict(json.loads(text), f"favourite in {path}"))
        except (UserError, json.JSONDecodeError) as e:
            print(f"warning: skipping a favourite: {e}", file=sys.stderr)
    return out
