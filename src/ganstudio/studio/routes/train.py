"""Train panel: datasets and uploads to train on, starting and resuming trainings, watching jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...errors import UserError
from .. import schemas as S
from ..jobs import training_choices
from ..uploads import Collector
from .common import StudioDep, multipart_body, read_form

router = APIRouter()


@router.get("/api/datasets", summary="Named datasets and uploaded picture folders to train on")
def datasets(st: StudioDep) -> dict:
    return training_choices(st.runs_dir)


@router.post(
    "/api/uploads",
    response_model=S.UploadReport,
    summary="Upload training pictures (files or a zip)",
    openapi_extra=multipart_body(
        ["files"],
        {
            "name": {"type": "string", "maxLength": 100},
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        },
    ),
)
async def upload(request: Request, st: StudioDep) -> dict:
    form = await read_form(request, st.limits, max_files=st.limits.max_files)
    files = [f for f in form.getlist("files") if not isinstance(f, str)]
    if not files:
        raise UserError("no files in the upload; choose a folder or a zip of pictures")
    name = form.get("name")
    col = Collector(st.runs_dir, st.limits, name if isinstance(name, str) else "")
    try:
        for f in files:  # decoding every picture is CPU work: off the event loop
            await run_in_threadpool(col.add, f.filename or "file", f.file)
        rep = col.finish()
    except BaseException:
        col.abort()
        raise
    return {"id": rep.id, "name": rep.name, "images": rep.images, "skipped": rep.skipped}


@router.post("/api/train", response_model=S.Job, summary="Start training a new run in its own process")
def start_training(req: S.TrainRequest, st: StudioDep) -> dict:
    return st.jobs.train(
        req.data,
        req.preset,
        req.minutes,
        steps=req.steps,
        batch_size=req.batch_size,
        resolution=req.resolution,
        init_from=req.init_from,
        clusters=req.clusters,
    )


@router.post("/api/train/resume", response_model=S.Job, summary="Continue a run for a few more minutes")
def resume_training(req: S.ResumeRequest, st: StudioDep) -> dict:
    return st.jobs.resume(req.run, req.minutes)


@router.get("/api/jobs", response_model=list[S.Job], summary="Training jobs, newest first")
def jobs(st: StudioDep) -> list[dict]:
    return st.jobs.refresh()


@router.get("/api/jobs/{job}", response_model=S.Job, summary="One training job, with the end of its log")
def job(job: S.TaskId, st: StudioDep) -> dict:
    return {**st.jobs.get(job), "log": st.jobs.log_tail(job, 2000)}


@router.post("/api/jobs/{job}/stop", response_model=S.Job, summary="Stop a training (it saves a checkpoint)")
def stop(job: S.TaskId, st: StudioDep) -> dict:
    return st.jobs.stop(job)
