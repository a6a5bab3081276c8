"""The XR galleries (``ganstudio exhibit RUN... --xr --out <runs>/galleries/NAME``) served by the studio at
``/xr/NAME/``: their static files as they are, with a Content-Security-Policy that lets onnxruntime-web compile
its WebAssembly (the studio's own pages need no such thing), and ``/api/xr`` listing them."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from ... import webaccess
from ..errors import NotFound
from .common import StudioDep

GALLERIES = "galleries"  # <runs>/galleries/NAME/ (run listings skip it: it is no run folder)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# the studio's policy, plus WebAssembly compilation (onnxruntime-web) and the gallery's module worker
CSP = webaccess.CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'") + "; worker-src 'self'"

router = APIRouter()


def _galleries(st) -> Path:
    return st.runs_dir / GALLERIES


@router.get("/api/xr", summary="The XR galleries this studio serves (built into <runs>/galleries/)")
def galleries(st: StudioDep) -> dict:
    root = _galleries(st)
    names = sorted(p.name for p in root.iterdir() if (p / "gallery.json").is_file()) if root.is_dir() else []
    return {"galleries": [{"name": n, "url": f"/xr/{n}/"} for n in names]}


@router.get("/xr/{name}", include_in_schema=False)
def gallery_root(name: str) -> RedirectResponse:
    return RedirectResponse(f"/xr/{name}/", status_code=307)


@router.get("/xr/{name}/{path:path}", include_in_schema=False)
def gallery_file(name: str, path: str, st: StudioDep) -> FileResponse:
    root = (_galleries(st) / name).resolve()
    if not NAME.match(name) or not (root / "gallery.json").is_file():
        raise NotFound(
            f"no gallery {name!r}: build one with `ganstudio exhibit RUN --xr --out {_galleries(st)}/{name}`"
        )
    file = (root / (path or "index.html")).resolve()
    if not file.is_relative_to(root) or not file.is_file():
        raise NotFound(f"gallery {name} has no {path!r}")
    media = "application/wasm" if file.suffix == ".wasm" else None
    return FileResponse(file, media_type=media, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})
