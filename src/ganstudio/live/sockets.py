"""Sockets bound before anything starts, so that a port in use or an address that does not resolve is
a one-line ``UserError`` instead of a traceback from a server thread: OSC's UDP socket (``osc``) and the
page's TCP socket (``server``)."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Sequence

from ..errors import UserError


def bind(
    host: str,
    port: int,
    kind: socket.SocketKind,
    what: str,
    options: Sequence[tuple[int, int, int]] = (),
    listen: int | None = None,
) -> socket.socket:
    """A socket of ``kind`` bound to (host, port), with ``options`` set first (best effort) and listening
    when ``listen`` is a backlog; ``what`` names the port in errors ("OSC port", "--port")."""
    try:
        infos = socket.getaddrinfo(host, port, type=kind)
    except socket.gaierror as e:
        raise UserError(f"{what}: cannot resolve host {host!r} ({e.strerror})") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, kind)
    for level, name, value in options:
        with contextlib.suppress(OSError):  # e.g. a buffer size above the kernel's cap
            sock.setsockopt(level, name, value)
    try:
        sock.bind(addr)
        if listen is not None:
            sock.listen(listen)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise UserError(f"{what} {port} on {host} is in use (another ganstudio?); pick another port") from None
        raise UserError(f"{what}: cannot listen on {host}:{port} ({e.strerror})") from None
    return sock
