"""The studio's web app: a JSON API (documented at /openapi.json) and the static page.

``create_app(runs_dir)`` assembles it: the shared ``state.Studio``, the security middleware
(``security``), the error handlers (``errors``), one router per panel (``routes``) and the static
files; ``serve(...)`` runs it with uvicorn (and binds the exhibition's OSC socket when asked).
"""

from __future__ import annotations

import contextlib
import mimetypes
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .. import __version__, webaccess
from . import errors, security
from .routes import ROUTERS
from .routes.page import STATIC
from .state import Studio
from .uploads import Limits

# The page's scripts are ES modules, which browsers refuse unless served with a JavaScript type
# (and the studio sends nosniff); some systems' MIME tables map .js to text/plain.
mimetypes.add_type("text/javascript", ".js")


def create_app(
    runs_dir: str | Path = "runs",
    token: str | None = None,
    host: str = "127.0.0.1",
    limits: Limits | None = None,
    extra_hosts: tuple[str, ...] = (),
    osc_sock: socket.socket | None = None,
) -> FastAPI:
    """The studio app over ``runs_dir``. Requests must name this host (or a loopback name, or one of
    ``extra_hosts``) in their Host header; with ``token`` every request must carry it. ``osc_sock``: a
    bound UDP socket (``live.osc.bind_udp``) whose OSC messages move the Exhibition panel's show."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.studio.exhibitions.close()

    app = FastAPI(
        lifespan=lifespan,
        title="ganstudio studio",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="The web studio's JSON API: runs, generation, exploration, breeding, "
        "animation (audio-reactive too), sound (notes, instrument morph, MIDI), favourites, exhibition and training jobs.",
    )
    app.state.studio = Studio(Path(runs_dir), limits or Limits(), osc_sock)
    app.state.token = token
    security.install(app, token, host, extra_hosts)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(
    runs_dir: str | Path = "runs",
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    open_browser: bool = False,
    osc_port: int | None = None,
) -> None:
    """Run the studio with uvicorn until Ctrl-C. A non-loopback host requires a token (one is made).
    ``osc_port``: listen for OSC on 127.0.0.1 at that port (0: any free one) for the Exhibition panel."""
    import uvicorn

    if webaccess.needs_token(host) and token is None:
        token = webaccess.make_token()
    osc_sock = None
    if osc_port is not None:
        from ..live.osc import bind_udp

        osc_sock = bind_udp("127.0.0.1", osc_port)
    app = create_app(runs_dir, token=token, host=host, osc_sock=osc_sock)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown if ':' not in shown else '[' + shown + ']'}:{port}/" + (f"?token={token}" if token else "")
    print(
        f"ganstudio studio: {url}  (runs: {Path(runs_dir).resolve()}; Ctrl-C stops the studio, not the trainings)",
        flush=True,
    )
    if osc_sock is not None:
        print(
            "  OSC in:  udp {}:{}  /ganstudio/<param> value  (the Exhibition panel's show)".format(
                *osc_sock.getsockname()[:2]
            )
        )
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if osc_sock is not None:
            osc_sock.close()
