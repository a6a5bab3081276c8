"""Tasks: what a model family does, in terms that the loop, the CLI, the studio and the tools can ask.

A family declares one task (``models.Family.task``); everything that would otherwise branch on a family's
name asks the task instead: the default training schedule, whether the data must be paired, how the
training preview is drawn and how it is written.

| task             | G reads             | G makes | data                       | default schedule |
|------------------|---------------------|---------|----------------------------|------------------|
| noise-to-image   | z (+ class weights) | picture | pictures (+ labels)        | simultaneous     |
| image-to-image   | a picture           | picture | (input, target) pairs      | pix2pix          |
| noise-to-sound   | z (+ pitch weights) | sound   | spectrograms (+ pitch)     | simultaneous     |

A new kind (noise + text -> picture, noise -> sound) is one more ``Task``: its inputs name what G
reads ("z", "image", "text"), ``output`` what it makes ("image" or "audio"), and its ``preview`` /
``write_preview`` how a training run shows progress (a grid PNG here; a WAV + spectrogram for sound).
Schedule names are strings: the schedules themselves live in ``training`` (which registers them), so
this layer never imports the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import media
from ..media_audio import SpecCodec, spectrogram_picture, write_wav
from ..pixels import to_float, to_uint8

Tensor = torch.Tensor
PREVIEW_SEED = 1234  # the same preview noise (and preview pairs) for every run: comparable grids


@dataclass(frozen=True)
class PreviewInputs:
    """What a training preview is drawn from, fixed for the whole run.

    noise-to-image: ``z`` (N, z_dim) and ``y`` (N, K) class weights or None; for a run that reads text
    (``with_captions``) ``y`` is (N, text_dim) caption embeddings and ``captions`` the column captions.
    image-to-image: ``inputs`` uint8 (8, Cin, H, W) training inputs and their ``targets`` uint8 (8, C, H, W).
    """

    z: Tensor | None = None
    y: Tensor | None = None
    inputs: Tensor | None = None
    targets: Tensor | None = None
    captions: tuple[str, ...] = ()  # a text run: the caption of each grid column (cell i draws caption i % len)


@dataclass(frozen=True)
class Preview:
    """A preview's pictures, uint8 (N, C, H, W) on the CPU, and how many go in a row of the grid; for sound,
    also ``audio`` float (n, samples) in [-1, 1] at ``sample_rate`` (the first notes, as waveforms)."""

    images: Tensor
    nrow: int
    audio: Tensor | None = None
    sample_rate: int = 0


@dataclass(frozen=True)
class Task:
    name: str
    inputs: tuple[str, ...]  # what G reads: "z", "image" (room for "text")
    output: str  # what G makes: "image" (room for "audio")
    default_schedule: str  # a name in training's SCHEDULES
    paired_data: bool  # trains on (input, target) pairs
    default_pairs: str | None  # the pairing used when data.pairs is unset (paired tasks)
    # (dataset, z_dim, num_classes, device) -> the run's fixed preview inputs
    preview_inputs: Callable[[Any, int, int, torch.device], PreviewInputs]
    # (G in eval mode, fixed inputs) -> the preview
    preview: Callable[[nn.Module, PreviewInputs], Preview]
    # (preview, path without suffix) -> the files written
    write_preview: Callable[[Preview, Path], list[Path]]


def _noise_inputs(dataset: Any, z_dim: int, num_classes: int, device: torch.device) -> PreviewInputs:
    fixed = torch.Generator().manual_seed(PREVIEW_SEED)
    z = torch.randn(64, z_dim, generator=fixed).to(device)
    y = F.one_hot(torch.arange(64) % num_classes, num_classes).float().to(device) if num_classes else None
    return PreviewInputs(z=z, y=y)


PREVIEW_CAPTIONS = 8  # a text run's preview: up to 8 training captions, one per column of the grid


def with_captions(fx: PreviewInputs, embeddings: Tensor, texts: tuple[str, ...]) -> PreviewInputs:
    """A text run's preview: ``fx`` (noise-to-image inputs) drawn from a fixed set of training captions instead of
    the empty one, so the grid (and the guard's diversity check) shows what the run learns.

    ``embeddings`` (M, D): every training caption's embedding, ``texts`` their M texts (``data.captions.
    CaptionTable``). Up to ``PREVIEW_CAPTIONS`` distinct non-empty texts are picked in an order drawn with
    ``PREVIEW_SEED`` (the same for every run on the same data); cell i of the grid draws caption ``i % c``, so,
    like classes in a class run, each column is one caption and each row one noise vector per column."""
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(PREVIEW_SEED)).tolist()
    rows: dict[str, int] = {}
    for r in order:
        if texts[r].strip() and texts[r] not in rows:
            rows[texts[r]] = r
            if len(rows) == PREVIEW_CAPTIONS:
                break
    if not rows:  # no caption at all: keep the empty-caption preview
        return fx
    assert fx.z is not None
    pick = torch.tensor(list(rows.values()))
    cells = torch.arange(len(fx.z)) % len(pick)
    y = embeddings[pick.to(embeddings.device)][cells.to(embeddings.device)].to(fx.z.device)
    return PreviewInputs(z=fx.z, y=y, captions=tuple(rows))


def _noise_preview(G: nn.Module, fx: PreviewInputs) -> Preview:
    images = to_uint8(G(fx.z, fx.y)).cpu()
    if fx.captions:  # a text run: one column per caption, full rows only
        c = len(fx.captions)
        return Preview(images[: c * (len(images) // c)], c)
    k = 0 if fx.y is None else fx.y.shape[1]
    if 2 <= k <= 16:  # the fixed labels cycle 0..k-1, so k columns = one column per class, full rows only
        return Preview(images[: k * (len(images) // k)], k)
    return Preview(images, 8)


def _pair_inputs(dataset: Any, z_dim: int, num_classes: int, device: torch.device) -> PreviewInputs:
    n = len(dataset.inputs)
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(PREVIEW_SEED))[:8]
    return PreviewInputs(inputs=dataset.inputs[idx].to(device), targets=dataset.images[idx].to(device))


def _pair_preview(G: nn.Module, fx: PreviewInputs) -> Preview:
    """Rows of 8: the fixed training inputs, G's outputs, the targets."""
    inp, target = fx.inputs, fx.targets
    assert inp is not None and target is not None
    fake = to_uint8(G(to_float(inp)))
    if inp.shape[1] != target.shape[1]:  # grey inputs next to colour targets (or the reverse)
        inp = inp.float().mean(1, keepdim=True).round().to(torch.uint8).expand(-1, target.shape[1], -1, -1)
    return Preview(torch.cat([inp, fake, target]).cpu(), 8)


def write_image_grid(preview: Preview, path: Path) -> list[Path]:
    """``path``.png: the preview as one grid, scaled up to about 256 px high so small models stay visible."""
    grid = media.make_grid(preview.images, nrow=preview.nrow)
    scale = max(1, 256 // grid.shape[0])
    return [media.save_image(grid, path.with_name(path.name + ".png"), scale=scale)]


NOISE_TO_IMAGE = Task(
    "noise-to-image",
    inputs=("z",),
    output="image",
    default_schedule="simultaneous",
    paired_data=False,
    default_pairs=None,
    preview_inputs=_noise_inputs,
    preview=_noise_preview,
    write_preview=write_image_grid,
)
IMAGE_TO_IMAGE = Task(
    "image-to-image",
    inputs=("image",),
    output="image",
    default_schedule="pix2pix",
    paired_data=True,
    default_pairs="sketch",
    preview_inputs=_pair_inputs,
    preview=_pair_preview,
    write_preview=write_image_grid,
)


def sound_codec(G: nn.Module) -> SpecCodec | None:
    """The spectrogram codec a noise-to-sound G carries (``SpecGANGenerator.codec``), or None for a picture G."""
    codec = getattr(getattr(G, "module", G), "codec", None)  # (through a DDP wrapper)
    return codec if isinstance(codec, SpecCodec) else None


def _sound_preview(G: nn.Module, fx: PreviewInputs) -> Preview:
    """The spectrograms as pictures (like noise-to-image), and the first row's notes as waveforms through
    G's ``codec`` (``media_audio.SpecCodec``: every noise-to-sound G carries the one its data was made with)."""
    x = G(fx.z, fx.y)
    codec = sound_codec(G)
    assert codec is not None, "a noise-to-sound family's G must carry its SpecCodec as .codec"
    audio = codec.decode(x[:8].float()).cpu()
    audio = audio / audio.abs().amax(dim=1, keepdim=True).clamp_min(1e-8) * 0.9
    return Preview(to_uint8(x).cpu(), 8, audio=audio, sample_rate=codec.sample_rate)


def write_sound_preview(preview: Preview, path: Path) -> list[Path]:
    """``path``.png: the spectrograms as a grid (magma colours, low frequencies at the bottom); ``path``.wav:
    the preview's notes one after another, 0.2 s apart."""
    spec = preview.images.float().div(127.5).sub(1).numpy()
    pictures = torch.from_numpy(spectrogram_picture(spec))
    grid = media.make_grid(pictures, nrow=preview.nrow)
    scale = max(1, 256 // grid.shape[0])
    files = [media.save_image(grid, path.with_name(path.name + ".png"), scale=scale)]
    if preview.audio is not None and preview.sample_rate:
        gap = torch.zeros(len(preview.audio), int(0.2 * preview.sample_rate))
        wave = torch.cat([preview.audio, gap], dim=1).flatten().numpy()
        files.append(write_wav(path.with_name(path.name + ".wav"), wave, preview.sample_rate))
    return files


NOISE_TO_SOUND = Task(
    "noise-to-sound",
    inputs=("z",),
    output="audio",
    default_schedule="simultaneous",
    paired_data=False,
    default_pairs=None,
    preview_inputs=_noise_inputs,
    preview=_sound_preview,
    write_preview=write_sound_preview,
)

TASKS: dict[str, Task] = {t.name: t for t in (NOISE_TO_IMAGE, IMAGE_TO_IMAGE, NOISE_TO_SOUND)}
