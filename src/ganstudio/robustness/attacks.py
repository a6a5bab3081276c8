"""Adversarial attacks on picture classifiers, written here: FGSM, PGD (L-inf, L2) and Square (L-inf).

One call: ``attack(model, x, y, AttackConfig(kind, eps, steps, step_size, ...)) -> x_adv``.

    model   any callable (B, C, H, W) float pictures in [cfg.lo, cfg.hi] -> logits (B, K); an
            ``nn.Module`` is put in eval mode for the attack and its modes are restored after
    x       (B, C, H, W) float32 in [cfg.lo, cfg.hi] (the *model's* input range: the judges built by
            ``judge_from_extractor`` read pictures in [0, 1], so eps = 0.1 means 0.1 of the full pixel
            range, i.e. 25.5 / 255)
    y       (B,) int64 true classes
    x_adv   (B, C, H, W) in [cfg.lo, cfg.hi] with ||x_adv - x|| <= eps in the attack's norm

The sanity checks users of attack libraries forget are functions here (and asserted in the tests):
``check_adversarial`` (range and budget), ``accuracy_curve`` reports whether accuracy falls
monotonically with eps and whether eps = 0 gives the clean accuracy exactly. The gradient-free
Square attack is the check on gradient masking: when it beats PGD, PGD's gradients are lying.

``typo_attack`` is the text-side attack on a prompt -> class mapping: greedy character edits
(swap, drop, double, neighbour key) per word, counting how often the mapped class flips.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..config.base import check
from ..errors import UserError

Model = Callable[[torch.Tensor], torch.Tensor]
U32 = 2.0**-24  # float32 unit roundoff


@dataclass(frozen=True)
class AttackConfig:
    kind: str = "pgd-linf"  # one of ATTACKS
    eps: float = 0.1  # budget in the model's input units (pixels in [0, 1] for our judges)
    steps: int = 20  # gradient steps (PGD), queries (Square); FGSM takes one step
    step_size: float | None = None  # None: 2.5 * eps / steps (Madry et al.), eps for FGSM
    random_start: bool = True  # PGD starts at a uniform point of the eps-ball
    restarts: int = 1  # PGD/Square: independent tries, an example counts as broken if any try breaks it
    seed: int = 0
    lo: float = 0.0  # the model's valid input range
    hi: float = 1.0
    square_p: float = 0.05  # Square: initial share of the picture one square covers

    def __post_init__(self) -> None:
        check(self.kind in ATTACKS, f"unknown attack {self.kind!r}; choose one of {', '.join(ATTACKS)}")
        check(math.isfinite(self.eps) and self.eps >= 0, f"eps must be >= 0, got {self.eps}")
        check(self.steps >= 1, f"steps must be >= 1, got {self.steps}")
        check(self.restarts >= 1, f"restarts must be >= 1, got {self.restarts}")
        check(self.step_size is None or self.step_size > 0, f"step_size must be > 0, got {self.step_size}")
        check(self.hi > self.lo, f"the input range [{self.lo}, {self.hi}] is empty")
        check(0 < self.square_p <= 1, f"square_p must be in (0, 1], got {self.square_p}")

    @property
    def norm(self) -> str:
        return "l2" if self.kind == "pgd-l2" else "linf"

    @property
    def alpha(self) -> float:
        if self.step_size is not None:
            return self.step_size
        return self.eps if self.kind == "fgsm" else 2.5 * self.eps / self.steps


@contextmanager
def eval_mode(model: object) -> Iterator[None]:
    """Every submodule of ``model`` (when it is an ``nn.Module``) in eval mode; modes restored after.
    Attacking a model in train mode attacks dropout noise and batch statistics, not the judge."""
    if not isinstance(model, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, was in modes:
            m.train(was)


def _loss_grad(model: Model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d(sum of cross-entropies)/dx (B, C, H, W); a sum, so each example's step ignores the batch size."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
    return g


def _l2(t: torch.Tensor) -> torch.Tensor:
    """Per-example L2 norm, shaped (B, 1, 1, 1) for broadcasting."""
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.ndim - 1)))


def _project(x0: torch.Tensor, x: torch.Tensor, cfg: AttackConfig) -> torch.Tensor:
    """x moved into the eps-ball around x0 (in cfg's norm), then into the valid range."""
    d = x - x0
    if cfg.norm == "linf":
        d = d.clamp(-cfg.eps, cfg.eps)
    else:
        n = _l2(d)
        d = d * torch.where(n > cfg.eps, cfg.eps / n.clamp_min(1e-12), torch.ones_like(n))
    return (x0 + d).clamp(cfg.lo, cfg.hi)


def _fgsm(model: Model, x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig, g: torch.Generator) -> torch.Tensor:
    return _project(x, x + cfg.alpha * _loss_grad(model, x, y).sign(), cfg)


def _random_start(x: torch.Tensor, cfg: AttackConfig, g: torch.Generator) -> torch.Tensor:
    if cfg.norm == "linf":
        d = (torch.rand(x.shape, generator=g, dtype=x.dtype) * 2 - 1) * cfg.eps
    else:  # uniform in the L2 ball: a uniform direction, radius eps * U^(1/n)
        d = torch.randn(x.shape, generator=g, dtype=x.dtype)
        n = x[0].numel()
        r = torch.rand(len(x), generator=g, dtype=x.dtype).pow(1.0 / n).view(-1, *([1] * (x.ndim - 1)))
        d = d / _l2(d).clamp_min(1e-12) * r * cfg.eps
    return _project(x, x + d, cfg)


def _pgd(model: Model, x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig, g: torch.Generator) -> torch.Tensor:
    xa = _random_start(x, cfg, g) if cfg.random_start else x.clone()
    for _ in range(cfg.steps):
        grad = _loss_grad(model, xa, y)
        if cfg.norm == "linf":
            step = grad.sign()
        else:
            step = grad / _l2(grad).clamp_min(1e-12)
        xa = _project(x, xa + cfg.alpha * step, cfg)
    return xa


@torch.no_grad()
def _margin(model: Model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """logit of the true class minus the best other logit (B,); < 0 means misclassified."""
    logits = model(x)
    true = logits.gather(1, y[:, None])[:, 0]
    other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
    return true - other


def _square_p(p0: float, i: int, n_iters: int) -> float:
    """Andriushchenko et al.'s schedule: the square's area halves at fixed fractions of the budget."""
    t = int(i / n_iters * 10000)
    for k, bound in enumerate((10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)):
        if t <= bound:
            return p0 / 2**k
    return p0 / 2**9


def _square(model: Model, x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig, g: torch.Generator) -> torch.Tensor:
    """Square attack L-inf (Andriushchenko et al., ECCV 2020): random +-eps squares, kept when they
    lower the margin; only queries the logits, so gradient masking cannot hide a weak judge from it."""
    b, c, h, w = x.shape
    # start: vertical stripes of +-eps, one sign per column and channel
    stripes = (torch.randint(0, 2, (b, c, 1, w), generator=g).to(x.dtype) * 2 - 1) * cfg.eps
    xa = _project(x, x + stripes, cfg)
    best = _margin(model, xa, y)
    for i in range(cfg.steps):
        active = (best > 0).nonzero()[:, 0]
        if len(active) == 0:
            break
        s = max(1, min(h - 1, round(math.sqrt(_square_p(cfg.square_p, i, cfg.steps) * h * w))))
        r0 = torch.randint(0, h - s + 1, (len(active),), generator=g)
        c0 = torch.randint(0, w - s + 1, (len(active),), generator=g)
        sign = (torch.randint(0, 2, (len(active), c, 1, 1), generator=g).to(x.dtype) * 2 - 1) * cfg.eps
        rows = torch.arange(h)[None, :, None]
        cols = torch.arange(w)[None, None, :]
        inside = (
            (rows >= r0[:, None, None])
            & (rows < (r0 + s)[:, None, None])
            & (cols >= c0[:, None, None])
            & (cols < (c0 + s)[:, None, None])
        )[:, None]  # (A, 1, H, W)
        x0, cur = x[active], xa[active]
        cand = torch.where(inside, x0 + sign, cur)
        cand = _project(x0, cand, cfg)
        m = _margin(model, cand, y[active])
        better = m < best[active]
        xa[active[better]] = cand[better]
        best[active[better]] = m[better]
    return xa


ATTACKS: dict[str, Callable[[Model, torch.Tensor, torch.Tensor, AttackConfig, torch.Generator], torch.Tensor]] = {
    "fgsm": _fgsm,
    "pgd-linf": _pgd,
    "pgd-l2": _pgd,
    "square-linf": _square,
}


def _check_inputs(x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig) -> None:
    if x.ndim != 4 or not x.is_floating_point():
        raise UserError(f"attack inputs must be float (B, C, H, W) pictures, got {x.dtype} {tuple(x.shape)}")
    if y.shape != (len(x),):
        raise UserError(f"labels must be (B,) = ({len(x)},), got {tuple(y.shape)}")
    if len(x) and (float(x.min()) < cfg.lo or float(x.max()) > cfg.hi):
        raise UserError(
            f"pictures span [{float(x.min()):.3g}, {float(x.max()):.3g}], outside the model's input range "
            f"[{cfg.lo}, {cfg.hi}]: convert them (uint8 -> /255) or set lo/hi to the model's range"
        )


def attack(model: Model, x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig) -> torch.Tensor:
    """Adversarial pictures for ``model`` (shapes in the module docstring). eps = 0 returns ``x``
    unchanged; with restarts an example keeps the first try that fools the model (else the last)."""
    _check_inputs(x, y, cfg)
    x = x.detach()
    if cfg.eps == 0 or len(x) == 0:
        return x.clone()
    g = torch.Generator().manual_seed(cfg.seed)
    fn = ATTACKS[cfg.kind]
    with eval_mode(model):
        best = fn(model, x, y, cfg, g).detach()
        runs = 1 if cfg.kind == "fgsm" else cfg.restarts
        for _ in range(1, runs):
            broken = _margin(model, best, y) < 0
            if bool(broken.all()):
                break
            idx = (~broken).nonzero()[:, 0]
            best[idx] = fn(model, x[idx], y[idx], cfg, g).detach()
    return best


def budget_tolerance(x: torch.Tensor, cfg: AttackConfig) -> float:
    """How far float32 rounding can push ||x_adv - x|| past eps: each coordinate of x + d is rounded
    to within U32 * |value| <= U32 * R, R = max(|lo|, |hi|) + eps; in L2 n such errors add up to at most
    sqrt(n) * U32 * R, plus the projection's scale eps / ||d|| (a norm of n terms: relative error
    <= n * U32)."""
    r = max(abs(cfg.lo), abs(cfg.hi)) + cfg.eps
    if cfg.norm == "linf":
        return 2 * U32 * r
    n = x[0].numel() if len(x) else 1
    return math.sqrt(n) * 2 * U32 * r + (n + 4) * U32 * cfg.eps


def check_adversarial(x: torch.Tensor, x_adv: torch.Tensor, cfg: AttackConfig) -> dict:
    """The budget and range checks: {"in_range", "within_eps", "max_norm", "tolerance"}."""
    d = (x_adv - x).flatten(1)
    norms = d.abs().amax(1) if cfg.norm == "linf" else d.norm(dim=1)
    max_norm = float(norms.max()) if len(norms) else 0.0
    tol = budget_tolerance(x, cfg)
    return {
        "in_range": bool(len(x_adv) == 0 or (float(x_adv.min()) >= cfg.lo and float(x_adv.max()) <= cfg.hi)),
        "within_eps": max_norm <= cfg.eps + tol,
        "max_norm": max_norm,
        "tolerance": tol,
    }


@torch.no_grad()
def predict(model: Model, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted classes (N,) in eval mode."""
    with eval_mode(model):
        return torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def robust_correct(
    model: Model, x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig, batch_size: int = 500
) -> torch.Tensor:
    """(N,) bool: still classified correctly after the attack (batched; budget checked per batch)."""
    out = []
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        xa = attack(model, xb, yb, replace(cfg, seed=cfg.seed + i))
        chk = check_adversarial(xb, xa, cfg)
        if not (chk["in_range"] and chk["within_eps"]):  # a bug in an attack, never the user's fault
            raise RuntimeError(f"attack {cfg.kind} left its budget or range: {chk}")
        out.append(predict(model, xa) == yb)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.bool)


def accuracy_curve(
    model: Model, x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig, eps_list: Sequence[float], batch_size: int = 500
) -> dict:
    """Robust accuracy at each eps (same seed, same batch), with the sanity checks.

    ``accuracy_raw`` is each eps's attack alone. ``accuracy`` counts an example as robust at eps only
    when it survived every attack at eps' <= eps too (an example found at a smaller budget is inside
    the larger one, so this is a valid, stronger attack). ``monotone`` says whether the raw figures
    already fell monotonically (when not, the attack is too weak at some eps: more steps or restarts);
    ``eps0_equals_clean`` whether eps = 0 (when listed) reproduced the clean accuracy exactly.
    """
    if any(e < 0 for e in eps_list):
        raise UserError(f"every eps must be >= 0, got {list(eps_list)}")
    eps_sorted = sorted(set(float(e) for e in eps_list))
    clean = predict(model, x) == y
    alive = clean.clone()
    rows = []
    for e in eps_sorted:
        ok = robust_correct(model, x, y, replace(cfg, eps=e), batch_size)
        alive &= ok
        rows.append({"eps": e, "accuracy_raw": float(ok.float().mean()), "accuracy": float(alive.float().mean())})
    raw = [r["accuracy_raw"] for r in rows]
    out = {
        "attack": cfg.kind,
        "norm": cfg.norm,
        "steps": cfg.steps,
        "step_size": None if cfg.step_size is None else cfg.step_size,
        "restarts": cfg.restarts,
        "input_range": [cfg.lo, cfg.hi],
        "n": len(x),
        "clean_accuracy": float(clean.float().mean()),
        "rows": rows,
        "monotone": all(a >= b for a, b in itertools.pairwise(raw)),
    }
    if 0.0 in eps_sorted:
        out["eps0_equals_clean"] = rows[0]["accuracy_raw"] == out["clean_accuracy"]
    return out


# ---- judges --------------------------------------------------------------------------------


class PictureJudge(nn.Module):
    """A classifier network as an attackable judge: pictures (B, C, H, W) in [0, 1] -> logits (B, K).

    ``net`` takes ``scale * x + shift`` (the network's own range, [-1, 1] for our SmallCNNs) and returns
    logits or (features, logits). Pictures of another size or channel count are fitted first
    (differentiably), like the extractor does, so the attack sees what the metric sees.
    """

    def __init__(
        self,
        net: nn.Module,
        channels: int | None = None,
        size: tuple[int, int] | None = None,
        scale: float = 2.0,
        shift: float = -1.0,
    ):
        super().__init__()
        self.net, self.channels, self.size, self.scale, self.shift = net, channels, size, scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from ..features.base import fit_images

        x = fit_images(x, self.channels, self.size)
        out = self.net(x * self.scale + self.shift)
        return out[1] if isinstance(out, tuple) else out


def judge_from_extractor(ext: object) -> PictureJudge:
    """The judge behind a classifier extractor (``features.get_extractor("classifier" | "emoji" ...)``)."""
    net = getattr(ext, "model", None)
    if not isinstance(net, nn.Module) or not getattr(ext, "num_classes", 0):
        raise UserError(
            f"features {getattr(ext, 'name', ext)!r} have no classifier network to attack; "
            "use a classifier (classifier, emoji, classifier:PATH)"
        )
    return PictureJudge(net, getattr(ext, "input_channels", None), getattr(ext, "input_size", None))


# ---- text ----------------------------------------------------------------------------------

KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours(ch: str) -> str:
    for row in KEYBOARD:
        i = row.find(ch.lower())
        if i >= 0:
            return row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    return ""


def typos(word: str) -> list[str]:
    """Every one-edit typo of ``word``: adjacent swap, dropped letter, doubled letter, neighbour key."""
    out: list[str] = []
    for i in range(len(word)):
        if i + 1 < len(word):
            out.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
        if len(word) > 1:
            out.append(word[:i] + word[i + 1 :])
        out.append(word[:i] + word[i] * 2 + word[i + 1 :])
        out += [word[:i] + n + word[i + 1 :] for n in _neighbours(word[i])]
    return [t for t in dict.fromkeys(out) if t and t != word]


def typo_attack(
    classify: Callable[[str], int | None], sentence: str, max_edits: int = 1, max_queries: int = 200
) -> dict:
    """Greedy typo attack on a text -> class mapping (the prompt interpreter): try one-edit typos word by
    word, longest words first, and stop at the first that changes the class (``None`` = refused, also a
    flip). With ``max_edits`` > 1 the typos stack on different words, greedily. Returns
    {"sentence", "clean", "adversarial", "class", "flipped", "edits", "queries"}."""
    clean = classify(sentence)
    words = sentence.split()
    queries = 1
    current = list(words)
    edits = 0
    for idx in sorted(range(len(words)), key=lambda i: -len(words[i])):
        if edits >= max_edits or queries >= max_queries:
            break
        for t in typos(words[idx]):
            if queries >= max_queries:
                break
            trial = current[:idx] + [t] + current[idx + 1 :]
            queries += 1
            c = classify(" ".join(trial))
            if c != clean:
                return {
                    "sentence": sentence,
                    "clean": clean,
                    "adversarial": " ".join(trial),
                    "class": c,
                    "flipped": True,
                    "edits": edits + 1,
                    "queries": queries,
                }
        if max_edits > 1:  # keep the first typo of this word and move on to the next word
            cands = typos(words[idx])
            if cands:
                current[idx] = cands[0]
                edits += 1
    return {
        "sentence": sentence,
        "clean": clean,
        "adversarial": sentence,
        "class": clean,
        "flipped": False,
        "edits": 0,
        "queries": queries,
    }


__all__ = [
    "ATTACKS",
    "AttackConfig",
    "PictureJudge",
    "accuracy_curve",
    "attack",
    "budget_tolerance",
    "check_adversarial",
    "eval_mode",
    "judge_from_extractor",
    "predict",
    "robust_correct",
    "typo_attack",
    "typos",
]
