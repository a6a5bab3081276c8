"""A hand-written simultaneous step for the seed's MLP GAN: same maths, a fraction of the overhead.

``supports(ctx)`` says whether the fast path applies (plain ``mlp`` family, loss ``ns`` without
label smoothing, schedule ``simultaneous``, no augmentation, EMA or class conditioning); the trainer
asks once when it is built and then steps with ``FastStep(ctx)`` instead of ``schedules.simultaneous``.

The maths is the seed's ``train_step`` exactly: one G forward, one D forward over [real; fake],
D's gradients from d_loss = BCE(real, 1) + BCE(fake, 0), G's gradients from g_loss = BCE(fake, 1)
through D, then both Adam updates (the trainer's own optimizer objects, so their state and the
checkpoints stay what they are). What changes is how it is computed:

* Every activation and gradient lives in a buffer allocated once per (trainer, batch size) and is
  written with ``torch.addmm/mm(out=...)``; real and fake images share one (2B, D_in) buffer, so
  D runs as one GEMM per layer and no ``torch.cat`` is needed.
* BCE-with-logits gradients in closed form: d d_loss / d logit = (sigmoid(l) - target) / B.
* D's output is one scalar per sample, so D's backward is linear in that scalar: one chain of
  per-sample Jacobians E_k (upstream 1) over all 2B rows serves both losses. D's weight gradients
  use E_k scaled row-wise by d d_loss / d l; G's path uses the fake rows of E_1 scaled by
  d g_loss / d l. This is the autograd result re-associated, and it saves the seed's second trip
  through D's upper layers for the fake half.
* LeakyReLU and tanh backward are single fused ATen kernels (the activation's sign gives the mask).
* Gradients are written straight into persistent ``p.grad`` buffers; the fused Adam steps follow.

Verified against the autograd schedule in tests/training/test_fast_mlp.py (losses and parameters after
several steps agree to float32 rounding).
"""

from __future__ import annotations

import torch
from torch import nn

from .step import StepContext

# Step-context fields that, when set, mean a step must do more than the seed's (augmentation and
# flips, an EMA update, an ACGAN head). The divergence guard needs nothing here: it only reads the
# gradients and scales learning rates in the optimizers' param groups, which ``opt.step`` honours.
_EXTRA_ATTRS = ("augmenter", "ema", "acgan")
# TrainConfig fields that must be off (falsy) for the seed's plain step.
_OFF_FIELDS = ("label_smoothing", "feature_matching", "r1_gamma", "lecam", "ema_beta", "augment", "ada")

_lrelu_bwd = torch.ops.aten.leaky_relu_backward.grad_input
_tanh_bwd = torch.ops.aten.tanh_backward.grad_input


def _split(mods: list[nn.Module], last_act: type | None):
    """Linear (+ LeakyReLU) ... Linear (+ last_act) -> (linears, slopes), else None."""
    lins: list[nn.Linear] = []
    slopes: list[float] = []
    for i, m in enumerate(mods):
        if type(m) is nn.Linear and m.bias is not None:
            if len(lins) != len(slopes):
                return None  # two Linears without an activation between them
            lins.append(m)
        elif type(m) is nn.LeakyReLU and len(lins) == len(slopes) + 1 and i < len(mods) - 1:
            slopes.append(float(m.negative_slope))
        elif last_act is not None and i == len(mods) - 1 and type(m) is last_act:
            pass
        else:
            return None
    if not lins or len(slopes) != len(lins) - 1 or any(s <= 0 for s in slopes):
        return None  # the sign of a LeakyReLU output gives its mask only for a positive slope
    return lins, slopes


def _layers(G: nn.Module, D: nn.Module):
    """(G linears, G slopes, D linears, D slopes) for the exact seed MLP structure, else None.

    The leaf modules of the seed's G are Linear, LeakyReLU, ..., Linear, Tanh and of its D
    Linear, LeakyReLU, ..., Linear(., 1), in the order they run; ``_probe`` then checks that the
    hand-written forward reproduces the modules' own forward, so a change to the family that this
    structural check cannot see turns the fast path off instead of training something else.
    """
    from ..models.mlp import MLPDiscriminator, MLPGenerator

    if type(G) is not MLPGenerator or type(D) is not MLPDiscriminator:
        return None
    if getattr(G, "num_classes", 0) or getattr(D, "num_classes", 0):
        return None
    leaves = lambda m: [c for c in m.modules() if not list(c.children())]
    g, d = _split(leaves(G), nn.Tanh), _split(leaves(D), None)
    if g is None or d is None or type(leaves(G)[-1]) is not nn.Tanh or d[0][-1].out_features != 1:
        return None
    return (*g, *d)


@torch.no_grad()
def _probe(G: nn.Module, D: nn.Module, layers) -> bool:
    gl, gs, dl, ds = layers
    gen = torch.Generator(device=gl[0].weight.device).manual_seed(0)
    z = torch.randn(3, gl[0].in_features, generator=gen, device=gl[0].weight.device)

    def run(h, lins, slopes):
        for k, m in enumerate(lins):
            h = torch.addmm(m.bias, h, m.weight.t())
            if k < len(slopes):
                h = torch.nn.functional.leaky_relu(h, slopes[k])
        return h

    try:
        x = run(z, gl, gs).tanh()
        ref_x = G(z)
        if ref_x.numel() != x.numel() or not torch.allclose(ref_x.reshape(3, -1), x, rtol=1e-4, atol=1e-5):
            return False
        ref_l = D(ref_x)
        return ref_l.shape == (3,) and torch.allclose(ref_l, run(x, dl, ds)[:, 0], rtol=1e-4, atol=1e-5)
    except Exception:  # any surprise means: not the structure we know
        return False


def _structure(ctx: StepContext):
    """The layers when G/D are the seed's MLPs with exactly their parameters trained, else None."""
    layers = _layers(ctx.G, ctx.D)
    if layers is None:
        return None
    gl, _, dl, _ = layers
    g_all = [p for m in gl for p in (m.weight, m.bias)]
    d_all = [p for m in dl for p in (m.weight, m.bias)]
    ok = (
        [id(p) for p in ctx.g_params] == [id(p) for p in g_all]
        and [id(p) for p in ctx.d_params] == [id(p) for p in d_all]  # no frozen or extra parameters
        and all(p.dtype == torch.float32 and p.is_contiguous() and p.device == g_all[0].device for p in g_all + d_all)
        and _probe(ctx.G, ctx.D, layers)
    )
    return layers if ok else None


def supports(ctx: StepContext) -> bool:
    """True when ``FastStep()(ctx)`` computes exactly what ``schedules.simultaneous(ctx)`` would.

    The trainer asks once, when it is built, and then uses one or the other for the whole run.
    """
    c = ctx.cfg
    if c.schedule != "simultaneous" or c.loss != "ns" or ctx.bf16:  # the fused step is float32 only
        return False
    if any(getattr(c, f) for f in _OFF_FIELDS) or any(getattr(ctx, a) for a in _EXTRA_ATTRS):
        return False
    if ctx.batches.num_classes or ctx.batches.labels is not None:
        return False
    if not (isinstance(ctx.opt_g, torch.optim.Optimizer) and isinstance(ctx.opt_d, torch.optim.Optimizer)):
        return False
    return _structure(ctx) is not None


class _Plan:
    """Buffers and layer lists for one trainer and batch size."""

    def __init__(self, ctx: StepContext, layers, b: int):
        self.G, self.D, self.b = ctx.G, ctx.D, b
        gl, gs, dl, ds = layers
        self.gw = [m.weight for m in gl]
        self.gb = [m.bias for m in gl]
        self.dw = [m.weight for m in dl]
        self.db = [m.bias for m in dl]
        self.gs, self.ds = gs, ds
        dev = self.gw[0].device
        e = lambda *s: torch.empty(*s, device=dev)
        n = 2 * b
        d_in = self.dw[0].shape[1]
        self.X = e(n, d_in)  # [real; fake]
        self.gh = [e(b, w.shape[0]) for w in self.gw[:-1]]  # G hidden activations (post LeakyReLU)
        self.da = [e(n, w.shape[0]) for w in self.dw[:-1]]  # D hidden activations
        self.logits = e(n, 1)
        self.sig = e(n, 1)
        self.dld = e(n, 1)  # d d_loss / d logits
        self.dlg = e(b, 1)  # d g_loss / d fake logits
        self.target = torch.cat([torch.ones(b, 1, device=dev), torch.zeros(b, 1, device=dev)])
        self.de = [e(n, w.shape[0]) for w in self.dw[:-1]]  # D per-sample Jacobians E_k
        self.gx = e(b, d_in)  # gradient at D's input for the fake rows, then through tanh
        self.gd = [e(b, w.shape[0]) for w in self.gw[:-1]]  # G hidden deltas
        self.inv_b = 1.0 / b
        params = [*self.gw, *self.gb, *self.dw, *self.db]
        self.grads = []
        for p in params:
            g = p.grad if p.grad is not None and p.grad.shape == p.shape and p.grad.is_contiguous() else None
            self.grads.append((p, g if g is not None else torch.zeros_like(p)))

    def valid_for(self, ctx: StepContext, b: int) -> bool:
        return self.G is ctx.G and self.D is ctx.D and self.b == b


class FastStep:
    """The fused step for one trainer: ``FastStep(ctx)(ctx)`` is a drop-in for ``schedules.simultaneous(ctx)``.
    Build it only where ``supports(ctx)``; it keeps its buffers (one plan per batch size) between steps."""

    def __init__(self, ctx: StepContext):
        self.layers = _structure(ctx)
        if self.layers is None:
            raise ValueError("FastStep: these models are not the seed's MLPs (check supports(ctx) first)")
        self.plan: _Plan | None = None

    def __call__(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return step(ctx, self)

    def plan_for(self, ctx: StepContext, b: int) -> _Plan:
        if self.plan is None or not self.plan.valid_for(ctx, b):
            self.plan = _Plan(ctx, self.layers, b)
        return self.plan


@torch.no_grad()
def step(ctx: StepContext, fast: FastStep) -> dict[str, torch.Tensor]:
    """One seed train step (see module doc); returns {d_loss, g_loss, d_real, d_fake} detached."""
    real, _ = ctx.next_real()
    b = real.shape[0]
    z, _ = ctx.sample_latents(b)
    P = fast.plan_for(ctx, b)
    for p, g in P.grads:
        if p.grad is not g:
            p.grad = g
    X, gw, gb, dw, db = P.X, P.gw, P.gb, P.dw, P.db
    X[:b].copy_(real.reshape(b, -1))
    fake = X[b:]

    # ---- G forward: z -> ... -> tanh, written into the fake half of X
    h = z
    for k in range(len(gw) - 1):
        torch.addmm(gb[k], h, gw[k].t(), out=P.gh[k])
        torch.nn.functional.leaky_relu_(P.gh[k], P.gs[k])
        h = P.gh[k]
    torch.addmm(gb[-1], h, gw[-1].t(), out=fake)
    fake.tanh_()

    # ---- D forward over [real; fake]
    a = X
    for k in range(len(dw) - 1):
        torch.addmm(db[k], a, dw[k].t(), out=P.da[k])
        torch.nn.functional.leaky_relu_(P.da[k], P.ds[k])
        a = P.da[k]
    L = torch.addmm(db[-1], a, dw[-1].t(), out=P.logits)

    # ---- closed-form BCE-with-logits gradients
    s = torch.sigmoid(L, out=P.sig)
    torch.sub(s, P.target, out=P.dld).mul_(P.inv_b)
    torch.sub(s[b:], 1.0, out=P.dlg).mul_(P.inv_b)
    real_l, fake_l = L[:b, 0], L[b:, 0]
    d_loss = ctx.loss.d(real_l, fake_l, 0.0)
    g_loss = ctx.loss.g(fake_l)
    out = {"d_loss": d_loss, "g_loss": g_loss, "d_real": s[:b].mean(), "d_fake": s[b:].mean()}

    # ---- D backward: per-sample Jacobians E_k (upstream 1), scaled by dld for D's weight gradients
    nd = len(dw)
    torch.mm(P.dld.t(), P.da[-1], out=dw[-1].grad)
    torch.sum(P.dld, 0, out=db[-1].grad)
    E = P.de[-1]
    _lrelu_bwd(dw[-1].expand_as(E), P.da[-1], P.ds[-1], True, grad_input=E)
    for k in range(nd - 2, -1, -1):  # layer k: input activation (X or da[k-1]), output Jacobian E
        a_in = X if k == 0 else P.da[k - 1]
        if k > 0:
            E_below = P.de[k - 1]
            torch.mm(E, dw[k], out=E_below)
            _lrelu_bwd(E_below, P.da[k - 1], P.ds[k - 1], True, grad_input=E_below)
        else:  # D's input gradient for the fake rows feeds G (scaled by d g_loss / d l)
            torch.mm(E[b:], dw[0], out=P.gx)
            P.gx.mul_(P.dlg)
        E.mul_(P.dld)  # E_k is no longer needed unscaled: it becomes d d_loss / d pre-activation
        torch.mm(E.t(), a_in, out=dw[k].grad)
        torch.sum(E, 0, out=db[k].grad)
        if k > 0:
            E = E_below

    # ---- G backward from D's input gradient
    delta = _tanh_bwd(P.gx, fake, grad_input=P.gx)
    for k in range(len(gw) - 1, -1, -1):
        a_in = z if k == 0 else P.gh[k - 1]
        torch.mm(delta.t(), a_in, out=gw[k].grad)
        torch.sum(delta, 0, out=gb[k].grad)
        if k > 0:
            below = P.gd[k - 1]
            torch.mm(delta, gw[k], out=below)
            _lrelu_bwd(below, P.gh[k - 1], P.gs[k - 1], True, grad_input=below)
            delta = below

    ctx.sync_grads()  # data-parallel: average gradients across processes (no-op in one process)
    ctx.opt_d.step()
    ctx.opt_g.step()
    return out
