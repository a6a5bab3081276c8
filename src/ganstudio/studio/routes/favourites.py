"""Favourites panel and the like buttons: rating pictures, the rated pictures, a picture's lineage."""

from __future__ import annotations

from fastapi import APIRouter, Query

from .. import schemas as S
from .common import StudioDep

router = APIRouter()


@router.post("/api/rate", response_model=S.Rated, summary="Like (1), dislike (-1) or clear (0) a picture")
def rate(req: S.RateRequest, st: StudioDep) -> dict:
    return st.gallery.rate(req.run, req.checkpoint, req.value, latent=req.latent, iid=req.id)


@router.get("/api/favourites", response_model=S.FavouritesResponse, summary="Liked (or disliked) pictures")
def favourites(
    st: StudioDep,
    run: S.RunName | None = None,
    value: int = Query(1, ge=-1, le=1),
    limit: int = Query(60, ge=1, le=200),
) -> dict:
    return {"images": st.gallery.favourites(run, value, limit)}


@router.get("/api/lineage/{image}", response_model=S.Lineage, summary="A picture and its known ancestors")
def lineage(image: S.ImageId, st: StudioDep) -> dict:
    return {"nodes": st.gallery.lineage(image)}
