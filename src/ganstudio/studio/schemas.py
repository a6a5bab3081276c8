"""Request and response models: every request is validated here, with bounds, before any work.

A request's latent is turned into a ``ganstudio.latents.Latent`` once, by ``Latent.to_latent``, when
the model it is meant for is known (a seed becomes that model's z, a class index its class weights);
the engine only ever sees ``Latent`` objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from .. import latents as L
from ..creative.directions import Directions as DirectionsFile
from ..errors import UserError

RunName = Annotated[str, StringConstraints(pattern=r"^\d{5,9}-[A-Za-z0-9._-]{1,100}$")]
ClassName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Checkpoint = Annotated[str, StringConstraints(pattern=r"^(latest|best|\d{1,9})$")]
ImageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}([0-9a-f]{4})?$")]
DirectionKey = Annotated[str, StringConstraints(pattern=r"^\d{1,2}$")]
Amount = Annotated[float, Field(ge=-10, le=10)]
ZValue = Annotated[float, Field(ge=-100, le=100)]
TaskId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


LatentId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}([0-9a-f]{4})?$")]
DirectionsRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,80}#[0-9a-f]{12}$")]
Prompt = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TextHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
TextWeight = Annotated[float, Field(ge=-1000, le=1000)]


class Latent(Strict):
    """A picture's recipe, in either of two spellings (see ``to_latent``):

    - a ``ganstudio.latents.Latent`` JSON (``format``, ``id``, ``z``, ``classes``, ``truncation``,
      ``edits`` as ``[[index, amount]]`` of the ``directions`` file, ``parents``, ``origin``, ``run``,
      ``step``, and for runs that read text ``prompt`` + ``text_hash``, or between prompts ``text_mix`` as
      ``[[prompt, text_hash, weight], ...]``): what every response carries and what ``ganstudio generate RUN
      --from`` reads;
    - a short form the page builds by hand: ``seed`` (instead of ``z``), ``class`` (an index),
      ``edits`` as ``{"<index>": amount}`` of the run's current directions file.
    """

    format: Literal["ganstudio.latent/1"] | None = None
    id: LatentId | None = Field(None, description="content hash; checked when given")
    seed: Seed | None = None
    z: list[ZValue] | None = Field(None, min_length=1, max_length=2048)
    classes: list[Annotated[float, Field(ge=0, le=1)]] | None = Field(None, min_length=1, max_length=10000)
    class_: int | None = Field(None, alias="class", ge=0, le=9999)
    truncation: float = Field(1.0, gt=0, le=2)
    edits: dict[DirectionKey, Amount] | list[tuple[Annotated[int, Field(ge=0, le=99)], Amount]] = Field(
        default_factory=dict, max_length=32
    )
    directions: DirectionsRef | None = None
    parents: list[LatentId] = Field(default_factory=list, max_length=16)
    origin: dict | None = None
    run: RunName | None = None
    step: int | None = Field(None, ge=0, le=10**12)
    # runs that read text: the prompt G drew from and its embedding's fingerprint (``textembed.fingerprint``)
    prompt: str | None = Field(None, max_length=200)
    text_hash: TextHash | None = None
    # between prompts (a walk's in-between, a child of prompted parents): G reads sum_i weight_i * embedding_i
    text_mix: list[tuple[Prompt, TextHash, TextWeight]] | None = Field(None, min_length=2, max_length=16)
    # runs that read text: the pull toward the run's training captions (``Pipeline.anchored``)
    anchor: float = Field(0.0, ge=0, le=1)
    # the picture G drew over instead of its own reference (``Latent.over``: a PNG data URL at G's drawing size)
    over: str | None = Field(None, max_length=2**20, pattern=r"^data:image/png;base64,[A-Za-z0-9+/=]+$")
    over_strength: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _one_origin(self) -> Latent:
        if (self.seed is None) == (self.z is None):
            raise ValueError("give exactly one of seed or z")
        if self.classes is not None and self.class_ is not None:
            raise ValueError("give class or classes, not both")
        if isinstance(self.edits, list) and self.edits and not self.directions:
            raise ValueError("edits given as [index, amount] pairs need the directions file they refer to")
        if self.origin is not None and len(json.dumps(self.origin, default=str)) > 4000:
            raise ValueError("origin is too large")
        if self.text_mix and self.prompt is not None:
            raise ValueError("give a prompt or a text_mix of several prompts, not both")
        return self

    def to_latent(self, pipe, directions: Callable[[], DirectionsFile]) -> L.Latent:
        """The ``Latent`` this request names for ``pipe``'s model; ``directions()`` is the run's current
        directions file, asked for only when short-form edits refer to it. Whether the latent fits the
        model (z size, class weights) is the engine's check (``Engine.resolve``), for every latent."""
        k = pipe.num_classes
        z = tuple(self.z) if self.z is not None else tuple(pipe.latents(1, self.seed or 0)[0].tolist())
        classes: Any = self.classes
        if classes is None and self.class_ is not None:
            if not k:
                raise UserError("this run has no classes; leave the class empty")
            classes = np.eye(k, dtype=np.float32)[pipe.class_index(self.class_)]
        elif classes is None and k:
            classes = np.eye(k, dtype=np.float32)[(self.seed or 0) % k]  # what `generate --seed` picks
        ref = self.directions
        if isinstance(self.edits, dict):
            nonzero = sorted(((int(i), a) for i, a in self.edits.items() if a != 0))
            if ref and nonzero:
                raise UserError(
                    "edits as {index: amount} refer to the run's current directions; "
                    "leave out 'directions' (or give edits as [[index, amount]])"
                )
            items: list[tuple[int, float]] = []
            if nonzero:
                dirs = directions()
                items, ref = [(dirs.index(i), float(a)) for i, a in nonzero], dirs.ref
        else:
            items = [(int(i), float(a)) for i, a in self.edits]
        origin = (
            self.origin
            if self.origin is not None
            else ({"op": "seed", "seed": self.seed} if self.seed is not None else {})
        )
        lat = L.Latent(
            z=z,
            classes=classes,
            truncation=self.truncation,
            edits=tuple(items),
            directions=ref if items else None,
            parents=tuple(self.parents),
            origin=dict(origin),
            run=self.run,
            step=self.step,
            prompt=self.prompt,
            text_hash=self.text_hash,
            text_mix=tuple((p, h, float(w)) for p, h, w in self.text_mix or ()),
            anchor=self.anchor,
            over=self.over,
            over_strength=self.over_strength,
        )
        if self.id and self.id != lat.id:
            raise UserError(
                f"latent {self.id} was changed: its id does not match its content ({lat.id}); "
                "leave out 'id' after changing a latent"
            )
        return lat


def stored_latent(d: dict) -> L.Latent | Latent:
    """A latent from the studio's store: the ``Latent`` JSON this studio keeps, or the request form
    that earlier studios kept (turned into a ``Latent`` like a request, once its model is known)."""
    if d.get("format"):
        return L.Latent.from_dict(d, f"stored latent {d.get('id')}")
    try:
        return Latent.model_validate(d)
    except ValidationError as e:
        raise UserError(f"a stored latent is damaged ({e.errors()[0].get('msg')})") from None


class ModelRef(Strict):
    run: RunName
    checkpoint: Checkpoint = "latest"


class Picture(BaseModel):
    id: str
    latent: dict | None = Field(description="the ganstudio.latents.Latent JSON; None for sketch translations")
    image: str = Field(description="PNG as a data: URL")
    rating: int = 0
    kind: Literal["latent", "translate"] = "latent"
    run: str | None = None


class Pictures(BaseModel):
    run: str
    step: int
    images: list[Picture]
    note: str | None = None


class GenerateRequest(ModelRef):
    n: int = Field(8, ge=1, le=64)
    seed: Seed | None = Field(None, description="first seed; random when empty")
    truncation: float = Field(1.0, gt=0, le=2)
    class_: Annotated[int, Field(ge=0, le=9999)] | ClassName | None = Field(
        None, alias="class", description="a class index, or the name of a class or of a group of the run's classes"
    )
    prompt: str | None = Field(None, max_length=200)
    anchor: float = Field(
        0.0, ge=0, le=1, description="runs that read text: pull the prompt toward the run's nearest training captions"
    )
    over: str | None = Field(
        None,
        max_length=12 * 2**20,
        pattern=r"^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=\s]+$",
        description="runs that draw over a picture (info's draws_over): the picture to draw the prompt over, as a "
        "data: URL",
    )
    over_strength: float = Field(
        1.0, gt=0, le=1, description="with over: how much of the picture (the rest: the prompt's own nearest pictures)"
    )
    negative: str | None = Field(
        None, max_length=200, description="runs that read text: words to steer the prompt away from (e.g. red)"
    )
    negative_weight: float = Field(L.NEGATIVE_WEIGHT, gt=0, le=1, description="with negative: how far to steer away")


class RenderRequest(ModelRef):
    latent: Latent
    size: int = Field(
        512,
        ge=0,
        le=1024,
        description="longer side in pixels; 0 = the model's own size "
        "(the exact pixels `ganstudio generate --from` makes)",
    )


class ExploreRequest(ModelRef):
    latent: Latent
    seq: int = Field(0, ge=0, le=2**53, description="echoed back: the page shows only the newest answer")


class ExploreResponse(BaseModel):
    seq: int
    id: str
    latent: dict
    image: str
    ms: float


class Direction(BaseModel):
    index: int
    name: str
    named: bool = False
    explained: float | None = None


class Directions(BaseModel):
    run: str
    step: int
    file: str = Field(description="the run's directions file (the one `ganstudio generate --edit` uses)")
    ref: str
    directions: list[Direction]
    source: str


class NameDirectionRequest(Strict):
    run: RunName
    checkpoint: Checkpoint = "latest"
    index: int = Field(ge=0, le=31)
    name: str = Field(max_length=40, pattern=r"^[^<>\x00-\x1f]*$")


class RateRequest(Strict):
    run: RunName
    checkpoint: Checkpoint = "latest"
    latent: Latent | None = None
    id: ImageId | None = Field(None, description="instead of a latent: a stored picture (e.g. a sketch translation)")
    value: Literal[-1, 0, 1]

    @model_validator(mode="after")
    def _one(self) -> RateRequest:
        if (self.latent is None) == (self.id is None):
            raise ValueError("give exactly one of latent or id")
        return self


class Rated(BaseModel):
    id: str
    run: str
    latent: dict | None
    rating: int
    created: float


class FavouritesResponse(BaseModel):
    images: list[Picture]


class MoreLikeRequest(ModelRef):
    n: int = Field(8, ge=1, le=32)
    seed: Seed | None = None
    diversity: float = Field(0.5, gt=0, le=1, description="how far suggestions stray from your favourites")


class BreedRequest(ModelRef):
    parents: list[Latent] = Field(min_length=2, max_length=8)
    n: int = Field(6, ge=1, le=24)
    mutation: float = Field(0.3, ge=0, le=1)
    mode: Literal["crossover", "blend"] = "crossover"
    seed: Seed | None = None


class LineageNode(BaseModel):
    id: str
    latent: dict | None
    parents: list[str]
    image: str | None


class Lineage(BaseModel):
    nodes: list[LineageNode]


class WalkRequest(ModelRef):
    keys: list[Latent] = Field(
        default_factory=list, max_length=32, description="keyframes; empty = the run's favourites, else a few seeds"
    )
    t0: float = Field(0, ge=0, le=1e7, description="position on the loop, in keyframes")
    dt: float = Field(0.02, ge=0, le=1)
    count: int = Field(16, ge=1, le=64)
    steer: float = Field(0, ge=-1, le=1, description="webcam steering: -1 .. 1 along the first direction")


class WalkResponse(BaseModel):
    run: str
    step: int
    keys: int
    t0: float
    dt: float
    frames: list[str]
    latents: list[dict] = Field(
        default_factory=list, description="each frame's ganstudio.latents.Latent JSON (remakes it with /api/render)"
    )


class AnimateRequest(ModelRef):
    keys: list[Latent] = Field(min_length=2, max_length=32)
    frames_per_key: int = Field(12, ge=2, le=60)
    format: Literal["gif", "mp4"] = "gif"
    fps: int = Field(12, ge=1, le=60)
    size: int = Field(256, ge=32, le=512)


class PreviewRequest(ModelRef):
    keys: list[Latent] = Field(min_length=2, max_length=32)
    frames_per_key: int = Field(8, ge=2, le=30)


class PromptKeysRequest(ModelRef):
    """Keyframes from text, as ``ganstudio animate RUN --prompts ... --seed S`` makes them (one per prompt)."""

    prompts: list[Prompt] = Field(min_length=1, max_length=16)
    seed: Seed = Field(0, description="the noise of every keyframe, so that only what the text says changes")
    truncation: float = Field(1.0, gt=0, le=2)
    negative: str | None = Field(None, max_length=200, description="runs that read text: words to steer away from")
    negative_weight: float = Field(L.NEGATIVE_WEIGHT, gt=0, le=1, description="with negative: how far")


class TaskStatus(BaseModel):
    id: str
    status: Literal["running", "done", "failed"]
    progress: float
    error: str | None = None
    url: str | None = None


class TrainRequest(Strict):
    data: str = Field(
        max_length=40,
        pattern=r"^(upload-[0-9a-f]{12}|[a-z0-9-]{1,30})$",
        description="a named dataset (see /api/datasets) or an upload id",
    )
    preset: str = Field("seed", max_length=40, pattern=r"^[a-z0-9-]{1,40}$")
    minutes: float = Field(5, gt=0, le=24 * 60)
    init_from: RunName | None = None
    resolution: int | None = Field(None, ge=8, le=256)
    steps: int | None = Field(None, ge=1, le=10_000_000)
    batch_size: int | None = Field(None, ge=1, le=1024)
    clusters: Literal["auto", "none"] | Annotated[int, Field(ge=1, le=1000)] | None = Field(
        None, description="classes from the pictures' look: a number of groups, auto or none (the recipe's when absent)"
    )


class ResumeRequest(Strict):
    run: RunName
    minutes: float = Field(5, gt=0, le=24 * 60)


class Job(BaseModel):
    id: str
    kind: str
    run: str | None
    status: str
    created: float
    info: dict
    log: str | None = None


class UploadReport(BaseModel):
    id: str
    name: str
    images: int
    skipped: list[str]


class TranslatorInfo(BaseModel):
    run: str
    step: int
    resolution: int
    line_width: int = Field(description="stroke width in pixels at the model's resolution (what it was trained on)")
    input_kind: str


class TranslateRequest(ModelRef):
    image: str = Field(
        max_length=12 * 2**20,
        pattern=r"^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=\s]+$",
        description="the drawing as a data: URL",
    )
    seq: int = Field(0, ge=0, le=2**53, description="echoed back: the page shows only the newest answer")


class TranslateResponse(BaseModel):
    seq: int
    id: str
    run: str
    image: str
    ms: float


# ---- Sound panel (sound runs: task noise-to-sound) --------------------------------------------------------------


class SoundInfo(BaseModel):
    run: str
    step: int
    sample_rate: int
    seconds: float = Field(description="the length of one generated note")
    pitches: list[int] = Field(description="MIDI pitches the run is conditioned on (the keyboard); empty if none")
    pitch_names: list[str]
    classes: list[str] = Field(description="a sound run not conditioned on pitch: its classes")


class NoteQuery(Strict):
    """One note of an instrument, as ``ganstudio play RUN x.mid --latent SEED --blend BLEND --mix MIX`` plays it."""

    run: RunName
    checkpoint: Checkpoint = "latest"
    seed: Seed = Field(0, description="the instrument: the latent of this seed")
    blend: Seed | None = Field(None, description="a second instrument to morph toward")
    mix: float = Field(0.5, ge=0, le=1, description="how far toward blend (0: all seed, 1: all blend)")
    pitch: int | None = Field(None, ge=0, le=127, description="MIDI pitch (runs conditioned on pitch)")
    class_: int | None = Field(None, alias="class", ge=0, le=9999, description="other sound runs: the class")
    velocity: int = Field(127, ge=1, le=127)


class PlayResult(BaseModel):
    id: str
    url: str = Field(description="the rendered WAV")
    run: str
    step: int
    name: str
    notes: int
    seconds: float
    sample_rate: int
    latent: dict = Field(description="the instrument's ganstudio.latents.Latent JSON")


class PlayForm(ModelRef):
    """The fields of a MIDI upload (multipart, beside the file)."""

    seed: Seed = 0
    blend: Seed | None = None
    mix: float = Field(0.5, ge=0, le=1)
    transpose: int = Field(0, ge=-48, le=48)


class AudioAnimateForm(ModelRef):
    """The fields of an audio-reactive render (multipart, beside the sound file); ``keys`` as JSON."""

    keys: list[Latent] = Field(min_length=1, max_length=32)
    format: Literal["gif", "mp4"] = "mp4"
    fps: int = Field(24, ge=1, le=60)
    size: int = Field(256, ge=32, le=512)


def form_model(cls: type[BaseModel], fields: dict[str, Any], what: str) -> Any:
    """A multipart form's text fields as ``cls``; a one-line UserError naming the first bad field."""
    try:
        return cls.model_validate({k: v for k, v in fields.items() if v is not None and v != ""})
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise UserError(f"{what}: {where + ': ' if where else ''}{err.get('msg')}") from None
