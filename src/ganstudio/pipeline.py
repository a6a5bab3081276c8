"""``load(run_dir) -> Pipeline``: a trained generator with seeded, reproducible sampling.

Image i of a call with ``seed=s`` is drawn from its own generator seeded ``s + i``, so a
picture is identified by one integer: ``pipe(n=1, seed=s+i)`` remakes it exactly.
Outputs: float images in [0, 1] shaped (N, C, H, W), plus PIL images on request. A run trained with
``data.background="transparent"`` makes RGBA (C = 4, straight alpha): its PIL images are RGBA and
``Output.save`` writes RGBA PNGs (a JPEG gets the pictures over white).

A run that reads text (``reads_text``: the model config's ``text_dim`` > 0) draws from a prompt:
``pipe(n=4, prompt="a red apple")`` conditions G on the prompt's sentence embedding (``textembed``, the
run's own text model); the noise keeps the variety. Without a prompt it draws from the empty caption.
``pipe(n=4, prompt={"an apple": 0.7, "a rocket": 0.3})`` draws from a blend of prompts (``latents.mix_prompts``:
the weighted sum of their embeddings, at unit length), the same blend a walk between them passes through.
``pipe(n=4, prompt="a crimson apple", anchor=0.5)`` pulls the prompt's embedding halfway toward the run's
nearest training captions (``textembed.anchor``, the run's ``captions.json``): G draws the captions it was
trained on far better than the space between them, so an unseen wording often comes out crisper anchored.

Sound runs (task noise-to-sound): the "images" are spectrogram pictures (C = 2: log magnitude + IF, or 1),
``Pipeline.to_audio`` turns them into waveforms (G's ``codec``), ``Output.audio`` holds them, and
``render_note(pipe_or_run, pitch, z, velocity)`` is the one call that plays a note through a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageColor

from . import media, runs, textembed
from .config import RunConfig
from .data import coarse_classes
from .data.folder import fit_picture
from .errors import UserError
from .latents import (
    NEGATIVE_NEEDS_PROMPT,
    NEGATIVE_WEIGHT,
    Latent,
    check_over_strength,
    mix_embedding,
    mix_prompts,
    parts_label,
    truncate,
    with_negative,
)
from .media_audio import SpecCodec, peak_normalize
from .models import build
from .models.tasks import sound_codec


@dataclass
class Output:
    images: torch.Tensor  # float (N, C, H, W) in [0, 1], on the CPU
    z: torch.Tensor  # (N, z_dim) latents before truncation
    seeds: list[int]
    classes: torch.Tensor | None  # (N, num_classes) class weights, or None
    audio: np.ndarray | None = None  # sound runs: float32 (N, samples) waveforms, each peak-normalised to 0.9
    sample_rate: int = 0  # sound runs: the waveforms' rate in Hz
    prompt: str | None = None  # runs that read text: the prompt the pictures were drawn from (classes: its embedding)

    @property
    def pil(self) -> list[Image.Image]:
        return media.to_pils(self.images)

    def grid(self, nrow: int | None = None) -> Image.Image:
        return media.to_pil(media.make_grid(self.images, nrow))

    def save(self, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
        """Write the images as one grid file (one image: just it, no border); PNG keeps RGBA's alpha."""
        if len(self.images) == 1:
            return media.save_image(media.to_pil(media.hwc(media.as_uint8_nchw(self.images)[0]), scale), path)
        return media.save_grid(self.images, path, nrow, scale)


class Pipeline:
    """G + latent sampler + post-processing, rebuilt from a run folder."""

    def __init__(
        self,
        G: torch.nn.Module,
        config: RunConfig,
        run_dir: Path | None,
        step: int,
        device: torch.device,
        class_names: tuple[str, ...] = (),
    ):
        self.G, self.config, self.run_dir, self.step, self.device = G.eval(), config, run_dir, step, device
        self.z_dim = cast(int, G.z_dim)  # every family's G sets z_dim (an int) in its __init__
        self.num_classes: int = config.model_config.num_classes
        self.class_names = class_names
        self.text_dim: int = int(getattr(config.model_config, "text_dim", 0) or 0)
        self.text_model: str = str(getattr(config.model_config, "text_model", textembed.DEFAULT_MODEL))
        self._bank: tuple[list[str], np.ndarray] | None = None  # the training captions and their embeddings

    @property
    def reads_text(self) -> bool:
        """G draws from a prompt's sentence embedding (a text-conditioned run), not from classes."""
        return self.text_dim > 0

    def embed_prompt(self, prompt: str) -> torch.Tensor:
        """(text_dim,) float32: the prompt's embedding with the run's text model (cached on disk)."""
        if not self.reads_text:
            raise UserError(
                "this run does not read text; `ganstudio generate RUN --prompt ...` maps a prompt to its nearest "
                "class instead (class-conditional runs), or train one that reads text with --preset emoji-text"
            )
        prompt = (prompt or "").strip()
        if not prompt:
            raise UserError("the prompt is empty; describe a picture, e.g. --prompt 'a red apple'")
        e = torch.from_numpy(textembed.embed([prompt], self.text_model)[0].copy())
        if e.shape != (self.text_dim,):
            raise UserError(f"the text model {self.text_model} gives {tuple(e.shape)}, this run reads {self.text_dim}")
        return e

    def caption_bank(self) -> tuple[list[str], np.ndarray]:
        """(texts, (M, text_dim) unit embeddings): the distinct non-empty captions this run trained on, read
        from its ``captions.json`` (embedded with the run's text model, cached on disk)."""
        if self._bank is None:
            kept = None if self.run_dir is None else runs.read_captions(self.run_dir)
            if kept is None:
                raise UserError(
                    f"run {self.run_dir} keeps no training captions (trained before runs kept them); resume it once "
                    "(`ganstudio train --resume RUN --steps N`, N its last step) to write them, or leave --anchor at 0"
                )
            model, rows = kept
            if model != self.text_model:
                raise UserError(f"the run's captions.json was embedded with {model}, the run reads {self.text_model}")
            emb = textembed.embed(rows, model)  # every row, as training embedded them (one cache entry)
            keep = {t: i for i, t in reversed(list(enumerate(rows))) if t}  # first row of each distinct text
            order = sorted(keep.values())
            self._bank = [rows[i] for i in order], emb[order]
        return self._bank

    def training_captions(self) -> list[str]:
        """The distinct captions the run trained on, in order ([] when the run keeps none: trained before runs kept
        them, or a run that does not read text)."""
        if not self.reads_text:
            return []
        try:
            return self.caption_bank()[0]
        except UserError:  # a run from before runs kept their captions
            return []

    def caption_for_seed(self, seed: int) -> str | None:
        """The training caption seed ``seed`` draws when no prompt is given (None for a run that reads no text or
        keeps no captions): caption number (seed x SEED_STRIDE) mod N, a fixed shuffle, so consecutive seeds draw
        captions far apart (the captions of one picture sit together) and N consecutive seeds draw each once."""
        texts = self.training_captions()
        return texts[(seed * SEED_STRIDE) % len(texts)] if texts else None

    def spread_captions(self, k: int) -> list[str]:
        """Up to ``k`` of the run's training captions, evenly spread over them (the first, then every m-th):
        prompts that show what a text run draws when nobody asked for one ([] when the run keeps none)."""
        texts = self.training_captions()
        step = max(1, -(-len(texts) // k))
        return texts[::step][:k]

    def anchored(self, e: torch.Tensor, strength: float) -> torch.Tensor:
        """(text_dim,) embedding pulled toward the run's nearest training captions by ``strength`` in [0, 1]
        (``textembed.anchor``); strength 0 returns ``e`` itself."""
        if textembed.anchor_strength(strength) == 0.0:
            return e
        return torch.from_numpy(textembed.anchor(e.numpy(), self.caption_bank()[1], strength).copy())

    def known_captions(self, prompt: str, k: int = 5) -> list[tuple[str, float]]:
        """The run's ``k`` training captions nearest ``prompt`` [(caption, cosine), ...]: what G knows best
        near what was asked (shown beside a prompt's pictures)."""
        texts, bank = self.caption_bank()
        return [(texts[i], c) for i, c in textembed.nearest(self.embed_prompt(prompt).numpy(), bank, k)]

    @property
    def retrieves(self) -> bool:
        """G draws each caption over the picture of its nearest training caption (``model.retrieve``)."""
        return bool(getattr(self.G, "retrieves", False))

    @torch.no_grad()
    def text_embedding(self, prompt: str | Mapping[str, float]) -> torch.Tensor:
        """(text_dim,) float32: what G reads for ``prompt``: a text's embedding, or a ``{prompt: weight}`` mix's
        (negative weights steer away; ``latents.mix_prompts``)."""
        return self.labelled_embedding(prompt)[0]

    @torch.no_grad()
    def labelled_embedding(self, prompt: str | Mapping[str, float]) -> tuple[torch.Tensor, str]:
        """``text_embedding`` and its words: the stripped text, or the mix's (``latents.parts_label``)."""
        if isinstance(prompt, Mapping):
            parts = mix_prompts(self, prompt)
            return mix_embedding(self, parts), parts_label(parts)
        return self.embed_prompt(prompt), prompt.strip()

    @torch.no_grad()
    def reference_caption(self, prompt: str | Mapping[str, float], anchor: float = 0.0) -> str | None:
        """The training caption whose picture G draws ``prompt`` (anchored at ``anchor``) over, for a retrieving
        run (with ``retrieve_variety``, the seeds also draw over its neighbours); None for any other run, or one that
        keeps no ``captions.json``."""
        if not self.retrieves or self.run_dir is None:
            return None
        kept = runs.read_captions(self.run_dir)
        if kept is None:
            return None
        e = self.anchored(self.text_embedding(prompt), anchor)[None].to(self.device)
        row = int(cast(Callable, self.G.reference_rows)(e)[0])
        return kept[1][row] if row < len(kept[1]) else None

    @property
    def is_sound(self) -> bool:
        """Whether G draws spectrograms (task noise-to-sound) that ``to_audio`` turns into waveforms."""
        return sound_codec(self.G) is not None

    @property
    def codec(self) -> SpecCodec:
        """A sound run's spectrogram <-> waveform mapping (UserError for a picture run)."""
        codec = sound_codec(self.G)
        if codec is None:
            raise UserError(f"run {self.run_dir} makes pictures, not sound; use a sound run (e.g. --model specgan)")
        return codec

    @property
    def sample_rate(self) -> int:
        """The waveforms' sample rate in Hz for a sound run, 0 otherwise."""
        codec = sound_codec(self.G)
        return codec.sample_rate if codec is not None else 0

    @torch.no_grad()
    def to_audio(self, images: torch.Tensor, peak: float = 0.9) -> np.ndarray:
        """Sound runs: spectrogram pictures (N, C, H, W) in [0, 1] (what ``generate`` returns) -> float32
        (N, samples) waveforms, each scaled so its largest sample is ``peak`` (silence stays silence)."""
        codec = self.codec
        waves = [codec.decode(images[i : i + 64].float().mul(2).sub(1)) for i in range(0, len(images), 64)]
        out = torch.cat(waves).cpu().numpy() if waves else np.zeros((0, codec.length), np.float32)
        return peak_normalize(out, peak)

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """(n, z_dim) standard normal latents, latent i from a generator seeded ``seed + i``."""
        return torch.stack(
            [torch.randn(self.z_dim, generator=torch.Generator().manual_seed(seed + i)) for i in range(n)]
        )

    def class_weights(self, classes, n: int) -> torch.Tensor | None:
        """Class weights (n, K) from None (uniform random by seed order), an index, a name, or a (K,)/(n,K) tensor."""
        if not self.num_classes:
            if classes is not None:
                raise UserError("this run is not class-conditional; drop --class")
            return None
        if classes is None:
            return F.one_hot(torch.arange(n) % self.num_classes, self.num_classes).float()
        if isinstance(classes, str) and (members := self.members_of(classes)):
            # a coarser class than the run's (an emoji group of a subgroup-conditioned run): its members in turn
            return F.one_hot(torch.tensor(members)[torch.arange(n) % len(members)], self.num_classes).float()
        if isinstance(classes, (int, str)):
            idx = self.class_index(classes)
            return F.one_hot(torch.full((n,), idx), self.num_classes).float()
        w = torch.as_tensor(classes, dtype=torch.float32)
        return w.expand(n, -1).clone() if w.ndim == 1 else w

    def members_of(self, name: str) -> list[int]:
        """The run's classes under a coarser class ``name`` (``data.coarse_classes``: "Food & Drink" -> the
        indices of "food-fruit", "food-vegetable", ... in a subgroup-conditioned emoji run); [] when ``name`` is
        one of the run's own classes or no coarser class of that name exists."""
        own = [s.lower() for s in self.class_names]
        if not own or name.lower() in own:
            return []
        coarse = coarse_classes(tuple(self.class_names)) or ()
        return [i for i, c in enumerate(coarse) if c.lower() == name.lower()]

    def class_index(self, c: int | str) -> int:
        if isinstance(c, str) and not c.isdigit():
            names = [s.lower() for s in self.class_names]
            if c.lower() in names:
                return names.index(c.lower())
            groups = sorted(set(coarse_classes(tuple(self.class_names)) or ()))
            also = f" (or one of their groups: {', '.join(groups)})" if groups else ""
            raise UserError(f"unknown class {c!r}; this run's classes: {', '.join(self.class_names)}{also}")
        i = int(c)
        if not 0 <= i < self.num_classes:
            raise UserError(f"class index {i} out of range 0..{self.num_classes - 1}")
        return i

    @torch.no_grad()
    def generate(
        self,
        z: torch.Tensor,
        classes: torch.Tensor | None = None,
        truncation: float = 1.0,
        batch_size: int = 256,
        over: torch.Tensor | None = None,
        over_strength: torch.Tensor | float = 1.0,
    ) -> torch.Tensor:
        """Images (N, C, H, W) in [0, 1] for explicit latents; truncation pulls z toward its mean (0); ``over``
        (N or 1, C, h, w) uint8 at G's drawing size: the pictures G draws over (``draws_over`` runs), at
        ``over_strength`` (a number or (N,) in (0, 1]: how much of them, the rest the prompt's own reference)."""
        z = truncate(z, truncation)
        if over is not None:
            self._check_over(over)
        out = []
        for i in range(0, len(z), batch_size):
            zb = z[i : i + batch_size].to(self.device)
            yb = None if classes is None else classes[i : i + batch_size].to(self.device)
            if over is None:
                out.append(self.G(zb, yb).float().add(1).mul(0.5).clamp(0, 1).cpu())
                continue
            ob = over if len(over) == 1 else over[i : i + batch_size]
            ob = ob.to(self.device).float() / 127.5 - 1
            sb = over_strength[i : i + batch_size] if isinstance(over_strength, torch.Tensor) else over_strength
            out.append(self.G(zb, yb, over=ob, over_strength=sb).float().add(1).mul(0.5).clamp(0, 1).cpu())
        return torch.cat(out) if out else torch.empty(0)

    @property
    def draws_over(self) -> bool:
        """Whether G draws over a reference picture that a user may choose (``over``): retrieving text runs."""
        return bool(getattr(self.G, "draws_over", False))

    @property
    def drawn_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the pictures G draws over (the size G draws at; a run drawn small enlarges after)."""
        if not self.draws_over:
            raise UserError(self._no_over())
        c, h, w = cast(torch.Tensor, self.G.ref_images).shape[1:]  # a buffer: mypy sees Tensor | Module
        return int(c), int(h), int(w)

    def _no_over(self) -> str:
        return (
            "this run's generator does not draw over a picture; --over needs a run that reads text and retrieves "
            "(train one with --preset emoji-text or emoji-text-64)"
        )

    def _check_over(self, over: torch.Tensor) -> None:
        if not self.draws_over:
            raise UserError(self._no_over())
        if over.dtype != torch.uint8 or over.dim() != 4 or tuple(over.shape[1:]) != self.drawn_shape:
            raise UserError(
                f"the picture to draw over is {tuple(over.shape[1:])} {over.dtype}; this run draws over uint8 "
                f"{self.drawn_shape} (C, h, w): make it with Pipeline.over_picture"
            )

    def over_picture(self, source: str | Path | Image.Image) -> str:
        """A picture to draw over (a file, a PNG ``data:`` URL or a PIL image) shaped to what G draws at, as a
        folder's pictures are for training (alpha over the run's background, center-cropped): its PNG data URL,
        which a latent keeps (``Latent.over``) so that the picture remakes without the file."""
        c, h, w = self.drawn_shape
        data = self.config.data
        background = None
        if not data.transparent:
            r, g, b = ImageColor.getrgb(data.background)[:3]
            background = (r, g, b)
        with _opened_picture(source) as im:
            return media.png_data_url(fit_picture(im, (w, h), c, background))

    def __call__(
        self,
        n: int = 1,
        seed: int = 0,
        truncation: float = 1.0,
        classes=None,
        prompt: str | Mapping[str, float] | None = None,
        anchor: float = 0.0,
        over: str | Path | Image.Image | None = None,
        over_strength: float = 1.0,
        negative: str | Sequence[str] | None = None,
        negative_weight: float = NEGATIVE_WEIGHT,
    ) -> Output:
        """``n`` samples from seeds ``seed..seed+n-1``; ``prompt``: a text (runs that read text) or a
        ``{prompt: weight}`` blend of several; ``anchor`` in [0, 1]: how far the prompt is pulled toward the
        run's nearest training captions (``anchored``); ``over``: a picture (file, PNG data URL or PIL image) G
        draws the prompt over instead of its nearest training picture (``draws_over`` runs); ``over_strength`` in
        (0, 1]: how much of that picture (the rest: the prompt's own nearest training pictures); ``negative``: text
        (or several) to steer the prompt away from, each at ``negative_weight`` in (0, 1] (``latents.with_negative``)."""
        if n <= 0:
            raise UserError(f"n must be positive, got {n}")
        if anchor and prompt is None:
            raise UserError("--anchor pulls a prompt toward the run's captions; give a prompt too (--prompt TEXT)")
        if over is not None and prompt is None:
            raise UserError(OVER_NEEDS_PROMPT)
        if negative is not None and prompt is None:
            raise UserError(NEGATIVE_NEEDS_PROMPT)
        if prompt is not None:
            prompt = with_negative(prompt, negative, negative_weight)
        over_strength = check_over_strength(over_strength, over is not None)
        picture = None
        if over is not None:
            picture = torch.from_numpy(media.from_png_data_url(self.over_picture(over), what="the picture"))[None]
        z = self.latents(n, seed)
        label = None
        if prompt is not None:
            if classes is not None:
                raise UserError("give either classes or a prompt, not both")
            e, label = self.labelled_embedding(prompt)
            y: torch.Tensor | None = self.anchored(e, anchor).expand(n, -1).clone()
        else:
            y = self.class_weights(classes, n)
        images = self.generate(z, y, truncation, over=picture, over_strength=over_strength)
        if prompt is not None:
            return Output(images, z, list(range(seed, seed + n)), y, prompt=label)
        if self.is_sound:
            return Output(images, z, list(range(seed, seed + n)), y, self.to_audio(images), self.sample_rate)
        return Output(images, z, list(range(seed, seed + n)), y)


OVER_NEEDS_PROMPT = '--over draws a prompt over a picture; give the prompt too, e.g. --prompt "a red apple"'


@contextmanager
def _opened_picture(source: str | Path | Image.Image) -> Iterator[Image.Image]:
    """``source`` (a PIL image, a PNG data URL or a file) as a PIL image; a file that cannot be decoded, here or
    while the caller reads its pixels, is a one-line UserError naming it."""
    if isinstance(source, Image.Image):
        yield source
        return
    if isinstance(source, str) and source.startswith(media.PNG_DATA_URL):
        yield Image.fromarray(media.hwc(media.from_png_data_url(source, 4096, "the picture to draw over")))
        return
    path = Path(source)
    if not path.is_file():
        raise UserError(f"the picture to draw over, {path}, is not a file; give a PNG or JPEG file")
    try:
        with Image.open(path) as im:
            yield im
    except UserError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:  # Pillow's ways to fail on bad data
        raise UserError(f"cannot read {path} as a picture ({type(e).__name__}); give a PNG or JPEG file") from None


# Knuth's multiplicative-hash prime: seed -> seed x this mod N visits every caption once per N seeds unless N is a
# multiple of it (no caption set is that large).
SEED_STRIDE = 2654435761


def load(run_dir: str | Path, checkpoint: str | int = "latest", device: str = "cpu") -> Pipeline:
    """Rebuild a run's generator (the EMA copy when the run has one) for sampling."""
    from .devices import resolve_device

    run_dir = runs.require_run(run_dir)
    cfg = RunConfig.from_dict(runs.read_config_dict(run_dir))
    ckpt = runs.find_checkpoint(run_dir, checkpoint)
    if ckpt is None:
        raise UserError(f"run {run_dir} has no checkpoint yet; train it first (or wait for its first save)")
    dev = resolve_device(device)
    G, _ = build(cfg.model, cfg.model_config)
    weights = ckpt.tensors("G_ema" if ckpt.has("G_ema") else "G")
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise UserError(f"checkpoint {ckpt.path} does not match the run's model ({str(e).splitlines()[0]})") from None
    return Pipeline(G.to(dev), cfg, run_dir, ckpt.step, dev, cfg.class_names)


def pitch_class(pipe: Pipeline, pitch: int) -> int:
    """The class index of MIDI ``pitch`` in a pitch-conditioned sound run (class names "C2".."C6"); a UserError
    naming the run's range when it cannot play that pitch."""
    from .data.gm_notes import pitch_name

    names = [n.lower() for n in pipe.class_names]
    name = pitch_name(int(pitch)).lower()
    if name not in names:
        span = f"{pipe.class_names[0]}..{pipe.class_names[-1]}" if pipe.class_names else "none (not pitch-conditioned)"
        raise UserError(f"MIDI pitch {pitch} ({pitch_name(int(pitch))}) is outside this run's pitches ({span})")
    return names.index(name)


def render_notes(
    run_or_pipe: str | Path | Pipeline,
    pitches,
    z: torch.Tensor | np.ndarray | Latent | None = None,
    velocities=127,
    seed: int = 0,
) -> np.ndarray:
    """Notes through a sound run: MIDI ``pitches`` (n,) -> float32 (n, samples) mono at ``pipe.sample_rate``.

    ``z``: one latent (z_dim,) shared by every note (one instrument), (n, z_dim) one each, a ``Latent`` (its z,
    truncated; its class is replaced by the pitch; its edits are not applied), or None: the latent seeded ``seed``. ``velocities`` (MIDI 1..127, one or n): loudness only (the run is not conditioned on it),
    by General MIDI's curve, amplitude (v / 127)^2 on a note peak-normalised to 0.9."""
    pipe = run_or_pipe if isinstance(run_or_pipe, Pipeline) else load(run_or_pipe)
    if not pipe.is_sound:
        raise UserError(f"run {pipe.run_dir} makes pictures, not sound; give a sound run (e.g. --model specgan)")
    pitches = np.atleast_1d(np.asarray(pitches, dtype=np.int64))
    n = len(pitches)
    vel = np.broadcast_to(np.asarray(velocities, dtype=np.float64), (n,))
    if np.any((vel < 0) | (vel > 127)):
        raise UserError(f"velocities must be MIDI 0..127, got {vel.min():g}..{vel.max():g}")
    if isinstance(z, Latent):
        zt = truncate(torch.tensor(z.z, dtype=torch.float32), z.truncation)
    else:
        zt = pipe.latents(1, seed) if z is None else torch.as_tensor(np.asarray(z), dtype=torch.float32)
    if zt.ndim == 1:
        zt = zt[None]
    if zt.shape[-1] != pipe.z_dim or len(zt) not in (1, n):
        raise UserError(f"z must be ({pipe.z_dim},) or ({n}, {pipe.z_dim}), got {tuple(zt.shape)}")
    zt = zt.expand(n, -1)
    y = None
    if pipe.num_classes:
        idx = torch.tensor([pitch_class(pipe, int(p)) for p in pitches])
        y = F.one_hot(idx, pipe.num_classes).float()
    waves = pipe.to_audio(pipe.generate(zt, y))
    return (waves * ((vel / 127.0) ** 2)[:, None]).astype(np.float32)


def render_note(
    run_or_pipe: str | Path | Pipeline,
    pitch: int,
    z: torch.Tensor | np.ndarray | Latent | None = None,
    velocity: int = 127,
    seed: int = 0,
) -> np.ndarray:
    """One note through a sound run: float32 (samples,) mono at the run's ``sample_rate`` (1 s for gm-notes
    runs); see ``render_notes`` (z: (z_dim,), a Latent, or None for the latent seeded ``seed``; velocity MIDI
    0..127, loudness only)."""
    return render_notes(run_or_pipe, [pitch], z, velocity, seed)[0]
