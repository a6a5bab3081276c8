"""Interpolation between latents: slerp (default) and lerp, plus easing curves. Pure functions.

``slerp`` walks the great circle between the *directions* of a and b and interpolates the norm
linearly, so the norm along the path is exactly ``(1 - t)|a| + t|b|`` (equal norms stay equal) and
the path never cuts through the low-density centre of the Gaussian the way ``lerp`` does.
Class weights are always interpolated linearly (they live on the simplex; lerp keeps them there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..errors import UserError
from ..latents import Latent


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


def interpolate(a: Latent, b: Latent, t: float, method: str = "slerp") -> Latent:
    """The latent a fraction ``t`` of the way from a to b (z by ``method``, the rest linearly)."""
    if len(a.z) != len(b.z) or (a.classes is None) != (b.classes is None):
        raise UserError(f"latents {a.id} and {b.id} come from different kinds of run; cannot interpolate")
    f = get_interpolator(method)
    z = a.z_tensor if t <= 0 else b.z_tensor if t >= 1 else f(a.z_tensor, b.z_tensor, t)  # exact keyframes
    ca, cb = a.classes_tensor, b.classes_tensor
    classes = None if ca is None or cb is None else lerp(ca, cb, t)
    edits, directions = blend_edits([a, b], [1 - t, t])
    return Latent(
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
    keyframes: Sequence[Latent], frames: int, loop: bool = False, method: str = "slerp", easing: str = "cosine"
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
        out.append(interpolate(keys[s], keys[s + 1], ease(u - s), method))
    return out
