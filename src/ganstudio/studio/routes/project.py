"""Breed panel's "your own picture": find the latent of an uploaded picture (projection)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ...errors import UserError
from .. import schemas as S
from ..state import Studio
from ..uploads import require_picture
from .common import StudioDep, multipart_body, read_form

router = APIRouter()


@router.post(
    "/api/project",
    response_model=S.Pictures,
    summary="Find the latent of an uploaded picture",
    openapi_extra=multipart_body(
        ["run", "file"],
        {
            "run": {"type": "string"},
            "checkpoint": {"type": "string"},
            "file": {"type": "string", "format": "binary"},
        },
    ),
)
async def project(request: Request, st: StudioDep) -> dict:
    form = await read_form(request, st.limits, max_files=1)
    run, ckpt, f = form.get("run"), form.get("checkpoint") or "latest", form.get("file")
    if not isinstance(run, str) or not isinstance(ckpt, str) or f is None or isinstance(f, str):
        raise UserError("send a run name and one picture file")
    try:
        ref = S.ModelRef(run=run, checkpoint=ckpt)
    except ValidationError:
        raise UserError("bad run or checkpoint name") from None
    data = await f.read(st.limits.max_file_bytes + 1)
    if len(data) > st.limits.max_file_bytes:
        raise UserError(f"picture is larger than {st.limits.max_file_bytes // 2**20} MB")
    return await run_in_threadpool(_project, st, ref, data)  # decoding and projecting: off the event loop


def _project(st: Studio, ref: S.ModelRef, data: bytes) -> dict:
    require_picture(data, st.limits, "that file")
    return st.gallery.pictures(ref.run, st.gallery.project(ref.run, ref.checkpoint, data))
