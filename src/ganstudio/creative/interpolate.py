"""Interpolation between latents: slerp (default) and lerp, plus easing curves. Pure functions.

``slerp`` walks the great circle between the *directions* of a and b and interpolates the norm
linearly, so the norm along the path is exactly ``(1 - t)|a| + t|b|`` (equal norms stay equal) and
the path never cuts through the low-density centre of the Gaussian the way ``lerp`` does.
Class weights are always interpolated linearly (they live on the simplex; lerp keeps them there).

Text (runs that read text): the prompts' sentence embeddings are interpolated too, by the same method as z,
and recorded as a ``text_mix`` of the keyframes' prompts whose weights give that embedding exactly
(``slerp_weights``: slerp written as ``ca * a + cb * b``), so a frame between "an apple" and "a rocket"
remakes bit for bit. Slerp needs the embeddings: pass ``text_embed`` (parts -> vector, e.g.
``lambda parts: latents.mix_embedding(pipe, parts)``); without it the text moves in a straight line (weights
1 - t, t), which passes closer to the origin than any caption's embedding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..errors import UserError
from ..latents import Latent, blend_over, merge_parts, with_text

TextEmbed = Callable[[Sequence[tuple[str, str, float]]], torch.Tensor]


def lerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """a (..., D), b (..., D), t scalar or (T,) -> (..., D) or (T, ..., D)."""
    t = _t(t, a)
    return a + t * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation of direction, linear interpolation of norm. Shapes as ``lerp``."""
    t = _t(t, a)
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(eps), b / nb.clamp_min(eps)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    near = so.abs() < 1e-4  # (anti)parallel: fall back to lerp of the unit vectors
    wa = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / so.where(~near, torch.ones_like(so)))
    wb = torch.where(near, t, torch.sin(t * omega) / so.where(~near, torch.ones_like(so)))
    u = wa * ua + wb * ub
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(eps)
    return u * (na + t * (nb - na))


def _t(t, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=like.dtype)
    if t.ndim == 0:
        return t
    return t.reshape(-1, *([1] * like.ndim))


INTERPOLATORS: dict[str, Callable] = {"slerp": slerp, "lerp": lerp}


def get_interpolator(name: str) -> Callable:
    try:
        return INTERPOLATORS[name]
    except KeyError:
        raise UserError(f"unknown interpolation {name!r}; choose one of {', '.join(INTERPOLATORS)}") from None


# ---- easing: [0, 1] -> [0, 1], f(0) = 0, f(1) = 1 ----------------------------------------------
EASINGS: dict[str, Callable[[float], float]] = {
    "linear": lambda t: t,
    "cosine": lambda t: 0.5 - 0.5 * math.cos(math.pi * t),  # zero speed at keyframes: smooth walks
    "smoothstep": lambda t: t * t * (3 - 2 * t),
}


def get_easing(name: str) -> Callable[[float], float]:
    try:
        return EASINGS[name]
    except KeyError:
        raise UserError(f"unknown easing {name!r}; choose one of {', '.join(EASINGS)}") from None


def slerp_weights(a: torch.Tensor, b: torch.Tensor, t: float, method: str = "slerp") -> tuple[float, float]:
    """(ca, cb) with ``ca * a + cb * b`` equal to ``slerp(a, b, t)`` (or ``lerp``): the same path, written as
    weights of the two ends (computed in float64)."""
    if method == "lerp":
        return 1.0 - t, float(t)
    get_interpolator(method)
    a64, b64 = a.double(), b.double()
    na, nb = float(a64.norm()), float(b64.norm())
    if na < 1e-12 or nb < 1e-12:
        return 1.0 - t, float(t)
    ua, ub = a64 / na, b64 / nb
    omega = math.acos(max(-1.0, min(1.0, float((ua * ub).sum()))))
    so = math.sin(omega)
    wa, wb = (1 - t, t) if abs(so) < 1e-4 else (math.sin((1 - t) * omega) / so, math.sin(t * omega) / so)
    u = float((wa * ua + wb * ub).norm())
    s = (na + t * (nb - na)) / max(u, 1e-12)
    return wa * s / na, wb * s / nb


def interpolate(a: Latent, b: Latent, t: float, method: str = "slerp", text_embed: TextEmbed | None = None) -> Latent:
    """The latent a fraction ``t`` of the way from a to b (z by ``method``, the rest linearly; text by
    ``method`` too, through ``text_embed``)."""
    if len(a.z) != len(b.z) or (a.classes is None) != (b.classes is None):
        raise UserError(f"latents {a.id} and {b.id} come from different kinds of run; cannot interpolate")
    if a.has_text != b.has_text:
        raise UserError(
            f"latent {(a if a.has_text else b).id} has a prompt and {(b if a.has_text else a).id} has none; "
            "give every keyframe of a text run a prompt"
        )
    f = get_interpolator(method)
    z = a.z_tensor if t <= 0 else b.z_tensor if t >= 1 else f(a.z_tensor, b.z_tensor, t)  # exact keyframes
    ca, cb = a.classes_tensor, b.classes_tensor
    classes = None if ca is None or cb is None else lerp(ca, cb, t)
    edits, directions = blend_edits([a, b], [1 - t, t])
    lat = Latent(
        z=tuple(z.tolist()),
        classes=None if classes is None else tuple(classes.tolist()),
        truncation=a.truncation + t * (b.truncation - a.truncation),
        edits=edits,
        directions=directions,
        parents=(a.id, b.id),
        origin={"op": "interpolate", "method": method, "t": float(t)},
        run=a.run,
        step=a.step,
    )
    if not a.has_text:
        return lat
    # the prompts' pull toward the run's captions moves with them (exactly each keyframe's own at t = 0 and 1)
    anchor = a.anchor if t <= 0 else b.anchor if t >= 1 else a.anchor + t * (b.anchor - a.anchor)
    # the pictures drawn over cross-fade (exactly each keyframe's own at t = 0 and 1)
    over = a.over if t <= 0 else b.over if t >= 1 else blend_over([a, b], [1 - t, t])
    strength = (
        a.over_strength if t <= 0 else b.over_strength if t >= 1 else (1 - t) * a.over_strength + t * b.over_strength
    )
    text = with_text(lat, interpolate_text(a, b, t, method, text_embed))
    return text.with_(anchor=anchor, over=over, over_strength=strength if over is not None else 1.0)


def interpolate_text(
    a: Latent, b: Latent, t: float, method: str = "slerp", text_embed: TextEmbed | None = None
) -> tuple[tuple[str, str, float], ...]:
    """The text parts a fraction ``t`` of the way from a's text to b's: a's or b's own at the ends or when they
    read the same text, else a mix of both whose embedding is ``method`` between theirs."""
    pa, pb = a.text_parts, b.text_parts
    if t <= 0 or pa == pb:
        return pa
    if t >= 1:
        return pb
    if text_embed is None:  # without the embeddings: the straight line between them (still exact to remake)
        return merge_parts([(pa, 1.0 - t), (pb, float(t))])
    ca, cb = slerp_weights(text_embed(pa), text_embed(pb), float(t), method)
    return merge_parts([(pa, ca), (pb, cb)])


def blend_edits(
    latents: Sequence[Latent], weights: Sequence[float]
) -> tuple[tuple[tuple[int, float], ...], str | None]:
    """Edits mixed with weights (a direction missing from a latent counts as amount 0)."""
    refs = {l.directions for l in latents if l.edits and l.directions is not None}  # edits imply directions
    if not refs:
        return (), None
    if len(refs) > 1:
        raise UserError(f"these latents' edits refer to different directions files ({', '.join(sorted(refs))})")
    acc: dict[int, float] = {}
    for lat, w in zip(latents, weights):
        for i, amount in lat.edits:
            acc[i] = acc.get(i, 0.0) + float(w) * amount
    return tuple(sorted((i, a) for i, a in acc.items() if a != 0.0)), refs.pop()


def path(
    keyframes: Sequence[Latent],
    frames: int,
    loop: bool = False,
    method: str = "slerp",
    easing: str = "cosine",
    text_embed: TextEmbed | None = None,
) -> list[Latent]:
    """``frames`` latents walking through the keyframes in order (and back to the first when ``loop``).

    Each segment gets an equal share of the frames; within a segment t is eased, so the walk slows
    into each keyframe instead of jerking through it. Without ``loop`` the last frame is the last keyframe.
    """
    if len(keyframes) < 2:
        raise UserError("a walk needs at least two keyframes (e.g. --seeds 1,5)")
    if frames < 2:
        raise UserError(f"a walk needs at least 2 frames, got {frames}")
    ease = get_easing(easing)
    keys = list(keyframes) + ([keyframes[0]] if loop else [])
    segments = len(keys) - 1
    out = []
    for f in range(frames):
        u = f / frames * segments if loop else f / (frames - 1) * segments
        s = min(int(u), segments - 1)
        out.append(interpolate(keys[s], keys[s + 1], ease(u - s), method, text_embed))
    return out
