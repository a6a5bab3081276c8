"""The Exhibition panel's show: a run's favourites walked by a live session (``ganstudio.live``), so the
panel's camera, OSC (``ganstudio studio --osc-port``) and any other input move the same live parameters.

``Exhibitions.open(run, checkpoint)`` gives the ``LiveSession`` of that checkpoint: made, and its frame
loop started, for the first page that watches it, shared by the others; ``leave(session)`` when a page
goes, and the last one out stops it (nothing renders while nobody watches). Its walk goes through the
run's newest favourites, topped up with seeds (``Gallery.walk_keys``), as they were when it was made;
its parameters start as an exhibition (``MAPPING``: the ``drift`` path through the keyframes at
``SPEED`` a minute) and it has no attract mode (it is one). Scenes are the run's live scenes
(``RUN/live/scenes``), shared with ``ganstudio live``.

OSC: the studio binds one UDP socket on 127.0.0.1 when it starts; the first show made while no other
show holds it listens on it (a duplicate of the socket) until that show stops.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from ..live import LiveSession
from ..live.mapping import Mapping, ParamOverride
from ..live.params import PATHS
from .engine import Engine
from .gallery import Gallery

FPS = 15.0
SPEED = 10.0  # keyframes a minute at rest: about 6 s from one favourite to the next
MAPPING = Mapping(
    params={"path": ParamOverride(default=float(PATHS.index("drift"))), "speed": ParamOverride(default=SPEED)}
)


class Exhibitions:
    def __init__(self, engine: Engine, gallery: Gallery, osc_sock: socket.socket | None = None):
        self.engine = engine
        self.gallery = gallery
        self.osc_sock = osc_sock
        self._lock = threading.Lock()  # held while a show is made: opening is rare, and never races
        self._shows: dict[tuple[str, int], LiveSession] = {}
        self._watchers: dict[int, int] = {}  # id(session) -> pages watching it
        self._osc_owner: LiveSession | None = None

    def open(self, run: str, checkpoint: str = "latest") -> LiveSession:
        """The running show of ``run``'s checkpoint, made when nobody watches it yet (blocks while it loads)."""
        step = self.engine.checkpoint(run, checkpoint).step
        with self._lock:
            session = self._shows.get((run, step))
            if session is None:
                session = self._make(run, step)
                self._shows[(run, step)] = session
            self._watchers[id(session)] = self._watchers.get(id(session), 0) + 1
            return session

    def _make(self, run: str, step: int) -> LiveSession:
        keys = self.engine.latents(run, str(step), self.gallery.walk_keys(run))
        osc = None
        if self.osc_sock is not None and self._osc_owner is None:
            _drain(self.osc_sock)  # what arrived while no show listened is stale
            osc = self.osc_sock.dup()
        try:
            session = LiveSession(
                self.engine.index.path(run),
                checkpoint=str(step),
                keys=keys,
                mapping=MAPPING,
                fps=FPS,
                attract_after=0,
                osc_sock=osc,
            )
        except BaseException:
            if osc is not None:
                osc.close()
            raise
        try:
            session.start()
        except BaseException:
            session.stop()
            raise
        if osc is not None:
            self._osc_owner = session
        return session

    def leave(self, session: LiveSession) -> None:
        """A page stopped watching ``session``; the last one out stops it."""
        with self._lock:
            left = self._watchers.get(id(session), 0) - 1
            if left > 0:
                self._watchers[id(session)] = left
                return
            session.stop()
            self._watchers.pop(id(session), None)
            self._shows = {k: s for k, s in self._shows.items() if s is not session}
            if self._osc_owner is session:
                self._osc_owner = None

    def close(self) -> None:
        """Stop every show (the studio is closing)."""
        with self._lock:
            shows, self._shows, self._watchers, self._osc_owner = list(self._shows.values()), {}, {}, None
        for s in shows:
            s.stop()


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # BlockingIOError: nothing (more) waiting
        while True:
            sock.recv(65536, getattr(socket, "MSG_DONTWAIT", 0))
