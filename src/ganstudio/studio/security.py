"""The studio's door: Host, Origin and access-token checks on every request, and safe response headers.

- Host: a request must name this server (its ``--host``, a loopback name or one of ``extra_hosts``)
  in its Host header, so a web page elsewhere cannot reach the studio by DNS rebinding. A wildcard
  bind (0.0.0.0, ::) cannot know its own names and accepts any.
- Origin: a request that changes something and comes from another site's page is refused (CSRF).
- Token: with a token (any non-loopback ``--host``) every request must carry it, as the cookie the
  printed ``?token=`` link sets, the ``token`` query parameter or an ``Authorization: Bearer`` header.
- Headers: a strict Content-Security-Policy (nothing from outside the app, no inline script),
  no MIME sniffing, no referrer.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WILDCARD = {"0.0.0.0", "::", ""}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
TOKEN_COOKIE = "ganstudio_token"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'"
)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """The checks above, as a ``BaseHTTPMiddleware`` dispatch function."""

    def __init__(self, token: str | None, host: str, extra_hosts: tuple[str, ...] = ()):
        self.token = token
        self.any_host = host in WILDCARD
        self.allowed_hosts = LOOPBACK | {host} | set(extra_hosts)

    async def __call__(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        if self.token is not None and request.query_params.get("token") and request.url.path == "/":
            # The printed link: keep the token as a cookie and drop it from the address bar and history.
            resp = RedirectResponse("/", status_code=303)
            resp.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return resp
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    def refusal(self, request: Request) -> Response | None:
        """The response refusing ``request``, or None when it may go on."""
        hostname = (urlsplit("//" + request.headers.get("host", "")).hostname or "").lower()
        if not self.any_host and hostname not in self.allowed_hosts:
            return JSONResponse({"detail": f"unexpected Host header {hostname!r}"}, status_code=400)
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
                return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        if self.token is not None and not self.has_token(request):
            if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
                return JSONResponse({"detail": "access token required"}, status_code=401)
            return HTMLResponse(
                "<h1>ganstudio</h1><p>Open the link with <code>?token=</code> that "
                "<code>ganstudio studio</code> printed.</p>",
                status_code=401,
            )
        return None

    def has_token(self, request: Request) -> bool:
        assert self.token is not None
        given = (
            request.cookies.get(TOKEN_COOKIE)
            or request.query_params.get("token")
            or request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        )
        return bool(given) and secrets.compare_digest(given.encode(), self.token.encode())


def install(app: FastAPI, token: str | None, host: str, extra_hosts: tuple[str, ...] = ()) -> None:
    app.add_middleware(BaseHTTPMiddleware, dispatch=Guard(token, host, extra_hosts))
