"""Everything the studio's routes share, made once per app: the runs folder and the studio's parts
(and the OSC socket of the exhibition, when the studio listens for OSC)."""

from __future__ import annotations

import socket
from pathlib import Path

from ..likes import store_path
from .catalog import Catalog
from .engine import Engine
from .exhibition import Exhibitions
from .gallery import Gallery
from .jobs import Jobs
from .run_index import RunIndex
from .sound import Sound
from .store import Store
from .tasks import Animations
from .uploads import Limits


class Studio:
    """The parts, each over one runs folder (and its ``.studio/`` data), sharing one run listing."""

    def __init__(self, runs_dir: str | Path, limits: Limits, osc_sock: socket.socket | None = None):
        self.runs_dir = Path(runs_dir).resolve()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits
        self.index = RunIndex(self.runs_dir)
        self.engine = Engine(self.runs_dir, index=self.index)
        self.store = Store(store_path(self.runs_dir))
        self.jobs = Jobs(self.runs_dir, self.store, index=self.index)
        self.catalog = Catalog(self.index, self.jobs)
        self.gallery = Gallery(self.engine, self.store)
        self.animations = Animations(self.engine, self.runs_dir / ".studio" / "renders")
        self.exhibitions = Exhibitions(self.engine, self.gallery, osc_sock)
        self.sound = Sound(self.engine, self.runs_dir / ".studio" / "sound", limits)
