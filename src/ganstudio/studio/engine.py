"""What the studio asks of the models: cached Pipelines, directions and translators; latents -> pictures.

The studio holds no GAN logic of its own. It loads runs with ``ganstudio.load`` (an LRU of
Pipelines keyed by run + checkpoint step, one lock per model so that concurrent requests never
share a generator mid-call) and renders ``ganstudio.latents.Latent`` objects with ``latents.render``
(one G row at a time: the exact pixels ``ganstudio generate --from`` makes) or
``latents.render_fast`` (walks and videos).

Every latent the studio sends out IS ``Latent.to_dict()``. A request's latent arrives as a
``schemas.Latent`` and becomes a ``Latent`` once, under the model's lock (``resolve``); that is also
where every latent, stored ones included, is checked against the model it is rendered with and
stamped with its run and checkpoint step.

Directions are the run's own ``directions/pca-<step>.json`` (``sefa-<step>.json`` for generators
PCA cannot analyse) from ``creative.directions``: used when it exists (e.g. made by ``ganstudio
directions RUN``), computed and saved once per checkpoint when it does not, then kept in memory;
names given in the studio are written into that file.

Image-to-image (pix2pix) runs are served by ``ganstudio.translate.load_translator``, cached the same way.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image, PngImagePlugin

from .. import latents as L
from .. import runs
from ..creative import directions as D
from ..errors import UserError
from ..media import to_pils
from ..pipeline import load as load_pipeline
from ..translate import load_translator
from . import creative_bridge as cb
from .run_index import RunIndex

MAX_MODELS = 4
N_DIRECTIONS = 20  # what `ganstudio directions RUN` computes by default: both make the same file
DIRECTIONS_METHODS = ("pca", "sefa")  # pca (GANSpace) when G allows it, else SeFa; as `generate --edit` picks
TRANSLATE_MODEL = "pix2pix"
STEER_SIGMAS = 3.0  # a full webcam steer (+-1) moves this far along the first direction
MAX_SEED = 2**31 - 1


class LatentRequest(Protocol):
    """A latent that becomes a ``Latent`` once its model is known (``schemas.Latent``)."""

    def to_latent(self, pipe, directions: Callable[[], D.Directions]) -> L.Latent: ...


LatentLike = L.Latent | LatentRequest


SHEET = "|"  # between prompts in the Create panel's text box: a prompt sheet
MAX_SHEET = 64  # pictures in one sheet (n of each prompt), as many as one request may ask


@dataclass(frozen=True)
class Rendered:
    """Latents and their pictures (N, C, H, W) in [0, 1], made by the model of checkpoint ``step``."""

    lats: list[L.Latent]
    images: torch.Tensor
    step: int
    note: str | None = None


class Engine:
    def __init__(self, runs_dir: str | Path, max_models: int = MAX_MODELS, index: RunIndex | None = None):
        self.runs_dir = Path(runs_dir).resolve()
        self.index = index or RunIndex(self.runs_dir)
        self.max_models = max_models
        self._cache: OrderedDict[tuple[str, int], tuple[Any, threading.Lock]] = OrderedDict()
        self._translators: OrderedDict[tuple[str, int], tuple[Any, threading.Lock]] = OrderedDict()
        self._dirs: dict[tuple[str, int], D.Directions] = {}
        self._dir_locks: dict[tuple[str, int], threading.Lock] = {}
        self._models: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self.translator_loader: Callable[..., Any] = load_translator  # tests stand in a fake translator

    def model_of(self, run: str) -> str | None:
        if run not in self._models:
            try:
                self._models[run] = runs.read_config_dict(self.index.path(run)).get("model")
            except UserError:
                return None
        return self._models[run]

    def checkpoint(self, run: str, which: str = "latest") -> runs.Checkpoint:
        """A run's checkpoint ("latest", "best" or a step)."""
        ckpt = runs.find_checkpoint(self.index.path(run), which)
        if ckpt is None:
            raise UserError(f"run {run} has no checkpoint yet; wait for its first save")
        return ckpt

    # ---- models ----------------------------------------------------------------------------------
    def pipeline(self, run: str, checkpoint: str = "latest"):
        """(Pipeline, lock) for a run's checkpoint, loaded once and kept in a small LRU."""
        run_dir = self.index.path(run)
        if self.model_of(run) == TRANSLATE_MODEL:
            raise UserError(f"run {run} turns drawings into pictures (pix2pix); use the Sketch panel")
        ckpt = self.checkpoint(run, checkpoint)
        key = (run, ckpt.step)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        pipe = load_pipeline(run_dir, checkpoint=str(ckpt.step), device="cpu")
        with self._lock:
            hit = self._cache.setdefault(key, (pipe, threading.Lock()))
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_models:
                old, _ = self._cache.popitem(last=False)
                self._dirs.pop(old, None)
        return hit

    def translator(self, run: str, checkpoint: str = "latest"):
        """(translator, lock) for a pix2pix run's checkpoint (``ganstudio.translate``), cached."""
        run_dir = self.index.path(run)
        if self.model_of(run) != TRANSLATE_MODEL:
            raise UserError(f"run {run} is not an image-to-image (pix2pix) run; the Sketch panel needs one")
        ckpt = self.checkpoint(run, checkpoint)
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
                run_dir = self.index.path(run)
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

    def name_direction(self, run: str, checkpoint: str, index: int, name: str) -> D.Directions:
        """Name (or, with "", un-name) a direction in the run's directions file (what ``--edit NAME:+2`` reads)."""
        pipe, _ = self.pipeline(run, checkpoint)
        dirs = self.directions(run, pipe)
        if not 0 <= index < len(dirs):
            raise UserError(f"direction {index} does not exist; this run has {len(dirs)}")
        if dirs.path is None:  # computed in memory only: there is no file to write the name to
            raise UserError(f"run {run}'s directions are not saved yet; compute them with: ganstudio directions {run}")
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
        return D.for_latents(self.index.path(run), {ref})

    def directions_at(self, run: str, checkpoint: str) -> tuple[int, D.Directions]:
        """(step, directions) of a run's checkpoint."""
        pipe, _ = self.pipeline(run, checkpoint)
        return pipe.step, self.directions(run, pipe)

    # ---- latents ---------------------------------------------------------------------------------
    def resolve(self, pipe, run: str, item: LatentLike, restamp: bool = True) -> L.Latent:
        """``item`` as a ``Latent`` that ``pipe`` can render, naming ``run`` and the pipe's checkpoint
        step (``restamp``: always; otherwise only when it names none), so that its JSON remakes the
        picture this pipe renders. Call with the pipe's lock held."""
        lat = item if isinstance(item, L.Latent) else item.to_latent(pipe, lambda: self.directions(run, pipe))
        if len(lat.z) != pipe.z_dim:
            raise UserError(f"latent has {len(lat.z)} numbers but this run's model takes {pipe.z_dim}")
        k = pipe.num_classes
        if lat.classes is not None and not k:
            raise UserError("this run has no classes; leave the class empty")
        if k and (lat.classes is None or len(lat.classes) != k or sum(lat.classes) <= 0):
            raise UserError(f"class weights must be {k} numbers, not all 0")
        if (restamp or lat.run is None or lat.step is None) and (lat.run != run or lat.step != pipe.step):
            lat = lat.with_(run=run, step=pipe.step)
        return lat

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
            for i, im in zip(idx, ims, strict=True):
                out[i] = im
        return torch.stack(out)  # type: ignore[arg-type]

    def latents(self, run: str, checkpoint: str, items: Sequence[LatentLike]) -> list[L.Latent]:
        """Request or stored latents as ``Latent`` objects of a run's checkpoint (nothing rendered)."""
        pipe, lock = self.pipeline(run, checkpoint)
        with lock:
            return [self.resolve(pipe, run, it) for it in items]

    def images(
        self, run: str, checkpoint: str, items: Sequence[LatentLike], exact: bool = True, restamp: bool = True
    ) -> Rendered:
        """The pictures of request or stored latents, with the ``Latent`` each became."""
        pipe, lock = self.pipeline(run, checkpoint)
        with lock:
            lats = [self.resolve(pipe, run, it, restamp) for it in items]
            return Rendered(lats, self.render_latents(pipe, run, lats, exact), pipe.step)

    # ---- what the panels make --------------------------------------------------------------------
    def generate(
        self,
        run: str,
        checkpoint: str,
        n: int,
        seed: int | None = None,
        truncation: float = 1.0,
        class_: int | str | None = None,
        prompt: str | None = None,
        anchor: float = 0.0,
        over: Image.Image | str | None = None,
        over_strength: float = 1.0,
        negative: str | None = None,
        negative_weight: float = L.NEGATIVE_WEIGHT,
    ) -> Rendered:
        """``n`` pictures of seeds ``seed, seed + 1, ...`` (random when None), of one class or from a
        text prompt: a run that reads text draws from the prompt itself (each latent keeps it and its
        embedding's hash; ``anchor`` pulls it toward the run's nearest training captions; ``over``: a picture
        (or its PNG data URL) a retrieving run draws it over, ``Pipeline.over_picture``, at ``over_strength``;
        ``negative``: text it is steered away from, at ``negative_weight``, ``latents.with_negative``),
        other runs from the classes and named directions it picks (``creative.prompt``). Prompts separated by "|" make a prompt sheet
        (``ganstudio generate --prompt A --prompt B``): ``n`` pictures of each, from the same seeds, in turn."""
        if prompt and class_ is not None:
            raise UserError("give either a class or a text prompt, not both")
        if over is not None and not prompt:
            raise UserError("describe what to draw over your picture (e.g. a red apple)")
        negative = (negative or "").strip() or None
        if negative and not prompt:
            raise UserError("describe the picture too; “Not” only steers a description away from some words")
        first = seed if seed is not None else secrets.randbelow(MAX_SEED - n)
        if prompt and SHEET in prompt:
            return self._sheet(
                run, checkpoint, n, first, truncation, prompt, anchor, over, over_strength, negative, negative_weight
            )
        pipe, lock = self.pipeline(run, checkpoint)
        reads_text = bool(getattr(pipe, "reads_text", False))
        if negative and not reads_text:
            raise UserError("“Not” steers a text run's description; this run maps words to its classes, leave it empty")
        drawn = None if not (prompt and reads_text) else L.with_negative(prompt, negative, negative_weight)
        if anchor and not (prompt and reads_text):
            raise UserError("the anchor pulls a text run's prompt toward its training captions; describe a picture")
        over_strength = L.check_over_strength(over_strength, over is not None)
        picture = None if over is None else pipe.over_picture(over)  # refused in one line by runs that cannot
        if prompt and not reads_text:
            cb.check_sentence_model()  # only the nearest-class mapping needs it; a text run has its own text model
        note = None
        with lock:
            classes: Any = None
            edits: list[tuple[int, float]] = []
            ref = None
            if prompt and reads_text:
                lats = L.from_seeds(
                    pipe,
                    n,
                    first,
                    None,
                    truncation,
                    prompt=drawn,
                    anchor=anchor,
                    over=picture,
                    over_strength=over_strength,
                )
                note = f"“{prompt.strip()}”: drawn from the text"
                if negative:
                    note += f", steered away from “{negative}” ({negative_weight:g})"
                if anchor:
                    near = ", ".join(f"“{t}”" for t, _ in pipe.known_captions(prompt, 3))
                    note += f", anchored {anchor:g} toward {near}"
                start = None if picture else pipe.reference_caption(drawn, anchor)  # what a retrieving run starts from
                if picture:
                    note += ", over your picture" + (f" ({over_strength:g} of it)" if over_strength < 1 else "")
                elif start:
                    note += f", over the training picture of “{start}”"
                    if getattr(pipe.G, "ref_variety", 0):
                        note += " (the seeds also over its neighbours)"
                return Rendered(lats, self.render_latents(pipe, run, lats), pipe.step, note)
            if prompt:
                dirs = self.directions(run, pipe)
                match = cb.interpret(pipe, prompt, dirs.names)
                classes = None if match.classes is None else torch.as_tensor(match.classes, dtype=torch.float32)
                edits, ref = list(match.edits), dirs.ref if match.edits else None
                note = f"“{prompt}”: " + match.describe()
            elif reads_text and class_ is None and (lats := L.from_training_captions(pipe, n, first, truncation)):
                # no text: each seed one of the run's own training captions (new seeds, new captions), not the
                # empty caption, which such a G never learned to draw
                shown = ", ".join(f"“{lat.prompt}”" for lat in lats[:3]) + (", …" if n > 3 else "")
                note = f"no text given: its own training captions ({shown}); describe a picture to draw yours"
                return Rendered(lats, self.render_latents(pipe, run, lats), pipe.step, note)
            elif class_ is not None:
                if not pipe.num_classes:
                    raise UserError("this run has no classes; leave the class empty")
                # a group of the run's classes ("Food & Drink" on a subgroup run) draws its members in turn
                group = isinstance(class_, str) and bool(pipe.members_of(class_))
                classes = class_ if group else pipe.class_index(class_)
            lats = L.from_seeds(pipe, n, first, classes, truncation, edits, ref)
            return Rendered(lats, self.render_latents(pipe, run, lats), pipe.step, note)

    def _sheet(
        self,
        run: str,
        checkpoint: str,
        n: int,
        first: int,
        truncation: float,
        prompt: str,
        anchor: float,
        over: Image.Image | str | None = None,
        over_strength: float = 1.0,
        negative: str | None = None,
        negative_weight: float = L.NEGATIVE_WEIGHT,
    ) -> Rendered:
        """``generate`` for each of the "|"-separated prompts at the same seeds, one after another."""
        parts = [p.strip() for p in prompt.split(SHEET)]
        if not all(parts):
            raise UserError(
                'a prompt between the "|"s is empty; write one per picture row, e.g. "a red apple | a rocket"'
            )
        if len(parts) * n > MAX_SHEET:
            raise UserError(
                f"{len(parts)} prompts x {n} pictures is more than {MAX_SHEET} at once; ask fewer pictures of each"
            )
        picture = None if over is None else self.pipeline(run, checkpoint)[0].over_picture(over)  # shaped once
        made = [
            self.generate(
                run,
                checkpoint,
                n,
                first,
                truncation,
                None,
                p,
                anchor,
                picture,
                over_strength,
                negative,
                negative_weight,
            )
            for p in parts
        ]
        # the same words after each prompt ("“a”: drawn from the text, over your picture"): said once, after them all
        heads = [f"“{p}”: " for p in parts]
        rests = [
            r.note[len(h) :] if r.note and r.note.startswith(h) else None for r, h in zip(made, heads, strict=True)
        ]
        note: str | None
        if rests[0] is not None and len(set(rests)) == 1:
            note = ", ".join(h[:-2] for h in heads) + ": " + rests[0]
        else:
            note = " · ".join(r.note for r in made if r.note) or None
        return Rendered(
            [lat for r in made for lat in r.lats],
            torch.cat([r.images for r in made]),
            made[0].step,
            note,
        )

    def walk(
        self, run: str, checkpoint: str, keys: Sequence[LatentLike], ts: Sequence[float], steer: float = 0.0
    ) -> tuple[list[Image.Image], int, list[L.Latent]]:
        """(frames, step, their latents) at positions ``ts`` (in keyframes) of the loop through ``keys``;
        ``steer`` (-1..1) pushes them along the run's first direction (webcam steering). On a run that reads
        text the walk moves through the keyframes' prompts too (each frame's latent keeps a ``text_mix``)."""
        pipe, lock = self.pipeline(run, checkpoint)
        with lock:
            lats = cb.walk_latents(pipe, [self.resolve(pipe, run, k) for k in keys], ts)
            if steer:
                d0 = self.directions(run, pipe)
                lats = [
                    L.add_edits(lat, [(0, STEER_SIGMAS * steer)], d0.ref)
                    if not lat.edits or lat.directions == d0.ref
                    else lat
                    for lat in lats
                ]
            images = self.render_latents(pipe, run, lats, exact=False)
        return to_pils(images), pipe.step, lats

    def prompt_keys(
        self,
        run: str,
        checkpoint: str,
        prompts: Sequence[str],
        seed: int,
        truncation: float,
        negative: str | None = None,
        negative_weight: float = L.NEGATIVE_WEIGHT,
    ) -> Rendered:
        """Keyframes from text, one per prompt at the noise of ``seed`` (``ganstudio animate RUN --prompts``), steered
        away from ``negative`` (``--negative``) when given."""
        negative = (negative or "").strip() or None
        pipe, lock = self.pipeline(run, checkpoint)
        with lock:
            lats = cb.prompt_keyframes(pipe, prompts, seed, truncation, self.index.path(run), negative, negative_weight)
            lats = [self.resolve(pipe, run, lat) for lat in lats]
            note = "drawn from the text" if getattr(pipe, "reads_text", False) else "nearest classes"
            return Rendered(lats, self.render_latents(pipe, run, lats), pipe.step, note)

    def translate(self, run: str, checkpoint: str, drawing: Image.Image) -> bytes:
        """A pix2pix run's painting of ``drawing`` (RGB), as PNG bytes."""
        tr, lock = self.translator(run, checkpoint)
        with lock:
            out = tr(drawing)
        if not isinstance(out, Image.Image):
            raise UserError("the translator returned no picture")
        return png_bytes(out)

    def translator_info(self, run: str, checkpoint: str) -> dict:
        """What a pix2pix run's checkpoint expects: resolution, stroke width, kind of input."""
        tr, _ = self.translator(run, checkpoint)
        return {
            "run": run,
            "step": self.checkpoint(run, checkpoint).step,
            "resolution": int(tr.resolution),
            "line_width": int(tr.line_width),
            "input_kind": str(tr.input_kind),
        }


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
