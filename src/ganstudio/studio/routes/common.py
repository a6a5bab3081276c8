"""What every router needs from the request: the app's ``Studio`` and, for uploads, the form (and its
OpenAPI description)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData, UploadFile

from ...errors import UserError
from ..state import Studio
from ..uploads import Limits

FORM_SLACK = 2**20  # multipart headers and boundaries on top of the files themselves
MAX_FORM_FIELDS = 20


async def get_studio(request: Request) -> Studio:
    return request.app.state.studio


StudioDep = Annotated[Studio, Depends(get_studio)]


async def read_form(request: Request, limits: Limits, max_files: int, what: str = "the pictures") -> FormData:
    """A multipart form, refused by its declared length before any of it is read (``what``: what it carries)."""
    length = int(request.headers.get("content-length") or 0)
    if length > limits.max_total_bytes + FORM_SLACK:
        raise HTTPException(413, f"upload is larger than {limits.max_total_bytes // 2**20} MB")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UserError(f"send {what} as multipart/form-data")
    try:
        return await request.form(max_files=max_files, max_fields=MAX_FORM_FIELDS)
    except HTTPException:
        raise
    except Exception as e:  # the multipart parser raises many types on a malformed body
        raise UserError(f"could not read the upload ({e})") from None


async def read_one_file(request: Request, limits: Limits, what: str, missing: str) -> tuple[UploadFile, dict[str, str]]:
    """A multipart form carrying one file as ``file``: (that file, the form's other text fields); ``what``: what
    the file is (as for ``read_form``), ``missing``: the error when there is no file."""
    form = await read_form(request, limits, max_files=1, what=what)
    f = form.get("file")
    if f is None or isinstance(f, str):
        raise UserError(missing)
    return f, {k: v for k, v in form.items() if k != "file" and isinstance(v, str)}


def multipart_body(required: list[str], properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its multipart form itself: the form's fields as the request body."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
