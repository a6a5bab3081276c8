"""Animate panel: frames of a loop, rendered GIFs and MP4s; and frames of the endless walk between
favourites over HTTP (``/api/walk``, for scripts: the Exhibition panel itself is a live show, ``exhibition``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from .. import schemas as S
from ..engine import png_bytes
from ..gallery import data_url
from .common import StudioDep

router = APIRouter()


@router.post("/api/walk", response_model=S.WalkResponse, summary="Frames of the endless latent walk")
def walk(req: S.WalkRequest, st: StudioDep) -> dict:
    ts = [req.t0 + i * req.dt for i in range(req.count)]
    frames, step, keys = st.gallery.walk(req.run, req.checkpoint, req.keys, ts, req.steer)
    return {
        "run": req.run,
        "step": step,
        "keys": keys,
        "t0": req.t0,
        "dt": req.dt,
        "frames": [data_url(png_bytes(im)) for im in frames],
    }


@router.post("/api/animate/preview", response_model=S.WalkResponse, summary="Frames of a looping animation")
def animate_preview(req: S.PreviewRequest, st: StudioDep) -> dict:
    ts = [i / req.frames_per_key for i in range(len(req.keys) * req.frames_per_key)]
    frames, step = st.engine.walk(req.run, req.checkpoint, req.keys, ts)
    return {
        "run": req.run,
        "step": step,
        "keys": len(req.keys),
        "t0": 0,
        "dt": 1 / req.frames_per_key,
        "frames": [data_url(png_bytes(im)) for im in frames],
    }


@router.post("/api/animations", response_model=S.TaskStatus, summary="Render a looping GIF or MP4")
def animate(req: S.AnimateRequest, st: StudioDep) -> dict:
    return st.animations.start(req.run, req.checkpoint, req.keys, req.frames_per_key, req.format, req.fps, req.size)


@router.get("/api/animations/{task}", response_model=S.TaskStatus, summary="Progress of a render")
def animation_status(task: S.TaskId, st: StudioDep) -> dict:
    return st.animations.get(task)


@router.get("/api/animations/{task}/file", summary="Download a finished render", response_class=FileResponse)
def animation_file(task: S.TaskId, st: StudioDep):
    path, mime = st.animations.file(task)
    return FileResponse(path, media_type=mime, filename=f"ganstudio-{path.name}")
