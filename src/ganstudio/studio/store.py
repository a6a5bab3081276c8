"""The studio's memory: pictures, favourites, likes, lineage and training jobs.

A picture is stored by id with its run and either its latent (the ``ganstudio.latents.Latent``
JSON; its id is the latent's own content hash, so lineage follows ``Latent.parents``) or, for
sketch translations (``kind`` "translate"), its PNG bytes. Direction names live in the run's
directions file (``creative.directions.set_names``), not here; the old ``directions`` table stays
for databases made by earlier studios.

One SQLite file, ``<runs>/.studio/studio.sqlite3`` (``ganstudio.likes.store_path``; ``ganstudio.likes``
reads a run's likes for the layers below the studio), in WAL mode so that several tabs (and several
studio processes) can read while one writes. Every operation opens its own short connection with a
busy timeout: no connection is shared between threads, and a crash mid-write rolls back.
Stored values are JSON text; nothing is ever pickled.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import likes

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, run TEXT NOT NULL, latent TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ratings (
    image_id TEXT PRIMARY KEY REFERENCES images(id), value INTEGER NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS directions (
    run TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (run, idx));
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, run TEXT, pid INTEGER, status TEXT NOT NULL,
    created REAL NOT NULL, info TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS images_run ON images(run);
"""


def image_id(run: str, latent: dict) -> str:
    """A stable id for an image: a ``Latent``'s own id, else (records of earlier studios) the hash of
    its run and its canonical JSON."""
    if latent.get("format") and isinstance(latent.get("id"), str):
        return latent["id"]
    blob = json.dumps({"run": run, "latent": latent}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            cols = {r["name"] for r in db.execute("PRAGMA table_info(images)")}
            if "kind" not in cols:  # databases of earlier studios
                db.execute("ALTER TABLE images ADD COLUMN kind TEXT NOT NULL DEFAULT 'latent'")
            if "png" not in cols:
                db.execute("ALTER TABLE images ADD COLUMN png BLOB")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA busy_timeout=15000")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ---- images and ratings ------------------------------------------------------------------
    def add_image(self, run: str, latent: dict) -> str:
        iid = image_id(run, latent)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO images (id, run, latent, created) VALUES (?, ?, ?, ?)",
                (iid, run, json.dumps(latent, sort_keys=True), time.time()),
            )
        return iid

    def add_picture(self, iid: str, run: str, png: bytes, kind: str = "translate") -> str:
        """A picture without a latent (a sketch translation), kept as PNG bytes."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO images (id, run, latent, created, kind, png) VALUES (?, ?, 'null', ?, ?, ?)",
                (iid, run, time.time(), kind, png),
            )
        return iid

    def rate_id(self, iid: str, value: int) -> dict | None:
        """Rate a stored picture by id; None when there is no such picture."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM images WHERE id = ?", (iid,)).fetchone() is None:
                return None
            self._set_rating(db, iid, value)
        return self.get_image(iid)

    @staticmethod
    def _set_rating(db: sqlite3.Connection, iid: str, value: int) -> None:
        if value == 0:
            db.execute("DELETE FROM ratings WHERE image_id = ?", (iid,))
        else:
            db.execute(
                "INSERT INTO ratings (image_id, value, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(image_id) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (iid, value, time.time()),
            )

    def get_image(self, iid: str) -> dict | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT i.*, r.value AS rating FROM images i LEFT JOIN ratings r ON r.image_id = i.id WHERE i.id = ?",
                (iid,),
            ).fetchone()
        return _image(row) if row else None

    def rate(self, run: str, latent: dict, value: int) -> dict:
        """Like (1), dislike (-1) or clear (0) an image; returns the stored image."""
        iid = image_id(run, latent)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO images (id, run, latent, created) VALUES (?, ?, ?, ?)",
                (iid, run, json.dumps(latent, sort_keys=True), time.time()),
            )
            self._set_rating(db, iid, value)
        return self.get_image(iid)  # type: ignore[return-value]

    def rated(self, run: str | None = None, value: int | None = 1, limit: int = 500) -> list[dict]:
        """Rated images, newest first; ``value`` 1 = favourites, -1 = dislikes, None = both."""
        q = "SELECT i.*, r.value AS rating FROM images i JOIN ratings r ON r.image_id = i.id WHERE 1=1"
        args: list[Any] = []
        if run is not None:
            q += " AND i.run = ?"
            args.append(run)
        if value is not None:
            q += " AND r.value = ?"
            args.append(value)
        q += " ORDER BY r.updated DESC LIMIT ?"
        args.append(limit)
        with self._connect() as db:
            return [_image(r) for r in db.execute(q, args).fetchall()]

    def liked_latents(self, run: str, limit: int) -> list[dict]:
        """The latents (JSON) of up to ``limit`` liked pictures of ``run``, newest like first, pictures without a
        latent left out: ``ganstudio.likes.liked_latents``, the read the XR gallery shares."""
        return [json.loads(text) for text in likes.liked_latents(self.path, run, limit)]

    def lineage(self, iid: str, max_nodes: int = 200) -> list[dict]:
        """The image and its known ancestors (breadth first), each with its parents' ids."""
        out: list[dict] = []
        seen: set[str] = set()
        queue = [iid]
        while queue and len(out) < max_nodes:
            cur = queue.pop(0)
            if cur in seen:
                continue
            seen.add(cur)
            img = self.get_image(cur)
            if img is None:
                continue
            out.append(img)
            queue.extend((img["latent"] or {}).get("parents") or [])
        return out

    # ---- direction names ---------------------------------------------------------------------
    def direction_names(self, run: str) -> dict[int, str]:
        with self._connect() as db:
            return {r["idx"]: r["name"] for r in db.execute("SELECT idx, name FROM directions WHERE run = ?", (run,))}

    def name_direction(self, run: str, idx: int, name: str) -> None:
        with self._tx() as db:
            if name:
                db.execute(
                    "INSERT INTO directions (run, idx, name) VALUES (?, ?, ?) "
                    "ON CONFLICT(run, idx) DO UPDATE SET name = excluded.name",
                    (run, idx, name),
                )
            else:
                db.execute("DELETE FROM directions WHERE run = ? AND idx = ?", (run, idx))

    # ---- jobs ----------------------------------------------------------------------------------
    def put_job(self, job: dict) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, run, pid, status, created, info) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET run = excluded.run, pid = excluded.pid, "
                "status = excluded.status, info = excluded.info",
                (
                    job["id"],
                    job["kind"],
                    job.get("run"),
                    job.get("pid"),
                    job["status"],
                    job.get("created", time.time()),
                    json.dumps(job.get("info", {}), sort_keys=True),
                ),
            )

    def jobs(self, status: str | None = None) -> list[dict]:
        q, args = "SELECT * FROM jobs", []
        if status is not None:
            q += " WHERE status = ?"
            args.append(status)
        with self._connect() as db:
            rows = db.execute(q + " ORDER BY created DESC LIMIT 200", args).fetchall()
        return [{**dict(r), "info": json.loads(r["info"])} for r in rows]

    def job(self, jid: str) -> dict | None:
        with self._connect() as db:
            r = db.execute("SELECT * FROM jobs WHERE id = ?", (jid,)).fetchone()
        return {**dict(r), "info": json.loads(r["info"])} if r else None


def _image(row: sqlite3.Row) -> dict:
    keys = row.keys()
    return {
        "id": row["id"],
        "run": row["run"],
        "latent": json.loads(row["latent"]),
        "created": row["created"],
        "rating": row["rating"] or 0,
        "kind": row["kind"] if "kind" in keys and row["kind"] else "latent",
        "png": row["png"] if "png" in keys else None,
    }
