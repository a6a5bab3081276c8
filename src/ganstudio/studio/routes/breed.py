"""Breed panel: children of two or more parents."""

from __future__ import annotations

from fastapi import APIRouter

from .. import schemas as S
from .common import StudioDep

router = APIRouter()


@router.post("/api/breed", response_model=S.Pictures, summary="Children of two or more parents")
def breed(req: S.BreedRequest, st: StudioDep) -> dict:
    r = st.gallery.breed(req.run, req.checkpoint, req.parents, req.n, req.mode, req.mutation, req.seed)
    return st.gallery.pictures(req.run, r)
