"""Animate panel: keyframes from text (``ganstudio animate RUN --prompts``), frames of a loop (each with its
latent), rendered GIFs and MP4s, walks that follow an uploaded sound file
(``ganstudio animate RUN --audio``); and frames of the endless walk between favourites over HTTP
(``/api/walk``, for scripts: the Exhibition panel itself is a live show, ``exhibition``)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ...errors import UserError
from .. import schemas as S
from ..engine import png_bytes
from ..gallery import data_url
from ..uploads import check_sound
from .common import StudioDep, multipart_body, read_one_file

router = APIRouter()


@router.post("/api/walk", response_model=S.WalkResponse, summary="Frames of the endless latent walk")
def walk(req: S.WalkRequest, st: StudioDep) -> dict:
    ts = [req.t0 + i * req.dt for i in range(req.count)]
    frames, step, keys, lats = st.gallery.walk(req.run, req.checkpoint, req.keys, ts, req.steer)
    return {
        "run": req.run,
        "step": step,
        "keys": keys,
        "t0": req.t0,
        "dt": req.dt,
        "frames": [data_url(png_bytes(im)) for im in frames],
        "latents": [lat.to_dict() for lat in lats],
    }


@router.post("/api/animate/preview", response_model=S.WalkResponse, summary="Frames of a looping animation")
def animate_preview(req: S.PreviewRequest, st: StudioDep) -> dict:
    ts = [i / req.frames_per_key for i in range(len(req.keys) * req.frames_per_key)]
    frames, step, lats = st.engine.walk(req.run, req.checkpoint, req.keys, ts)
    return {
        "run": req.run,
        "step": step,
        "keys": len(req.keys),
        "t0": 0,
        "dt": 1 / req.frames_per_key,
        "frames": [data_url(png_bytes(im)) for im in frames],
        "latents": [lat.to_dict() for lat in lats],
    }


@router.post(
    "/api/animate/keys",
    response_model=S.Pictures,
    summary="Keyframes from text, one per prompt (ganstudio animate RUN --prompts ...)",
)
def prompt_keys(req: S.PromptKeysRequest, st: StudioDep) -> dict:
    r = st.engine.prompt_keys(
        req.run, req.checkpoint, req.prompts, req.seed, req.truncation, req.negative, req.negative_weight
    )
    return st.gallery.pictures(req.run, r)


@router.post("/api/animations", response_model=S.TaskStatus, summary="Render a looping GIF or MP4")
def animate(req: S.AnimateRequest, st: StudioDep) -> dict:
    return st.animations.start(req.run, req.checkpoint, req.keys, req.frames_per_key, req.format, req.fps, req.size)


@router.post(
    "/api/animations/audio",
    response_model=S.TaskStatus,
    summary="Render a walk that follows a sound file (MP4 with the sound)",
    openapi_extra=multipart_body(
        ["run", "keys", "file"],
        {
            "run": {"type": "string"},
            "checkpoint": {"type": "string"},
            "keys": {"type": "string", "description": "the keyframes as a JSON list of latents"},
            "format": {"type": "string", "enum": ["mp4", "gif"]},
            "fps": {"type": "integer"},
            "size": {"type": "integer"},
            "file": {"type": "string", "format": "binary"},
        },
    ),
)
async def animate_audio(request: Request, st: StudioDep) -> dict:
    f, text = await read_one_file(
        request, st.limits, "the sound file", "send one sound file (WAV, FLAC or OGG) as 'file'"
    )
    fields: dict = dict(text)
    try:
        fields["keys"] = json.loads(fields.get("keys") or "[]")
    except json.JSONDecodeError:
        raise UserError("keys must be a JSON list of latents") from None
    req = S.form_model(S.AudioAnimateForm, fields, "bad animation request")
    data = await f.read(st.limits.max_sound_bytes + 1)
    name = f.filename or "sound.wav"
    seconds = await run_in_threadpool(check_sound, name, data, st.limits)  # decoding: off the event loop
    return await run_in_threadpool(
        st.animations.start_audio,
        req.run,
        req.checkpoint,
        req.keys,
        data,
        Path(name).suffix.lower(),
        seconds,
        req.format,
        req.fps,
        req.size,
    )


@router.get("/api/animations/{task}", response_model=S.TaskStatus, summary="Progress of a render")
def animation_status(task: S.TaskId, st: StudioDep) -> dict:
    return st.animations.get(task)


@router.get("/api/animations/{task}/file", summary="Download a finished render", response_class=FileResponse)
def animation_file(task: S.TaskId, st: StudioDep):
    path, mime = st.animations.file(task)
    return FileResponse(path, media_type=mime, filename=f"ganstudio-{path.name}")
