"""The live output page: a full-screen canvas fed with frames over a WebSocket, served from this machine.

Routes: ``/`` the page, ``/static/*`` its script and style (nothing from another origin), ``/api/status``
(JSON: frame, mode, counters), ``/api/latent`` (the latent JSON of the frame shown last: save it and
``ganstudio generate RUN --from`` remakes that frame), ``/ws`` the WebSocket. On the WebSocket the server first sends one text
message ``{"type": "hello", "params": [...], "scenes": [...], "controls": [...]}`` and then binary frames
(``frames``: header + PNG), the newest one whenever the client is ready. The page sends text messages
``{"set": {"<control>": value, ...}}`` in the grammar of ``controls`` (``"truncation": 0.7``,
``"dir/0/norm": 0.5``, ``"scene": "calm"``, ``"learn": "dir/1"``); anything else is counted and dropped.
Access rules (``ganstudio.webaccess``, the studio's): Host and Origin checks always, a token off loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path
from typing import Any

from .. import webaccess
from .controls import Controls
from .sockets import bind

STATIC = Path(__file__).parent / "static"
MAX_MESSAGE = 65536
TOKEN_COOKIE = "ganstudio_live_token"
CONTROLS = ("scene", "scene/save", "class", "prompt", "negative", "negative/weight", "attract", "learn")


def create_app(session, host: str = "127.0.0.1", token: str | None = None):
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket

    async def page(request):
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def status(request):
        return JSONResponse(session.status())

    async def latent(request):
        frame = session.last_frame
        if frame is None:
            return JSONResponse({"detail": "no frame yet; try again in a moment"}, status_code=409)
        return JSONResponse(frame.latent.to_dict(), headers={"cache-control": "no-store"})

    async def ws_endpoint(ws: WebSocket) -> None:
        await ws.accept()
        await stream(ws, session)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/status", status),
            Route("/api/latent", latent),
            WebSocketRoute("/ws", ws_endpoint),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.add_middleware(webaccess.Guard, token=token, host=host, cookie=TOKEN_COOKIE, command="ganstudio live")
    return app


async def stream(ws, session) -> None:
    """Serve one accepted WebSocket (Starlette's) until it closes: the hello, then the newest frame whenever
    the client is ready, while its messages go to the session's controls (``handle_message``). The studio's
    exhibition route uses it too."""
    from starlette.websockets import WebSocketDisconnect

    await ws.send_text(json.dumps(hello(session)))
    hub = session.hub
    sub = hub.subscribe(asyncio.get_running_loop())

    async def sender() -> None:
        while True:
            await ws.send_bytes(await hub.next(sub))

    send_task = asyncio.create_task(sender())
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            handle_message(session.controls, msg.get("text"), msg.get("bytes"))
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)
        send_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await send_task


def hello(session) -> dict[str, Any]:
    state = session.show.state
    return {
        "type": "hello",
        "run": session.run_dir.name,
        "params": session.registry.describe(dict(state.targets)),
        "scenes": session.scenes.names(),
        "controls": list(CONTROLS),
        "classes": list(session.pipe.class_names),
        "reads_text": bool(getattr(session.pipe, "reads_text", False)),
        "midi": session.midi is not None,
        "osc": session.osc_address,
    }


def handle_message(controls: Controls, text: str | None, data: bytes | None) -> None:
    """One message from the page: ``{"set": {control: value, ...}}``; anything else is counted and dropped."""
    stats = controls.bus.stats
    if text is None or len(text) > MAX_MESSAGE:
        stats.add("received")
        stats.error("malformed", "page: expected a JSON text message")
        return
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        stats.add("received")
        stats.error("malformed", "page: not JSON")
        return
    if not isinstance(msg, dict) or set(msg) != {"set"} or not isinstance(msg["set"], dict):
        stats.add("received")
        stats.error("malformed", 'page: expected {"set": {control: value}}')
        return
    for control, value in msg["set"].items():
        controls.handle(control, [value], "page")


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket for the page; a port in use is a one-line UserError (before anything starts)."""
    sock = bind(host, port, socket.SOCK_STREAM, "--port", [(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)], listen=64)
    sock.set_inheritable(True)
    return sock


def make_server(session, host: str = "127.0.0.1", token: str | None = None):
    """A uvicorn server for the page (``.run(sockets=[sock])``; ``should_exit = True`` stops it)."""
    import uvicorn

    config = uvicorn.Config(
        create_app(session, host, token),
        log_level="warning",
        ws_max_size=MAX_MESSAGE,
        timeout_graceful_shutdown=1,
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve(session, sock: socket.socket, host: str = "127.0.0.1", token: str | None = None) -> None:
    """Serve the page on an already bound socket until Ctrl-C."""
    make_server(session, host, token).run(sockets=[sock])
