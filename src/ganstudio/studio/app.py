"""The studio's web app: a JSON API (documented at /openapi.json) and the static page.

``create_app(runs_dir)`` builds it; ``serve(...)`` runs it with uvicorn. Endpoints are plain ``def``
functions, so FastAPI runs them in its thread pool: image generation never blocks the event loop,
and each model has its own lock (see ``engine.Engine``). Bad input gets a 4xx with one clear line.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import ipaddress
import math
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import torch
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.concurrency import run_in_threadpool

from .. import __version__, runs
from .. import latents as L
from ..errors import UserError
from . import creative_bridge as cb
from . import schemas as S
from ..media import to_pils
from .engine import Engine, NotFound, png_bytes, translate_available
from .jobs import Jobs
from .store import Store
from .uploads import Collector, Limits, _check_image, list_uploads, upload_path

STATIC = Path(__file__).parent / "static"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TOKEN_COOKIE = "ganstudio_token"
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'self'")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def flatten(im: Image.Image) -> Image.Image:
    """A drawing as RGB on white (transparent canvas pixels become paper)."""
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        paper = Image.new("RGB", im.size, (255, 255, 255))
        paper.paste(im, mask=im.getchannel("A"))
        return paper
    return im.convert("RGB")


class Studio:
    """Everything the endpoints share: runs folder, model cache, database, jobs, renders."""

    MAX_RECENT_TRANSLATIONS = 64

    def __init__(self, runs_dir: Path, limits: Limits):
        self.runs_dir = Path(runs_dir).resolve()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.engine = Engine(self.runs_dir)
        self.store = Store(self.runs_dir / ".studio" / "studio.sqlite3")
        self.jobs = Jobs(self.runs_dir, self.store)
        self.limits = limits
        self.renders_dir = self.runs_dir / ".studio" / "renders"
        self.tasks: dict[str, dict] = {}
        self.tasks_lock = threading.Lock()
        self.translations: dict[str, tuple[str, bytes]] = {}  # recent sketch results, stored once liked

    def remember_translation(self, iid: str, run: str, png: bytes) -> None:
        with self.tasks_lock:
            self.translations.pop(iid, None)
            self.translations[iid] = (run, png)
            while len(self.translations) > self.MAX_RECENT_TRANSLATIONS:
                self.translations.pop(next(iter(self.translations)))

    def pictures(self, run: str, lats: list, images, step: int, note: str | None = None) -> dict:
        """The response for rendered latents: each picture with its Latent JSON and stored rating."""
        pics = []
        for lat, im in zip(lats, to_pils(images)):
            img = self.store.get_image(lat.id)
            pics.append({"id": lat.id, "latent": lat.to_dict(), "image": data_url(png_bytes(im)),
                         "rating": img["rating"] if img else 0, "kind": "latent", "run": run})
        return {"run": run, "step": step, "images": pics, "note": note}

    def stored_pictures(self, items: list[dict], keep_ids: bool = False) -> list[dict]:
        """Pictures for stored items, in order: latents rendered at their own checkpoint (or the
        latest when it is gone), sketch translations from their PNG. Unrenderable ones are left out."""
        out: dict[str, dict] = {}
        groups: dict[tuple[str, str], list[dict]] = {}
        for it in items:
            if it["latent"] is None:
                if it.get("png"):
                    out[it["id"]] = {"id": it["id"], "latent": None, "image": data_url(it["png"]),
                                     "rating": it["rating"], "kind": it.get("kind") or "translate", "run": it["run"]}
                continue
            step = it["latent"].get("step")
            ckpt = "latest"
            if isinstance(step, int):
                try:
                    if runs.find_checkpoint(self.runs_dir / it["run"], step) is not None:
                        ckpt = str(step)
                except UserError:
                    pass
            groups.setdefault((it["run"], ckpt), []).append(it)
        for (run, ckpt), group in groups.items():
            try:
                images, lats, _ = self.engine.images(run, ckpt, [g["latent"] for g in group], restamp=ckpt == "latest")
            except UserError:
                continue
            for it, lat, im in zip(group, lats, to_pils(images)):
                out[it["id"]] = {"id": it["id"] if keep_ids else lat.id, "latent": lat.to_dict(),
                                 "image": data_url(png_bytes(im)), "rating": it["rating"], "kind": "latent", "run": run}
        return [out[it["id"]] for it in items if it["id"] in out]


def create_app(runs_dir: str | Path = "runs", token: str | None = None, host: str = "127.0.0.1",
               limits: Limits = Limits(), extra_hosts: tuple[str, ...] = ()) -> FastAPI:
    """The studio app over ``runs_dir``. Requests must name this host (or a loopback name, or one of
    ``extra_hosts``) in their Host header; with ``token`` every request must carry it."""
    st = Studio(Path(runs_dir), limits)
    wildcard = host in ("0.0.0.0", "::", "")
    allowed_hosts = LOOPBACK | {host} | set(extra_hosts)
    app = FastAPI(title="ganstudio studio", version=__version__, docs_url=None, redoc_url=None,
                  description="The web studio's JSON API: runs, generation, exploration, breeding, "
                              "animation, favourites, exhibition and training jobs.")
    app.state.studio = st
    app.state.token = token

    # ---- safety: Host, Origin, token, headers ----------------------------------------------------
    @app.middleware("http")
    async def guard(request: Request, call_next):
        hostname = (urlsplit("//" + request.headers.get("host", "")).hostname or "").lower()
        if not wildcard and hostname not in allowed_hosts:
            return JSONResponse({"detail": f"unexpected Host header {hostname!r}"}, status_code=400)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
                return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        if token is not None:
            given = request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or \
                request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not given or not secrets.compare_digest(given.encode(), token.encode()):
                if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
                    return JSONResponse({"detail": "access token required"}, status_code=401)
                return HTMLResponse("<h1>ganstudio</h1><p>Open the link with <code>?token=</code> that "
                                    "<code>ganstudio studio</code> printed.</p>", status_code=401)
            if request.query_params.get("token") and request.url.path == "/":
                resp = RedirectResponse("/", status_code=303)
                resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return resp
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return JSONResponse({"detail": str(exc)}, status_code=404 if isinstance(exc, NotFound) else 400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        msgs = []
        for e in exc.errors()[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            msgs.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse({"detail": "; ".join(msgs) or "invalid request"}, status_code=422)

    # ---- page --------------------------------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/health", summary="Is the studio up")
    def health() -> dict:
        return {"ok": True, "version": __version__, "runs_dir": st.runs_dir.name,
                "translate": translate_available()}

    # ---- runs ----------------------------------------------------------------------------------------
    def run_summary(p: Path, jobs: list[dict]) -> dict:
        try:
            cfg = runs.read_config_dict(p)
        except UserError:
            cfg = {}
        mc = cfg.get("model_config") or {}
        ckpts = [int(c.name) for c in runs.list_checkpoints(p)]
        job = next((j for j in jobs if j["run"] == p.name and j["status"] in ("running", "stopping")), None)
        return {"name": p.name, "model": cfg.get("model"), "data": Path(str(cfg.get("data", {}).get("name", ""))).name,
                "resolution": mc.get("resolution"), "channels": mc.get("channels"),
                "classes": list(cfg.get("class_names") or []) if mc.get("num_classes") else [], "checkpoints": ckpts,
                "step": ckpts[-1] if ckpts else None, "has_samples": (p / "samples" / "latest.png").is_file(),
                "training": job["id"] if job else None, "init_from": cfg.get("init_from") and Path(cfg["init_from"]).name,
                "sketch": cfg.get("model") == "pix2pix"}

    @app.get("/api/runs", summary="The runs in the runs folder, newest first")
    def list_all_runs() -> list[dict]:
        jobs = st.jobs.refresh()
        return [run_summary(p, jobs) for p in reversed(runs.list_runs(st.runs_dir))]

    @app.get("/api/runs/{run}", summary="One run: summary and configuration")
    def get_run(run: S.RunName) -> dict:
        p = st.engine.run_dir(run)
        return {**run_summary(p, st.jobs.refresh()), "config": runs.read_config_dict(p)}

    @app.get("/api/runs/{run}/metrics", summary="Loss curves (at most 400 points) and the ETA of a training")
    def metrics(run: S.RunName) -> dict:
        p = st.engine.run_dir(run)
        rows = runs.read_metrics(p)
        every = max(1, math.ceil(len(rows) / 400))
        keep = rows[::every] + ([rows[-1]] if rows and (len(rows) - 1) % every else [])
        slim = [{k: r.get(k) for k in ("step", "epoch", "d_loss", "g_loss", "wall_s", "images_per_s")} for r in keep]
        job = st.jobs.running_for(run)
        return {"run": run, "rows": slim, "eta_s": eta(p, rows, job), "job": job and job["id"],
                "last": rows[-1] if rows else None}

    def eta(p: Path, rows: list[dict], job: dict | None) -> float | None:
        if job is None:
            return None
        cands = []
        info = job["info"]
        if info.get("minutes"):
            cands.append(info["started"] + 60 * info["minutes"] - time.time())
        try:
            t = runs.read_config_dict(p).get("train", {})
        except UserError:
            t = {}
        if len(rows) >= 2:
            a, b = rows[-2], rows[-1]
            rate = (b["step"] - a["step"]) / max(b.get("wall_s", 0) - a.get("wall_s", 0), 1e-6)
            total = t.get("steps")
            if t.get("epochs") and b.get("epoch"):
                by_epochs = t["epochs"] * b["step"] / b["epoch"]
                total = min(total, by_epochs) if total else by_epochs
            if total and rate > 0:
                cands.append((total - b["step"]) / rate)
        return round(max(0.0, min(cands)), 1) if cands else None

    @app.get("/api/runs/{run}/samples/latest.png", summary="The run's latest training sample grid",
             response_class=FileResponse)
    def latest_samples(run: S.RunName):
        f = st.engine.run_dir(run) / "samples" / "latest.png"
        if not f.is_file():
            raise NotFound(f"run {run} has no sample grid yet")
        return FileResponse(f, media_type="image/png", headers={"Cache-Control": "no-store"})

    # ---- create ----------------------------------------------------------------------------------------
    @app.post("/api/generate", response_model=S.Pictures, summary="Random or seeded pictures, or from a text prompt")
    def generate(req: S.GenerateRequest) -> dict:
        first = req.seed if req.seed is not None else secrets.randbelow(2**31 - 1 - req.n)
        if req.prompt and req.class_ is not None:
            raise UserError("give either a class or a text prompt, not both")
        if req.prompt:
            cb.check_sentence_model()
        pipe, lock = st.engine.pipeline(req.run, req.checkpoint)
        note = None
        with lock:
            classes, edits, ref = req.class_, [], None
            if req.prompt:
                dirs = st.engine.directions(req.run, pipe)
                match = cb.interpret(pipe, req.prompt, dirs.names)
                classes = None if match.classes is None else torch.as_tensor(match.classes, dtype=torch.float32)
                edits, ref = list(match.edits), dirs.ref if match.edits else None
                note = f"“{req.prompt}”: " + match.describe()
            elif classes is not None:
                if not pipe.num_classes:
                    raise UserError("this run has no classes; leave the class empty")
                classes = pipe.class_index(classes)
            lats = L.from_seeds(pipe, req.n, first, classes, req.truncation, edits, ref)
            images = st.engine.render_latents(pipe, req.run, lats)
        return st.pictures(req.run, lats, images, pipe.step, note)

    @app.post("/api/render", summary="One picture as a PNG download (its latent JSON embedded as text)",
              response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def render(req: S.RenderRequest):
        images, lats, step = st.engine.images(req.run, req.checkpoint, [req.latent.record()])
        lat = lats[0]
        data = png_bytes(to_pils(images)[0], latent=lat.to_dict(), size=req.size)
        return Response(data, media_type="image/png",
                        headers={"Content-Disposition": f'attachment; filename="{req.run}-{lat.id}.png"'})

    # ---- explore -------------------------------------------------------------------------------------
    @app.get("/api/runs/{run}/directions", response_model=S.Directions, summary="The run's latent directions")
    def directions(run: S.RunName, checkpoint: S.Checkpoint = "latest") -> dict:
        pipe, _ = st.engine.pipeline(run, checkpoint)
        return directions_summary(run, pipe.step, st.engine.directions(run, pipe))

    def directions_summary(run: str, step: int, d) -> dict:
        return {"run": run, "step": step, "file": f"directions/{d.file_name}", "ref": d.ref,
                "source": f"{d.method} directions of step {d.step} (directions/{d.file_name})",
                "directions": [{"index": i, "name": d.names.get(i) or f"direction {i + 1}", "named": i in d.names,
                                "explained": None if d.explained is None else round(float(d.explained[i]), 5)}
                               for i in range(len(d))]}

    @app.post("/api/directions/name", response_model=S.Direction,
              summary="Name (or un-name) a direction, in the run's directions file (`--edit NAME:+2` uses it)")
    def name_direction(req: S.NameDirectionRequest) -> dict:
        pipe, _ = st.engine.pipeline(req.run, req.checkpoint)
        d = st.engine.name_direction(req.run, pipe, req.index, req.name.strip())
        return {"index": req.index, "name": d.names.get(req.index) or f"direction {req.index + 1}",
                "named": req.index in d.names}

    @app.post("/api/explore", response_model=S.ExploreResponse, summary="One picture with direction edits")
    def explore(req: S.ExploreRequest) -> dict:
        t = time.perf_counter()
        images, lats, _ = st.engine.images(req.run, req.checkpoint, [req.latent.record()])
        return {"seq": req.seq, "id": lats[0].id, "latent": lats[0].to_dict(),
                "image": data_url(png_bytes(to_pils(images)[0])), "ms": round(1000 * (time.perf_counter() - t), 2)}

    # ---- favourites and taste ----------------------------------------------------------------------------
    @app.post("/api/rate", response_model=S.Rated, summary="Like (1), dislike (-1) or clear (0) a picture")
    def rate(req: S.RateRequest) -> dict:
        st.engine.run_dir(req.run)
        if req.id is not None:
            img = st.store.rate_id(req.id, req.value)
            if img is None:
                recent = st.translations.get(req.id)
                if recent is None or recent[0] != req.run:
                    raise NotFound(f"unknown picture {req.id}; make it again")
                st.store.add_picture(req.id, req.run, recent[1])
                img = st.store.rate_id(req.id, req.value)
            return img
        pipe, lock = st.engine.pipeline(req.run, req.checkpoint)
        with lock:
            lat = st.engine.to_latent(pipe, req.run, req.latent.record(), restamp=False)
        return st.store.rate(req.run, lat.to_dict(), req.value)

    @app.get("/api/favourites", response_model=S.FavouritesResponse, summary="Liked (or disliked) pictures")
    def favourites(run: S.RunName | None = None, value: int = Query(1, ge=-1, le=1),
                   limit: int = Query(60, ge=1, le=200)) -> dict:
        names = set(st.engine.run_names())
        if run is not None and run not in names:
            raise NotFound(f"unknown run {run!r}")
        items = [i for i in st.store.rated(run, value or None, limit) if i["run"] in names]
        return {"images": st.stored_pictures(items)}

    def rated_latents(run: str, pipe, value: int) -> list:
        out = []
        for i in st.store.rated(run, value):
            if i["latent"]:
                try:
                    out.append(st.engine.to_latent(pipe, run, i["latent"], restamp=False))
                except UserError:
                    continue  # a latent of another kind of model (the run was replaced): skip it
        return out

    @app.post("/api/more-like", response_model=S.Pictures, summary="More pictures like the run's favourites")
    def more_like(req: S.MoreLikeRequest) -> dict:
        pipe, lock = st.engine.pipeline(req.run, req.checkpoint)
        with lock:
            liked, disliked = rated_latents(req.run, pipe, 1), rated_latents(req.run, pipe, -1)
            if not liked:
                raise UserError("like a few pictures first (the heart under each picture)")
            seed = req.seed if req.seed is not None else secrets.randbelow(2**31 - 1)
            lats, note = cb.more_like(liked, disliked, req.n, seed, req.diversity, req.run, pipe.step)
            images = st.engine.render_latents(pipe, req.run, lats)
        return st.pictures(req.run, lats, images, pipe.step, note)

    # ---- breed ---------------------------------------------------------------------------------------------
    @app.post("/api/breed", response_model=S.Pictures, summary="Children of two or more parents")
    def breed(req: S.BreedRequest) -> dict:
        pipe, lock = st.engine.pipeline(req.run, req.checkpoint)
        with lock:
            parents = [st.engine.to_latent(pipe, req.run, p.record(), restamp=False) for p in req.parents]
            seed = req.seed if req.seed is not None else secrets.randbelow(2**31 - 1)
            kids = cb.breed(parents, req.n, req.mode, req.mutation, seed, req.run, pipe.step)
            images = st.engine.render_latents(pipe, req.run, kids)
        for lat in parents + kids:
            st.store.add_image(req.run, lat.to_dict())
        return st.pictures(req.run, kids, images, pipe.step, f"{len(kids)} children ({req.mode})")

    @app.get("/api/lineage/{image}", response_model=S.Lineage, summary="A picture and its known ancestors")
    def lineage(image: S.ImageId) -> dict:
        nodes = st.store.lineage(image)
        if not nodes:
            raise NotFound(f"unknown picture {image}; only bred, rated or projected pictures have a lineage")
        pics = {p["id"]: p for p in st.stored_pictures(nodes, keep_ids=True)}
        return {"nodes": [{"id": n["id"], "latent": n["latent"], "parents": (n["latent"] or {}).get("parents") or [],
                           "image": pics[n["id"]]["image"] if n["id"] in pics else None} for n in nodes]}

    @app.post("/api/project", response_model=S.Pictures, summary="Find the latent of an uploaded picture",
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["run", "file"],
                  "properties": {"run": {"type": "string"}, "checkpoint": {"type": "string"},
                                 "file": {"type": "string", "format": "binary"}}}}}}})
    async def project(request: Request) -> dict:
        form = await read_form(request, max_files=1)
        run, ckpt = form.get("run"), form.get("checkpoint") or "latest"
        f = form.get("file")
        if not isinstance(run, str) or not isinstance(ckpt, str) or f is None or isinstance(f, str):
            raise UserError("send a run name and one picture file")
        ref = S.ModelRef(run=run, checkpoint=ckpt) if _valid_ref(run, ckpt) else None
        if ref is None:
            raise UserError("bad run or checkpoint name")
        data = await f.read(limits.max_file_bytes + 1)
        if len(data) > limits.max_file_bytes:
            raise UserError(f"picture is larger than {limits.max_file_bytes // 2**20} MB")
        return await run_in_threadpool(_project, ref, data)

    def _project(ref: S.ModelRef, data: bytes) -> dict:
        why = _check_image(data, limits)
        if why:
            raise UserError(f"that file is not a readable picture ({why})")
        pipe, lock = st.engine.pipeline(ref.run, ref.checkpoint)
        with lock:
            lat, note = cb.project(pipe, data)
            images = st.engine.render_latents(pipe, ref.run, [lat])
        st.store.add_image(ref.run, lat.to_dict())
        return st.pictures(ref.run, [lat], images, pipe.step, note)

    # ---- sketch: image-to-image (pix2pix) runs -----------------------------------------------------------
    @app.get("/api/runs/{run}/translator", response_model=S.TranslatorInfo,
             summary="What a pix2pix run expects: resolution, stroke width, kind of input")
    def translator_info(run: S.RunName, checkpoint: S.Checkpoint = "latest") -> dict:
        tr, _ = st.engine.translator(run, checkpoint)
        step = runs.find_checkpoint(st.engine.run_dir(run), checkpoint).step
        return {"run": run, "step": step, "resolution": int(tr.resolution), "line_width": int(tr.line_width),
                "input_kind": str(tr.input_kind)}

    @app.post("/api/translate", response_model=S.TranslateResponse, summary="Paint a drawing with a pix2pix run")
    def translate(req: S.TranslateRequest) -> dict:
        t = time.perf_counter()
        data = decode_data_url(req.image)
        why = _check_image(data, limits)
        if why:
            raise UserError(f"the drawing is not a readable picture ({why})")
        tr, lock = st.engine.translator(req.run, req.checkpoint)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            drawing = flatten(im)
        with lock:
            out = tr(drawing)
        if not isinstance(out, Image.Image):
            raise UserError("the translator returned no picture")
        png = png_bytes(out)
        iid = hashlib.sha256(req.run.encode() + b"\0" + png).hexdigest()[:12]
        st.remember_translation(iid, req.run, png)
        return {"seq": req.seq, "id": iid, "run": req.run, "image": data_url(png),
                "ms": round(1000 * (time.perf_counter() - t), 2)}

    def decode_data_url(url: str) -> bytes:
        b64 = url.split(",", 1)[1]
        if len(b64) > 4 * (limits.max_file_bytes // 3 + 2):
            raise UserError(f"the drawing is larger than {limits.max_file_bytes // 2**20} MB")
        try:
            return base64.b64decode("".join(b64.split()), validate=True)
        except (ValueError, binascii.Error):
            raise UserError("the drawing is not valid base64 data") from None

    # ---- exhibition and animation -------------------------------------------------------------------------
    def walk_keys(run: str, keys: list[S.Latent]) -> list[dict]:
        recs = [k.record() for k in keys]
        if not recs:
            recs = [i["latent"] for i in st.store.rated(run, 1, limit=32) if i["latent"]][::-1]
        if len(recs) < 2:
            recs += [S.Latent(seed=s).record() for s in range(1, 7 - len(recs))]
        return recs

    def walk_images(run: str, checkpoint: str, keys: list[dict], ts: list[float], steer: float = 0.0):
        pipe, lock = st.engine.pipeline(run, checkpoint)
        with lock:
            lats = cb.walk_latents([st.engine.to_latent(pipe, run, k) for k in keys], ts)
            if steer:
                d0 = st.engine.directions(run, pipe)
                lats = [L.add_edits(l, [(0, 3.0 * steer)], d0.ref) if not l.edits or l.directions == d0.ref else l
                        for l in lats]
            images = st.engine.render_latents(pipe, run, lats, exact=False)
        return to_pils(images), pipe.step

    @app.post("/api/walk", response_model=S.WalkResponse, summary="Frames of the endless latent walk")
    def walk(req: S.WalkRequest) -> dict:
        keys = walk_keys(req.run, req.keys)
        ts = [req.t0 + i * req.dt for i in range(req.count)]
        ims, step = walk_images(req.run, req.checkpoint, keys, ts, req.steer)
        return {"run": req.run, "step": step, "keys": len(keys), "t0": req.t0, "dt": req.dt,
                "frames": [data_url(png_bytes(im)) for im in ims]}

    @app.post("/api/animate/preview", response_model=S.WalkResponse, summary="Frames of a looping animation")
    def animate_preview(req: S.PreviewRequest) -> dict:
        keys = [k.record() for k in req.keys]
        ts = [i / req.frames_per_key for i in range(len(keys) * req.frames_per_key)]
        ims, step = walk_images(req.run, req.checkpoint, keys, ts)
        return {"run": req.run, "step": step, "keys": len(keys), "t0": 0, "dt": 1 / req.frames_per_key,
                "frames": [data_url(png_bytes(im)) for im in ims]}

    @app.post("/api/animations", response_model=S.TaskStatus, summary="Render a looping GIF or MP4")
    def animate(req: S.AnimateRequest) -> dict:
        pipe, lock = st.engine.pipeline(req.run, req.checkpoint)  # fail now, not in the worker
        with lock:
            keys = [st.engine.to_latent(pipe, req.run, k.record()) for k in req.keys]
            lats = cb.loop_path(keys, req.frames_per_key)
            refs = {l.directions for l in lats if l.edits}
            dirs = st.engine.directions_for(req.run, pipe, refs.pop() if refs else None)
        tid = secrets.token_hex(6)
        task = {"id": tid, "status": "running", "progress": 0.0, "error": None, "url": None}
        with st.tasks_lock:
            running = sum(t["status"] == "running" for t in st.tasks.values())
            if running >= 2:
                raise UserError("two animations are already rendering; wait for one to finish")
            st.tasks[tid] = task
        threading.Thread(target=render_animation, args=(task, req, pipe, lock, lats, dirs), daemon=True).start()
        return task

    def render_animation(task: dict, req: S.AnimateRequest, pipe, lock, lats, dirs) -> None:
        try:
            path = st.renders_dir / f"{task['id']}.{req.format}"
            cb.render_video(pipe, lats, dirs, path, req.fps, req.size, lambda p: task.update(progress=round(p, 3)),
                            lock=lock)
            task.update(status="done", progress=1.0, url=f"/api/animations/{task['id']}/file")
        except Exception as e:  # reported to the page, never raised into the thread
            task.update(status="failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__)

    @app.get("/api/animations/{task}", response_model=S.TaskStatus, summary="Progress of a render")
    def animation_status(task: S.TaskId) -> dict:
        t = st.tasks.get(task)
        if t is None:
            raise NotFound(f"unknown render {task!r}")
        return t

    @app.get("/api/animations/{task}/file", summary="Download a finished render", response_class=FileResponse)
    def animation_file(task: S.TaskId):
        t = st.tasks.get(task)
        if t is None or t["status"] != "done":
            raise NotFound(f"render {task!r} is not ready")
        for ext, mime in (("gif", "image/gif"), ("mp4", "video/mp4")):
            f = st.renders_dir / f"{task}.{ext}"
            if f.is_file():
                return FileResponse(f, media_type=mime, filename=f"ganstudio-{task}.{ext}")
        raise NotFound(f"render {task!r} is gone")

    # ---- training --------------------------------------------------------------------------------------------
    async def read_form(request: Request, max_files: int):
        length = int(request.headers.get("content-length") or 0)
        if length > limits.max_total_bytes + 2**20:
            raise HTTPException(413, f"upload is larger than {limits.max_total_bytes // 2**20} MB")
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise UserError("send the pictures as multipart/form-data")
        try:
            return await request.form(max_files=max_files, max_fields=20)
        except HTTPException:
            raise
        except Exception as e:
            raise UserError(f"could not read the upload ({e})") from None

    @app.get("/api/datasets", summary="Named datasets and uploaded picture folders to train on")
    def datasets() -> dict:
        from ..data import available
        from ..training.presets import PRESETS

        return {"named": [{"id": d["name"], "found": bool(d["found"]), "description": d["description"]}
                          for d in available()],
                "uploads": [{"id": u["id"], "name": u.get("name") or u["id"], "images": u["images"],
                             "skipped": u.get("skipped", [])} for u in list_uploads(st.runs_dir)],
                "presets": list(PRESETS)}

    @app.post("/api/uploads", response_model=S.UploadReport, summary="Upload training pictures (files or a zip)",
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["files"],
                  "properties": {"name": {"type": "string", "maxLength": 100},
                                 "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}})
    async def upload(request: Request) -> dict:
        form = await read_form(request, max_files=limits.max_files)
        files = [f for f in form.getlist("files") if not isinstance(f, str)]
        if not files:
            raise UserError("no files in the upload; choose a folder or a zip of pictures")
        name = form.get("name")
        col = Collector(st.runs_dir, limits, name if isinstance(name, str) else "")
        try:
            for f in files:
                fname = f.filename or "file"
                if fname.lower().endswith(".zip"):
                    await run_in_threadpool(col.add_zip, fname, f.file)
                else:
                    data = await f.read(limits.max_file_bytes + 1)
                    await run_in_threadpool(col.add_file, fname, data)
            rep = col.finish()
        except BaseException:
            col.abort()
            raise
        return {"id": rep.id, "name": rep.name, "images": rep.images, "skipped": rep.skipped}

    @app.post("/api/train", response_model=S.Job, summary="Start training a new run in its own process")
    def start_training(req: S.TrainRequest) -> dict:
        from ..data import SOURCES
        from ..training.options import build_run_config
        from ..training.presets import preset as get_preset

        get_preset(req.preset)
        train: dict[str, Any] = {"minutes": req.minutes}
        if req.steps:
            train["steps"] = req.steps
        if req.data.startswith("upload-"):
            path = upload_path(st.runs_dir, req.data)
            data_name = str(path)
            n_images = int(next(u["images"] for u in list_uploads(st.runs_dir) if u["id"] == req.data))
            train["batch_size"] = min(req.batch_size or 64, n_images)
        elif req.data in SOURCES:
            data_name = req.data
            if req.batch_size:
                train["batch_size"] = req.batch_size
        else:
            raise UserError(f"unknown data {req.data!r}; choose a dataset or upload pictures")
        init_from = str(st.engine.run_dir(req.init_from)) if req.init_from else None
        cfg = build_run_config(data=data_name, preset=req.preset, train=train, resolution=req.resolution,
                               init_from=init_from).to_dict()
        if init_from:  # fine-tuning: the new run takes the source's model and shape
            src = runs.read_config_dict(init_from)
            cfg["model"], cfg["model_config"] = src["model"], src["model_config"]
            mc = src["model_config"] or {}
            cfg["data"].update(resolution=mc.get("resolution"), channels=mc.get("channels"), height=mc.get("height"))
        from ..training import RunConfig

        RunConfig.from_dict(cfg)  # validate here: a bad config is a 400, not a failed job
        label = Path(data_name).name if not req.data.startswith("upload-") else \
            next((u.get("name") for u in list_uploads(st.runs_dir) if u["id"] == req.data), "") or req.data
        return st.jobs.start(cfg, req.minutes, label)

    @app.post("/api/train/resume", response_model=S.Job, summary="Continue a run for a few more minutes")
    def resume_training(req: S.ResumeRequest) -> dict:
        p = st.engine.run_dir(req.run)
        if runs.find_checkpoint(p, "latest") is None:
            raise UserError(f"run {req.run} has no checkpoint to resume from")
        return st.jobs.resume(req.run, req.minutes)

    @app.get("/api/jobs", response_model=list[S.Job], summary="Training jobs, newest first")
    def jobs() -> list[dict]:
        return st.jobs.refresh()

    @app.get("/api/jobs/{job}", response_model=S.Job, summary="One training job, with the end of its log")
    def job(job: S.TaskId) -> dict:
        j = st.jobs.get(job)
        return {**j, "log": st.jobs.log_tail(job, 2000)}

    @app.post("/api/jobs/{job}/stop", response_model=S.Job, summary="Stop a training (it saves a checkpoint)")
    def stop(job: S.TaskId) -> dict:
        return st.jobs.stop(job)

    def _valid_ref(run: str, ckpt: str) -> bool:
        try:
            S.ModelRef(run=run, checkpoint=ckpt)
            return True
        except ValueError:
            return False

    return app


def serve(runs_dir: str | Path = "runs", host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          open_browser: bool = False) -> None:
    """Run the studio with uvicorn until Ctrl-C. A non-loopback host requires a token (one is made)."""
    import uvicorn

    if not is_loopback(host) and token is None:
        token = secrets.token_urlsafe(18)
    app = create_app(runs_dir, token=token, host=host)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown if ':' not in shown else '[' + shown + ']'}:{port}/" + (f"?token={token}" if token else "")
    print(f"ganstudio studio: {url}  (runs: {Path(runs_dir).resolve()}; Ctrl-C stops the studio, "
          "not the trainings)", flush=True)
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
