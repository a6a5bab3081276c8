"""Sketch panel (image-to-image pix2pix runs): what a run expects, and painting a drawing."""

from __future__ import annotations

import time

from fastapi import APIRouter

from .. import schemas as S
from ..gallery import data_url
from ..uploads import read_drawing
from .common import StudioDep

router = APIRouter()


@router.get(
    "/api/runs/{run}/translator",
    response_model=S.TranslatorInfo,
    summary="What a pix2pix run expects: resolution, stroke width, kind of input",
)
def translator_info(run: S.RunName, st: StudioDep, checkpoint: S.Checkpoint = "latest") -> dict:
    return st.engine.translator_info(run, checkpoint)


@router.post("/api/translate", response_model=S.TranslateResponse, summary="Paint a drawing with a pix2pix run")
def translate(req: S.TranslateRequest, st: StudioDep) -> dict:
    t = time.perf_counter()
    drawing = read_drawing(req.image, st.limits)
    iid, png = st.gallery.translate(req.run, req.checkpoint, drawing)
    return {
        "seq": req.seq,
        "id": iid,
        "run": req.run,
        "image": data_url(png),
        "ms": round(1000 * (time.perf_counter() - t), 2),
    }
