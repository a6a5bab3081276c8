"""The page itself and the health check."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ... import __version__
from .common import StudioDep

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
def index():
    # revalidated on every visit, so that an updated studio's page is never an old cached one
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/api/health", summary="Is the studio up")
def health(st: StudioDep) -> dict:
    # "translate": the Sketch panel's pix2pix support, part of every installation since ganstudio.translate shipped
    return {"ok": True, "version": __version__, "runs_dir": st.runs_dir.name, "translate": True}
