"""Simulated generator artefacts for the provenance detector (after Zhang, Karaman & Chang 2019, "Detecting and
Simulating Artifacts in GAN Fake Images", AutoGAN).

A detector trained on real pictures against ONE generator learns that generator's look. Generators share
something else: a decoder that upsamples feature maps (transposed convolution, nearest or bilinear
upsampling followed by a convolution, or a dense layer straight to pixels) and leaves its traces in the
picture. Here real pictures are passed through small autoencoders built that way, each fitted for a short
while to reconstruct real pictures: the results look like the real pictures but carry a decoder's traces.
Training the detector on them too (label "generated") asks it for "made by a decoder" rather than "looks like
that one generator"; no picture of any other generator is needed.

Decoder ``k`` of ``n``: upsampling ``UPSAMPLING[k % 4]``, weights seeded by ``seed`` and ``k``; an encoder of
one 3x3 conv and two strided 4x4 convs (H/4 x W/4, 4 * width channels), a decoder of two upsampling stages
and a 3x3 conv (or one dense layer) to the picture's channels, sigmoid; fitted for ``steps`` x
``LEVELS[(k // 4) % 3]`` Adam steps (batch 32, lr 2e-3) on the L1 reconstruction of random real pictures, so
that some decoders are nearly converged (subtle traces) and some barely trained (blobs, strong traces),
as generators are at different stages of training.

The input's fine detail (x - blur(x), Gaussian sigma 1 px) is added back to every decoder output: a
reconstruction alone is blurrier than its input, and a detector trained on plain reconstructions learns
"blurry = generated", which made sharp or noisy generators look real (benchmarks/detector_README.md: pilot
mean AP on unseen families 67-69 % without simulation, 52-57 % with plain reconstructions, 90-92 % with
the detail added back and the three fitting levels).

Pictures at the boundary are uint8 (N, C, H, W), as everywhere in the detector; simulated pictures are
rounded to uint8 like a saved PNG, same shape as their inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .perturb import _blur_float

__all__ = ["UPSAMPLING", "SimulatedDecoder", "fit_simulators", "simulate"]

UPSAMPLING = ("transpose", "nearest", "bilinear", "dense")
LEVELS = (1.0, 0.25, 0.0625)  # decoder k is fitted for steps * LEVELS[(k // len(UPSAMPLING)) % len(LEVELS)] steps
DETAIL_SIGMA = 1.0  # the fine detail added back to each simulated picture: x - Gaussian blur of this sigma (px)
DEPTH = 2  # strided stages: 28x28 -> 7x7 -> 28x28
BATCH, LR = 32, 2e-3


def _up(kind: str, cin: int, cout: int) -> list[nn.Module]:
    if kind == "transpose":
        return [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)]
    return [nn.Upsample(scale_factor=2, mode=kind), nn.Conv2d(cin, cout, 3, padding=1)]


class SimulatedDecoder(nn.Module):
    """A generator-like autoencoder for pictures of ``size`` (H, W): float (N, C, H, W) in [0, 1] -> float of
    the same shape in [0, 1]."""

    def __init__(self, channels: int, width: int, upsampling: str, size: tuple[int, int]):
        super().__init__()
        if upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {', '.join(UPSAMPLING)}, got {upsampling!r}")
        self.upsampling, self.channels = upsampling, channels
        m = 2**DEPTH
        self.padded = (size[0] + (-size[0]) % m, size[1] + (-size[1]) % m)
        act = nn.LeakyReLU(0.2)
        enc: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), act]
        ch = width
        for _ in range(DEPTH):
            enc += [nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1), act]
            ch *= 2
        dec: list[nn.Module] = []
        if upsampling == "dense":  # an MLP generator's last layer: the code flattened, one linear map to pixels
            code = ch * (self.padded[0] // m) * (self.padded[1] // m)
            dec += [nn.Flatten(), nn.Linear(code, channels * self.padded[0] * self.padded[1])]
        else:
            for _ in range(DEPTH):
                dec += [*_up(upsampling, ch, ch // 2), nn.ReLU()]
                ch //= 2
            dec += [nn.Conv2d(ch, channels, 3, padding=1)]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        ph, pw = self.padded[0] - h, self.padded[1] - w
        if ph or pw:  # pad to a multiple of 4 (replicated edges), crop back afterwards
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        y = torch.sigmoid(self.decoder(self.encoder(x * 2 - 1))).view(len(x), self.channels, *self.padded)
        return y[:, :, :h, :w]


Progress = Callable[[str], None]


def _check(x: torch.Tensor) -> None:
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 pictures (N, 1 or 3, H, W), got {x.dtype} {tuple(x.shape)}")


def fit_simulators(
    real: torch.Tensor,
    n: int,
    steps: int = 100,
    seed: int = 0,
    width: int = 16,
    progress: Progress | None = None,
) -> list[SimulatedDecoder]:
    """``n`` decoders (upsampling cycling through ``UPSAMPLING``), decoder k fitted for ``steps`` x
    ``LEVELS[(k // 4) % 3]`` Adam steps to reconstruct random pictures of uint8 ``real`` (N, C, H, W).
    Deterministic for a given seed."""
    _check(real)
    if n < 1 or steps < 0 or width < 1 or len(real) < 1:
        raise ValueError(
            f"need n >= 1, steps >= 0, width >= 1 and some pictures; got {n}, {steps}, {width}, {len(real)}"
        )
    out = []
    for k in range(n):
        torch.manual_seed(seed * 1_000_003 + k)  # the decoder's initial weights
        dec = SimulatedDecoder(real.shape[1], width, UPSAMPLING[k % len(UPSAMPLING)], (real.shape[2], real.shape[3]))
        g = torch.Generator().manual_seed(seed * 1_000_003 + k)
        opt = torch.optim.Adam(dec.parameters(), lr=LR)
        loss = torch.zeros(())
        k_steps = round(steps * LEVELS[(k // len(UPSAMPLING)) % len(LEVELS)])
        for _ in range(k_steps):
            xb = real[torch.randint(len(real), (min(BATCH, len(real)),), generator=g)].float() / 255
            loss = F.l1_loss(dec(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        dec.eval()
        if progress:
            progress(f"simulated decoder {k + 1}/{n} ({dec.upsampling}): L1 {loss.item():.4f} after {k_steps} steps")
        out.append(dec)
    return out


@torch.no_grad()
def simulate(decoders: list[SimulatedDecoder], x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """uint8 pictures (N, C, H, W) -> simulated generated pictures, uint8, same shape: picture i goes
    through decoder i % len(decoders), and gets its own fine detail (x - blur(x)) added back."""
    _check(x)
    if not decoders:
        raise ValueError("simulate needs at least one decoder (fit_simulators)")
    out = torch.empty_like(x)
    for k, dec in enumerate(decoders):
        idx = torch.arange(k, len(x), len(decoders))
        for i in range(0, len(idx), batch_size):
            j = idx[i : i + batch_size]
            u = x[j].float() / 255
            y = dec(u) + (u - _blur_float(u, DETAIL_SIGMA))  # the decoder's traces without its blur
            out[j] = y.mul(255).round().clamp(0, 255).to(torch.uint8)
    return out
