"""The studio's web app: a JSON API (documented at /openapi.json) and the static page.

``create_app(runs_dir)`` assembles it: the shared ``state.Studio``, the security middleware
(``security``), the error handlers (``errors``), one router per panel (``routes``) and the static
files; ``serve(...)`` runs it with uvicorn.
"""

from __future__ import annotations

import mimetypes
import secrets
import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .. import __version__
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
) -> FastAPI:
    """The studio app over ``runs_dir``. Requests must name this host (or a loopback name, or one of
    ``extra_hosts``) in their Host header; with ``token`` every request must carry it."""
    app = FastAPI(
        title="ganstudio studio",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="The web studio's JSON API: runs, generation, exploration, breeding, "
        "animation, favourites, exhibition and training jobs.",
    )
    app.state.studio = Studio(Path(runs_dir), limits or Limits())
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
) -> None:
    """Run the studio with uvicorn until Ctrl-C. A non-loopback host requires a token (one is made)."""
    import uvicorn

    if not security.is_loopback(host) and token is None:
        token = secrets.token_urlsafe(18)
    app = create_app(runs_dir, token=token, host=host)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown if ':' not in shown else '[' + shown + ']'}:{port}/" + (f"?token={token}" if token else "")
    print(
        f"ganstudio studio: {url}  (runs: {Path(runs_dir).resolve()}; Ctrl-C stops the studio, not the trainings)",
        flush=True,
    )
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
