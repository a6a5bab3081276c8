"""Who may reach ganstudio's local web servers (the studio, the live page, their WebSockets): one set of rules.

- Bind: loopback (127.0.0.1) unless asked; any other address needs an access token (``make_token``:
  URL-safe, so it also fits in an OSC address), printed as a ``?token=`` link.
- Host: an HTTP request or WebSocket handshake must name this server in its Host header (its host, a
  loopback name or one of ``extra_hosts``), so a page elsewhere cannot reach it by DNS rebinding. A
  wildcard bind (0.0.0.0, ::) cannot know its own names and accepts any.
- Origin: a WebSocket handshake and any request that changes something must come from this server's
  own page when the browser says where it comes from (CSRF, cross-site WebSocket hijacking).
- Token: with a token every request must carry it: the cookie the printed link sets, the ``token``
  query parameter or an ``Authorization: Bearer`` header.
- Headers: a strict Content-Security-Policy (nothing from another origin, no inline script), no MIME
  sniffing, no referrer.

Each server passes what differs (``Guard``'s keywords): its cookie name, the command that printed the
link (named in the refusal), extra host names, and the paths whose refusals are JSON (``{"detail": ...}``,
for an API's clients) rather than plain text. Standard library only, a pure ASGI middleware: it sits
with the foundations so that ``studio`` and ``live`` both use it.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Iterable
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def needs_token(host: str) -> bool:
    """Whether a server bound to ``host`` must ask for an access token (any non-loopback address)."""
    return not is_loopback(host)


def make_token() -> str:
    """A fresh access token: URL-safe base64 (letters, digits, - and _), so also a valid OSC address part."""
    return secrets.token_urlsafe(18)


def same(given: object, token: str) -> bool:
    """Whether ``given`` is ``token`` (compared in constant time)."""
    return bool(given) and secrets.compare_digest(str(given).encode(), token.encode())


def cookies(header: str) -> dict[str, str]:
    """A Cookie header's values, read as browsers write it (a malformed pair is skipped, not fatal)."""
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            out.setdefault(name.strip(), unquote(value.strip().strip('"')))
    return out


class Guard:
    """Pure ASGI middleware applying the rules above to HTTP requests and WebSocket handshakes.

    ``app.add_middleware(Guard, token=..., host=..., cookie="ganstudio_token", command="ganstudio studio")``."""

    def __init__(
        self,
        app,
        token: str | None,
        host: str,
        *,
        cookie: str,
        command: str,
        extra_hosts: Iterable[str] = (),
        json_paths: tuple[str, ...] = (),
    ):
        self.app = app
        self.token = token
        self.cookie = cookie
        self.command = command
        self.any_host = host in WILDCARD
        self.allowed_hosts = LOOPBACK | {h.lower() for h in (host, *extra_hosts)}
        self.json_paths = json_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        why = self.refusal(scope, headers, query)
        if why is not None:
            status, text = why
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": text})
            else:
                await self._refuse(send, scope.get("path", ""), status, text)
            return
        if scope["type"] == "http" and self.token and query.get("token") and scope.get("path") == "/":
            # The printed link: keep the token as a cookie, drop it from the address bar and the history.
            cookie = f"{self.cookie}={self.token}; HttpOnly; Path=/; SameSite=Strict"
            await _respond(send, 303, [(b"location", b"/"), (b"set-cookie", cookie.encode())], b"")
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *(h for h in HEADERS if h[0] not in have)],
                }
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)

    def refusal(self, scope, headers: dict[str, str], query: dict[str, list[str]]) -> tuple[int, str] | None:
        """(status, reason) refusing the request or handshake, or None when it may go on."""
        host_header = headers.get("host", "")
        hostname = (urlsplit("//" + host_header).hostname or "").lower()
        if not self.any_host and hostname not in self.allowed_hosts:
            return 400, f"unexpected Host header {hostname!r}"
        origin = headers.get("origin")
        changes = scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS
        if changes and origin is not None and urlsplit(origin).netloc != host_header:
            return 403, "cross-site request refused"
        if self.token is not None:
            given = (
                cookies(headers.get("cookie", "")).get(self.cookie)
                or next(iter(query.get("token", [])), None)
                or headers.get("authorization", "").removeprefix("Bearer ").strip()
            )
            if not same(given, self.token):
                return 401, f"access token required: open the link with ?token= that {self.command} printed"
        return None

    async def _refuse(self, send, path: str, status: int, text: str) -> None:
        if self.json_paths and path.startswith(self.json_paths):
            body, kind = json.dumps({"detail": text}).encode(), b"application/json"
        else:
            body, kind = text.encode(), b"text/plain; charset=utf-8"
        await _respond(send, status, [(b"content-type", kind)], body)


async def _respond(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode()), *HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})
