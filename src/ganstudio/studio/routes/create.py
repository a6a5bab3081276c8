"""Create panel: pictures from seeds, a class or a text prompt; PNG downloads; more like the favourites."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ...media import to_pils
from .. import schemas as S
from ..engine import png_bytes
from ..uploads import read_drawing
from .common import StudioDep

router = APIRouter()


@router.post("/api/generate", response_model=S.Pictures, summary="Random or seeded pictures, or from a text prompt")
def generate(req: S.GenerateRequest, st: StudioDep) -> dict:
    over = read_drawing(req.over, st.limits, "the picture to draw over") if req.over else None
    r = st.engine.generate(
        req.run,
        req.checkpoint,
        req.n,
        req.seed,
        req.truncation,
        req.class_,
        req.prompt,
        req.anchor,
        over,
        req.over_strength,
        req.negative,
        req.negative_weight,
    )
    return st.gallery.pictures(req.run, r)


@router.post(
    "/api/render",
    summary="One picture as a PNG download (its latent JSON embedded as text)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def render(req: S.RenderRequest, st: StudioDep):
    r = st.engine.images(req.run, req.checkpoint, [req.latent])
    lat = r.lats[0]
    data = png_bytes(to_pils(r.images)[0], latent=lat.to_dict(), size=req.size)
    return Response(
        data, media_type="image/png", headers={"Content-Disposition": f'attachment; filename="{req.run}-{lat.id}.png"'}
    )


@router.post("/api/more-like", response_model=S.Pictures, summary="More pictures like the run's favourites")
def more_like(req: S.MoreLikeRequest, st: StudioDep) -> dict:
    r = st.gallery.more_like(req.run, req.checkpoint, req.n, req.seed, req.diversity)
    return st.gallery.pictures(req.run, r)
