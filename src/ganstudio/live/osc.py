"""OSC over UDP: the input server (asyncio, python-osc's parser) and the event output.

Input: every message is parsed with python-osc's ``OscMessage``; bundles are unpacked strictly by
``parse_packet`` (a bundle's time tag is ignored: its messages apply now). Addresses are ``/ganstudio/<control>`` (see ``controls``),
``/ganstudio/<token>/<control>`` when the piece has an access token, plus a mapping's own addresses.
A packet that does not parse, is larger than ``MAX_DATAGRAM``, or carries wrong arguments is counted
(``malformed``) and dropped; a datagram never raises and never waits for the renderer: it only writes
latest-value slots.

Output (``OscOut``): ``/ganstudio/frame <int>``, ``/ganstudio/loop <int>``, ``/ganstudio/scene <str>``,
``/ganstudio/mode <str>`` to one ``HOST:PORT``, from a non-blocking socket (a full buffer drops the
message and counts it, the show goes on).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Sequence
from typing import Any

from ..errors import UserError
from ..webaccess import same
from .bus import Counters
from .mapping import OscBinding
from .sockets import bind

PREFIX = "/ganstudio/"
MAX_DATAGRAM = 8192
MAX_DEPTH = 4  # bundles inside bundles
BUNDLE = b"#bundle\x00"


def parse_packet(data: bytes, message_cls, depth: int = 0) -> list:
    """The messages of one OSC packet: python-osc parses each message; bundles are unpacked here, strictly
    (python-osc's own bundle parser logs and skips a damaged element; here the whole packet is refused).
    Raises ValueError (or python-osc's ParseError) for anything that is not a well-formed packet."""
    if len(data) % 4:
        raise ValueError(f"{len(data)} bytes: an OSC packet is a multiple of 4 bytes")
    if data.startswith(BUNDLE):
        if depth >= MAX_DEPTH:
            raise ValueError(f"bundles nested deeper than {MAX_DEPTH}")
        if len(data) < 16:
            raise ValueError("a bundle without its time tag")
        out, i = [], 16
        while i < len(data):
            if i + 4 > len(data):
                raise ValueError("a bundle element without its size")
            (n,) = struct.unpack(">i", data[i : i + 4])
            i += 4
            if n <= 0 or n % 4 or i + n > len(data):
                raise ValueError(f"a bundle element of impossible size {n}")
            out += parse_packet(data[i : i + n], message_cls, depth + 1)
            i += n
        return out
    if data.startswith(b"/"):
        return [read_message(data, message_cls)]
    raise ValueError("neither an OSC message nor a bundle")


TAGS = frozenset("ihfdsbrmtTFN[]")
FIXED = {"i": 4, "f": 4, "r": 4, "m": 4, "h": 8, "d": 8, "t": 8, "T": 0, "F": 0, "N": 0}


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def read_message(data: bytes, message_cls):
    """One message, parsed by python-osc after its type tags are checked, and refused unless its arguments
    fill the packet exactly (python-osc reads a missing float as 0.0, and logs unknown tags)."""
    end = data.find(b"\x00")
    if end < 0:
        raise ValueError("an address without its terminator")
    at = _pad4(end + 1)
    tags = ""
    if at < len(data):
        close = data.find(b"\x00", at)
        if data[at : at + 1] != b"," or close < 0:
            raise ValueError("type tags must start with ',' and end with a zero byte")
        tags = data[at + 1 : close].decode("ascii")
        if set(tags) - TAGS:
            raise ValueError(f"unsupported type tags {tags!r}")
        at = _pad4(close + 1)
    msg = message_cls(data)
    flat: list = []

    def walk(v):
        for x in v:
            if isinstance(x, list):
                walk(x)
            else:
                flat.append(x)

    walk(msg.params)
    values = iter(flat)
    for t in tags:
        if t in "[]":
            continue
        v = next(values)
        if t in FIXED:
            at += FIXED[t]
        elif t == "s":
            at += _pad4(len(v.encode()) + 1)
        else:  # "b"
            at += 4 + _pad4(len(v))
    if at != len(data):
        raise ValueError("the arguments do not fill the packet")
    return msg


def parse_hostport(text: str, what: str = "--osc-out") -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port), with a one-line error for anything else."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"{what} must be HOST:PORT with a port 1-65535, e.g. 127.0.0.1:9001; got {text!r}")
    return host, int(port)


def bind_udp(host: str, port: int, what: str = "OSC") -> socket.socket:
    """A non-blocking UDP socket bound to (host, port), with room for a burst; errors as ``sockets.bind``."""
    sock = bind(host, port, socket.SOCK_DGRAM, f"{what} port", [(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)])
    sock.setblocking(False)
    return sock


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: OscInput):
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.owner.handle(data)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP errors: nothing to do for a server
        pass


class OscInput:
    def __init__(
        self,
        controls,
        stats: Counters,
        host: str = "127.0.0.1",
        port: int = 9000,
        token: str | None = None,
        bindings: Sequence[OscBinding] = (),
        sock: socket.socket | None = None,
    ):
        try:
            from pythonosc.osc_message import OscMessage
        except ImportError:
            raise UserError("OSC needs python-osc: pip install 'ganstudio[live]'") from None
        self._message = OscMessage
        self.controls, self.stats, self.token = controls, stats, token
        self.bindings = {b.address: b for b in bindings}
        self.sock = sock if sock is not None else bind_udp(host, port)
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.transport: asyncio.DatagramTransport | None = None
        self.packets = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=self.sock)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()

    # ---- one datagram ------------------------------------------------------------------------------
    def handle(self, data: bytes) -> None:
        self.packets += 1
        if len(data) > MAX_DATAGRAM:
            self.stats.add("received")
            self.stats.error("malformed", f"osc: packet of {len(data)} bytes (> {MAX_DATAGRAM})")
            return
        try:
            messages = parse_packet(data, self._message)
        except Exception as e:  # python-osc raises ParseError, but fuzz finds others (struct, unicode, recursion)
            self.stats.add("received")
            self.stats.error("malformed", f"osc: undecodable packet ({type(e).__name__})")
            return
        for msg in messages:
            try:
                self.dispatch(msg.address, list(msg.params))
            except Exception as e:  # never let one message take the server down
                self.stats.add("received")
                self.stats.error("malformed", f"osc: {msg.address}: {type(e).__name__}")

    def dispatch(self, address: str, args: list) -> None:
        control: str | None
        if self.token is not None:  # /ganstudio/<token>/<control> or /ganstudio/<token><a mapping's address>
            head, _, tail = address.removeprefix(PREFIX).partition("/")
            if not address.startswith(PREFIX) or not same(head, self.token):
                self.stats.add("received")
                self.stats.error("refused", "osc: message without the access token")
                return
            key, control = "/" + tail, tail
        else:
            key, control = address, address[len(PREFIX) :] if address.startswith(PREFIX) else None
        binding = self.bindings.get(key)
        if binding is not None:
            try:
                if len(args) != 1:
                    raise ValueError
                u = binding.norm(float(args[0]))
            except (TypeError, ValueError):
                self.stats.add("received")
                self.stats.error("malformed", f"osc: {address[:80]} takes one number")
                return
            self.controls.set_norm(binding.param, u, "osc")
            return
        if control is None:
            self.stats.add("received")
            self.stats.error("unknown", f"osc: unknown address {address[:80]!r} (expected {PREFIX}...)")
            return
        self.controls.handle(control, args, "osc")


class OscOut:
    """Events to ``HOST:PORT`` (see the module docstring)."""

    def __init__(self, target: str, frames: bool = True):
        host, port = parse_hostport(target)
        try:
            from pythonosc.osc_message_builder import OscMessageBuilder
        except ImportError:
            raise UserError("OSC needs python-osc: pip install 'ganstudio[live]'") from None
        self._builder = OscMessageBuilder
        try:
            family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as e:
            raise UserError(f"--osc-out: cannot resolve host {host!r} ({e.strerror})") from None
        self.target = f"{host}:{port}"
        self.addr = addr
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.frames = frames
        self.sent = 0
        self.dropped = 0

    def send(self, address: str, *args: Any) -> None:
        b = self._builder(address)
        for a in args:
            b.add_arg(a)
        try:
            self.sock.sendto(b.build().dgram, self.addr)
            self.sent += 1
        except OSError:  # a full buffer or nobody listening: the show must not wait
            self.dropped += 1

    def events(self, events: Sequence[tuple[str, Any]]) -> None:
        for kind, value in events:
            if kind == "frame" and not self.frames:
                continue
            self.send(PREFIX + kind, value)

    def close(self) -> None:
        self.sock.close()
