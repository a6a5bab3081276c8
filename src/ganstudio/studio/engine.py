"""What the studio asks of the library: cached Pipelines, directions and translators; latents -> pictures.

The studio holds no GAN logic of its own. It loads runs with ``ganstudio.load`` (an LRU of
Pipelines keyed by run + checkpoint step, one lock per model so that concurrent requests never
share a generator mid-call), turns requests into ``ganstudio.latents.Latent`` objects and renders
them with ``latents.render`` (one G row at a time: the exact pixels ``ganstudio generate --from``
makes) or ``latents.render_fast`` (walks and videos).

Every latent the studio sends out IS ``Latent.to_dict()``; requests may also use a short form
(``seed`` instead of ``z``, ``class`` as an index, ``edits`` as ``{"<index>": amount}`` of the run's
current directions file), see ``to_latent``.

Directions are the run's own ``directions/pca-<step>.json`` (``sefa-<step>.json`` for generators
PCA cannot analyse) from ``creative.directions``: used when it exists (e.g. made by ``ganstudio
directions RUN``), computed and saved once per checkpoint when it does not, then kept in memory;
names given in the studio are written into that file.

Image-to-image (pix2pix) runs are served by ``ganstudio.translate.load_translator``, cached the same way.
"""
from __future__ import annotations

import io
import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from .. import latents as L
from .. import runs
from ..creative import directions as D
from ..errors import UserError

MAX_MODELS = 4
N_DIRECTIONS = 20  # what `ganstudio directions RUN` computes by default: both make the same file
DIRECTIONS_METHODS = ("pca", "sefa")  # pca (GANSpace) when G allows it, else SeFa; as `generate --edit` picks
TRANSLATE_MODEL = "pix2pix"


class NotFound(UserError):
    """A run, checkpoint, image or job that does not exist (HTTP 404)."""


def default_translator_loader(run_dir: Path, checkpoint: str = "latest"):
    try:
        from ..translate import load_translator
    except ImportError:
        raise UserError("this installation cannot run image-to-image (pix2pix) models yet "
                        "(ganstudio.translate is missing); update ganstudio") from None
    return load_translator(run_dir, checkpoint=checkpoint)


def translate_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("ganstudio.translate") is not None
    except (ImportError, ValueError):
        return False


class Engine:
    def __init__(self, runs_dir: str | Path, max_models: int = MAX_MODELS):
        self.runs_dir = Path(runs_dir).resolve()
        self.max_models = max_models
        self._cache: OrderedDict[tuple[str, int], tuple[Any, threading.Lock]] = OrderedDict()
        self._translators: OrderedDict[tuple[str, int], tuple[Any, threading.Lock]] = OrderedDict()
        self._dirs: dict[tuple[str, int], D.Directions] = {}
        self._dir_locks: dict[tuple[str, int], threading.Lock] = {}
        self._models: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self.translator_loader: Callable[..., Any] = default_translator_loader

    # ---- runs ------------------------------------------------------------------------------------
    def run_names(self) -> list[str]:
        return [p.name for p in runs.list_runs(self.runs_dir)]

    def run_dir(self, name: str) -> Path:
        """A known run's folder; the name must be one of the listed runs (never a path)."""
        if name not in self.run_names():
            raise NotFound(f"unknown run {name!r}; pick one of the runs listed in the studio")
        return self.runs_dir / name

    def model_of(self, run: str) -> str | None:
        if run not in self._models:
            try:
                self._models[run] = runs.read_config_dict(self.run_dir(run)).get("model")
            except UserError:
                return None
        return self._models[run]

    # ---- models ----------------------------------------------------------------------------------
    def pipeline(self, run: str, checkpoint: str = "latest"):
        """(Pipeline, lock) for a run's checkpoint, loaded once and kept in a small LRU."""
        run_dir = self.run_dir(run)
        if self.model_of(run) == TRANSLATE_MODEL:
            raise UserError(f"run {run} turns drawings into pictures (pix2pix); use the Sketch panel")
        ckpt = runs.find_checkpoint(run_dir, checkpoint)
        if ckpt is None:
            raise UserError(f"run {run} has no checkpoint yet; wait for its first save")
        key = (run, ckpt.step)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        from ..pipeline import load

        pipe = load(run_dir, checkpoint=str(ckpt.step), device="cpu")
        with self._lock:
            hit = self._cache.setdefault(key, (pipe, threading.Lock()))
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_models:
                old, _ = self._cache.popitem(last=False)
                self._dirs.pop(old, None)
        return hit

    def translator(self, run: str, checkpoint: str = "latest"):
        """(translator, lock) for a pix2pix run's checkpoint (``ganstudio.translate``), cached."""
        run_dir = self.run_dir(run)
        if self.model_of(run) != TRANSLATE_MODEL:
            raise UserError(f"run {run} is not an image-to-image (pix2pix) run; the Sketch panel needs one")
        ckpt = runs.find_checkpoint(run_dir, checkpoint)
        if ckpt is None:
            raise UserError(f"run {run} has no checkpoint yet; wait for its first save")
        key = (run, ckpt.step)
        with self._lock:
            hit = self._translators.get(key)
            if hit is not None:
                self._translators.move_to_end(key)
                return hit
        tr = self.translator_loader(run_dir, checkpoint=str(ckpt.step))
        with self._lock:
            hit = self._translators.setdefault(key, (tr, threading.Lock()))
            self._translators.move_to_end(key)
            while len(self._translators) > self.max_models:
                self._translators.popitem(last=False)
        return hit

    # ---- directions (creative.directions, one file per checkpoint, computed once) ----------------
    def directions(self, run: str, pipe) -> D.Directions:
        """The run's directions for the pipe's checkpoint: its ``directions/pca-<step>.json``, made
        with ``compute_and_save`` (the CLI's defaults) the first time, then kept in memory."""
        key = (run, pipe.step)
        d = self._dirs.get(key)
        if d is not None:
            return d
        with self._lock:
            lock = self._dir_locks.setdefault(key, threading.Lock())
        with lock:
            d = self._dirs.get(key)
            if d is None:
                run_dir = self.run_dir(run)
                paths = [D.directions_dir(run_dir) / f"{m}-{pipe.step}.json" for m in DIRECTIONS_METHODS]
                path = next((p for p in paths if p.is_file()), None)
                if path is None:
                    try:
                        D.compute_and_save(run_dir, DIRECTIONS_METHODS[:1], k=N_DIRECTIONS, checkpoint=str(pipe.step))
                        path = paths[0]
                    except UserError:  # e.g. no nonlinearity right after G's first layer: SeFa needs none
                        D.compute_and_save(run_dir, DIRECTIONS_METHODS[1:], k=N_DIRECTIONS, checkpoint=str(pipe.step))
                        path = paths[1]
                d = D.read(path)
                self._dirs[key] = d
        return d

    def name_direction(self, run: str, pipe, index: int, name: str) -> D.Directions:
        """Name (or, with "", un-name) a direction in the run's directions file (what ``--edit NAME:+2`` reads)."""
        dirs = self.directions(run, pipe)
        if not 0 <= index < len(dirs):
            raise UserError(f"direction {index} does not exist; this run has {len(dirs)}")
        with self._dir_locks[(run, pipe.step)]:
            new = D.set_names(dirs.path, {index: name})
            self._dirs[(run, pipe.step)] = new
        return new

    def directions_for(self, run: str, pipe, ref: str | None) -> D.Directions | None:
        """The directions file a latent's edits refer to (the cached one when it is current)."""
        if not ref:
            return None
        cur = self._dirs.get((run, pipe.step))
        if cur is not None and cur.ref == ref:
            return cur
        return D.for_latents(self.run_dir(run), {ref})

    # ---- requests -> Latent ----------------------------------------------------------------------
    def to_latent(self, pipe, run: str, rec: dict, restamp: bool = True) -> L.Latent:
        """A ``Latent`` from a request's latent (either spelling, see ``schemas.Latent``).

        The result names ``run`` and the pipe's checkpoint step (``restamp``: always; otherwise only
        when the latent names none), so its JSON remakes the picture this pipe renders."""
        seed = rec.get("seed")
        z = rec.get("z")
        if z is None:
            z = pipe.latents(1, int(seed or 0))[0].numpy()
        elif len(z) != pipe.z_dim:
            raise UserError(f"latent has {len(z)} numbers but this run's model takes {pipe.z_dim}")
        k = pipe.num_classes
        classes = rec.get("classes")
        if classes is not None:
            if not k:
                raise UserError("this run has no classes; leave the class empty")
            if len(classes) != k or sum(classes) <= 0:
                raise UserError(f"class weights must be {k} numbers, not all 0")
        elif rec.get("class") is not None:
            if not k:
                raise UserError("this run has no classes; leave the class empty")
            classes = np.eye(k, dtype=np.float32)[pipe.class_index(int(rec["class"]))]
        elif k:
            classes = np.eye(k, dtype=np.float32)[int(seed or 0) % k]
        edits = rec.get("edits") or {}
        ref = rec.get("directions")
        if isinstance(edits, dict):
            if ref and edits:
                raise UserError("edits as {index: amount} refer to the run's current directions; "
                                "leave out 'directions' (or give edits as [[index, amount]])")
            items: list[tuple[int, float]] = []
            if edits:
                dirs = self.directions(run, pipe)
                items = [(dirs.index(int(i)), float(a)) for i, a in sorted(edits.items(), key=lambda kv: int(kv[0]))
                         if float(a) != 0]
                ref = dirs.ref
        else:
            items = [(int(i), float(a)) for i, a in edits]
        origin = rec.get("origin")
        if origin is None:
            origin = {"op": "seed", "seed": int(seed)} if seed is not None else {}
        lat = L.Latent(z=z, classes=classes, truncation=float(rec.get("truncation", 1.0)), edits=tuple(items),
                       directions=ref if items else None, parents=tuple(rec.get("parents") or ()),
                       origin=dict(origin), run=rec.get("run"), step=rec.get("step"))
        if rec.get("id") and rec["id"] != lat.id:
            raise UserError(f"latent {rec['id']} was changed: its id does not match its content ({lat.id}); "
                            "leave out 'id' after changing a latent")
        if restamp or lat.run is None or lat.step is None:
            if lat.run != run or lat.step != pipe.step:
                lat = lat.with_(run=run, step=pipe.step)
        return lat

    # ---- Latent -> images ------------------------------------------------------------------------
    def render_latents(self, pipe, run: str, lats: Sequence[L.Latent], exact: bool = True) -> torch.Tensor:
        """Images (N, C, H, W) in [0, 1]; latents whose edits use different directions files are
        rendered in groups, each with its own file. Call with the pipe's lock held."""
        groups: dict[str | None, list[int]] = {}
        for i, lat in enumerate(lats):
            groups.setdefault(lat.directions if lat.edits else None, []).append(i)
        out: list[torch.Tensor | None] = [None] * len(lats)
        for ref, idx in groups.items():
            dirs = self.directions_for(run, pipe, ref)
            part = [lats[i] for i in idx]
            ims = L.render(pipe, part, dirs) if exact else L.render_fast(pipe, part, dirs)
            for i, im in zip(idx, ims):
                out[i] = im
        return torch.stack(out)  # type: ignore[arg-type]

    def images(self, run: str, checkpoint: str, recs: Sequence[dict | L.Latent], exact: bool = True,
               restamp: bool = True) -> tuple[torch.Tensor, list[L.Latent], int]:
        """(images, latents, step) for request latents (dicts) or ``Latent`` objects."""
        pipe, lock = self.pipeline(run, checkpoint)
        with lock:
            lats = [r if isinstance(r, L.Latent) else self.to_latent(pipe, run, r, restamp) for r in recs]
            return self.render_latents(pipe, run, lats, exact), lats, pipe.step


# ---- small pure helpers ------------------------------------------------------------------------

def png_bytes(im: Image.Image, latent: dict | None = None, size: int | None = None) -> bytes:
    """PNG bytes; with ``latent`` (a ``Latent.to_dict()``) it is embedded as a ``ganstudio-latent``
    tEXt chunk. ``size``: scale up so the longer side is ``size`` pixels (None/0: as it is)."""
    if size and max(im.size) < size:
        s = size / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.LANCZOS)
    info = None
    if latent is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("ganstudio-latent", json.dumps(latent, sort_keys=True))
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info, compress_level=1 if latent is None else 6)
    return buf.getvalue()


def finite(x: float) -> bool:
    return math.isfinite(x)
