"""The runs folder's listing, cached: which runs exist, rescanned only when the folder changes.

Every request names its run, and the name is only used once it is found in the listing (a request
never names a path), so the listing is consulted on every slider tick. ``RunIndex`` keeps it and
scans the folder again only when something that decides it has changed: the runs folder's mtime
(a run made by a training job, renamed or deleted) and the mtime of each run-named folder in it (a
new run's ``config.json`` appears after its folder). A scan that follows a change by less than
``RACY_NS`` is not trusted, since a second change within the same file-system clock tick would
leave the mtimes as they were: the next lookup scans again.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from .. import runs
from .errors import NotFound

RACY_NS = 2_000_000_000  # FAT's mtimes are 2 s apart; ext4, tmpfs and APFS are far finer


class RunIndex:
    """The run folders of ``root`` (named ``NNNNN-...`` and holding a ``config.json``, as
    ``runs.list_runs`` finds them), by name, oldest first."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._lock = threading.Lock()
        self._names: tuple[str, ...] = ()
        self._watched: tuple[str, ...] = ()  # every run-named folder, with or without its config.json yet
        self._stamp: tuple | None = None
        self._trusted = False

    def names(self) -> list[str]:
        with self._lock:
            if not self._trusted or self._stamp != self._stamp_of(self._watched):
                self._scan()
            return list(self._names)

    def paths(self) -> list[Path]:
        return [self.root / n for n in self.names()]

    def path(self, name: str) -> Path:
        """A known run's folder; the name must be one of the listed runs (never a path)."""
        if name not in self.names():
            raise NotFound(f"unknown run {name!r}; pick one of the runs listed in the studio")
        return self.root / name

    def _stamp_of(self, names: tuple[str, ...]) -> tuple:
        return _mtime(self.root), tuple(_mtime(self.root / n) for n in names)

    def _scan(self) -> None:
        started = time.time_ns()
        root_mtime = _mtime(self.root)  # read before listing: a change during the scan moves it
        watched, mtimes, names = [], [], []
        if root_mtime is not None and self.root.is_dir():
            with os.scandir(self.root) as entries:
                for e in sorted(entries, key=lambda e: e.name):
                    if not runs.RUN_RE.match(e.name) or not e.is_dir():
                        continue
                    mtime = _mtime(Path(e.path))  # before looking inside, for the same reason
                    watched.append(e.name)
                    mtimes.append(mtime)
                    if (Path(e.path) / "config.json").is_file():
                        names.append(e.name)
        self._names, self._watched = tuple(names), tuple(watched)
        self._stamp = (root_mtime, tuple(mtimes))
        known = [m for m in (root_mtime, *mtimes) if m is not None]
        self._trusted = bool(known) and started - max(known) > RACY_NS


def _mtime(p: Path) -> int | None:
    try:
        return p.stat().st_mtime_ns
    except OSError:
        return None
