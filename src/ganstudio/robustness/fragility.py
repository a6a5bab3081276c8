"""Metric fragility: how far bounded, imperceptible changes of the generated pictures move FID and KID.

``fid_fragility(fake, real, extractor, eps_list, modes)`` perturbs the fake pictures by at most eps
per pixel (L-inf, pixels in [0, 1]: 1/255 is one grey level of an 8-bit file) and recomputes FID and
KID with the same extractor and the same real features:

    random   a random corner of the eps-box per pixel (uniform +-eps signs): the largest random change
             of that norm, what re-encoding or dithering might do
    up       projected sign-gradient steps that *raise* FID (the gradient of the exact FID through the
             extractor; a metric that moves far is easy to make look worse)
    down     the same, *lowering* FID: how far a model's score can be improved without changing what
             a viewer sees (Kynkäänniemi et al., ICLR 2023, showed it for Inception features)

The gradient of FID with respect to the fake features is exact: the mean term plus
Tr(S_f) - 2 Tr((S_r^1/2 S_f S_r^1/2)^1/2) via a symmetric eigendecomposition in float64 (the same
formula as ``metrics.fid_from_stats``); it is pulled back through the extractor chunk by chunk, so all
N pictures enter every step without holding N pictures' activations. Extractors that are not torch
networks (``onnx:``) get the ``random`` mode only.

Shapes: fake (N, C, H, W) float in [0, 1]; real (M, D) float features of the extractor, or pictures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import UserError
from ..features.base import Extractor, fit_images, to_unit_float
from ..metrics import functional as M

MODES = ("random", "up", "down")


def _differentiable(ext: Extractor) -> bool:
    """Extractors whose ``_forward`` is a torch network (the classifier, emoji, folder-rcf)."""
    from ..features.classifier import ClassifierExtractor
    from ..features.randconv import RandomConvExtractor

    return isinstance(ext, ClassifierExtractor | RandomConvExtractor)


def _feats(ext: Extractor, x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> (B, D) features, differentiable."""
    f, _ = ext._forward(fit_images(x, ext.input_channels, ext.input_size))
    return torch.as_tensor(f).flatten(1)


class FidTorch:
    """Exact FID of fake features against fixed real statistics, in float64 torch (differentiable)."""

    def __init__(self, real_feats: np.ndarray):
        mu, sigma = M.feature_stats(real_feats)
        s = torch.from_numpy((sigma + sigma.T) / 2)
        w, v = torch.linalg.eigh(s)
        self.mu = torch.from_numpy(mu)
        self.root = (v * w.clamp_min(0).sqrt()) @ v.T
        self.trace_r = float(torch.trace(s))

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        f = f.double()
        mu = f.mean(0)
        fc = f - mu
        s = fc.T @ fc / (len(f) - 1)
        m = self.root @ s @ self.root
        ev = torch.linalg.eigvalsh((m + m.T) / 2)
        # the floor keeps sqrt's derivative finite on the zero eigenvalues of a rank-deficient covariance
        tr = ev.clamp_min(1e-12).sqrt().sum()
        return (mu - self.mu).pow(2).sum() + torch.trace(s) + self.trace_r - 2 * tr


def _pgd_fid(
    ext: Extractor, fake: torch.Tensor, fid: FidTorch, eps: float, steps: int, sign: float, chunk: int
) -> torch.Tensor:
    """L-inf PGD on all fake pictures at once toward sign * FID (sign +1 raises it)."""
    alpha = 2.5 * eps / steps
    x = fake.clone()
    for _ in range(steps):
        with torch.no_grad():
            f = torch.cat([_feats(ext, x[i : i + chunk]) for i in range(0, len(x), chunk)])
        f = f.detach().double().requires_grad_(True)
        (gf,) = torch.autograd.grad(fid(f), f)
        grad = torch.zeros_like(x)
        for i in range(0, len(x), chunk):
            xb = x[i : i + chunk].detach().requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad((_feats(ext, xb).double() * gf[i : i + chunk]).sum(), xb)
            grad[i : i + chunk] = g
        x = (fake + (x + sign * alpha * grad.sign() - fake).clamp(-eps, eps)).clamp(0, 1)
    return x


def _scores(ext: Extractor, x: torch.Tensor, real: np.ndarray, kid_subsets: int, kid_size: int) -> dict:
    f = ext.extract(x).feats
    k = M.kid(f, real, num_subsets=kid_subsets, subset_size=kid_size)
    return {"fid": M.fid(f, real), "kid": k["mean"], "kid_std": k["std"]}


def fid_fragility(
    fake: torch.Tensor | np.ndarray,
    real: torch.Tensor | np.ndarray,
    extractor: Extractor,
    eps_list: Sequence[float] = (1 / 255, 2 / 255, 4 / 255),
    modes: Sequence[str] = MODES,
    steps: int = 5,
    seed: int = 0,
    kid_subsets: int = 50,
    kid_size: int = 500,
    chunk: int = 250,
) -> dict:
    """FID and KID of ``fake`` against ``real`` before and after L-inf perturbations of each eps and mode.

    ``real`` is (M, D) features of ``extractor`` or (M, C, H, W) pictures. Returns
    {"extractor", "n_fake", "n_real", "clean": {fid, kid, kid_std}, "rows": [{eps, eps_255, mode, fid,
    kid, kid_std, fid_change, fid_change_rel}], "skipped": [...]}, all JSON-ready.
    """
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise UserError(f"unknown fragility mode {bad[0]!r}; choose from {', '.join(MODES)}")
    if any(not 0 <= e <= 1 for e in eps_list):
        raise UserError(f"eps must be in [0, 1] (pixels in [0, 1]; 1/255 is one grey level), got {list(eps_list)}")
    x = to_unit_float(fake)
    if x.ndim != 4 or len(x) < 2:
        raise UserError(f"need at least 2 fake pictures (N, C, H, W), got shape {tuple(x.shape)}")
    r = np.asarray(real)
    real_feats = extractor.extract(r).feats if r.ndim == 4 else r.astype(np.float64)
    clean = _scores(extractor, x, real_feats, kid_subsets, kid_size)
    fid_t = FidTorch(real_feats) if _differentiable(extractor) else None
    rows, skipped = [], []
    g = torch.Generator().manual_seed(seed)
    for e in eps_list:
        for mode in modes:
            if mode == "random":
                sgn = torch.randint(0, 2, x.shape, generator=g).to(x.dtype) * 2 - 1
                xp = (x + e * sgn).clamp(0, 1)
            elif fid_t is None:
                skipped.append({"eps": e, "mode": mode, "why": f"{extractor.name} is not differentiable here"})
                continue
            else:
                xp = _pgd_fid(extractor, x, fid_t, e, steps, 1.0 if mode == "up" else -1.0, chunk)
            s = _scores(extractor, xp, real_feats, kid_subsets, kid_size)
            rows.append(
                {
                    "eps": e,
                    "eps_255": round(e * 255, 3),
                    "mode": mode,
                    "max_change": float((xp - x).abs().max()),
                    **s,
                    "fid_change": s["fid"] - clean["fid"],
                    "fid_change_rel": (s["fid"] - clean["fid"]) / clean["fid"] if clean["fid"] > 0 else None,
                }
            )
    return {
        "extractor": extractor.describe(),
        "n_fake": len(x),
        "n_real": len(real_feats),
        "steps": steps,
        "input_range": [0.0, 1.0],
        "clean": clean,
        "rows": rows,
        "skipped": skipped,
    }


def fragility_table(res: dict) -> str:
    """A markdown table of ``fid_fragility``'s result."""
    c = res["clean"]
    lines = [
        f"features: {res['extractor']['name']}@{res['extractor']['id']}; {res['n_fake']} fake vs {res['n_real']} real; "
        f"clean FID {c['fid']:.3f}, KID {c['kid']:.5f}",
        "",
        "| eps (x/255) | mode | FID | change | KID |",
        "|---|---|---|---|---|",
    ]
    for row in res["rows"]:
        rel = row["fid_change_rel"]
        lines.append(
            f"| {row['eps_255']:g} | {row['mode']} | {row['fid']:.3f} | {row['fid_change']:+.3f}"
            + (f" ({100 * rel:+.1f} %)" if rel is not None else "")
            + f" | {row['kid']:.5f} |"
        )
    return "\n".join(lines) + "\n"


def run_pictures(
    run_dir: str, features: str, n: int, checkpoint: str = "latest", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, Extractor]:
    """A run's ``n`` seeded samples (N, C, H, W) in [0, 1], ``n`` seeded real pictures of its data
    (uint8, same layout) and the extractor ``features`` names for that data."""
    from ..config import RunConfig
    from ..data import load_dataset
    from ..features import get_extractor
    from ..pipeline import load
    from ..runs import read_config_dict, require_run

    require_run(run_dir)
    cfg = RunConfig.from_dict(read_config_dict(run_dir))
    ext = get_extractor(features, cfg.data)  # before the slow parts: an unknown name fails at once
    pipe = load(run_dir, checkpoint)
    fake = pipe(n, seed=seed).images
    ds = load_dataset(cfg.data)
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return fake, ds.images[perm], ext


__all__ = ["MODES", "FidTorch", "fid_fragility", "fragility_table", "run_pictures"]
