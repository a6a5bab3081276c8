"""How the studio's errors reach the page: always a JSON ``{"detail": "<one line>"}``, never a traceback.

``UserError`` (bad input, from the library or the studio) is a 400, ``NotFound`` (a run, checkpoint,
picture, job, upload or render that does not exist) a 404, and a request that fails its schema a 422
naming the first few fields that are wrong.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import UserError

MAX_REPORTED = 5  # a fuzzed body can fail on dozens of fields; the first few say what is wrong


class NotFound(UserError):
    """A run, checkpoint, image, job, upload or render that does not exist (HTTP 404)."""


async def user_error(request: Request, exc: UserError) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404 if isinstance(exc, NotFound) else 400)


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    msgs = []
    for e in exc.errors()[:MAX_REPORTED]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        msgs.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
    return JSONResponse({"detail": "; ".join(msgs) or "invalid request"}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(UserError, user_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
