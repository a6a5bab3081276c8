"""Request and response models: every request is validated here, with bounds, before any work."""
from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

RunName = Annotated[str, StringConstraints(pattern=r"^\d{5,9}-[A-Za-z0-9._-]{1,100}$")]
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


class Latent(Strict):
    """A picture's recipe, in either of two spellings (see ``engine.to_latent``):

    - a ``ganstudio.latents.Latent`` JSON (``format``, ``id``, ``z``, ``classes``, ``truncation``,
      ``edits`` as ``[[index, amount]]`` of the ``directions`` file, ``parents``, ``origin``, ``run``,
      ``step``): what every response carries and what ``ganstudio generate RUN --from`` reads;
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
    edits: dict[DirectionKey, Amount] | list[tuple[Annotated[int, Field(ge=0, le=99)], Amount]] = \
        Field(default_factory=dict, max_length=32)
    directions: DirectionsRef | None = None
    parents: list[LatentId] = Field(default_factory=list, max_length=16)
    origin: dict | None = None
    run: RunName | None = None
    step: int | None = Field(None, ge=0, le=10**12)

    @model_validator(mode="after")
    def _one_origin(self) -> "Latent":
        if (self.seed is None) == (self.z is None):
            raise ValueError("give exactly one of seed or z")
        if self.classes is not None and self.class_ is not None:
            raise ValueError("give class or classes, not both")
        if isinstance(self.edits, list) and self.edits and not self.directions:
            raise ValueError("edits given as [index, amount] pairs need the directions file they refer to")
        if self.origin is not None and len(json.dumps(self.origin, default=str)) > 4000:
            raise ValueError("origin is too large")
        return self

    def record(self) -> dict:
        """The request as a plain dict (``class`` spelled as such, zero short-form edits dropped)."""
        d = self.model_dump(by_alias=True, exclude_none=True)
        if isinstance(self.edits, dict):
            d["edits"] = {k: v for k, v in sorted(d["edits"].items(), key=lambda kv: int(kv[0])) if v != 0}
        else:
            d["edits"] = [list(e) for e in self.edits]
        return d


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
    class_: int | None = Field(None, alias="class", ge=0, le=9999)
    prompt: str | None = Field(None, max_length=200)


class RenderRequest(ModelRef):
    latent: Latent
    size: int = Field(512, ge=0, le=1024, description="longer side in pixels; 0 = the model's own size "
                                                     "(the exact pixels `ganstudio generate --from` makes)")


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
    def _one(self) -> "RateRequest":
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
    keys: list[Latent] = Field(default_factory=list, max_length=32,
                               description="keyframes; empty = the run's favourites, else a few seeds")
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


class AnimateRequest(ModelRef):
    keys: list[Latent] = Field(min_length=2, max_length=32)
    frames_per_key: int = Field(12, ge=2, le=60)
    format: Literal["gif", "mp4"] = "gif"
    fps: int = Field(12, ge=1, le=60)
    size: int = Field(256, ge=32, le=512)


class PreviewRequest(ModelRef):
    keys: list[Latent] = Field(min_length=2, max_length=32)
    frames_per_key: int = Field(8, ge=2, le=30)


class TaskStatus(BaseModel):
    id: str
    status: Literal["running", "done", "failed"]
    progress: float
    error: str | None = None
    url: str | None = None


class TrainRequest(Strict):
    data: str = Field(max_length=40, pattern=r"^(upload-[0-9a-f]{12}|[a-z0-9-]{1,30})$",
                      description="a named dataset (see /api/datasets) or an upload id")
    preset: str = Field("seed", max_length=40, pattern=r"^[a-z0-9-]{1,40}$")
    minutes: float = Field(5, gt=0, le=24 * 60)
    init_from: RunName | None = None
    resolution: int | None = Field(None, ge=8, le=256)
    steps: int | None = Field(None, ge=1, le=10_000_000)
    batch_size: int | None = Field(None, ge=1, le=1024)


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
    image: str = Field(max_length=12 * 2**20, pattern=r"^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=\s]+$",
                       description="the drawing as a data: URL")
    seq: int = Field(0, ge=0, le=2**53, description="echoed back: the page shows only the newest answer")


class TranslateResponse(BaseModel):
    seq: int
    id: str
    run: str
    image: str
    ms: float
