"""A lightweight GAN for few pictures and little compute, after FastGAN (Liu et al., ICLR 2021).

G: z (B, z_dim) -> Linear -> (B, g0, h0, w0) -> k up-blocks [nearest x2, 3x3 conv, BN, GLU] (every other
   one with a second conv, FastGAN's "UpBlockComp") -> 3x3 conv, tanh -> (B, C, H, W) in [-1, 1].
   Skip-layer excitation (SLE): the features of the stage 2^sle_gap times coarser gate each fine
   stage's channels (pool to 4x4, 4x4 conv, SiLU, 1x1 conv, sigmoid): a cheap long-range path that
   carries layout and style to the fine stages without the cost of a residual at full resolution.
D: x (B, C, H, W) -> 4x4 stride-2 conv -> k-1 down-blocks (a strided 4x4 conv + 3x3 conv path averaged
   with an avg-pool + 1x1 conv path; per-sample layer norm by default) -> (B, d, h0, w0) [-> minibatch std]
   -> flatten = features
   (B, F) -> linear head (+ projection / ACGAN) -> (B,) logits.
   Self-supervision: two small decoders reconstruct D's *real* inputs from D's own features: the
   whole picture (at 8 x base size, e.g. 32 px for 64 px pictures) from the 2 x base-size features,
   and a random quadrant (per sample) from the 4 x base-size features. The reconstruction error is
   added to D's loss (``recon_weight``), so D must keep a description of the picture, not just the
   few cues that tell real from fake: that is what lets FastGAN train on a few hundred pictures.

Draw small, enlarge with learned detail (``upscale`` = s > 1): G draws at the picture's size / s and D
judges that drawing (D average-pools its input by s first); ``DetailStage``, a small super-resolution
net trained only on the real pictures (``detail_loss``: pool a real picture by s, predict it back),
enlarges G's drawing. Its residual has zero mean in every s x s block, so pooling the enlarged picture
gives back exactly what D judged: the detail can sharpen edges and add texture, never change the
drawing. In training mode G returns its drawing enlarged by repetition (what D pools back exactly) and
skips the stage; sampling (eval mode: EMA, previews, evaluation, export) includes it.

Sizes: any size ``config.base_grid`` accepts (16-256 px and non-square such as 64x48). Conditioning
(num_classes > 0) as in ``dcgan``: class-conditional BatchNorms in G (+ ``class_input``), projection /
ACGAN in D's head.

Text (``text_dim`` > 0, DF-GAN's fusion): y is a caption's frozen sentence embedding (B, text_dim) instead
of class weights, through the same parts: every G block's BatchNorm is modulated by it (FiLM:
``BN(h) * (1 + W_g e) + W_b e``, with a 2-layer MLP ``text_mlp`` in front so the gains need not be linear
in the sentence space), ``class_input`` feeds it to G's first layer too, and D adds the projection
``<W e, features>``, which is what makes a matching-aware D possible (a real picture with a wrong caption
is a negative: ``training.schedules``). ``y = None`` to a text G means the empty caption (zeros).
With ``match_weight`` > 0, D also has XMC-GAN's matching head (``match``, a ``CaptionMatch`` on D's features):
the schedules train it to pair real pictures with their captions among the batch's and G to make its pictures
pair the same way.
With ``retrieve`` (text runs), G holds a bank of its training pictures and caption embeddings (buffers, saved
with its weights; ``set_references``) and draws each caption over the picture of its nearest training caption
that names another picture (``nearest_reference``; or a softmax blend of the nearest with
``retrieve_temperature``), fed to every stage through a zero-initialised 3x3 conv.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..config.models import LightweightConfig
from ..errors import UserError
from . import Family, register
from .dcgan import dcgan_init
from .layers import (
    D_NORMS,
    CaptionMatch,
    ClassBatchNorm2d,
    DiscriminatorHead,
    FeatureDiscriminator,
    MinibatchStdDev,
    apply_spectral_norm,
    base_grid,
    check_image,
    check_y,
    g_input,
    g_input_dim,
    widths,
)
from .tasks import NOISE_TO_IMAGE

Tensor = torch.Tensor


class GLUConv(nn.Module):
    """3x3 conv to 2 x ``cout`` channels, (class-)BatchNorm, GLU -> ``cout`` channels (FastGAN's unit)."""

    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False)  # BN follows: a bias would be dead
        self.norm = ClassBatchNorm2d(2 * cout, num_classes)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        return F.glu(self.norm(self.conv(x), y), 1)


class UpBlock(nn.Module):
    """(B, cin, h, w) -> (B, cout, 2h, 2w): nearest upsampling then one GLU conv (two when ``double``)."""

    def __init__(self, cin: int, cout: int, num_classes: int, double: bool):
        super().__init__()
        self.convs = nn.ModuleList([GLUConv(cin, cout, num_classes)])
        if double:
            self.convs.append(GLUConv(cout, cout, num_classes))

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = F.interpolate(x, scale_factor=2, mode="nearest")
        for conv in self.convs:
            h = conv(h, y)
        return h


class SkipExcitation(nn.Module):
    """(B, c_src, h, w) coarse features -> (B, c_dst, 1, 1) channel gates in (0, 1) for a fine stage."""

    def __init__(self, c_src: int, c_dst: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(c_src, c_dst, 4, 1, 0, bias=False),
            nn.SiLU(),
            nn.Conv2d(c_dst, c_dst, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class DetailStage(nn.Module):
    """(B, C, h, w) in [-1, 1] -> (B, C, s*h, s*w): each pixel repeated s x s times plus a learned residual
    whose mean over every s x s block is zero, so ``avg_pool2d(out, s)`` returns the input (up to rounding).
    Its convs run at the small size and end in a pixel shuffle (ESPCN), so it costs little."""

    def __init__(self, channels: int, scale: int, width: int, depth: int = 4):
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(width, channels * scale * scale, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def residual(self, x: Tensor) -> Tensor:
        s = self.scale
        r = F.pixel_shuffle(self.net(x), s)
        return r - F.interpolate(F.avg_pool2d(r, s), scale_factor=s, mode="nearest")

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="nearest") + self.residual(x)

    def detail_loss(self, real: Tensor) -> Tensor:
        """Mean absolute error of enlarging real pictures (B, C, H, W) pooled by s: the stage's whole training
        signal (L1: sharp edges rather than L2's average of the possible ones)."""
        small = F.avg_pool2d(real, self.scale)
        target = real - F.interpolate(small, scale_factor=self.scale, mode="nearest")
        return F.l1_loss(self.residual(small).float(), target.float())


# Cosine similarity above this is the same caption text (the sentence model's rows are unit vectors; the same
# text gives the same row up to float rounding, different texts stay far below it).
SAME_CAPTION = 1 - 1e-4


# Below any cosine: where a caption's own picture's rows are set aside (finite, so a softmax over them stays defined).
SET_ASIDE = -4.0
# How many nearest captions a soft reference blends (``retrieve_temperature`` > 0): beyond the eighth, weights are
# negligible at the temperatures that keep a reference crisp.
REFERENCE_K = 8


def reference_similarity(y: Tensor, keys: Tensor, rows: Tensor) -> Tensor:
    """Caption embeddings y (B, T), the bank's unit caption embeddings (N, T) and the picture of each bank row (N,)
    -> (B, N) cosine similarities, with every row of the picture y itself names at SET_ASIDE: when y is one of the
    bank's captions (cosine > SAME_CAPTION), so that a training caption never draws over its own picture. In
    float32 whatever autocast is on."""
    with torch.autocast(y.device.type, enabled=False):
        sim = F.normalize(y.float(), dim=1) @ keys.float().T
    best, at = sim.max(1)
    own = torch.where(best > SAME_CAPTION, rows[at], torch.full_like(at, -1))
    return sim.masked_fill(rows[None, :] == own[:, None], SET_ASIDE)


def shift_directions(n_rows: int, z_dim: int) -> Tensor:
    """(n_rows, z_dim): a fixed Gaussian direction per bank row, scaled so that z ~ N(0, I) projects to unit variance
    (drawn from seed 0 on the CPU, so the same on every machine): ``retrieve_variety``'s shifts are z @ this.T."""
    g = torch.Generator().manual_seed(0)
    return torch.randn(n_rows, z_dim, generator=g) / z_dim**0.5


def caption_groups(rows: Tensor, pictures: int, n: int) -> Tensor:
    """The picture of each bank row (N,) -> (pictures, M): each picture's rows, padded with ``n``."""
    members = [torch.nonzero(rows == p).flatten() for p in range(pictures)]
    width = max((len(m) for m in members), default=1) or 1
    out = torch.full((pictures, width), n, dtype=torch.long, device=rows.device)
    for p, m in enumerate(members):
        out[p, : len(m)] = m
    return out


def picture_similarity(sim: Tensor, groups: Tensor) -> Tensor:
    """(B, N) caption similarities and ``caption_groups`` (P, M) -> (B, P): each picture's nearest caption's (a picture
    set aside by ``reference_similarity`` stays at SET_ASIDE, and so does padding)."""
    padded = torch.cat([sim, sim.new_full((len(sim), 1), SET_ASIDE)], 1)
    return padded[:, groups].amax(2)


def nearest_reference(y: Tensor, keys: Tensor, rows: Tensor) -> Tensor:
    """(B,) the bank row of y's nearest caption of another picture (``reference_similarity``)."""
    return reference_similarity(y, keys, rows).argmax(1)


def reference_weights(sim: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """(B, N) similarities -> the bank rows a reference blends (B, k) and their weights (B, k), summing to 1:
    the nearest row alone at temperature 0; else softmax(cosine / temperature) over the REFERENCE_K nearest,
    which moves continuously with y (a walk between two prompts cross-fades its references, it does not cut)."""
    if temperature <= 0:
        return sim.argmax(1, keepdim=True), sim.new_ones(len(sim), 1)
    top, rows = sim.topk(min(REFERENCE_K, sim.shape[1]), 1)
    return rows, torch.softmax(top / temperature, 1)


class LightweightGenerator(nn.Module):
    """(B, z_dim), (B, K) class weights or None -> (B, C, H, W) in [-1, 1].

    With ``upscale`` s > 1 it offers ``detail_loss(real)`` (``learns_detail``): the schedules add it to G's
    loss; see the module docstring for what training mode returns."""

    ref_keys: Tensor  # the retrieval bank's buffers (``retrieve`` only)
    ref_rows: Tensor
    ref_images: Tensor
    _picture_rows: Tensor | None  # ``_groups``'s cache (not saved: rebuilt from the bank)

    def __init__(self, cfg: LightweightConfig):
        super().__init__()
        self.z_dim, self.out_shape = cfg.z_dim, cfg.image_shape
        self.text_dim = cfg.text_dim
        self.num_classes = cond = cfg.cond_dim  # the width of y: class weights, or a sentence embedding
        self.class_input = bool(cfg.class_input and cond)
        _, drawn_h, drawn_w = cfg.drawn_shape
        stages, self.base_h, self.base_w = base_grid(drawn_w, drawn_h)
        ch = widths(cfg.g_channels, stages + 1, cfg.max_channels)  # base grid .. full size; ch[-1] = g_channels
        # text: a small MLP re-encodes the frozen embedding once; every block's FiLM reads its output
        self.text_mlp = (
            nn.Sequential(nn.Linear(cond, cond), nn.LeakyReLU(0.2), nn.Linear(cond, cond)) if cfg.text_dim else None
        )
        in_dim = g_input_dim(cfg) + (cond if self.class_input and cfg.text_dim else 0)
        self.project = nn.Linear(in_dim, 2 * ch[0] * self.base_h * self.base_w, bias=False)
        self.norm0 = ClassBatchNorm2d(2 * ch[0], cond)
        # FastGAN alternates two-conv and one-conv blocks, starting with two at the coarsest (cheapest) stage.
        self.ups = nn.ModuleList(UpBlock(ch[i], ch[i + 1], cond, double=i % 2 == 0) for i in range(stages))
        # stage index t (0 = base grid, stages = full size) is gated by stage t - gap, for t >= max(gap, 3):
        # the gates act where the fine detail is drawn (32 px and up from a 4 px base).
        gap = cfg.sle_gap
        self.gated_by = {t: t - gap for t in range(max(gap, 3), stages + 1)} if gap else {}
        self.sle = nn.ModuleDict({f"{s}_{t}": SkipExcitation(ch[s], ch[t]) for t, s in self.gated_by.items()})
        self.to_image = nn.Conv2d(ch[-1], cfg.channels, 3, 1, 1)
        self.retrieves, self.ref_temperature = bool(cfg.retrieve), float(cfg.retrieve_temperature)
        self.ref_variety = float(cfg.retrieve_variety)
        self.ref_pictures = int(cfg.retrieve_pictures)
        ref_channels = cfg.channels if self.ref_pictures == 1 else self.ref_pictures * (cfg.channels + 1)
        ref_convs = [nn.Conv2d(ref_channels, c, 3, 1, 1) for c in ch] if self.retrieves else []
        self.ref_in = nn.ModuleList(ref_convs) if self.retrieves else None
        if self.retrieves:  # the bank: empty until set_references (a trainer) or load_state_dict (a saved run)
            self.register_buffer("ref_keys", torch.zeros(0, cond))
            self.register_buffer("ref_rows", torch.zeros(0, dtype=torch.long))
            self.register_buffer("ref_images", torch.zeros(0, cfg.channels, drawn_h, drawn_w, dtype=torch.uint8))
        dcgan_init(self)
        for conv in ref_convs:  # zero: a fresh G draws as without references and learns how much to use
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(cast(Tensor, conv.bias))
        # after dcgan_init: the detail stage keeps PyTorch's default init (its N(0, 0.02) one starts it near zero
        # detail too, but slower to learn; it is a plain regression net)
        self.detail = DetailStage(cfg.channels, cfg.upscale, cfg.detail_channels) if cfg.upscale > 1 else None
        self.learns_detail = self.detail is not None

    def set_references(self, keys: Tensor, rows: Tensor, images: Tensor) -> None:
        """The retrieval bank: unit caption embeddings (N, T), the picture of each caption row (N,) int64 and the
        pictures (P, C, H, W) uint8 (pooled here to the size G draws at)."""
        if not self.retrieves:
            raise ValueError("LightweightGenerator: built without retrieve, it keeps no references")
        h, w = self.ref_images.shape[-2:]
        if images.shape[-2:] != (h, w):
            images = F.adaptive_avg_pool2d(images.float(), (h, w)).round().to(torch.uint8)
        if self.ref_pictures > 1 and len(images) <= self.ref_pictures:
            raise UserError(
                f"model.retrieve_pictures {self.ref_pictures} needs more than {self.ref_pictures} training pictures "
                f"(the data has {len(images)}); lower it"
            )
        dev = self.ref_keys.device
        self._picture_rows = None  # ``_groups`` of the old bank
        self.ref_keys = F.normalize(keys.float(), dim=1).to(dev)
        self.ref_rows, self.ref_images = rows.long().to(dev), images.to(dev)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The bank's size is the training data's, not the config's: take the saved one's shape before loading it.
        self._picture_rows = None  # ``_groups`` of the old bank
        for name in ("ref_keys", "ref_rows", "ref_images"):
            saved = state_dict.get(prefix + name)
            if self.retrieves and saved is not None:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _directions(self, z: Tensor) -> Tensor:
        """``shift_directions`` for this bank and z, made once (not per frame: a live walk samples many) and kept."""
        shape = (len(self.ref_keys), z.shape[1])
        cached = getattr(self, "_shift", None)
        if cached is None or cached.shape != shape or cached.device != z.device:
            cached = self._shift = shift_directions(*shape).to(z.device)
        return cached

    def _groups(self) -> Tensor:
        """(P, M) the bank rows of each picture, padded with N (a column ``picture_similarity`` sets aside); made
        once per bank (a new bank clears it) and kept, like ``_directions``."""
        cached = getattr(self, "_picture_rows", None)
        if cached is None or cached.device != self.ref_rows.device:
            cached = self._picture_rows = caption_groups(self.ref_rows, len(self.ref_images), len(self.ref_rows))
        return cached

    def reference_rows(self, y: Tensor) -> Tensor:
        """Caption embeddings (B, T) -> (B,) the bank (caption) row whose picture each is drawn over: the run's
        ``captions.json`` names it (``nearest_reference``)."""
        if not len(self.ref_keys):
            raise ValueError("LightweightGenerator: retrieve is on but the bank is empty (set_references first)")
        return nearest_reference(y, self.ref_keys, self.ref_rows)

    def references(self, y: Tensor, z: Tensor | None = None) -> Tensor:
        """Caption embeddings (B, T) -> the reference pictures (B, C, h, w) in [-1, 1]: the nearest caption's picture,
        or with ``retrieve_temperature`` > 0 the weighted blend of the nearest captions' (``reference_weights``); when
        sampling with ``retrieve_variety`` > 0, the noise z (B, z_dim) shifts which captions are nearest."""
        sim = self._similarity(y, z)
        if self.ref_pictures > 1:  # what G draws over, shown: the nearest of its side-by-side pictures
            return self._side_by_side(sim)[0][:, 0]
        at, w = reference_weights(sim, self.ref_temperature)
        pictures = self.ref_images[self.ref_rows[at]].float() / 127.5 - 1  # (B, k, C, h, w)
        return (w[:, :, None, None, None] * pictures).sum(1)

    def _similarity(self, y: Tensor, z: Tensor | None) -> Tensor:
        """(B, N) ``reference_similarity`` of captions y to the bank, shifted by the noise z when sampling with
        ``retrieve_variety`` > 0 (the noise reorders the neighbours)."""
        if not len(self.ref_keys):
            raise ValueError("LightweightGenerator: retrieve is on but the bank is empty (set_references first)")
        sim = reference_similarity(y, self.ref_keys, self.ref_rows)
        if z is not None and self.ref_variety and not self.training:
            with torch.autocast(z.device.type, enabled=False):
                sim = sim + self.ref_variety * z.float() @ self._directions(z).T
        return sim

    def _side_by_side(self, sim: Tensor) -> tuple[Tensor, Tensor]:
        """(B, N) caption similarities -> the ``ref_pictures`` nearest distinct pictures (B, k, C, h, w) in [-1, 1],
        nearest first, and their cosines (B, k) (a picture's: its nearest caption's)."""
        near, at = picture_similarity(sim, self._groups()).topk(self.ref_pictures, 1)
        return self.ref_images[at].float() / 127.5 - 1, near

    def reference_input(self, y: Tensor, z: Tensor | None = None) -> Tensor:
        """What the stages' reference convs read: ``references`` (B, C, h, w), or with ``retrieve_pictures`` k > 1
        the k nearest distinct pictures and a plane of each one's cosine (B, k * (C + 1), h, w)."""
        if self.ref_pictures == 1:
            return self.references(y, z)
        pictures, near = self._side_by_side(self._similarity(y, z))
        planes = near[:, :, None, None].expand(-1, -1, *pictures.shape[-2:])
        return torch.cat([pictures.flatten(1, 2), planes], 1)

    def detail_loss(self, real: Tensor) -> Tensor:
        """The detail stage's loss on real pictures (B, C, H, W); only with ``upscale`` > 1."""
        if self.detail is None:
            raise ValueError("LightweightGenerator: built with upscale 1, it has no detail stage")
        return self.detail.detail_loss(real)

    def forward(
        self, z: Tensor, y: Tensor | None = None, over: Tensor | None = None, over_strength: Tensor | float = 1.0
    ) -> Tensor:
        """z (B, z_dim), y (B, cond) -> pictures; ``over`` (B or 1, C, h, w) in [-1, 1] at the drawn size: the
        picture to draw over instead of the retrieved reference (sampling a retrieving G; ``draws_over``), blended
        with that reference at ``over_strength`` (a number or (B,) in [0, 1]; 1: the picture alone)."""
        if self.text_dim and y is None:  # no caption: the empty one
            y = z.new_zeros(len(z), self.text_dim)
        if self.num_classes:
            check_y(y, len(z), self.num_classes, "LightweightGenerator")
        ref = None
        if over is not None:
            ref = self._over(over, len(z))
            keep = torch.as_tensor(over_strength, dtype=ref.dtype, device=ref.device).reshape(-1, 1, 1, 1)
            if bool((keep < 1).any()):  # part the picture, part the prompt's own reference (whose neighbours z picks)
                assert y is not None
                ref = keep * ref + (1 - keep) * self.reference_input(y, z).to(ref.dtype)
            ref = ref.to(z.dtype)
        elif self.ref_in is not None:
            assert y is not None
            ref = self.reference_input(y, z).to(z.dtype)
        if self.text_mlp is not None:
            assert y is not None
            y = y + self.text_mlp(y)  # residual: the raw embedding still reaches every block
        h = self.project(g_input(z, y, self.class_input)).view(len(z), -1, self.base_h, self.base_w)
        feats = [self._with_reference(F.glu(self.norm0(h, y), 1), ref, 0)]  # feats[t]: stage t's output
        for t, up in enumerate(self.ups, start=1):
            h = up(feats[-1], y)
            if t in self.gated_by:
                s = self.gated_by[t]
                h = h * self.sle[f"{s}_{t}"](feats[s])
            feats.append(self._with_reference(h, ref, t))
        drawn = torch.tanh(self.to_image(feats[-1]))
        if self.detail is None:
            return drawn
        if self.training:  # D pools this back to the drawing exactly; the detail stage learns from reals only
            return F.interpolate(drawn, scale_factor=self.detail.scale, mode="nearest")
        return self.detail(drawn).clamp(-1, 1)

    @property
    def draws_over(self) -> bool:
        """Whether ``forward(..., over=picture)`` works: a G that draws over one reference picture."""
        return self.ref_in is not None and self.ref_pictures == 1

    def _over(self, over: Tensor, n: int) -> Tensor:
        """``over`` (n or 1, C, h, w) checked against the bank's picture shape -> (n, C, h, w)."""
        if not self.draws_over:
            raise ValueError("LightweightGenerator: only a G that retrieves one reference draws over a picture")
        want = tuple(self.ref_images.shape[1:])
        if over.dim() != 4 or tuple(over.shape[1:]) != want or len(over) not in (1, n):
            raise ValueError(
                f"LightweightGenerator: over must be (B or 1, {', '.join(map(str, want))}), got {tuple(over.shape)}"
            )
        return over.expand(n, -1, -1, -1)

    def _with_reference(self, h: Tensor, ref: Tensor | None, t: int) -> Tensor:
        """Stage t's features (B, ch, h, w) plus the reference picture pooled to that size through its conv."""
        if ref is None or self.ref_in is None:
            return h
        return h + self.ref_in[t](F.adaptive_avg_pool2d(ref, (h.shape[-2], h.shape[-1])).to(h.dtype))


class DownBlock(nn.Module):
    """(B, cin, h, w) -> (B, cout, h/2, w/2): FastGAN's DownBlockComp, a strided 4x4 + 3x3 conv path averaged
    with an average-pool + 1x1 conv path (the second keeps a smooth, easy-to-train route through D)."""

    def __init__(self, cin: int, cout: int, d_norm: str, slope: float):
        super().__init__()
        norm = D_NORMS[d_norm]
        bias = not norm.absorbs_bias
        self.main = nn.Sequential(
            nn.Conv2d(cin, cout, 4, 2, 1, bias=bias),
            norm.make(cout),
            nn.LeakyReLU(slope),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=bias),
            norm.make(cout),
            nn.LeakyReLU(slope),
        )
        self.direct = nn.Sequential(
            nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1, bias=bias), norm.make(cout), nn.LeakyReLU(slope)
        )

    def forward(self, x: Tensor) -> Tensor:
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """(B, cin, h, w) features -> (B, C, out_h, out_w) in [-1, 1]: pool to out/2^ups, then ``ups`` x
    [nearest x2, GLU conv], then a 3x3 conv and tanh. Small on purpose: it is a probe of D's features."""

    def __init__(self, cin: int, width: int, channels: int, out_hw: tuple[int, int], ups: int):
        super().__init__()
        self.in_hw = (out_hw[0] >> ups, out_hw[1] >> ups)
        self.ups = nn.ModuleList(UpBlock(cin if i == 0 else width, width, 0, double=False) for i in range(ups))
        self.to_image = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.adaptive_avg_pool2d(x, self.in_hw)
        for up in self.ups:
            h = up(h, None)
        return torch.tanh(self.to_image(h))


def quadrants(x: Tensor, q: Tensor) -> Tensor:
    """(B, C, H, W), (B,) quadrant indices in 0..3 (row-major) -> (B, C, H/2, W/2): each row's own quadrant."""
    b, c, h, w = x.shape
    parts = x.reshape(b, c, 2, h // 2, 2, w // 2).permute(0, 2, 4, 1, 3, 5).reshape(b, 4, c, h // 2, w // 2)
    return parts[torch.arange(b, device=x.device), q]


def laplacian_l1(a: Tensor, b: Tensor, min_size: int = 4) -> Tensor:
    """(B, C, H, W) twice -> (): the mean absolute difference in each band of a Laplacian pyramid (each level
    minus its 2x average-pooled, nearest-upsampled copy, down to ``min_size``; the last low-pass level too),
    summed over the bands so that each weighs the same whatever its number of pixels."""
    d = (a - b).float()  # the pyramid is linear: the pyramid of the difference is the difference of pyramids
    total = d.new_zeros(())
    while min(d.shape[-2:]) >= 2 * min_size and d.shape[-2] % 2 == 0 and d.shape[-1] % 2 == 0:
        low = F.avg_pool2d(d, 2)
        total = total + (d - F.interpolate(low, scale_factor=2.0, mode="nearest")).abs().mean()
        d = low
    return total + d.abs().mean()


RECON_DISTANCES = {"mse": lambda a, b: F.mse_loss(a.float(), b.float()), "lap1": laplacian_l1}


def resize(x: Tensor, hw: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == hw:
        return x
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)


class LightweightDiscriminator(FeatureDiscriminator):
    """(B, C, H, W), (B, K) or None -> (B,) logits; ``features`` -> (B, F); see FeatureDiscriminator.

    ``forward_and_reconstruct(x, y, n_real, generator) -> (logits (B,), class logits or None, loss ())``:
    the same single pass, plus the self-supervised reconstruction loss of the first ``n_real`` rows.
    """

    def __init__(self, cfg: LightweightConfig):
        super().__init__()
        self.num_classes, self.in_shape = cfg.cond_dim, cfg.image_shape  # y: class weights or a sentence embedding
        self.pool = cfg.upscale  # D judges G's drawing: pictures are average-pooled to the drawn size first
        _, height, width = cfg.drawn_shape
        stages, bh, bw = base_grid(width, height)
        ch = widths(cfg.d_channels, stages, cfg.max_channels)[::-1]  # finest first; ch[0] = d_channels
        slope = cfg.negative_slope
        self.stem = nn.Sequential(nn.Conv2d(cfg.channels, ch[0], 4, 2, 1), nn.LeakyReLU(slope))
        self.blocks = nn.ModuleList(DownBlock(ch[i], ch[i + 1], cfg.d_norm, slope) for i in range(stages - 1))
        self.mbstd = MinibatchStdDev(cfg.mbstd_group) if cfg.mbstd else None
        self.feature_dim = (ch[-1] + cfg.mbstd) * bh * bw
        # text: projection only (an ACGAN head would classify sentence embeddings, which are not classes)
        self.head = DiscriminatorHead(
            self.feature_dim, cfg.cond_dim, "projection" if cfg.text_dim else cfg.conditioning
        )
        self.has_aux = self.head.aux is not None
        self.match = CaptionMatch(self.feature_dim, cfg.text_dim, cfg.match_dim) if cfg.match_weight else None
        # Decoders: the whole picture from the 2 x base features, a quadrant from the 4 x base features
        # (the same map when D has only two); both reconstruct at 8 x base size (the picture itself when smaller).
        shrink = max(0, stages - 3)
        self.recon_hw = (height >> shrink, width >> shrink)
        ups = min(2, stages)
        self.whole_at = len(ch) - 2 if stages >= 2 else 0
        self.part_at = len(ch) - 3 if stages >= 3 else self.whole_at
        self.reconstructs = cfg.recon_weight > 0
        self.recon_distance = RECON_DISTANCES[cfg.recon_loss]
        if self.reconstructs:
            w, c = cfg.decoder_channels, cfg.channels
            self.decode_whole = Decoder(ch[self.whole_at], w, c, self.recon_hw, ups)
            self.decode_part = Decoder(ch[self.part_at], w, c, self.recon_hw, ups)
        dcgan_init(self)
        if cfg.spectral_norm:
            apply_spectral_norm(self)  # after init: the parametrization wraps the initialised weights

    def _drawn(self, x: Tensor) -> Tensor:
        """(B, C, H, W) pictures -> (B, C, H/s, W/s): what D judges (the pictures themselves when s = 1)."""
        check_image(x, self.in_shape, "LightweightDiscriminator")
        return F.avg_pool2d(x, self.pool) if self.pool > 1 else x

    def _maps(self, x: Tensor) -> list[Tensor]:
        """D's feature maps of drawn-size pictures, finest first: [(B, ch[0], h/2, w/2), ..., (B, ch[-1], h0, w0)]."""
        maps = [self.stem(x)]
        for block in self.blocks:
            maps.append(block(maps[-1]))
        return maps

    def _flatten(self, last: Tensor) -> Tensor:
        return (self.mbstd(last) if self.mbstd is not None else last).flatten(1)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self._flatten(self._maps(self._drawn(x))[-1])

    def reconstruction_loss(self, x: Tensor, maps: list[Tensor], generator: torch.Generator | None) -> Tensor:
        """The error (``recon_loss``: mse or lap1) of both decoders on real drawn-size pictures ``x`` (N, C, h, w)
        from their maps."""
        n = len(x)
        whole = self.decode_whole(maps[self.whole_at][:n])
        q = torch.randint(4, (n,), device=x.device, generator=generator)  # a quadrant per picture
        part = self.decode_part(quadrants(maps[self.part_at][:n], q))
        whole_target = resize(x, self.recon_hw)
        part_target = resize(quadrants(x, q), self.recon_hw)
        return self.recon_distance(whole, whole_target) + self.recon_distance(part, part_target)

    def forward_and_reconstruct(
        self, x: Tensor, y: Tensor | None, n_real: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        if not self.reconstructs:
            raise ValueError("LightweightDiscriminator: built with recon_weight 0, it has no decoders")
        logits, aux, recon, _ = self.forward_parts(x, y, n_real, generator)
        assert recon is not None
        return logits, aux, recon

    def forward_parts(
        self, x: Tensor, y: Tensor | None, n_real: int = 0, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor]:
        """One pass -> (logits (B,), class logits or None, the reconstruction loss of the first ``n_real`` rows
        (None when ``n_real`` is 0 or D does not reconstruct), features (B, F) for the matching head)."""
        if self.num_classes and y is not None:
            check_y(y, len(x), self.num_classes, "LightweightDiscriminator")
        x = self._drawn(x)
        maps = self._maps(x)
        h = self._flatten(maps[-1])
        logits, aux = self.head(h, y)
        recon = self.reconstruction_loss(x[:n_real], maps, generator) if n_real and self.reconstructs else None
        return logits, aux, recon, h


register(
    Family(
        "lightweight",
        LightweightConfig,
        LightweightGenerator,
        LightweightDiscriminator,
        NOISE_TO_IMAGE,
        conditioning=("class", "text"),
        default_schedule="alternating",  # FastGAN's: D on detached fakes, then G
        description="FastGAN-style: skip-layer excitation in G, a self-supervised auto-encoding D; few pictures, "
        "16-256 px, non-square, conditional on classes or text (model.text_dim)",
    )
)
