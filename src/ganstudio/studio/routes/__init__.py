"""The studio's HTTP API, one router per panel. A route only translates HTTP: it parses the request
(``schemas``), calls one function of the studio's library side and shapes the response.

Endpoints are plain ``def`` functions, so FastAPI runs them in its thread pool: image generation
never blocks the event loop, and each model has its own lock (see ``engine.Engine``). Only the
multipart uploads are ``async``, to read the request body, and the exhibition's WebSocket, which
loads its show in the thread pool.
"""

from __future__ import annotations

from . import animate, breed, create, exhibition, explore, favourites, page, project, runs, sketch, sound, train, xr

ROUTERS = [
    page.router,
    runs.router,
    create.router,
    explore.router,
    favourites.router,
    breed.router,
    project.router,
    sketch.router,
    animate.router,
    sound.router,
    exhibition.router,
    train.router,
    xr.router,
]

__all__ = ["ROUTERS"]
