"""The studio's door: ``webaccess``'s Host, Origin and access-token checks on every request and WebSocket
handshake, and its safe response headers, with the studio's own cookie and wording.

Refusals of API requests (``/api/...``, ``/openapi.json``) are JSON (``{"detail": ...}``) like the
API's other errors; the page's are plain text naming ``ganstudio studio``'s printed link.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..webaccess import Guard

TOKEN_COOKIE = "ganstudio_token"
JSON_PATHS = ("/api/", "/openapi.json")


def install(app: FastAPI, token: str | None, host: str, extra_hosts: tuple[str, ...] = ()) -> None:
    app.add_middleware(
        Guard,
        token=token,
        host=host,
        cookie=TOKEN_COOKIE,
        command="ganstudio studio",
        extra_hosts=extra_hosts,
        json_paths=JSON_PATHS,
    )
