"""Frames on their way out: one binary WebSocket message per frame, and the hub that hands out the latest.

A message is ``[4-byte big-endian header length][header: UTF-8 JSON][picture: PNG]``; the header says
the frame number, mode, scene, the count of inputs applied so far and the parameter values, so a page
or a test can tell which input a frame shows.

``FrameHub`` keeps only the latest message. Each WebSocket client waits on its own asyncio event and
sends the newest message when it is ready, so a slow client skips frames instead of queueing them, and
the frame loop never waits for anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import struct
import threading
from typing import Any

import numpy as np
from PIL import Image

MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W, C) uint8 -> PNG bytes (fast compression: the page is on this machine or its network)."""
    buf = io.BytesIO()
    a = image[..., 0] if image.shape[-1] == 1 else image
    Image.fromarray(a, MODES[image.shape[-1]]).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode(header: dict[str, Any], picture: bytes) -> bytes:
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(h)) + h + picture


def decode(message: bytes) -> tuple[dict[str, Any], bytes]:
    """The inverse of ``encode`` (for tests and benchmarks)."""
    (n,) = struct.unpack(">I", message[:4])
    return json.loads(message[4 : 4 + n]), message[4 + n :]


class Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.event = asyncio.Event()
        self.seen = 0

    def wake(self) -> None:
        if self.event.is_set():  # already woken: no need to queue another callback on its loop
            return
        with contextlib.suppress(RuntimeError):  # its event loop has closed; it will be unsubscribed
            self.loop.call_soon_threadsafe(self.event.set)


class FrameHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[Subscriber] = set()
        self.latest: bytes | None = None
        self.seq = 0

    @property
    def wanted(self) -> bool:
        return bool(self._subs)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscriber:
        sub = Subscriber(loop)
        with self._lock:
            self._subs.add(sub)
            if self.latest is not None:
                sub.event.set()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, message: bytes) -> None:
        with self._lock:
            self.latest = message
            self.seq += 1
            subs = list(self._subs)
        for s in subs:
            s.wake()

    async def next(self, sub: Subscriber) -> bytes:
        """The newest message this subscriber has not had yet (waits for one)."""
        while True:
            await sub.event.wait()
            sub.event.clear()
            with self._lock:
                msg, seq = self.latest, self.seq
            if msg is not None and seq != sub.seen:
                sub.seen = seq
                return msg
