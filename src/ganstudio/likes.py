"""The studio's likes, read-only, for every layer: where the studio keeps them and the one query for a run's
liked latents.

The studio (``studio.store.Store``) keeps its memory in ``<runs>/.studio/studio.sqlite3``: table ``images``
(the run's folder name and the ``Latent`` JSON, or ``'null'`` for a picture without one, such as a sketch
translation) and table ``ratings`` (1 for a like, -1 for a dislike). The studio's exhibition walk and the XR
gallery (below the studio in the layers) both read a run's favourites through ``liked_latents``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_LIKED_LATENTS = (
    "SELECT i.latent FROM images i JOIN ratings r ON r.image_id = i.id "
    "WHERE i.run = ? AND r.value = 1 AND i.latent != 'null' ORDER BY r.updated DESC LIMIT ?"
)


def store_path(runs_dir: str | Path) -> Path:
    """The studio's SQLite file for the runs folder ``runs_dir``."""
    return Path(runs_dir) / ".studio" / "studio.sqlite3"


def liked_latents(path: str | Path, run: str, limit: int) -> list[str]:
    """The ``Latent`` JSON texts of up to ``limit`` pictures of ``run`` (a run's folder name) liked in the
    studio's file ``path``, newest like first, leaving out pictures without a latent (they cannot be remade);
    [] when there is no such file. Opens it read-only (``mode=ro``): nothing is created or changed. Raises
    ``sqlite3.Error`` when the file cannot be read."""
    path = Path(path)
    if limit <= 0 or not path.is_file():
        return []
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return [text for (text,) in db.execute(_LIKED_LATENTS, (run, limit)).fetchall()]
    finally:
        db.close()
