"""Runs panel and run picker: the runs, one run's config, its loss curves, latest samples and report pages.

A report page (``RUN/report.html``, ``RUN/robustness.html``: self-contained HTML, inline PNGs and styles) is
served from the run's own folder only, by kind (never a path), under a policy that lets it load nothing, run
no script and reach nothing of the studio (``sandbox``: a page of its own origin)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from .. import schemas as S
from .common import StudioDep

router = APIRouter()
REPORT_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@router.get("/api/runs", summary="The runs in the runs folder, newest first")
def list_all_runs(st: StudioDep) -> list[dict]:
    return st.catalog.summaries()


@router.get("/api/runs/{run}", summary="One run: summary and configuration")
def get_run(run: S.RunName, st: StudioDep) -> dict:
    return st.catalog.detail(run)


@router.get("/api/runs/{run}/metrics", summary="Loss curves (at most 400 points) and the ETA of a training")
def metrics(run: S.RunName, st: StudioDep) -> dict:
    return st.catalog.metrics(run)


@router.get(
    "/api/runs/{run}/samples/latest.png", summary="The run's latest training sample grid", response_class=FileResponse
)
def latest_samples(run: S.RunName, st: StudioDep):
    # no-store: the grid is rewritten in place while the run trains
    return FileResponse(st.catalog.samples(run), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get(
    "/api/runs/{run}/reports/{kind}",
    summary="A report page of the run: evaluation (ganstudio report) or robustness (ganstudio robustness report)",
    response_class=FileResponse,
)
def report(run: S.RunName, kind: str, st: StudioDep):
    return FileResponse(
        st.catalog.report(run, kind),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-cache"},
    )
