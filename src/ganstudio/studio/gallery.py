"""The studio's pictures: what is shown, rated, kept and bred, between the engine and the store.

A picture is sent to the page as its ``Latent`` JSON, a PNG ``data:`` URL and its stored rating.
Stored pictures (favourites, lineage) are rendered again at the checkpoint that made them while it
exists, else at the latest one. Sketch paintings have no latent: the last few are remembered here
by id and kept in the store (as PNG) only once they are rated.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence

from PIL import Image

from .. import latents as L
from .. import runs
from ..errors import UserError
from ..media import to_pils
from . import creative_bridge as cb
from .engine import MAX_SEED, Engine, LatentLike, Rendered, png_bytes
from .errors import NotFound
from .schemas import Latent, stored_latent
from .store import Store

MAX_RECENT_TRANSLATIONS = 64
WALK_FAVOURITES = 32  # keyframes of a walk with none given: the run's newest favourites
WALK_MIN_KEYS = 6  # ... topped up with seeds 1, 2, ... so that the loop has somewhere to go


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class Gallery:
    def __init__(self, engine: Engine, store: Store):
        self.engine = engine
        self.store = store
        self._translations: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # id -> (run, PNG)
        self._lock = threading.Lock()

    # ---- showing -------------------------------------------------------------------------------
    def pictures(self, run: str, r: Rendered) -> dict:
        """The response for rendered latents: each picture with its Latent JSON and stored rating."""
        pics = []
        for lat, im in zip(r.lats, to_pils(r.images), strict=True):
            img = self.store.get_image(lat.id)
            pics.append(
                {
                    "id": lat.id,
                    "latent": lat.to_dict(),
                    "image": data_url(png_bytes(im)),
                    "rating": img["rating"] if img else 0,
                    "kind": "latent",
                    "run": run,
                }
            )
        return {"run": run, "step": r.step, "images": pics, "note": r.note}

    def stored_pictures(self, items: list[dict], keep_ids: bool = False) -> list[dict]:
        """Pictures for stored items, in order: latents rendered at their own checkpoint (or the
        latest when it is gone), sketch paintings from their PNG. Unrenderable ones are left out."""
        out: dict[str, dict] = {}
        groups: dict[tuple[str, str], list[dict]] = {}
        for it in items:
            if it["latent"] is None:
                if it.get("png"):
                    out[it["id"]] = {
                        "id": it["id"],
                        "latent": None,
                        "image": data_url(it["png"]),
                        "rating": it["rating"],
                        "kind": it.get("kind") or "translate",
                        "run": it["run"],
                    }
                continue
            groups.setdefault((it["run"], self._checkpoint_of(it)), []).append(it)
        for (run, ckpt), group in groups.items():
            try:
                r = self.engine.images(run, ckpt, [stored_latent(g["latent"]) for g in group], restamp=ckpt == "latest")
            except UserError:
                continue
            for it, lat, im in zip(group, r.lats, to_pils(r.images), strict=True):
                out[it["id"]] = {
                    "id": it["id"] if keep_ids else lat.id,
                    "latent": lat.to_dict(),
                    "image": data_url(png_bytes(im)),
                    "rating": it["rating"],
                    "kind": "latent",
                    "run": run,
                }
        return [out[it["id"]] for it in items if it["id"] in out]

    def _checkpoint_of(self, item: dict) -> str:
        step = item["latent"].get("step")
        if isinstance(step, int):
            try:
                if runs.find_checkpoint(self.engine.index.path(item["run"]), step) is not None:
                    return str(step)
            except UserError:
                pass
        return "latest"

    # ---- rating and favourites -----------------------------------------------------------------
    def rate(self, run: str, checkpoint: str, value: int, latent: Latent | None = None, iid: str | None = None) -> dict:
        """Like (1), dislike (-1) or clear (0) a picture given by its latent, or by id (a stored
        picture or a recent sketch painting); returns the stored picture."""
        self.engine.index.path(run)
        if iid is not None:
            img = self.store.rate_id(iid, value)
            if img is None:
                with self._lock:
                    recent = self._translations.get(iid)
                if recent is None or recent[0] != run:
                    raise NotFound(f"unknown picture {iid}; make it again")
                self.store.add_picture(iid, run, recent[1])
                img = self.store.rate_id(iid, value)
            return img  # type: ignore[return-value]
        if latent is None:
            raise UserError("give a latent or a picture id to rate")
        pipe, lock = self.engine.pipeline(run, checkpoint)
        with lock:
            lat = self.engine.resolve(pipe, run, latent, restamp=False)
        return self.store.rate(run, lat.to_dict(), value)

    def favourites(self, run: str | None, value: int, limit: int) -> list[dict]:
        """Rated pictures (``value`` 1 liked, -1 disliked, 0 both) of one run or all, newest first."""
        names = set(self.engine.index.names())
        if run is not None and run not in names:
            raise NotFound(f"unknown run {run!r}")
        items = [i for i in self.store.rated(run, value or None, limit) if i["run"] in names]
        return self.stored_pictures(items)

    def lineage(self, iid: str) -> list[dict]:
        """A picture and its known ancestors, breadth first, each with its parents' ids and picture."""
        nodes = self.store.lineage(iid)
        if not nodes:
            raise NotFound(f"unknown picture {iid}; only bred, rated or projected pictures have a lineage")
        pics = {p["id"]: p for p in self.stored_pictures(nodes, keep_ids=True)}
        return [
            {
                "id": n["id"],
                "latent": n["latent"],
                "parents": (n["latent"] or {}).get("parents") or [],
                "image": pics[n["id"]]["image"] if n["id"] in pics else None,
            }
            for n in nodes
        ]

    def _rated_latents(self, pipe, run: str, value: int) -> list[L.Latent]:
        out = []
        for i in self.store.rated(run, value):
            if i["latent"]:
                try:
                    out.append(self.engine.resolve(pipe, run, stored_latent(i["latent"]), restamp=False))
                except UserError:
                    continue  # a latent of another kind of model (the run was replaced): skip it
        return out

    # ---- making from pictures ------------------------------------------------------------------
    def more_like(self, run: str, checkpoint: str, n: int, seed: int | None, diversity: float) -> Rendered:
        """Suggestions from a taste model fit on the run's liked and disliked pictures."""
        pipe, lock = self.engine.pipeline(run, checkpoint)
        with lock:
            liked, disliked = self._rated_latents(pipe, run, 1), self._rated_latents(pipe, run, -1)
            if not liked:
                raise UserError("like a few pictures first (the heart under each picture)")
            seed = seed if seed is not None else secrets.randbelow(MAX_SEED)
            lats, note = cb.more_like(liked, disliked, n, seed, diversity, run, pipe.step)
            return Rendered(lats, self.engine.render_latents(pipe, run, lats), pipe.step, note)

    def breed(
        self,
        run: str,
        checkpoint: str,
        parents: Sequence[LatentLike],
        n: int,
        mode: str,
        mutation: float,
        seed: int | None,
    ) -> Rendered:
        """Children of ``parents``; parents and children are stored, so that lineage can find them."""
        pipe, lock = self.engine.pipeline(run, checkpoint)
        with lock:
            mothers = [self.engine.resolve(pipe, run, p, restamp=False) for p in parents]
            seed = seed if seed is not None else secrets.randbelow(MAX_SEED)
            kids = cb.breed(pipe, mothers, n, mode, mutation, seed, run, pipe.step)
            images = self.engine.render_latents(pipe, run, kids)
        for lat in mothers + kids:
            self.store.add_image(run, lat.to_dict())
        return Rendered(kids, images, pipe.step, f"{len(kids)} children ({mode})")

    def project(self, run: str, checkpoint: str, data: bytes) -> Rendered:
        """The latent of an uploaded picture (``data``: already checked to decode safely), stored."""
        pipe, lock = self.engine.pipeline(run, checkpoint)
        with lock:
            lat, note = cb.project(pipe, data)
            images = self.engine.render_latents(pipe, run, [lat])
        self.store.add_image(run, lat.to_dict())
        return Rendered([lat], images, pipe.step, note)

    def walk(
        self, run: str, checkpoint: str, keys: Sequence[Latent], ts: Sequence[float], steer: float = 0.0
    ) -> tuple[list[Image.Image], int, int, list[L.Latent]]:
        """Frames of the endless walk through ``keys``, or through the run's favourites (topped up
        with seeds) when none are given; returns (frames, step, number of keyframes, the frames' latents)."""
        loop = list(keys) or self.walk_keys(run)
        frames, step, lats = self.engine.walk(run, checkpoint, loop, ts, steer)
        return frames, step, len(loop), lats

    def walk_keys(self, run: str) -> list[LatentLike]:
        """The keyframes of the exhibition's walk: the run's newest favourites, oldest first, topped up
        with seeds 1, 2, ... while there are fewer than two."""
        liked = self.store.liked_latents(run, WALK_FAVOURITES)
        loop: list[LatentLike] = [stored_latent(d) for d in reversed(liked)]
        if len(loop) < 2:
            loop += [Latent.model_validate({"seed": s}) for s in range(1, WALK_MIN_KEYS + 1 - len(loop))]
        return loop

    # ---- sketch paintings ----------------------------------------------------------------------
    def translate(self, run: str, checkpoint: str, drawing: Image.Image) -> tuple[str, bytes]:
        """(id, PNG) of a pix2pix run's painting of ``drawing``, remembered so that it can be liked."""
        png = self.engine.translate(run, checkpoint, drawing)
        iid = hashlib.sha256(run.encode() + b"\0" + png).hexdigest()[:12]
        with self._lock:
            self._translations.pop(iid, None)
            self._translations[iid] = (run, png)
            while len(self._translations) > MAX_RECENT_TRANSLATIONS:
                self._translations.popitem(last=False)
        return iid, png
