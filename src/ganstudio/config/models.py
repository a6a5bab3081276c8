"""The model families' typed configs: what ``config.json``'s ``model_config`` holds, one class per family.

They live in the bottom layer (with the run config) so that a ``RunConfig`` is typed the moment it is
built, and so that sampling and evaluation read a run's config without importing any model code.
``models/`` registers the modules that build from them (``FAMILIES``); ``MODEL_CONFIGS`` names them.

Shape fields (``resolution`` = width, ``height`` (None = square), ``channels``, ``num_classes``, and
``in_channels`` for image-to-image) are filled from the data when a run is prepared: the data decides
the shape, the rest of the config the architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .base import check

# Names of the building blocks a config may choose; ``models.layers`` / ``models.dcgan`` /
# ``models.pix2pix`` map each name to its module and check at import that the names agree.
D_NORM_NAMES = ("batch", "instance", "layer", "none")
G_UPSAMPLE_NAMES = ("convtranspose", "nearest")
PIX2PIX_D_NORM_NAMES = ("batch", "instance", "none")
MAX_DEPTH = 8  # pix2pix U-Net stages
IMAGE_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA (straight alpha: data.background="transparent")

# ---------------------------------------------------------------------------------------------
# Geometry: how many doublings from a small base grid reach the requested image size.

MIN_BASE_SIDE = 3  # a 3-pixel base is the smallest that still has a centre and neighbours
MAX_BASE_SIDE = 16  # beyond this the z projection / D flatten get huge and the family is the wrong tool


def base_grid(width: int, height: int) -> tuple[int, int, int]:
    """``(stages, base_h, base_w)``: the most doublings that keep both base sides >= 3.

    32 -> 4x4 and 3 stages; 28 -> 7x7 and 2 stages (7 -> 14 -> 28); 64x48 (w x h) -> 4 wide x 3 high
    and 4 stages. Raises a one-line UserError when no such grid exists (odd or tiny sizes).
    """
    stages = 0
    while (
        width % 2 ** (stages + 1) == 0
        and height % 2 ** (stages + 1) == 0
        and min(width, height) // 2 ** (stages + 1) >= MIN_BASE_SIDE
    ):
        stages += 1
    bh, bw = height // 2**stages, width // 2**stages
    check(
        stages >= 1 and max(bh, bw) <= MAX_BASE_SIDE,
        f"model size {width}x{height} (width x height) cannot be built by doubling a {MIN_BASE_SIDE}.."
        f"{MAX_BASE_SIDE} pixel base grid; use sides such as 28, 32, 48, 64, 96 or 128 "
        "(both divisible by the same power of two)",
    )
    return stages, bh, bw


def check_common(cfg: Any) -> None:
    """Validation shared by the conv family configs (their field names agree)."""
    check(cfg.z_dim > 0, f"model.z_dim must be positive, got {cfg.z_dim}")
    check(cfg.channels in IMAGE_CHANNELS, f"model.channels must be 1, 3 or 4 (RGBA), got {cfg.channels}")
    check(cfg.num_classes >= 0, f"model.num_classes must be >= 0, got {cfg.num_classes}")
    check(
        cfg.resolution > 0 and (cfg.height is None or cfg.height > 0),
        f"model.resolution/height must be positive, got {cfg.resolution}/{cfg.height}",
    )
    for name in ("g_channels", "d_channels", "max_channels"):
        check(getattr(cfg, name) > 0, f"model.{name} must be positive, got {getattr(cfg, name)}")
    check(cfg.mbstd_group >= 1, f"model.mbstd_group must be >= 1, got {cfg.mbstd_group}")
    check(
        cfg.conditioning in CONDITIONINGS,
        f"model.conditioning must be one of {', '.join(CONDITIONINGS)}, got {cfg.conditioning!r}",
    )
    base_grid(cfg.resolution, cfg.height or cfg.resolution)  # raises a clear message for bad sizes


def check_leaky_d(cfg: Any) -> None:
    """Validation shared by the LeakyReLU discriminators with a choice of norm (dcgan, lightweight)."""
    check(cfg.d_norm in D_NORM_NAMES, f"model.d_norm must be one of {', '.join(D_NORM_NAMES)}, got {cfg.d_norm!r}")
    check(0 <= cfg.negative_slope < 1, f"model.negative_slope must be in [0, 1), got {cfg.negative_slope}")


@dataclass(frozen=True)
class Conditioning:
    projection: bool  # D: logit += <embed(y), features>  (Miyato & Koyama 2018)
    aux: bool  # D: an auxiliary class-logit head  (ACGAN, Odena et al. 2017)


CONDITIONINGS: dict[str, Conditioning] = {
    "projection": Conditioning(projection=True, aux=False),
    "acgan": Conditioning(projection=False, aux=True),
    "both": Conditioning(projection=True, aux=True),
}


@dataclass(frozen=True)
class MLPConfig:
    z_dim: int = 100
    g_hidden: tuple[int, ...] = (256, 512, 1024)
    d_hidden: tuple[int, ...] = (1024, 512, 256)
    negative_slope: float = 0.2
    resolution: int = 28
    height: int | None = None  # non-square outputs; None = resolution
    channels: int = 1
    num_classes: int = 0

    def __post_init__(self) -> None:
        check(self.z_dim > 0, f"model.z_dim must be positive, got {self.z_dim}")
        check(self.channels in IMAGE_CHANNELS, f"model.channels must be 1, 3 or 4 (RGBA), got {self.channels}")
        check(all(h > 0 for h in self.g_hidden + self.d_hidden), "model hidden sizes must be positive")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height or self.resolution, self.resolution)


@dataclass(frozen=True)
class DCGANConfig:
    z_dim: int = 100
    resolution: int = 64  # width in pixels
    height: int | None = None  # non-square outputs; None = resolution
    channels: int = 3
    num_classes: int = 0
    g_channels: int = 64  # G's channels at full resolution; doubled at each coarser stage
    d_channels: int = 64  # D's channels after its first conv; doubled at each stage
    max_channels: int = 512  # cap on both (keeps 128 px affordable)
    g_upsample: str = "convtranspose"  # or "nearest": upsample + 3x3 conv (no checkerboard artefacts)
    d_norm: str = "batch"  # batch | instance | layer | none (use layer/none with wgan-gp)
    spectral_norm: bool = False  # spectral norm on every D conv/linear
    mbstd: bool = False  # minibatch std-dev channel before D's head (ProGAN)
    mbstd_group: int = 4
    conditioning: str = "projection"  # projection | acgan | both (used when num_classes > 0)
    class_input: bool = False  # also feed y to G's first layer, concatenated with z (see layers.g_input)
    negative_slope: float = 0.2

    def __post_init__(self) -> None:
        check_common(self)
        check(
            self.g_upsample in G_UPSAMPLE_NAMES,
            f"model.g_upsample must be one of {', '.join(G_UPSAMPLE_NAMES)}, got {self.g_upsample!r}",
        )
        check_leaky_d(self)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height or self.resolution, self.resolution)


@dataclass(frozen=True)
class ResNetConfig:
    z_dim: int = 128
    resolution: int = 32  # width in pixels
    height: int | None = None  # non-square outputs; None = resolution
    channels: int = 3
    num_classes: int = 0
    g_channels: int = 64  # G's channels at full resolution; doubled at each coarser stage
    d_channels: int = 64  # D's channels after its first block; doubled at each stage
    max_channels: int = 512  # cap on both (keeps 128 px affordable)
    spectral_norm: bool = True  # spectral norm on every D conv/linear (SNGAN)
    mbstd: bool = False  # minibatch std-dev channel before D's last block (ProGAN)
    mbstd_group: int = 4
    conditioning: str = "projection"  # projection | acgan | both (used when num_classes > 0)
    class_input: bool = False  # also feed y to G's first layer, concatenated with z (see layers.g_input)

    def __post_init__(self) -> None:
        check_common(self)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height or self.resolution, self.resolution)


UPSCALES = (1, 2, 4)  # lightweight's super-resolution factors
RECON_LOSSES = ("mse", "lap1")  # lightweight's reconstruction distances (models.lightweight.RECON_DISTANCES)


@dataclass(frozen=True)
class LightweightConfig:
    """FastGAN (Liu et al., ICLR 2021) sized for a CPU: see ``models.lightweight``."""

    z_dim: int = 128
    resolution: int = 64  # width in pixels
    height: int | None = None  # non-square outputs; None = resolution
    channels: int = 3
    num_classes: int = 0
    g_channels: int = 32  # G's channels at full resolution; doubled at each coarser stage
    d_channels: int = 32  # D's channels after its first conv; doubled at each stage
    max_channels: int = 256  # cap on both
    spectral_norm: bool = True  # on every D conv/linear (FastGAN's D)
    # layer (per sample): D sees [real; fake] in one batch, and BatchNorm there let D tell them apart by batch
    # statistics; with no norm the spectral-norm D's logits started ~30x smaller than DCGAN's and D stayed at chance
    d_norm: str = "layer"
    mbstd: bool = False  # minibatch std-dev channel before D's head (ProGAN)
    mbstd_group: int = 4
    conditioning: str = "projection"  # projection | acgan | both (used when num_classes > 0)
    class_input: bool = False  # also feed y to G's first layer, concatenated with z (see layers.g_input)
    sle_gap: int = 3  # skip-layer excitation: the stage 2^gap times coarser gates each fine stage; 0 = off
    recon_weight: float = 1.0  # D's self-supervised auto-encoding loss on real inputs; 0 = off (the ablation)
    # Lazy reconstruction: the term is computed on every recon_every-th D update only, weighted by recon_every
    # so its strength per image seen stays the same (as StyleGAN2's lazy R1); the decoders then cost about
    # 1/recon_every of what they cost each step. 1 = every update (FastGAN).
    recon_every: int = 1
    decoder_channels: int = 32  # width of D's small reconstruction decoders
    # How a reconstruction is compared with its target: mse (pixel error, dominated by the picture's coarse
    # colours) or lap1 (the L1 error in every band of a Laplacian pyramid, each band weighing the same: edges and
    # texture count as much as colour, as a perceptual distance would; Bojanowski et al. 2018's Lap1, used here
    # where FastGAN uses LPIPS, for which no pretrained network is available offline).
    recon_loss: str = "mse"
    # Draw small, enlarge with learned detail: G draws at resolution / upscale and D judges that drawing; a
    # super-resolution stage trained on the real pictures (never by D) enlarges it. Training then costs about
    # what the small size costs (measured: benchmarks/README.md, "Colour pictures"). 1 = off.
    upscale: int = 1
    detail_channels: int = 32  # width of the super-resolution stage (its convs run at the drawn size)
    negative_slope: float = 0.2
    # Text conditioning (DF-GAN-style): the frozen sentence embedding of a caption (``text_model``'s, of width
    # ``text_dim``) modulates every G block and meets D's features by projection; 0 = off. Excludes classes.
    text_dim: int = 0
    text_model: str = "all-MiniLM-L6-v2"
    # XMC-GAN's sentence-image contrastive term (text runs only): D maps its features and the caption into a
    # shared ``match_dim`` space where each real picture must pick out its own caption among the batch's (added
    # to D's loss with this weight), and G is trained to make its pictures pick out theirs the same way. 0 = off.
    match_weight: float = 0.0
    match_dim: int = 128
    # XMC-GAN's image-image term, in D's matching space: G draws from the real batch's captions and each of its
    # pictures must pick out the real picture of its caption among the batch's (needs match_weight > 0). 0 = off.
    match_real_weight: float = 0.0
    # Retrieval-augmented drawing (text runs only; after IC-GAN and retrieval-augmented diffusion): G keeps its
    # training pictures and their caption embeddings, and draws every caption with the picture of its nearest
    # training caption as a reference (added at every stage of G, through a 3x3 conv that starts at zero). The
    # caption's own picture never serves: when the caption is a training caption, the nearest caption of another
    # picture does, in training and in sampling alike, so G learns to edit a neighbour toward the words, and a
    # name it never saw starts from the nearest one it knows. False = off.
    retrieve: bool = False
    # 0: the nearest caption's picture alone, which changes at once where two captions tie (a walk between prompts
    # cuts there); > 0: a softmax(cosine / this) blend of the 8 nearest captions' pictures, which moves continuously.
    retrieve_temperature: float = 0.0
    # Sampling only (G in eval mode: EMA, previews, generate, the studio): the noise chooses among the nearest captions'
    # pictures, so one prompt's seeds draw over different neighbours: each bank caption's cosine is shifted by this
    # times a fixed Gaussian projection of z (continuous in z and in the caption). Training never shifts them.
    # 0 = every seed draws over the same reference.
    retrieve_variety: float = 0.0
    # 1: one reference picture (the nearest, or the blend above). k > 1: the k nearest *distinct* training pictures
    # side by side, nearest first, each with a plane of its cosine to the caption (k x (C + 1) channels into the
    # same zero-initialised convs), so G may take the shape from one neighbour and the colour from another.
    # The slots are ordered, so a walk between prompts still cuts where two neighbours swap places.
    retrieve_pictures: int = 1

    def __post_init__(self) -> None:
        check_common(self)
        check_leaky_d(self)
        check(
            self.retrieve_pictures >= 1,
            f"model.retrieve_pictures must be >= 1 (1 = one reference picture), got {self.retrieve_pictures}",
        )
        check(not self.retrieve or self.text_dim > 0, "model.retrieve needs a run that reads text (model.text_dim > 0)")
        check(
            self.retrieve_temperature >= 0,
            f"model.retrieve_temperature must be >= 0 (0 = the nearest picture alone), got {self.retrieve_temperature}",
        )
        check(
            self.retrieve_variety >= 0,
            f"model.retrieve_variety must be >= 0 (0 = the same reference for every seed), got {self.retrieve_variety}",
        )
        check(self.sle_gap >= 0, f"model.sle_gap must be >= 0 (0 turns skip-layer excitation off), got {self.sle_gap}")
        check(self.recon_weight >= 0, f"model.recon_weight must be >= 0 (0 turns it off), got {self.recon_weight}")
        check(self.recon_every >= 1, f"model.recon_every must be >= 1 (1 = every D update), got {self.recon_every}")
        check(self.decoder_channels > 0, f"model.decoder_channels must be positive, got {self.decoder_channels}")
        check(
            self.recon_loss in RECON_LOSSES,
            f"model.recon_loss must be one of {', '.join(RECON_LOSSES)}, got {self.recon_loss!r}",
        )
        check(self.detail_channels > 0, f"model.detail_channels must be positive, got {self.detail_channels}")
        check(
            self.upscale in UPSCALES,
            f"model.upscale must be one of {', '.join(map(str, UPSCALES))}, got {self.upscale}",
        )
        h = self.height or self.resolution
        check(
            self.resolution % self.upscale == 0 and h % self.upscale == 0,
            f"model.upscale {self.upscale} must divide the size {self.resolution}x{h}; choose a smaller upscale",
        )
        base_grid(self.resolution // self.upscale, h // self.upscale)  # the drawn size must be buildable too
        check(self.text_dim >= 0, f"model.text_dim must be >= 0 (0 turns text conditioning off), got {self.text_dim}")
        check(
            not (self.text_dim and self.num_classes),
            "a run reads either text (model.text_dim) or classes (--conditional), not both; drop one",
        )
        check(self.match_weight >= 0, f"model.match_weight must be >= 0 (0 turns it off), got {self.match_weight}")
        check(
            self.match_weight == 0 or self.text_dim > 0,
            "model.match_weight (the caption contrastive term) needs a run that reads text: set model.text_dim "
            "(e.g. --preset emoji-text) or model.match_weight=0",
        )
        check(self.match_dim > 0, f"model.match_dim must be positive, got {self.match_dim}")
        check(
            self.match_real_weight >= 0,
            f"model.match_real_weight must be >= 0 (0 turns it off), got {self.match_real_weight}",
        )
        check(
            self.match_real_weight == 0 or self.match_weight > 0,
            "model.match_real_weight compares pictures in D's caption matching space: set model.match_weight > 0 too",
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height or self.resolution, self.resolution)

    @property
    def drawn_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of what G draws and D judges: the picture's size divided by ``upscale``."""
        c, h, w = self.image_shape
        return (c, h // self.upscale, w // self.upscale)

    @property
    def cond_dim(self) -> int:
        """Width of the conditioning vector G and D read: class weights or a sentence embedding (or 0)."""
        return self.text_dim or self.num_classes


@dataclass(frozen=True)
class Pix2PixConfig:
    z_dim: int = 0  # the registry contract's field; pix2pix's noise is dropout, not z
    resolution: int = 32  # width in pixels
    height: int | None = None  # non-square; None = resolution
    channels: int = 3  # target (output) channels; filled from the data
    in_channels: int = 1  # input channels: 1 for sketch/grayscale pairs; A/'s for folders
    num_classes: int = 0  # unconditional only
    g_channels: int = 32  # U-Net channels after the first conv; doubled per stage
    max_channels: int = 256
    depth: int = 0  # U-Net stages; 0 = down to a 1-2 px bottleneck (5 at 32 px)
    dropout: float = 0.5
    dropout_stages: int = 3  # innermost decoder stages with dropout (pix2pix: 3)
    d_channels: int = 32
    d_layers: int = 0  # PatchGAN stride-2 layers; 0 = by size (1 at 32 px, 2 at 64, 3 at 128)
    d_norm: str = "batch"  # batch | instance | none
    adv_weight: float = 1.0  # weight of the adversarial term; 0 = L1-only U-Net (no D updates)
    l1_weight: float = 100.0  # pix2pix's lambda

    def __post_init__(self) -> None:
        check(self.z_dim == 0, f"model.z_dim must be 0 for pix2pix (its noise is dropout), got {self.z_dim}")
        check(self.num_classes == 0, "pix2pix is unconditional: drop --conditional")
        check(
            self.channels != 4 and self.in_channels != 4,
            "pix2pix paints 1- or 3-channel pictures, not RGBA (4 channels): pick a background colour "
            "instead of data.background=transparent",
        )
        check(
            self.channels in (1, 3) and self.in_channels in (1, 3),
            f"model.channels/in_channels must be 1 or 3, got {self.channels}/{self.in_channels}",
        )
        check(
            8 <= self.resolution <= 1024 and (self.height is None or 8 <= self.height <= 1024),
            f"pix2pix needs sides of 8..1024 px, got {self.resolution}x{self.height or self.resolution}",
        )
        check(0 <= self.depth <= MAX_DEPTH, f"model.depth must be 0 (auto) .. {MAX_DEPTH}, got {self.depth}")
        check(self.g_channels > 0 and self.d_channels > 0 and self.max_channels > 0, "channel counts must be positive")
        check(0 <= self.dropout < 1, f"model.dropout must be in [0, 1), got {self.dropout}")
        check(self.dropout_stages >= 0, "model.dropout_stages must be >= 0")
        check(
            self.d_norm in PIX2PIX_D_NORM_NAMES,
            f"model.d_norm must be one of {', '.join(PIX2PIX_D_NORM_NAMES)}, got {self.d_norm!r}",
        )
        check(
            self.adv_weight >= 0 and self.l1_weight >= 0 and self.adv_weight + self.l1_weight > 0,
            f"model.adv_weight and l1_weight must be >= 0 and not both 0, got {self.adv_weight}/{self.l1_weight}",
        )
        side = min(self.resolution, self.height or self.resolution)
        check(
            self.d_layers == 0 or side // 2**self.d_layers >= 3,
            f"model.d_layers={self.d_layers} is too many for {side} px (need side / 2^d_layers >= 3)",
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height or self.resolution, self.resolution)

    @property
    def unet_depth(self) -> int:
        side = min(self.resolution, self.height or self.resolution)
        return self.depth or min(MAX_DEPTH, math.ceil(math.log2(side)))

    @property
    def patch_layers(self) -> int:
        side = min(self.resolution, self.height or self.resolution)
        if self.d_layers:
            return self.d_layers
        return max(1, min(3, int(math.log2(side)) - 4, int(math.log2(side / 3))))


@dataclass(frozen=True)
class SpecGANConfig(DCGANConfig):
    """GANSynth-style spectrogram GAN (see ``models.specgan``): DCGAN's G and D over (C, mel bins, frames)
    spectrogram pictures. ``channels`` (from the data) picks the inversion: 2 = log magnitude + instantaneous
    frequency (phase by integrating it, no vocoder), 1 = log magnitude only (Griffin-Lim, the baseline).
    The audio fields say how the pictures map back to sound; they must match the data's (``data.audio``)."""

    z_dim: int = 128
    resolution: int = 64  # frames (64 x 250-sample hops = 1 s at 16 kHz)
    height: int | None = 128  # mel bins
    channels: int = 2
    g_channels: int = 32
    d_channels: int = 32
    max_channels: int = 256
    g_upsample: str = "nearest"  # transposed convs' checkerboard is an audible comb in a spectrogram
    d_norm: str = "none"
    spectral_norm: bool = True
    conditioning: str = "both"  # pitch: projection + an auxiliary pitch classifier (GANSynth's D has one)
    class_input: bool = True
    sample_rate: int = 16000
    n_fft: int = 1000
    hop: int = 250
    gl_iterations: int = 32  # Griffin-Lim iterations for 1-channel (magnitude-only) runs

    def __post_init__(self) -> None:
        check(
            self.channels in (1, 2),
            f"specgan draws spectrograms with 2 channels (magnitude + IF) or 1 (magnitude), got {self.channels}: "
            "train it on sound data (gm-notes, spoken-digits or a folder of sounds)",
        )
        check(
            self.sample_rate > 0 and 0 < self.hop <= self.n_fft,
            f"model.sample_rate/n_fft/hop must be positive with hop <= n_fft, got {self.sample_rate}/{self.n_fft}/{self.hop}",
        )
        check(self.gl_iterations >= 0, f"model.gl_iterations must be >= 0, got {self.gl_iterations}")
        check_common(_AsImage(self))
        check_leaky_d(self)


class _AsImage:
    """A config seen with a picture's channel count, so the shared checks can run on a spectrogram config."""

    def __init__(self, cfg: Any):
        self._cfg = cfg

    def __getattr__(self, name: str) -> Any:
        return 1 if name == "channels" else getattr(self._cfg, name)


MODEL_CONFIGS: dict[str, type] = {
    "mlp": MLPConfig,
    "dcgan": DCGANConfig,
    "resnet": ResNetConfig,
    "pix2pix": Pix2PixConfig,
    "lightweight": LightweightConfig,
    "specgan": SpecGANConfig,
}
