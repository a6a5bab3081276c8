"""How to train: ``TrainConfig`` (optimiser, loss, step, stopping rules, stability switches)."""

from __future__ import annotations

from dataclasses import dataclass

from ..augment import OPS
from ..losses import LOSSES
from .base import check

PRECISIONS = ("fp32", "bf16", "auto")
GUIDANCE_NEGATIVES = ("batch", "all")  # train.text_guidance_negatives


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Stopping: ``steps`` and ``epochs`` are totals for the run; ``minutes`` is the
    wall-clock budget of one invocation (artists plan by time)."""

    batch_size: int = 64
    steps: int | None = None
    epochs: float | None = None
    minutes: float | None = None
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-7  # Keras's Adam default, as in the seed
    loss: str = "ns"
    # The step: "simultaneous" (the seed's: one forward, both updates), "alternating", "pix2pix"...;
    # None = the model family's own (training.SCHEDULES holds them, training.resolve fills this in).
    schedule: str | None = None
    n_dis: int = 1  # D steps per G step (alternating schedule)
    label_smoothing: float = 0.0
    seed: int = 0
    log_every: int = 50
    sample_every: int = 0  # steps; 0 = once per epoch only (the seed's "display after every epoch")
    # The once-per-epoch grids at most this often (wall-clock seconds; the first and the last are always written,
    # as are sample_every's): on a few dozen pictures an epoch is a few steps, and a grid every 4 steps cost 28 MB
    # of PNGs in 300 steps (benchmarks/README.md). 0 = every epoch, as the seed did.
    preview_seconds: float = 30.0
    checkpoint_every: int = 2000
    keep_checkpoints: int = 3
    device: str = "auto"
    threads: int | None = None
    fused_adam: bool = True
    # Mixed precision: "bf16" runs G's and D's forward passes under torch.autocast(bfloat16) (weights,
    # optimiser state and losses stay float32). Pays on GPUs and AMX CPUs, not on other CPUs (measured:
    # benchmarks/README.md). "auto" = bf16 exactly where it pays (devices.auto_precision); "fp32" = off.
    precision: str = "fp32"
    # Convolutional families: keep weights (hence activations) channels-last (NHWC). Faster from 32 px up
    # on CPUs, not at 28 px (measured: docs/speed-scale-export.md).
    channels_last: bool = False
    # --- stability (see README "Stable training"); all off by default = the seed's training ---
    ema_beta: float = 0.0  # EMA copy of G for sampling/eval/export; 0 = off, 0.999 typical
    augment: tuple[str, ...] = ()  # DiffAugment ops: color, translation, cutout (, flip)
    augment_p: float = 1.0  # fixed probability per op (when ada is off)
    ada: bool = False  # adapt p from D's overfitting signal (StyleGAN2-ADA), starting at 0
    ada_target: float = 0.6
    ada_speed_images: int = 100_000  # images for p to travel 0 -> 1
    ada_interval: int = 4
    r1_gamma: float = 0.0  # R1 penalty on real images (lazy); 0 = off
    r1_every: int = 16
    gp_weight: float = 10.0  # gradient penalty weight for loss 'wgan-gp'
    # LeCam regularisation (Tseng et al., CVPR 2021), for GANs on little data: D's logits on real pictures are
    # pulled toward the moving average of its logits on fakes and vice versa (only where they lie beyond it),
    # which bounds how far D can separate the training pictures from G's. The weight; 0 = off.
    lecam: float = 0.0
    lecam_decay: float = 0.99  # the moving averages' decay per D update
    feature_matching: float = 0.0  # weight of Salimans et al.'s feature-matching G loss
    aux_weight: float = 1.0  # ACGAN auxiliary classification loss weight
    # MSGAN's mode-seeking term (Mao et al. 2019): G is penalised when two noises with the same condition draw
    # nearly the same picture. For conditions with one picture each (an emoji's name), where the data alone
    # rewards a G that ignores its noise. 0 = off.
    mode_seeking: float = 0.0
    # Runs that read text: Gaussian noise on the caption embeddings G draws from (StackGAN's conditioning
    # augmentation, without its KL term), its norm about this fraction of the embedding's, so that a neighbourhood
    # of each training caption, not the point alone, draws its picture: the way to names G never saw. 0 = off.
    caption_noise: float = 0.0
    # Runs that read text: Reed et al.'s GAN-INT. G also draws half a batch from captions interpolated between
    # two of the batch's (random mixing weights), where no real picture exists, and must make D call them real
    # and, with the matching term, pick out their own caption; the weight of that term in G's loss. 0 = off.
    caption_mix: float = 0.0
    # Runs that read text: an L1 pull of G's picture toward the real picture of the caption it drew (G then draws
    # the real batch's captions), both average-pooled to caption_recon_px (0: full size). Where one caption names
    # one picture (an emoji's name), the picture for that caption is a single picture and regression teaches it
    # directly; the pooling leaves the detail above that size to the adversarial term. Captions that several
    # pictures share are left out (no one picture is theirs). The weight; 0 = off.
    caption_recon: float = 0.0
    caption_recon_px: int = 8
    # Retrieving runs (model.retrieve): the share of G's training captions allowed to draw over their own picture.
    # A caption is moved off its exact bank row by a jitter of 5 % of its norm (cosine about 0.9988, far closer
    # than any other caption), which lifts the rule that sets a caption's own picture aside, so G also learns to
    # keep a reference that already fits its words. 0 = never (every reference is another picture).
    retrieve_self: float = 0.0
    # Runs that read text: StyleGAN-T's CLIP guidance at this size. A small text-image matching model is fitted on
    # the run's own training pictures and captions before the first step, then frozen, and G's loss adds InfoNCE
    # between its pictures and their captions in that model's space (training.guide). The weight; 0 = off.
    text_guidance: float = 0.0
    # What each of G's pictures must be nearer its caption than: "batch" (the batch's other captions, as in the
    # guide's own fit) or "all" (every training caption of every other picture, its nearest neighbours among them,
    # the way R-precision asks; a caption drawn over a neighbour's picture is then penalised for staying that
    # neighbour). Needs G to draw the real batch's captions (the text presets do).
    text_guidance_negatives: str = "batch"
    guard: bool = False  # divergence guard: roll back with lower learning rates
    guard_lr_factor: float = 0.5
    guard_max_rollbacks: int = 4
    guard_grad_norm: float = 1e4
    guard_min_diversity: float = 0.02  # fixed-noise samples' mean pairwise distance, as a fraction of the data's

    def __post_init__(self) -> None:
        check(self.batch_size > 0, f"batch size must be positive, got {self.batch_size}")
        check(self.steps is None or self.steps >= 0, f"steps must be >= 0, got {self.steps}")
        check(self.epochs is None or self.epochs > 0, f"epochs must be positive, got {self.epochs}")
        check(self.minutes is None or self.minutes > 0, f"minutes must be positive, got {self.minutes}")
        check(self.lr_g > 0 and self.lr_d > 0, "learning rates must be positive")
        check(self.loss in LOSSES, f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        check(self.n_dis >= 1, f"n_dis must be >= 1, got {self.n_dis}")
        check(0 <= self.label_smoothing < 0.5, f"label smoothing must be in [0, 0.5), got {self.label_smoothing}")
        check(self.log_every > 0 and self.checkpoint_every > 0, "log/checkpoint intervals must be positive")
        check(
            self.preview_seconds >= 0,
            f"preview_seconds must be >= 0 (0: a grid every epoch), got {self.preview_seconds}",
        )
        check(0 <= self.ema_beta < 1, f"ema_beta must be in [0, 1), got {self.ema_beta}")
        bad = [a for a in self.augment if a not in OPS]
        check(not bad, f"unknown augmentation {', '.join(bad)}; choose from {', '.join(OPS)}")
        check(0 <= self.augment_p <= 1, f"augment_p must be in [0, 1], got {self.augment_p}")
        check(not self.ada or bool(self.augment), "ada needs augmentations: set augment, e.g. color,translation,cutout")
        check(self.r1_gamma >= 0 and self.r1_every >= 1, "r1_gamma must be >= 0 and r1_every >= 1")
        check(self.feature_matching >= 0, "feature_matching must be >= 0")
        check(self.lecam >= 0, f"lecam must be >= 0 (0 turns it off), got {self.lecam}")
        check(0 <= self.lecam_decay < 1, f"lecam_decay must be in [0, 1), got {self.lecam_decay}")
        check(self.mode_seeking >= 0, f"mode_seeking must be >= 0 (0 turns it off), got {self.mode_seeking}")
        check(self.caption_noise >= 0, f"caption_noise must be >= 0 (0 turns it off), got {self.caption_noise}")
        check(self.caption_mix >= 0, f"caption_mix must be >= 0 (0 turns it off), got {self.caption_mix}")
        check(
            0 <= self.retrieve_self <= 1,
            f"retrieve_self must be in [0, 1] (a share of captions), got {self.retrieve_self}",
        )
        check(self.text_guidance >= 0, f"text_guidance must be >= 0 (0 turns it off), got {self.text_guidance}")
        check(
            self.text_guidance_negatives in GUIDANCE_NEGATIVES,
            f"unknown text_guidance_negatives {self.text_guidance_negatives!r}; "
            f"choose one of {', '.join(GUIDANCE_NEGATIVES)}",
        )
        check(self.caption_recon >= 0, f"caption_recon must be >= 0 (0 turns it off), got {self.caption_recon}")
        check(
            self.caption_recon_px >= 0,
            f"caption_recon_px must be >= 0 (0 compares full-size pictures), got {self.caption_recon_px}",
        )
        check(0 < self.guard_lr_factor < 1, "guard_lr_factor must be in (0, 1)")
        check(
            self.precision in PRECISIONS, f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}"
        )
        check(
            self.device.split(":")[0] in ("auto", "cpu", "cuda", "mps"),
            f"unknown device {self.device!r}; use cpu, cuda, cuda:N, mps or auto",
        )


# Fields that may differ when resuming: stopping rules, intervals and where it runs.
RESUMABLE_FIELDS = {
    "steps",
    "epochs",
    "minutes",
    "log_every",
    "sample_every",
    "preview_seconds",
    "checkpoint_every",
    "keep_checkpoints",
    "device",
    "threads",
    "guard_max_rollbacks",
    "precision",
    "channels_last",
}
