"""Defences and their honest evaluation: adversarial training and purification by projection onto G.

Adversarial training (Madry et al.) is ``classifier.train_robust``. Purification (Defense-GAN,
Samangouei et al. 2018) replaces a picture x by its projection G(z*) onto the generator's range,
z* = argmin_z ||G(z) - x||^2 (Adam from ``restarts`` random starts, the best one kept), and lets the
classifier judge G(z*). Its gradient through the inner optimisation is useless to an attacker (it
is shattered), which is why naive attacks report it robust; Athalye et al. (ICML 2018) broke it with
BPDA (straight-through: d G(z*(x))/dx is replaced by the identity) and EOT (the gradient averaged
over the projection's random restarts). ``evaluate_purification`` reports both figures side by side:

    naive      PGD against the classifier alone, then purified (what the defence claims)
    bpda_eot   PGD whose gradient at x is the mean over ``eot`` draws of the projection's randomness
               of d loss(classifier(p)) / dp at p = project(x) (the adaptive attack)

Pictures are (B, C, H, W) float in [0, 1]; the generator maps (z, class weights or None) to [-1, 1]
like every family's G; eps is in [0, 1] pixel terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..config.base import check
from .attacks import AttackConfig, Model, _project, attack, check_adversarial, eval_mode, predict

Generator = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]  # (z, class weights) -> [-1, 1]


@dataclass(frozen=True)
class ProjectionConfig:
    steps: int = 100  # Adam steps on z per restart
    restarts: int = 4  # random starts; the best reconstruction is kept
    lr: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.steps >= 1 and self.restarts >= 1, "projection steps and restarts must be >= 1")
        check(self.lr > 0, f"projection lr must be > 0, got {self.lr}")


class Projector:
    """x (B, C, H, W) in [0, 1] -> G(z*) in [0, 1], the closest picture G makes (squared error).
    A class-conditional G gets its class weights optimised too (softmax of free logits)."""

    def __init__(self, G: Generator | nn.Module, z_dim: int, num_classes: int, cfg: ProjectionConfig):
        self.G, self.z_dim, self.num_classes, self.cfg = G, z_dim, num_classes, cfg

    def __call__(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        b, r = len(x), self.cfg.restarts
        g = torch.Generator().manual_seed(self.cfg.seed * 7919 + seed)
        target = x.detach().repeat(r, 1, 1, 1)  # restart k of example i sits at k * b + i
        z = torch.randn(r * b, self.z_dim, generator=g).requires_grad_(True)
        params = [z]
        logits = None
        if self.num_classes:
            logits = torch.zeros(r * b, self.num_classes, requires_grad=True)
            params.append(logits)
        opt = torch.optim.Adam(params, lr=self.cfg.lr)
        with eval_mode(self.G), torch.enable_grad():
            for _ in range(self.cfg.steps):
                out = self._render(z, logits)
                loss = (out - target).pow(2).flatten(1).sum(1)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
            with torch.no_grad():
                out = self._render(z, logits)
                err = (out - target).pow(2).flatten(1).sum(1).view(r, b)
        best = err.argmin(0)
        return out.view(r, b, *x.shape[1:])[best, torch.arange(b)].detach()

    def _render(self, z: torch.Tensor, logits: torch.Tensor | None) -> torch.Tensor:
        y = None if logits is None else torch.softmax(logits, 1)
        return ((self.G(z, y) + 1) / 2).clamp(0, 1)


class Purified(nn.Module):
    """classifier(project(x)); ``seed`` picks the projection's random restarts."""

    def __init__(self, classifier: Model, projector: Projector, seed: int = 0):
        super().__init__()
        self.classifier, self.projector, self.seed = classifier, projector, seed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.projector(x, self.seed))


def bpda_eot_attack(
    classifier: Model, projector: Projector, x: torch.Tensor, y: torch.Tensor, cfg: AttackConfig, eot: int = 4
) -> torch.Tensor:
    """PGD (cfg's norm, eps, steps, step size, random start) against classifier(project(x)) with the
    BPDA identity through the projection and the gradient averaged over ``eot`` projection seeds."""
    if cfg.eps == 0:
        return x.clone()
    g = torch.Generator().manual_seed(cfg.seed)
    if cfg.random_start:
        xa = _project(x, x + (torch.rand(x.shape, generator=g) * 2 - 1) * cfg.eps, cfg)
    else:
        xa = x.clone()
    with eval_mode(classifier):
        for step in range(cfg.steps):
            grad = torch.zeros_like(x)
            for e in range(eot):
                p = projector(xa, seed=1_000 + step * eot + e).requires_grad_(True)
                with torch.enable_grad():
                    loss = F.cross_entropy(classifier(p), y, reduction="sum")
                    (gp,) = torch.autograd.grad(loss, p)
                grad += gp  # straight through: d project(x) / dx := identity
            if cfg.norm == "linf":
                d = grad.sign()
            else:
                d = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            xa = _project(x, xa + cfg.alpha * d, cfg)
    return xa.detach()


def evaluate_purification(
    classifier: Model,
    projector: Projector,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: AttackConfig,
    eot: int = 4,
    eval_seed: int = 999_983,
    batch_size: int = 100,
) -> dict:
    """Clean and robust accuracy of the classifier alone and purified, under the naive and the BPDA+EOT
    attack. The purified prediction is made with a projection seed the attack never used."""
    purified = Purified(classifier, projector, eval_seed)
    rows: dict[str, list[torch.Tensor]] = {k: [] for k in ("plain", "purified", "plain_pgd", "naive", "bpda_eot")}
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size], y[i : i + batch_size]
        c = replace(cfg, seed=cfg.seed + i)
        rows["plain"].append(predict(classifier, xb) == yb)
        rows["purified"].append(predict(purified, xb) == yb)
        xn = attack(classifier, xb, yb, c)
        rows["plain_pgd"].append(predict(classifier, xn) == yb)
        rows["naive"].append(predict(purified, xn) == yb)
        xa = bpda_eot_attack(classifier, projector, xb, yb, c, eot)
        chk = check_adversarial(xb, xa, cfg)
        if not (chk["in_range"] and chk["within_eps"]):
            raise RuntimeError(f"BPDA+EOT left its budget or range: {chk}")
        rows["bpda_eot"].append(predict(purified, xa) == yb)
    acc = {k: float(torch.cat(v).float().mean()) if v else 0.0 for k, v in rows.items()}
    return {
        "n": len(x),
        "attack": {"kind": cfg.kind, "eps": cfg.eps, "steps": cfg.steps, "step_size": cfg.alpha, "eot": eot},
        "projection": {
            "steps": projector.cfg.steps,
            "restarts": projector.cfg.restarts,
            "lr": projector.cfg.lr,
        },
        "accuracy": {
            "classifier_clean": acc["plain"],
            "classifier_pgd": acc["plain_pgd"],
            "purified_clean": acc["purified"],
            "purified_naive": acc["naive"],
            "purified_bpda_eot": acc["bpda_eot"],
        },
        "input_range": [0.0, 1.0],
    }


def purify_run(
    run_dir: str,
    judge: str,
    n: int,
    attack_cfg: AttackConfig,
    projection: ProjectionConfig,
    eot: int = 4,
    checkpoint: str = "latest",
) -> dict:
    """``evaluate_purification`` with RUN's generator as the projection and a judge by name
    (``classifier.JUDGES``) on the first ``n`` test pictures of the run's data (train split when it
    has no test split)."""
    from ..config import RunConfig
    from ..data import SOURCES, load_dataset
    from ..errors import UserError
    from ..features.base import to_unit_float
    from ..pipeline import load
    from ..runs import read_config_dict, require_run
    from .classifier import load_judge

    require_run(run_dir)
    cfg = RunConfig.from_dict(read_config_dict(run_dir))
    clf, desc = load_judge(judge, cfg.data.name)
    pipe = load(run_dir, checkpoint)
    src = SOURCES.get(cfg.data.name)
    split = "test" if src is not None and src.test_split else "train"
    ds = load_dataset(replace(cfg.data, split=split, limit=n))
    if ds.labels is None:
        raise UserError(f"{cfg.data.name} has no class labels; purification is judged by classification accuracy")
    proj = Projector(pipe.G, pipe.z_dim, pipe.num_classes, projection)
    res = evaluate_purification(clf, proj, to_unit_float(ds.images), ds.labels, attack_cfg, eot)
    res.update(run=str(run_dir), step=pipe.step, judge=desc, data=cfg.data.name, split=split)
    return res


def purification_table(res: dict) -> str:
    a, acc = res["attack"], res["accuracy"]
    head = (
        f"purification by projection onto {res.get('run', 'G')} ({res['projection']['restarts']} restarts x "
        f"{res['projection']['steps']} Adam steps); {a['kind']} eps {a['eps']:.4g} (pixels in [0, 1]), "
        f"{a['steps']} steps, EOT {a['eot']}; {res['n']} pictures"
    )
    rows = [
        ("classifier, clean", acc["classifier_clean"]),
        ("classifier, PGD", acc["classifier_pgd"]),
        ("purified, clean", acc["purified_clean"]),
        ("purified, naive attack (PGD on the classifier alone)", acc["purified_naive"]),
        ("purified, adaptive attack (BPDA + EOT)", acc["purified_bpda_eot"]),
    ]
    return head + "\n\n| setting | accuracy |\n|---|---|\n" + "".join(f"| {k} | {100 * v:.1f} % |\n" for k, v in rows)


__all__ = [
    "ProjectionConfig",
    "Projector",
    "Purified",
    "bpda_eot_attack",
    "evaluate_purification",
    "purification_table",
    "purify_run",
]
