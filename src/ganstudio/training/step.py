"""The step contract: what a schedule is given (``StepContext``), what it declares (``Schedule``).

A schedule is a function ``step(ctx) -> dict of detached scalar tensors`` (d_loss, g_loss, ...). It pulls
real batches and latents from ``ctx`` (``next_real``, ``next_pair``, ``sample_latents``), computes losses
with ``ctx.loss``, averages gradients with ``ctx.sync_grads`` before its optimizer steps, and never syncs
with the host (no ``.item()``): the loop reads the returned tensors only when it logs.

The loop, not the schedule, owns the counters: ``ctx.d_steps`` is the number of D updates made before
this step, and after the step the loop adds ``schedule.d_updates(train_cfg, model_cfg)``. A schedule that
makes several D updates in one step (``alternating`` with ``n_dis`` > 1) numbers them ``ctx.d_steps + 1``,
``+ 2``, ... (lazy R1 is due when that number is a multiple of ``r1_every``).

Schedules are registered in ``training.schedules.SCHEDULES`` with the tasks they train, so a run whose
family and schedule disagree is refused before anything is written (``training.resolve``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..data.base import ImageDataset, to_float
from ..data.captions import CaptionTable, caption_table
from ..errors import UserError
from ..losses import Loss
from .components import EMA, Augmenter, LeCamAnchors
from .guide import TextGuide
from .regularizers import lecam_penalty
from .sampler import BatchSampler

Tensor = torch.Tensor
Params = list[torch.nn.Parameter]
# ``train.retrieve_self``: the jitter (a fraction of a caption's norm) that moves a caption off its exact bank row:
# its cosine with that row falls to about 1 - 0.05^2 / 2 = 0.9988, below ``lightweight.SAME_CAPTION`` (0.9999)
# for any draw, and far above its cosine with any other caption.
SELF_JITTER = 0.05


class Batches:
    """Where a step's data and noise come from: the seeded, checkpointed data order (``sampler``), the
    checkpointed noise generator, and the dataset held on the device.

    A run that reads text (the model config's ``text_dim`` > 0; ``StepContext`` calls ``read_text``): y is
    a caption's sentence embedding (B, text_dim) instead of class weights. ``next_real`` draws one of each
    picture's captions, ``sample_latents`` a random picture's caption, both from the checkpointed noise
    generator (so resumes stay bit-exact); the embeddings are computed once (``data.captions``, cached).

    Under torchrun (``world`` > 1) each process takes its slice of each global batch of data (the
    sampler's job) and of latents: every process draws the *global* batch of latents from the same
    generator and keeps its own rows, so the latent stream (and the checkpointed RNG state) is the
    single-process one whatever the world size.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        sampler: BatchSampler,
        noise: torch.Generator,
        z_dim: int,
        num_classes: int,
        device: torch.device,
        augmenter: Augmenter | None,
        rank: int = 0,
        world: int = 1,
    ):
        self.sampler, self.noise, self.z_dim, self.num_classes = sampler, noise, z_dim, num_classes
        self.device, self.augmenter, self.rank, self.world = device, augmenter, rank, world
        self.images = dataset.images.to(device)
        self.inputs = None if dataset.inputs is None else dataset.inputs.to(device)  # paired data's inputs
        self.labels = None if dataset.labels is None or not num_classes else dataset.labels.to(device)
        self.dataset = dataset
        self.captions: CaptionTable | None = None  # set by ``read_text`` for a run that reads text
        self.real_rows: Tensor | None = None  # text runs: the caption rows of the last real batch (``own_captions``)

    def read_text(self, text_dim: int, model: str) -> None:
        """Carry the dataset's caption embeddings: y becomes a caption's (B, text_dim) embedding."""
        table = caption_table(self.dataset, model)
        if table.embeddings.shape[1] != text_dim:
            raise UserError(
                f"model.text_dim is {text_dim} but the text model {model} gives {table.embeddings.shape[1]} "
                f"dimensions; set model.text_dim={table.embeddings.shape[1]}"
            )
        self.captions = CaptionTable(
            table.embeddings.to(self.device),
            table.start.to(self.device),
            table.count.to(self.device),
            table.texts,
            table.model,
            table.shared.to(self.device),
        )

    def _caption_rows(self, pictures: Tensor, u: Tensor) -> Tensor:
        """(B,) picture indices, (B,) uniform numbers -> (B,) the caption table's row of one caption of each."""
        assert self.captions is not None
        c = self.captions
        count = c.count[pictures]
        return c.start[pictures] + (u * count).long().clamp_(max=count - 1)

    def _caption_of(self, pictures: Tensor, u: Tensor) -> Tensor:
        """(B,) picture indices, (B,) uniform numbers -> (B, D) the embedding of one caption of each."""
        assert self.captions is not None
        return self.captions.embeddings[self._caption_rows(pictures, u)]

    def own_captions(self) -> Tensor:
        """(B,) bool for the last real batch: its caption names that picture alone (no other picture has it),
        so that picture is the one G should draw for it (``train.caption_recon``)."""
        assert self.captions is not None and self.real_rows is not None, "next_real on a text run comes first"
        return ~self.captions.shared[self.real_rows]

    def next_real(self) -> tuple[Tensor, Tensor | None]:
        """Real images (B, C, H, W) in [-1, 1] (flipped when --flip) and their one-hot labels (B, K) or None."""
        idx = self.sampler.next().to(self.device, non_blocking=True)
        x = to_float(self.images[idx])
        if self.augmenter is not None:
            x = self.augmenter.flip(x)
        if self.captions is not None:  # one of each picture's captions, the same stream whatever the world size
            u = torch.rand(len(idx) * self.world, device=self.device, generator=self.noise)
            self.real_rows = self._caption_rows(idx, u[self.rank * len(idx) : (self.rank + 1) * len(idx)])
            return x, self.captions.embeddings[self.real_rows]
        y = None if self.labels is None else F.one_hot(self.labels[idx], self.num_classes).float()
        return x, y

    def next_pair(self) -> tuple[Tensor, Tensor]:
        """Paired data's (input (B, Cin, H, W), target (B, C, H, W)) in [-1, 1], by the same sampler as next_real."""
        if self.inputs is None:
            raise UserError(
                "this schedule needs paired data: set data.pairs (sketch, grayscale or folders), "
                "e.g. --set data.pairs=sketch"
            )
        idx = self.sampler.next().to(self.device, non_blocking=True)
        inp, x = to_float(self.inputs[idx]), to_float(self.images[idx])
        if self.augmenter is not None and self.augmenter.flip_real:  # flip input and target together
            both = self.augmenter.flip(torch.cat([inp, x], 1))
            inp, x = both[:, : inp.shape[1]], both[:, inp.shape[1] :]
        return inp, x

    def sample_latents(self, b: int) -> tuple[Tensor, Tensor | None]:
        """(z (b, z_dim), one-hot classes (b, K) or None) for this process's b rows of the global batch."""
        n = b * self.world
        z = torch.randn(n, self.z_dim, device=self.device, generator=self.noise)
        rows = slice(self.rank * b, (self.rank + 1) * b)
        if self.captions is not None:  # captions of random training pictures
            pics = torch.randint(len(self.captions.start), (n,), device=self.device, generator=self.noise)
            u = torch.rand(n, device=self.device, generator=self.noise)
            return z[rows], self._caption_of(pics[rows], u[rows])
        if not self.num_classes:
            return z[rows], None
        c = torch.randint(self.num_classes, (n,), device=self.device, generator=self.noise)
        return z[rows], F.one_hot(c[rows], self.num_classes).float()


def apply_grads(params: Params, grads) -> None:
    """Hand ``torch.autograd.grad``'s results to the optimizer (schedules compute gradients explicitly)."""
    for p, g in zip(params, grads):
        p.grad = g


@dataclass
class StepContext:
    """Everything a schedule may use in one step, and nothing else (no run folder, no hooks, no counters
    to bump). Built once by the trainer; ``d_steps`` is refreshed by the loop before every step."""

    cfg: TrainConfig
    model_config: Any
    G: torch.nn.Module
    D: torch.nn.Module
    g_params: Params
    d_params: Params
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: Loss
    noise: torch.Generator  # the checkpointed generator for latents, dropout masks and penalty mixing
    batches: Batches
    augmenter: Augmenter | None = None  # DiffAugment/ADA state (also flips, inside next_real)
    ema: EMA | None = None
    lecam: LeCamAnchors | None = None  # LeCam's anchors (``train.lecam`` > 0): D's loss adds ``lecam_penalty``
    acgan: bool = False  # D has an auxiliary classifier head: D(x, y, return_aux=True)
    # D's self-supervised reconstruction of its real inputs (``lightweight``): its weight in D's loss,
    # 0 when off; D then offers ``forward_and_reconstruct(x, y, n_real, generator)``. Lazy: due on every
    # ``recon_every``-th D update only (``recon_weight_at``), with its weight multiplied by ``recon_every``.
    recon_weight: float = 0.0
    recon_every: int = 1
    # G's super-resolution stage (``lightweight`` with upscale > 1): trained on real pictures by adding
    # ``G.detail_loss(real)`` to G's loss (D never sees the stage, so this is its only signal).
    learns_detail: bool = False
    # XMC-GAN's caption matching term (text runs, ``lightweight`` with ``match_weight`` > 0): its weight in D's
    # and G's losses, 0 when off; D then offers ``forward_parts`` (logits, aux, recon, features) and ``match``.
    match_weight: float = 0.0
    # XMC-GAN's image-image term in the same space (``match_real_weight``): G then draws from the real batch's
    # captions and each picture must pick out its caption's real picture among the batch's. 0 when off.
    match_real_weight: float = 0.0
    # ``train.text_guidance``: the frozen matching model G's pictures must match their captions in (built here, in
    # ``__post_init__``, from the run's training pictures and captions); None when off.
    guide: TextGuide | None = None
    grad_sync: Callable[[Params], None] | None = None  # data-parallel gradient averaging; None in one process
    bf16: bool = False
    d_steps: int = 0  # D updates made before this step (the loop's counter, read-only here)

    def __post_init__(self) -> None:
        # Where the model config meets the data: a run that reads text gets caption embeddings as y.
        text_dim = int(getattr(self.model_config, "text_dim", 0) or 0)
        if text_dim:
            self.batches.read_text(text_dim, self.model_config.text_model)
        if self.cfg.text_guidance:
            if self.batches.captions is None:
                raise UserError(
                    "train.text_guidance guides G with the captions of a run that reads text; "
                    "use a text preset (--preset emoji-text) or leave train.text_guidance at 0"
                )
            if self.cfg.text_guidance_negatives == "all" and not self.draws_real_captions:
                raise UserError(
                    "train.text_guidance_negatives=all needs G to draw the real batch's captions: "
                    "set train.caption_recon or model_config.match_real_weight too (the text presets do)"
                )
            guide = TextGuide.fit(
                self.batches.dataset.images, self.batches.captions, negatives=self.cfg.text_guidance_negatives
            )
            self.guide = guide.to(self.batches.device)
        if self.cfg.retrieve_self and not getattr(self.G, "retrieves", False):
            raise UserError(
                "train.retrieve_self lets captions draw over their own picture in a retrieving run; "
                "set model_config.retrieve=true too, or leave train.retrieve_self at 0"
            )

    @property
    def reads_text(self) -> bool:
        """y is a sentence embedding: the D pass adds the matching-aware term (real picture, wrong caption)."""
        return self.batches.captions is not None

    @property
    def draws_real_captions(self) -> bool:
        """G draws the real batch's captions (not random pictures' ones): the terms that compare each of G's
        pictures with the real picture of its caption (``match_real_weight``, ``train.caption_recon``) need it."""
        return bool(self.match_real_weight) or (self.reads_text and bool(self.cfg.caption_recon))

    def lecam_term(self, real_l: Tensor, fake_l: Tensor) -> Tensor | None:
        """LeCam's penalty for D's logits on real pictures and on fakes ((B,) each), weighted, against the anchors
        as they stood before this update, which then take this update's logits in. None when off."""
        if self.lecam is None:
            return None
        penalty = self.cfg.lecam * lecam_penalty(real_l, fake_l, self.lecam)
        self.lecam.update(real_l, fake_l)
        return penalty

    def augment(self, x: Tensor) -> Tensor:
        """DiffAugment on D's inputs (real and fake alike); the identity when no ops are configured."""
        return self.augmenter(x) if self.augmenter is not None and self.cfg.augment else x

    def autocast(self) -> contextlib.AbstractContextManager:
        """Around G/D forward passes: bfloat16 autocast when ``train.precision == "bf16"``, else nothing."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.batches.device.type, dtype=torch.bfloat16)

    @property
    def lazy_decoders(self) -> bool:
        """D's reconstruction decoders sit out some D updates: their gradients are None then (``p.grad = None``,
        so Adam leaves them and their moments untouched until the term is due again)."""
        return bool(self.recon_weight) and self.recon_every > 1

    def recon_weight_at(self, d_index: int) -> float:
        """The reconstruction term's weight in D update number ``d_index`` (from 1, counted over the whole run,
        like lazy R1's): ``recon_weight * recon_every`` when the term is due, else 0 (the decoders do not run)."""
        if not self.recon_weight or d_index % self.recon_every:
            return 0.0
        return self.recon_weight * self.recon_every

    def sync_grads(self, params: Params | None = None) -> None:
        """Average gradients across processes before an optimizer step (no-op in one process)."""
        if self.grad_sync is not None:
            self.grad_sync(self.d_params + self.g_params if params is None else params)

    def next_real(self) -> tuple[Tensor, Tensor | None]:
        return self.batches.next_real()

    def next_pair(self) -> tuple[Tensor, Tensor]:
        return self.batches.next_pair()

    def sample_latents(self, b: int) -> tuple[Tensor, Tensor | None]:
        return self.batches.sample_latents(b)

    def draw_rows(self, sample: Callable[..., Tensor], rows: int, cols: int, device: torch.device) -> Tensor:
        """This process's ``rows`` rows (rows, cols) of one draw for the global batch (``sample`` is torch.randn or
        torch.rand) from the checkpointed generator: one noise stream whatever the world size."""
        w, r = self.batches.world, self.batches.rank
        return sample(rows * w, cols, device=device, generator=self.noise)[r * rows : (r + 1) * rows]

    def g_captions(self, y: Tensor | None) -> Tensor | None:
        """The captions (B, T) G draws from, with ``train.retrieve_self`` (a share of rows moved off their exact bank
        row by SELF_JITTER, so they may draw over their own picture) and ``train.caption_noise``: Gaussian noise whose norm is about that
        fraction of each embedding's, then rescaled to the embedding's norm. Unchanged when off or not text.
        Drawn for the global batch from the checkpointed generator (one stream whatever the world size)."""
        if y is None or not self.reads_text:
            return y
        b, dim = y.shape
        if self.cfg.retrieve_self:  # these rows may draw over their own picture: off their exact bank row
            keep_own = self.draw_rows(torch.rand, b, 1, y.device) < self.cfg.retrieve_self
            jitter = self.draw_rows(torch.randn, b, dim, y.device) * (SELF_JITTER / dim**0.5)
            moved = F.normalize(y + y.norm(dim=1, keepdim=True) * jitter, dim=1) * y.norm(dim=1, keepdim=True)
            y = torch.where(keep_own, moved, y)
        if not self.cfg.caption_noise:
            return y
        n = self.draw_rows(torch.randn, b, dim, y.device)
        noisy = y + self.cfg.caption_noise * y.norm(dim=1, keepdim=True) * n / dim**0.5
        return F.normalize(noisy, dim=1) * y.norm(dim=1, keepdim=True)


StepFn = Callable[[StepContext], dict[str, Tensor]]


@dataclass(frozen=True)
class Schedule:
    name: str
    step: StepFn
    tasks: tuple[str, ...]  # the model tasks it trains (``models.tasks``): noise-to-image, image-to-image
    d_updates: Callable[[TrainConfig, Any], int]  # D optimizer steps per call, for the loop's counter
    description: str = ""
