"""Explore panel: the run's latent directions, naming them, one picture with direction edits."""

from __future__ import annotations

import time

from fastapi import APIRouter

from ...media import to_pils
from .. import schemas as S
from ..engine import png_bytes
from ..gallery import data_url
from .common import StudioDep

router = APIRouter()


@router.get("/api/runs/{run}/directions", response_model=S.Directions, summary="The run's latent directions")
def directions(run: S.RunName, st: StudioDep, checkpoint: S.Checkpoint = "latest") -> dict:
    step, d = st.engine.directions_at(run, checkpoint)
    return {
        "run": run,
        "step": step,
        "file": f"directions/{d.file_name}",
        "ref": d.ref,
        "source": f"{d.method} directions of step {d.step} (directions/{d.file_name})",
        "directions": [
            {
                "index": i,
                "name": d.names.get(i) or f"direction {i + 1}",
                "named": i in d.names,
                "explained": None if d.explained is None else round(float(d.explained[i]), 5),
            }
            for i in range(len(d))
        ],
    }


@router.post(
    "/api/directions/name",
    response_model=S.Direction,
    summary="Name (or un-name) a direction, in the run's directions file (`--edit NAME:+2` uses it)",
)
def name_direction(req: S.NameDirectionRequest, st: StudioDep) -> dict:
    d = st.engine.name_direction(req.run, req.checkpoint, req.index, req.name.strip())
    return {
        "index": req.index,
        "name": d.names.get(req.index) or f"direction {req.index + 1}",
        "named": req.index in d.names,
    }


@router.post("/api/explore", response_model=S.ExploreResponse, summary="One picture with direction edits")
def explore(req: S.ExploreRequest, st: StudioDep) -> dict:
    t = time.perf_counter()
    r = st.engine.images(req.run, req.checkpoint, [req.latent])
    return {
        "seq": req.seq,
        "id": r.lats[0].id,
        "latent": r.lats[0].to_dict(),
        "image": data_url(png_bytes(to_pils(r.images)[0])),
        "ms": round(1000 * (time.perf_counter() - t), 2),
    }
