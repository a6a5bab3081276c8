"""Sound panel (sound runs): what a run plays, one note as WAV (players, the morph slider, the keyboard),
and a MIDI file played through the instrument (``ganstudio play``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from .. import schemas as S
from .common import StudioDep, multipart_body, read_one_file

router = APIRouter()

WAV: dict[int | str, dict[str, Any]] = {200: {"content": {"audio/wav": {}}, "description": "a mono 16-bit WAV file"}}


@router.get("/api/sound", response_model=S.SoundInfo, summary="What a sound run plays: pitches, sample rate")
def sound_info(run: S.RunName, st: StudioDep, checkpoint: S.Checkpoint = "latest") -> dict:
    return st.sound.info(run, checkpoint)


@router.get(
    "/api/sound/note.wav",
    summary="One note of an instrument (a seed, or a blend of two)",
    responses=WAV,
    response_class=Response,
)
def note(q: Annotated[S.NoteQuery, Query()], st: StudioDep) -> Response:
    data, step = st.sound.note(q.run, q.checkpoint, q.seed, q.blend, q.mix, q.pitch, q.class_, q.velocity)
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "no-cache", "X-Ganstudio-Step": str(step)})


@router.post(
    "/api/sound/play",
    response_model=S.PlayResult,
    summary="Play an uploaded MIDI file through the instrument (ganstudio play)",
    openapi_extra=multipart_body(
        ["run", "file"],
        {
            "run": {"type": "string"},
            "checkpoint": {"type": "string"},
            "seed": {"type": "integer"},
            "blend": {"type": "integer"},
            "mix": {"type": "number"},
            "transpose": {"type": "integer"},
            "file": {"type": "string", "format": "binary"},
        },
    ),
)
async def play(request: Request, st: StudioDep) -> dict:
    f, fields = await read_one_file(request, st.limits, "the MIDI file", "send one MIDI file as 'file'")
    req = S.form_model(S.PlayForm, fields, "bad MIDI request")
    data = await f.read(st.limits.max_midi_bytes + 1)
    name = f.filename or "melody.mid"
    return await run_in_threadpool(  # parsing and rendering: off the event loop
        st.sound.play, req.run, req.checkpoint, name, data, req.seed, req.blend, req.mix, req.transpose
    )


@router.get("/api/sound/renders/{render}", summary="A played melody (WAV)", response_class=FileResponse, responses=WAV)
def melody(render: S.TaskId, st: StudioDep):
    path, name = st.sound.file(render)
    return FileResponse(path, media_type="audio/wav", filename=name)
