"""``specgan``: a spectrogram GAN in the manner of GANSynth (Engel et al., ICLR 2019), task noise-to-sound.

G and D are DCGAN's (``models.dcgan``), sized for (C, mel bins, frames) = (2, 128, 64) spectrogram pictures
(an 8 x 4 base grid doubled four times, nearest-neighbour upsampling, spectral-norm D with no norm):
  G: z (B, z_dim), y (B, K) pitch weights -> (B, C, 128, 64) in [-1, 1]
  D: x (B, C, 128, 64), y -> (B,) logits, conditioned by projection + an auxiliary pitch classifier
     (GANSynth's D also classifies pitch).
What sets it apart from a picture GAN is the output: channel 0 is the log mel magnitude and channel 1
(when C = 2) the instantaneous frequency, so a waveform comes back by integrating the IF into a phase and
an inverse STFT — no vocoder; with C = 1 (magnitude only, ``data.channels=1``) by Griffin-Lim, the
baseline GANSynth compares with. ``SpecGANGenerator.codec`` (``media_audio.SpecCodec``) does the
inversion, so previews, ``generate`` and ``pipeline.render_note`` can turn any G output into sound.
"""

from __future__ import annotations

import torch

from ..config.models import SpecGANConfig
from ..media_audio import SpecCodec
from . import Family, register
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .tasks import NOISE_TO_SOUND


def codec_of(cfg: SpecGANConfig) -> SpecCodec:
    """The spectrogram <-> waveform mapping a config's outputs follow."""
    return SpecCodec(
        sample_rate=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop=cfg.hop,
        n_mels=cfg.height or cfg.resolution,
        frames=cfg.resolution,
        channels=cfg.channels,
        gl_iterations=cfg.gl_iterations,
    )


class SpecGANGenerator(DCGANGenerator):
    """(B, z_dim), (B, K) or None -> (B, C, mel bins, frames) in [-1, 1]; ``to_audio`` -> (B, samples)."""

    def __init__(self, cfg: SpecGANConfig):
        super().__init__(cfg)
        self.codec = codec_of(cfg)

    @torch.no_grad()
    def to_audio(self, spec: torch.Tensor) -> torch.Tensor:
        return self.codec.decode(spec.float())


class SpecGANDiscriminator(DCGANDiscriminator):
    """(B, C, mel bins, frames), (B, K) or None -> (B,) logits."""

    def __init__(self, cfg: SpecGANConfig):
        super().__init__(cfg)


register(
    Family(
        "specgan",
        SpecGANConfig,
        SpecGANGenerator,
        SpecGANDiscriminator,
        task=NOISE_TO_SOUND,
        conditioning=("class",),
        description="GANSynth-style spectrogram GAN: log-mel magnitude + instantaneous frequency (2 channels, "
        "phase from IF) or magnitude only (1 channel, Griffin-Lim); conditioned on pitch",
    )
)
