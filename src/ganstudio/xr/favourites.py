"""A run's favourites (pictures liked in the studio), read without the studio.

The gallery sits below the studio in the layers, so it reads the studio's likes through
``ganstudio.likes.liked_latents`` (read-only, newest like first, only pictures that have a latent: sketch
translations have none and cannot be remade), as the studio's own exhibition walk does.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from ..errors import UserError
from ..latents import Latent
from ..likes import liked_latents, store_path


def favourites(run_dir: Path, limit: int) -> list[Latent]:
    """Up to ``limit`` liked latents of the run, newest first; [] when the studio never ran there."""
    path = store_path(run_dir.parent)
    try:
        texts = liked_latents(path, run_dir.name, limit)
    except sqlite3.Error as e:
        print(f"warning: cannot read the studio's favourites in {path} ({e}); using samples only", file=sys.stderr)
        return []
    out = []
    for text in texts:
        try:
            out.append(Latent.from_dict(json.loads(text), f"favourite in {path}"))
        except (UserError, json.JSONDecodeError) as e:
            print(f"warning: skipping a favourite: {e}", file=sys.stderr)
    return out
