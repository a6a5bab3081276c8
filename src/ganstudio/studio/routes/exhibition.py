"""Exhibition panel: the run's favourites walked by a live session, over a WebSocket (``exhibition``).

``/api/exhibition?run=RUN&checkpoint=latest`` speaks the live page's protocol (``live.server.stream``):
a ``hello`` text message (the live parameters, scenes, where OSC listens), then binary frames (header +
PNG), the newest whenever the page is ready; the page sends ``{"set": {control: value}}`` in the live
control grammar (the camera's walk speed and steering). A run that cannot be shown answers
``{"type": "error", "detail": ...}`` and closes.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool

from ...errors import UserError
from ...live.server import stream
from ..state import Studio

router = APIRouter()


@router.websocket("/api/exhibition")
async def exhibition(ws: WebSocket, run: str, checkpoint: str = "latest") -> None:
    st: Studio = ws.app.state.studio
    await ws.accept()
    try:
        with anyio.CancelScope(shield=True):  # a show made is always left, even when the server cancels us
            session = await run_in_threadpool(st.exhibitions.open, run, checkpoint)
    except UserError as e:
        await ws.send_json({"type": "error", "detail": str(e)})
        await ws.close()
        return
    try:
        await stream(ws, session)
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(st.exhibitions.leave, session)
