"""Latents are first-class: every picture ganstudio makes can be re-made from its ``Latent``.

A ``Latent`` holds what G needs (``z``, class weights, truncation, direction edits) plus where it
came from (run name, checkpoint step, the content hash of the directions file its edits refer to,
its parents' ids, the operation that made it). It serialises to JSON (one latent) or ``.npz``
(a batch; loaded with ``allow_pickle=False``), written beside every image.

How a latent becomes an image (``effective_z`` then ``render``), identical on every path::

    z_eff = mean + psi * (z - mean)                 # truncation toward the mean latent (0 for N(0, I))
          + sum_k amount_k * u_k                    # edits: u_k = unit direction k of the directions file
    image = G(z_eff, class_weights)                 # one row at a time (see ``render``)

A run that reads text keeps the prompt instead of class weights: ``prompt`` and ``text_hash`` (the
fingerprint of its sentence embedding, ``textembed.fingerprint``). ``render`` embeds the prompt again with
the run's text model (cached, and each text encoded alone, so the same vector) and refuses, naming both
hashes, when the vector is not the one the picture was made from.

Between prompts (a walk from "an apple" to "a rocket", a child of two prompted pictures) a latent keeps a
``text_mix`` instead: ``((prompt, text_hash, weight), ...)``, and G reads exactly ``sum_i weight_i * e_i``
(each ``e_i`` embedded again and checked against its hash, summed in that order in float32). The creative
tools choose the weights (``interpolate.slerp_weights``: slerp of the embeddings; ``breed``: the parents'
weights, rescaled to unit length, like every caption's embedding), so a mix remakes exactly too.

``anchor`` (in [0, 1], kept only when above 0) pulls that embedding toward the run's nearest training captions
(``Pipeline.anchored``: ``textembed.anchor`` over the run's ``captions.json``), after the mix; a latent with
an anchor remakes exactly as long as the run keeps its captions.

``over`` (runs whose G draws over a reference picture, ``--preset emoji-text``): the picture G draws the prompt
over instead of its nearest training picture, kept in the latent itself as a PNG ``data:`` URL at the size G
draws (32 x 32 RGB: about 4 KB), so a picture drawn over a photo remakes exactly without the photo.

Edits are applied after truncation, so ``--truncation`` never weakens an edit. Edit amounts are
in standard deviations of z along the direction: z ~ N(0, I) and directions are unit vectors, so
``+2.5`` moves 2.5 sigma, as far as 1 sample in ~160 goes on its own.

Exact remakes: BLAS may round a lone row differently from the same row inside a batch (1e-7),
which can flip a pixel's last bit in the PNG. ``render`` therefore always runs G on one row at a
time, so an image from a grid of 64 and its remake from ``--from`` are the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import media, runs, textembed
from .errors import UserError

FORMAT = "ganstudio.latent/1"


def _floats(a) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1))


@dataclass(frozen=True)
class Latent:
    """One picture's recipe. ``z``: (z_dim,) float32; ``classes``: (K,) class weights or None."""

    z: tuple[float, ...]
    classes: tuple[float, ...] | None = None
    truncation: float = 1.0
    edits: tuple[tuple[int, float], ...] = ()
    directions: str | None = None  # "<file name>#<content hash>" of the directions the edits index
    parents: tuple[str, ...] = ()
    origin: dict = field(default_factory=dict, compare=False)  # how it was made, e.g. {"op": "seed", "seed": 7}
    run: str | None = None  # run folder name
    step: int | None = None  # checkpoint step
    prompt: str | None = None  # runs that read text: the text G drew from
    text_hash: str | None = None  # the fingerprint of the prompt's embedding (``textembed.fingerprint``)
    text_mix: tuple[tuple[str, str, float], ...] = ()  # between prompts: (prompt, text_hash, weight) per part
    anchor: float = 0.0  # runs that read text: the pull toward the run's training captions (``textembed.anchor``)
    over: str | None = None  # the picture G draws over (a PNG data URL at G's drawing size), not its own reference
    over_strength: float = 1.0  # how much of ``over`` G draws over (the rest: the prompt's own reference)

    def __post_init__(self) -> None:
        object.__setattr__(self, "z", _floats(self.z))
        if self.classes is not None:
            object.__setattr__(self, "classes", _floats(self.classes))
        object.__setattr__(self, "edits", tuple((int(i), float(a)) for i, a in self.edits))
        object.__setattr__(self, "parents", tuple(str(p) for p in self.parents))
        object.__setattr__(self, "truncation", float(self.truncation))
        if not 0 < self.truncation <= 2:
            raise UserError(f"truncation must be in (0, 2], got {self.truncation}")
        if self.edits and not self.directions:
            raise UserError("a latent with edits must name its directions file")
        if (self.prompt is None) != (self.text_hash is None):
            raise UserError("a latent with a prompt must carry its embedding hash (text_hash), and only then")
        try:
            mix = tuple((str(p), str(h), float(w)) for p, h, w in self.text_mix)
        except (TypeError, ValueError):
            raise UserError("text_mix must be a list of [prompt, text_hash, weight]") from None
        object.__setattr__(self, "text_mix", mix)
        if mix and self.prompt is not None:
            raise UserError("a latent has either one prompt or a text_mix of several, not both")
        if mix and (len(mix) < 2 or not all(np.isfinite(w) for _, _, w in mix)):
            raise UserError("a text_mix needs at least two [prompt, text_hash, weight] parts with finite weights")
        object.__setattr__(self, "anchor", textembed.anchor_strength(self.anchor))
        if self.anchor and not (self.prompt is not None or mix):
            raise UserError("a latent's anchor pulls its prompt toward the run's captions; it needs a prompt")
        if self.over is not None:
            self.over_array  # noqa: B018  # decodes it: a damaged picture is refused here, not when drawn
            if not (self.prompt is not None or mix):
                raise UserError("a latent drawn over a picture needs the prompt G draws over it")
        object.__setattr__(self, "over_strength", check_over_strength(self.over_strength, self.over is not None))

    @property
    def over_array(self) -> np.ndarray | None:
        """The picture G draws over, uint8 (C, h, w), or None (G's own reference)."""
        return None if self.over is None else media.from_png_data_url(self.over, what="a latent's over picture")

    @property
    def has_text(self) -> bool:
        """Whether G reads text for this latent: one prompt, or a mix of several."""
        return self.prompt is not None or bool(self.text_mix)

    @property
    def text_parts(self) -> tuple[tuple[str, str, float], ...]:
        """The text G reads, as (prompt, text_hash, weight) parts: one part of weight 1 for a prompt, the mix, or ()."""
        if self.prompt is not None:
            assert self.text_hash is not None  # __post_init__ holds them together
            return ((self.prompt, self.text_hash, 1.0),)
        return self.text_mix

    @property
    def text_label(self) -> str | None:
        """The text in words: the prompt, or the mix as "70% an apple + 30% a rocket", its negative parts after
        it as ", not red (50%)" (their weight against the positive parts'); None without text."""
        if self.prompt is not None:
            return self.prompt
        return parts_label(self.text_mix) if self.text_mix else None

    @property
    def id(self) -> str:
        """Content hash (12 hex digits) of everything that decides the image, plus lineage."""
        h = hashlib.sha256()
        h.update(np.asarray(self.z, np.float32).tobytes())
        if self.classes is not None:
            h.update(b"c" + np.asarray(self.classes, np.float32).tobytes())
        h.update(json.dumps([self.truncation, self.edits, self.directions, self.parents, self.run, self.step]).encode())
        if self.prompt is not None:  # only then: the ids of latents without text stay what they were
            h.update(json.dumps(["prompt", self.prompt, self.text_hash]).encode())
        if self.text_mix:
            h.update(json.dumps(["text_mix", [list(m) for m in self.text_mix]]).encode())
        if self.anchor:
            h.update(json.dumps(["anchor", self.anchor]).encode())
        if self.over is not None:
            h.update(b"over" + self.over.encode())
        if self.over_strength != 1.0:
            h.update(json.dumps(["over_strength", self.over_strength]).encode())
        return h.hexdigest()[:12]

    @property
    def z_tensor(self) -> torch.Tensor:
        return torch.tensor(self.z, dtype=torch.float32)

    @property
    def classes_tensor(self) -> torch.Tensor | None:
        return None if self.classes is None else torch.tensor(self.classes, dtype=torch.float32)

    def with_(self, **changes) -> Latent:
        return replace(self, **changes)

    # ---- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "z": list(self.z),
            "classes": None if self.classes is None else list(self.classes),
            "truncation": self.truncation,
            "edits": [list(e) for e in self.edits],
            "directions": self.directions,
            "parents": list(self.parents),
            "origin": self.origin,
            "run": self.run,
            "step": self.step,
            **({"prompt": self.prompt, "text_hash": self.text_hash} if self.prompt is not None else {}),
            **({"text_mix": [list(m) for m in self.text_mix]} if self.text_mix else {}),
            **({"anchor": self.anchor} if self.anchor else {}),
            **({"over": self.over} if self.over is not None else {}),
            **({"over_strength": self.over_strength} if self.over_strength != 1.0 else {}),
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = "latent") -> Latent:
        if not isinstance(d, dict) or "z" not in d:
            raise UserError(f"{where} is not a ganstudio latent (no 'z')")
        fmt = d.get("format", FORMAT)
        if fmt != FORMAT:
            raise UserError(f"{where} has format {fmt!r}; this ganstudio reads {FORMAT!r}")
        try:
            lat = cls(
                z=d["z"],
                classes=d.get("classes"),
                truncation=d.get("truncation", 1.0),
                edits=tuple(tuple(e) for e in d.get("edits", ())),
                directions=d.get("directions"),
                parents=tuple(d.get("parents", ())),
                origin=dict(d.get("origin") or {}),
                run=d.get("run"),
                step=d.get("step"),
                prompt=d.get("prompt"),
                text_hash=d.get("text_hash"),
                text_mix=tuple(tuple(m) for m in d.get("text_mix") or ()),
                anchor=d.get("anchor", 0.0),
                over=d.get("over"),
                over_strength=d.get("over_strength", 1.0),
            )
        except (TypeError, ValueError) as e:
            raise UserError(f"{where} is damaged ({e})") from None
        if d.get("id") and d["id"] != lat.id:
            raise UserError(f"{where} was edited by hand: its id {d['id']} does not match its content ({lat.id})")
        return lat


# ---- files -------------------------------------------------------------------------------


def save_latent(latent: Latent, path: str | Path) -> Path:
    """Write one latent as JSON, atomically."""
    path = Path(path)
    runs.atomic_write_json(path, latent.to_dict())
    return path


def save_batch(latents: Sequence[Latent], path: str | Path) -> Path:
    """Write latents as ``.npz``: ``z`` (N, z_dim) float32, ``classes`` (N, K) when conditional,
    and ``meta``: a JSON string with the other fields of each latent. Atomic."""
    from .fsutil import atomic_file

    path = Path(path)
    arrays = {"z": np.asarray([l.z for l in latents], np.float32).reshape(len(latents), -1)}
    if latents and latents[0].classes is not None:
        arrays["classes"] = np.asarray([l.classes for l in latents], np.float32)
    meta = [{k: v for k, v in l.to_dict().items() if k not in ("z", "classes")} for l in latents]
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_file(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
        # an open file: np.savez would add ".npz" to a name that lacks it
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub: a ** dict might hold allow_pickle
    return path


def load_latents(path: str | Path) -> list[Latent]:
    """Read a latent JSON file, a batch ``.npz``, or a folder of latent JSON files (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.json") if not p.name.startswith("."))
        out = []
        for f in files:
            out += load_latents(f)
        if not out:
            raise UserError(f"no latent JSON files in {path}")
        return out
    if not path.is_file():
        raise UserError(f"latent file {path} does not exist")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                z = f["z"]
                classes = f["classes"] if "classes" in f.files else None
                meta = json.loads(str(f["meta"]))
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"cannot read latents from {path} ({e})") from None
        return [
            Latent.from_dict({**m, "z": z[i], "classes": None if classes is None else classes[i]}, f"{path} #{i}")
            for i, m in enumerate(meta)
        ]
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read latent {path} ({e})") from None
    if isinstance(d, list):
        return [Latent.from_dict(x, f"{path} #{i}") for i, x in enumerate(d)]
    return [Latent.from_dict(d, str(path))]


def load_many(spec: str | Path | Iterable[str | Path]) -> list[Latent]:
    """Latents from a comma-separated list of files/folders (or an iterable of paths)."""
    items = [s for s in str(spec).split(",") if s.strip()] if isinstance(spec, (str, Path)) else list(spec)
    out: list[Latent] = []
    for s in items:
        out += load_latents(str(s).strip())
    return out


def save_with_latents(
    images: torch.Tensor, latents: Sequence[Latent], out_dir: str | Path, stems: Sequence[str]
) -> list[Path]:
    """images (N, C, H, W) in [0, 1]: write ``out_dir/<stem>.png`` and, beside it, ``<stem>.json`` holding the
    latent that made it, so any picture can be reopened, edited or bred later."""
    from . import media

    out_dir, written = Path(out_dir), []
    for stem, lat, a in zip(stems, latents, media.as_uint8_nchw(images)):
        written.append(media.save_image(media.hwc(a), out_dir / f"{stem}.png"))
        written.append(save_latent(lat, out_dir / f"{stem}.json"))
    return written


def sidecar(image_path: str | Path, batch: bool = False) -> Path:
    """Where an image's latent file goes: ``x.png -> x.json`` (one latent) or ``x.npz`` (a batch)."""
    p = Path(image_path)
    return p.with_suffix(".npz" if batch else ".json")


# ---- making latents --------------------------------------------------------------------


def from_training_captions(
    pipe, n: int, seed: int = 0, truncation: float = 1.0, edits: Sequence[tuple[int, float]] = (), directions=None
) -> list[Latent]:
    """Latents of seeds ``seed .. seed+n-1`` of a run that reads text given no prompt: each seed drawn from the training
    caption it names (``Pipeline.caption_for_seed``), not the empty caption; [] when the run keeps no captions (or
    reads no text)."""
    if pipe.caption_for_seed(seed) is None:
        return []
    return [
        from_seeds(pipe, 1, seed + i, None, truncation, edits, directions, pipe.caption_for_seed(seed + i))[0]
        for i in range(n)
    ]


def from_seeds(
    pipe,
    n: int,
    seed: int = 0,
    classes=None,
    truncation: float = 1.0,
    edits: Sequence[tuple[int, float]] = (),
    directions: str | None = None,
    prompt: str | Mapping[str, float] | None = None,
    anchor: float = 0.0,
    over: str | None = None,
    over_strength: float = 1.0,
) -> list[Latent]:
    """Latents of ``pipe(n, seed)``: latent i is seed ``seed + i`` (the Pipeline's own seeding); with ``prompt``
    (a run that reads text) each carries the prompt and its embedding's fingerprint instead of classes; a
    ``{prompt: weight}`` mapping of several prompts gives a ``text_mix`` (``mix_prompts``); ``anchor``: the
    prompt's pull toward the run's training captions (``Pipeline.anchored``); ``over``: the picture G draws over
    (``Pipeline.over_picture``'s data URL), at ``over_strength``."""
    z = pipe.latents(n, seed)
    mix: tuple[tuple[str, str, float], ...] = ()
    if isinstance(prompt, Mapping):
        mix = mix_prompts(pipe, prompt)
        text, text_hash = (mix[0][0], mix[0][1]) if len(mix) == 1 else (None, None)
        mix = mix if len(mix) > 1 else ()
    else:
        text, text_hash = text_fields(pipe, prompt)
    y = None if prompt is not None else pipe.class_weights(classes, n)
    return [
        Latent(
            z=tuple(z[i].tolist()),
            classes=None if y is None else tuple(y[i].tolist()),
            truncation=truncation,
            edits=tuple(edits),
            directions=directions if edits else None,
            origin={"op": "seed", "seed": seed + i},
            run=run_name(pipe),
            step=pipe.step,
            prompt=text,
            text_hash=text_hash,
            text_mix=mix,
            anchor=anchor,
            over=over,
            over_strength=over_strength,
        )
        for i in range(n)
    ]


def parts_label(parts: Sequence[tuple[str, str, float]]) -> str:
    """(prompt, text_hash, weight) parts in words (``Latent.text_label``): one part of weight 1 is its prompt, a mix
    "70% an apple + 30% a rocket", negative parts after it as ", not red (50%)" (against the positive parts')."""
    if len(parts) == 1 and parts[0][2] == 1.0:
        return parts[0][0]
    pos = [(p, w) for p, _, w in parts if w > 0]
    neg = [(p, -w) for p, _, w in parts if w < 0]
    total = sum(w for _, w in pos) or sum(w for _, w in neg) or 1.0
    label = pos[0][0] if len(pos) == 1 else " + ".join(f"{round(100 * w / total)}% {p}" for p, w in pos)
    return ", ".join([label] * bool(pos) + [f"not {p} ({round(100 * w / total)}%)" for p, w in neg])


def mix_prompts(pipe, weights: Mapping[str, float]) -> tuple[tuple[str, str, float], ...]:
    """``{"an apple": 0.7, "a rocket": 0.3}`` -> the text_mix whose embedding is the weighted sum of the prompts'
    embeddings scaled to unit length (as every caption's is): weights need not add up to 1, and must not
    cancel out. A negative weight steers away from that text (``{"an apple": 1, "red": -0.5}``: an apple, not
    red; ``with_negative``); at least one weight must be positive. One prompt gives one part of weight 1."""
    items = [(str(p).strip(), float(w)) for p, w in weights.items()]
    if not items or any(not p for p, _ in items):
        raise UserError("give at least one non-empty prompt to mix, e.g. {'an apple': 0.7, 'a rocket': 0.3}")
    if any(not np.isfinite(w) for _, w in items) or not any(w > 0 for _, w in items):
        raise UserError(
            f"prompt weights must be finite numbers, at least one of them positive (a negative one steers away "
            f"from its text), got {[w for _, w in items]}"
        )
    items = [(p, w) for p, w in items if w != 0]
    parts = tuple((p, str(text_fields(pipe, p)[1]), w) for p, w in items)
    if len(parts) == 1:
        return ((parts[0][0], parts[0][1], 1.0),)
    return scale_to_unit(pipe, parts)


NEGATIVE_WEIGHT = 0.5  # --negative's default weight against the prompt's 1 (benchmarks/text_negative.py)
NEGATIVE_FOR_TEXT_RUNS = (
    "--negative steers a text run's prompt; this run maps prompts to classes (train one that reads text: "
    "--preset emoji-text)"
)
NEGATIVE_NEEDS_PROMPT = '--negative steers a prompt away from some text; give the prompt too, e.g. --prompt "an apple"'


def share(value: Any, flag: str, meaning: str) -> float:
    """``value`` as a float in (0, 1], or a one-line UserError naming ``flag`` and what 1 means (``meaning``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{flag} must be a number in (0, 1], got {value!r}") from None
    if not 0 < v <= 1:
        raise UserError(f"{flag} must be in (0, 1] ({meaning}), got {value}")
    return v


def check_negative_weight(value: Any) -> float:
    """``--negative-weight`` as a float in (0, 1], refused in one line otherwise."""
    return share(value, "--negative-weight", "how far to steer away from the text")


def check_negative(
    prompts: Sequence[str] | None,
    negative: str | Sequence[str] | None,
    weight: float = NEGATIVE_WEIGHT,
    needs_prompt: str = NEGATIVE_NEEDS_PROMPT,
) -> None:
    """Refuse in one line, before anything is drawn or written, a ``negative`` without ``prompts`` (``needs_prompt``
    says so) and what ``with_negative`` refuses for any of them (an empty negative, one equal to a prompt, a weight
    outside (0, 1]); nothing to check without a negative."""
    if negative is None:
        return
    if not prompts:
        raise UserError(needs_prompt)
    for text in prompts:
        with_negative(text.strip(), negative, weight)


def with_negative(
    prompt: str | Mapping[str, float], negative: str | Sequence[str] | None, weight: float = NEGATIVE_WEIGHT
) -> str | Mapping[str, float]:
    """``prompt`` steered away from ``negative`` (one text or several, each at ``weight`` against the prompt's 1):
    the ``{prompt: 1, negative: -weight}`` mix ``mix_prompts`` reads (the prompt itself without a negative). A
    negative prompt for a GAN that reads sentence embeddings: G draws ``unit(e_prompt - weight * e_negative)``."""
    if negative is None:
        return prompt
    negs = [negative] if isinstance(negative, str) else list(negative)
    negs = [str(n).strip() for n in negs]
    if not negs or any(not n for n in negs):
        raise UserError('the negative prompt is empty; say what to steer away from, e.g. --negative "red"')
    w = check_negative_weight(weight)
    mix = {str(prompt).strip(): 1.0} if isinstance(prompt, str) else dict(prompt)
    for n in negs:
        if n in mix:
            raise UserError(f"{n!r} is both the prompt and a negative prompt; give a negative that differs from it")
        mix[n] = -w
    return mix


def scale_to_unit(pipe, parts: Sequence[tuple[str, str, float]]) -> tuple[tuple[str, str, float], ...]:
    """The same mix with its weights scaled so that the mixed embedding has length 1 (refused when it is ~0)."""
    e = mix_embedding(pipe, parts)
    n = float(e.double().norm())
    if n < 1e-6:
        raise UserError("these prompts' embeddings cancel out at these weights; change the weights")
    return tuple((p, h, w / n) for p, h, w in parts)


def merge_parts(groups: Sequence[tuple[Sequence[tuple[str, str, float]], float]]) -> tuple[tuple[str, str, float], ...]:
    """Linear combination of text mixes: [(parts, coefficient), ...] -> parts, one per distinct (prompt, hash)
    in order of first appearance, weight = sum of coefficient * weight (zero weights dropped)."""
    acc: dict[tuple[str, str], float] = {}
    for parts, c in groups:
        for p, h, w in parts:
            acc[(p, h)] = acc.get((p, h), 0.0) + float(c) * float(w)
    return tuple((p, h, w) for (p, h), w in acc.items() if w != 0.0)


def check_over_strength(value: Any, has_over: bool) -> float:
    """``over_strength`` as a float in (0, 1]: refused in one line out of range, or below 1 without a picture."""
    s = share(value, "--over-strength", "1: all your picture")
    if s != 1.0 and not has_over:
        raise UserError("--over-strength says how much of your picture G draws over; give the picture: --over PICTURE")
    return s


def blend_over(latents: Sequence[Latent], weights: Sequence[float]) -> str | None:
    """The picture a child (a walk's frame, a bred child) of ``latents`` draws over: None when none has one, their
    own when they share one, else their pictures' weighted sum (weights summing to 1), rounded to 8 bits, so the
    child remakes exactly. Refused when only some of them were drawn over a picture."""
    overs = [lat.over for lat in latents]
    if all(o is None for o in overs):
        return None
    if any(o is None for o in overs):
        raise UserError(
            "some of these pictures were drawn over a picture of yours and some were not; walk or breed them apart"
        )
    if len(set(overs)) == 1:
        return overs[0]
    arrays = [lat.over_array for lat in latents]
    if len({a.shape for a in arrays if a is not None}) > 1:
        raise UserError("these pictures were drawn over pictures of different sizes; walk or breed them apart")
    mixed = sum(float(w) * a.astype(np.float64) for w, a in zip(weights, arrays, strict=True) if a is not None)
    return media.png_data_url(np.clip(np.rint(mixed), 0, 255).astype(np.uint8))


def with_text(latent: Latent, parts: Sequence[tuple[str, str, float]]) -> Latent:
    """``latent`` reading ``parts``: a single part of weight 1 becomes a plain prompt, several a text_mix."""
    parts = tuple(parts)
    if len(parts) == 1 and abs(parts[0][2] - 1.0) < 1e-6:  # one prompt at full weight (up to rounding): itself
        return replace(latent, prompt=parts[0][0], text_hash=parts[0][1], text_mix=())
    if len(parts) == 1:
        raise UserError(f"a text mix of one prompt ({parts[0][0]!r}) needs weight 1, got {parts[0][2]}")
    return replace(latent, prompt=None, text_hash=None, text_mix=parts)


def text_fields(pipe, prompt: str | None) -> tuple[str | None, str | None]:
    """(prompt, its embedding's fingerprint) for a latent drawn from ``prompt`` by ``pipe`` ((None, None) without)."""
    if prompt is None:
        return None, None
    e = pipe.embed_prompt(prompt)
    return prompt.strip(), textembed.fingerprint(e.numpy())


def from_arrays(
    pipe,
    z: torch.Tensor,
    classes: torch.Tensor | None = None,
    truncation: float = 1.0,
    parents: Sequence[str] = (),
    origin: dict | None = None,
) -> list[Latent]:
    """Latents for explicit (N, z_dim) z and (N, K) class weights, stamped with the pipe's run/step."""
    z = torch.as_tensor(z, dtype=torch.float32).detach().cpu()
    return [
        Latent(
            z=tuple(z[i].tolist()),
            classes=None if classes is None else tuple(classes[i].tolist()),
            truncation=truncation,
            parents=tuple(parents),
            origin=dict(origin or {}),
            run=run_name(pipe),
            step=pipe.step,
        )
        for i in range(len(z))
    ]


def run_name(pipe) -> str | None:
    return None if getattr(pipe, "run_dir", None) is None else Path(pipe.run_dir).name


def add_edits(latent: Latent, edits: Sequence[tuple[int, float]], directions: str | None) -> Latent:
    """A child latent with ``edits`` added (amounts on the same direction add up)."""
    if not edits:
        return latent
    if latent.edits and latent.directions != directions:
        raise UserError(
            f"this latent's edits refer to {latent.directions}, not {directions}; use the same directions file"
        )
    merged: dict[int, float] = dict(latent.edits)
    for i, a in edits:
        merged[int(i)] = merged.get(int(i), 0.0) + float(a)
    return replace(
        latent,
        edits=tuple(sorted(merged.items())),
        directions=directions,
        parents=(latent.id,),
        origin={"op": "edit", "edits": [list(e) for e in edits]},
    )


def parse_edits(spec: str | None) -> list[tuple[int | str, float]]:
    """``"0:+2.5,3:-1"`` -> [(0, 2.5), (3, -1.0)]; a name instead of an index is kept as a string."""
    if not spec:
        return []
    out: list[tuple[int | str, float]] = []
    for part in spec.split(","):
        key, sep, amount = part.strip().rpartition(":")
        if not sep or not key:
            raise UserError(f"bad edit {part!r}; write DIRECTION:AMOUNT, e.g. 0:+2.5,3:-1 or sleeves:+2")
        try:
            a = float(amount)
        except ValueError:
            raise UserError(f"bad edit amount in {part!r}; expected a number like +2.5") from None
        out.append((int(key) if key.isdigit() else key, a))
    return out


# ---- latent -> image ---------------------------------------------------------------------


def check_compatible(latents: Sequence[Latent], pipe, directions=None, exact: bool = True) -> None:
    """Refuse, with the reason, to render latents made by another run / checkpoint / directions file."""
    name, step = run_name(pipe), pipe.step
    for lat in latents:
        if len(lat.z) != pipe.z_dim:
            raise UserError(
                f"latent {lat.id} has {len(lat.z)} dimensions but this run's G takes {pipe.z_dim}; "
                f"it was made by run {lat.run or '?'}"
            )
        if lat.has_text and not getattr(pipe, "reads_text", False):
            raise UserError(
                f"latent {lat.id} was drawn from the prompt {lat.text_label!r} by a run that reads text; this run "
                f"does not; it was made by run {lat.run or '?'}"
            )
        k = len(lat.classes) if lat.classes is not None else 0
        if k != pipe.num_classes:
            raise UserError(
                f"latent {lat.id} has {k} class weights but this run has {pipe.num_classes} classes; "
                f"it was made by run {lat.run or '?'}"
            )
        if lat.over is not None and not getattr(pipe, "draws_over", False):
            raise UserError(
                f"latent {lat.id} was drawn over a picture by a run whose G draws over one (--preset emoji-text); "
                f"this run does not; it was made by run {lat.run or '?'}"
            )
        if exact and lat.run and name and lat.run != name:
            raise UserError(f"latent {lat.id} was made by run {lat.run}, not {name}; pass that run's folder")
        if exact and lat.step is not None and lat.step != step:
            raise UserError(
                f"latent {lat.id} was made at checkpoint step {lat.step} but this generator is step "
                f"{step}; pass --checkpoint {lat.step} to remake it exactly"
            )
        if lat.edits:
            if directions is None:
                raise UserError(
                    f"latent {lat.id} has edits from {lat.directions}, which this run no longer has; "
                    "it cannot be remade"
                )
            if directions.ref != lat.directions:
                raise UserError(
                    f"latent {lat.id} edits refer to directions {lat.directions}, but the run's file is "
                    f"{directions.ref} (recomputed since?); the edits would mean something else"
                )


def mean_latent(z_dim: int) -> torch.Tensor:
    """The mean of the latent prior N(0, I): truncation pulls z toward it."""
    return torch.zeros(z_dim)


def truncate(z: torch.Tensor, psi: float | torch.Tensor) -> torch.Tensor:
    """``mean + psi * (z - mean)`` for z (N, z_dim) and psi a number or (N, 1): the one implementation of
    truncation, used by ``Pipeline.generate`` and ``effective_z`` alike."""
    mean = mean_latent(z.shape[-1])
    return mean + psi * (z - mean)


def effective_z(latents: Sequence[Latent], directions=None) -> torch.Tensor:
    """(N, z_dim) inputs to G: truncation toward the mean, then edits (see the module docstring)."""
    if not latents:
        raise UserError("no latents to render")
    z = torch.tensor([l.z for l in latents], dtype=torch.float32)
    z = truncate(z, torch.tensor([l.truncation for l in latents], dtype=torch.float32)[:, None])
    for i, lat in enumerate(latents):
        if lat.edits:
            z[i] = z[i] + directions.offset(lat.edits)
    return z


def class_matrix(latents: Sequence[Latent]) -> torch.Tensor | None:
    """(N, K) class weights, or None for unconditional latents."""
    if latents[0].classes is None:
        return None
    return torch.tensor([l.classes for l in latents], dtype=torch.float32)


def checked_embedding(pipe, prompt: str, text_hash: str, where: str = "latent") -> torch.Tensor:
    """The prompt's embedding with the run's text model, refused (naming both hashes) when it is not the stored one."""
    e = pipe.embed_prompt(prompt)
    got = textembed.fingerprint(e.numpy())
    if got != text_hash:
        raise UserError(
            f"{where}: the text model now embeds {prompt!r} as {got}, not {text_hash} as when "
            "the picture was made (another machine or model version); it cannot be remade exactly"
        )
    return e


def mix_embedding(pipe, parts: Sequence[tuple[str, str, float]], where: str = "latent") -> torch.Tensor:
    """(text_dim,) float32: ``sum_i w_i * e_i`` over (prompt, text_hash, weight) parts, in order (one part of
    weight 1: the prompt's embedding itself, bit for bit). Each embedding is checked against its hash."""
    if len(parts) == 1 and parts[0][2] == 1.0:
        return checked_embedding(pipe, parts[0][0], parts[0][1], where)
    e = torch.zeros(pipe.text_dim, dtype=torch.float32)
    for p, h, w in parts:
        e = e + torch.tensor(w, dtype=torch.float32) * checked_embedding(pipe, p, h, where)
    return e


def text_matrix(pipe, latents: Sequence[Latent]) -> torch.Tensor | None:
    """(N, text_dim) prompt embeddings for a run that reads text (zeros, the empty caption, for latents without
    a prompt; the weighted sum for a text_mix), or None when no latent has text. Refuses an embedding whose
    fingerprint is not the stored one."""
    if not any(l.has_text for l in latents):
        return None
    rows = []
    for lat in latents:
        if not lat.has_text:
            rows.append(torch.zeros(pipe.text_dim))
            continue
        rows.append(pipe.anchored(mix_embedding(pipe, lat.text_parts, f"latent {lat.id}"), lat.anchor))
    return torch.stack(rows)


def condition_matrix(pipe, latents: Sequence[Latent]) -> torch.Tensor | None:
    """What G reads beside z: prompt embeddings (runs that read text) or class weights (or None)."""
    return text_matrix(pipe, latents) if getattr(pipe, "reads_text", False) else class_matrix(latents)


def render(pipe, latents: Sequence[Latent], directions=None, exact: bool = True) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] for latents, one G row at a time (so remakes are bit-exact)."""
    check_compatible(latents, pipe, directions, exact=exact)
    return _draw(pipe, latents, effective_z(latents, directions), condition_matrix(pipe, latents), 1)


def render_fast(pipe, latents: Sequence[Latent], directions=None, batch_size: int = 256) -> torch.Tensor:
    """Like ``render`` but batched: for previews, videos and scoring, where last-bit equality does not matter."""
    check_compatible(latents, pipe, directions, exact=False)
    y = condition_matrix(pipe, latents)
    return _draw(pipe, latents, effective_z(latents, directions), y, batch_size)


def _draw(pipe, latents: Sequence[Latent], z: torch.Tensor, y: torch.Tensor | None, batch_size: int) -> torch.Tensor:
    """G's pictures for the latents' inputs z (N, z_dim) and y (N, ...) or None: the latents drawn over a picture
    (``over``) and the others in two passes, put back in order."""
    drawn_over = [i for i, lat in enumerate(latents) if lat.over is not None]
    if not drawn_over:
        return pipe.generate(z, y, truncation=1.0, batch_size=batch_size)
    own = [i for i in range(len(latents)) if latents[i].over is None]
    over = torch.from_numpy(np.stack([latents[i].over_array for i in drawn_over]))  # type: ignore[misc]
    strength = torch.tensor([latents[i].over_strength for i in drawn_over], dtype=torch.float32)
    at = torch.tensor(drawn_over)
    pictures = pipe.generate(z[at], None if y is None else y[at], 1.0, batch_size, over=over, over_strength=strength)
    if not own:
        return pictures
    rest = torch.tensor(own)
    others = pipe.generate(z[rest], None if y is None else y[rest], 1.0, batch_size)
    out = torch.empty((len(latents), *pictures.shape[1:]), dtype=pictures.dtype)
    out[at], out[rest] = pictures, others
    return out
