"""Meaningful directions in latent space: GANSpace-style PCA and SeFa, saved per run and checkpoint.

``pca`` (Härkönen et al. 2020, "GANSpace"): z ~ N(0, I) is isotropic, so PCA of z itself is
meaningless. Instead sample many z, record G's first hidden activation (the output of the first
nonlinearity executed after G's first Linear/Conv, found generically with forward hooks), take the
principal components of those activations, and carry them back to latent space by least squares:
with x = PCA coordinates of the activations, solve z ~= x M; row i of M (normalised) is the latent
direction that moves activation component i. Each direction's ``value`` is the activation variance
of its component and ``explained`` its share of the total.

``sefa`` (Shen & Zhou 2021): closed form, no sampling. The eigenvectors of W^T W, with W the weight
of G's first layer restricted to the z inputs (class columns ignored; G must put z first, as every
ganstudio family does), are the directions the first layer amplifies most. ``value`` = eigenvalue.

Directions are unit vectors in z space; an edit ``k:+a`` adds ``a * u_k`` to the (truncated) z,
i.e. ``a`` standard deviations of z along u_k (see ``latents``). Files:
``RUN_DIR/directions/<method>-<step>.json`` with the vectors, values, a content hash of the vectors
(names excluded: naming a direction does not change what edits mean), and the user's names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from .. import runs
from ..errors import UserError

FORMAT = "ganstudio.directions/1"

ACTIVATIONS = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softplus,
    nn.Hardtanh,
    nn.ReLU6,
    nn.Hardswish,
    nn.GLU,
)
WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
Weighted = nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d


@dataclass(frozen=True)
class Directions:
    """Unit latent directions ``vectors`` (k, z_dim) with per-direction values and optional names."""

    method: str
    step: int | None
    vectors: np.ndarray
    values: tuple[float, ...]
    explained: tuple[float, ...] | None = None
    names: dict[int, str] = field(default_factory=dict)
    layer: str | None = None
    run: str | None = None
    path: Path | None = None

    @property
    def hash(self) -> str:
        h = hashlib.sha256(self.method.encode() + np.ascontiguousarray(self.vectors, np.float32).tobytes())
        return h.hexdigest()[:12]

    @property
    def file_name(self) -> str:
        return f"{self.method}-{self.step}.json"

    @property
    def ref(self) -> str:
        """How latents name this file: ``<file>#<hash>``."""
        return f"{self.file_name}#{self.hash}"

    def __len__(self) -> int:
        return len(self.vectors)

    def index(self, key: int | str) -> int:
        if isinstance(key, str) and not key.isdigit():
            low = {v.lower(): k for k, v in self.names.items()}
            if key.lower() not in low:
                have = ", ".join(f"{k}={v}" for k, v in sorted(self.names.items())) or "none named yet"
                raise UserError(
                    f"no direction named {key!r} ({have}); name one with `ganstudio directions RUN --name 3={key}`"
                )
            return low[key.lower()]
        i = int(key)
        if not 0 <= i < len(self):
            raise UserError(f"direction {i} out of range 0..{len(self) - 1} ({self.file_name})")
        return i

    def offset(self, edits: Sequence[tuple[int, float]]) -> torch.Tensor:
        """(z_dim,) sum of amount * unit direction."""
        v = torch.from_numpy(np.asarray(self.vectors, np.float32))
        out = torch.zeros(v.shape[1])
        for i, a in edits:
            out = out + float(a) * v[self.index(i)]
        return out

    def resolve(self, edits: Sequence[tuple[int | str, float]]) -> list[tuple[int, float]]:
        """Edits with names replaced by indices (validated)."""
        return [(self.index(k), float(a)) for k, a in edits]

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "method": self.method,
            "step": self.step,
            "run": self.run,
            "layer": self.layer,
            "hash": self.hash,
            "z_dim": int(self.vectors.shape[1]),
            "scale": "unit vectors; amount = sigmas of z",
            "directions": [
                {
                    "index": i,
                    "name": self.names.get(i),
                    "value": self.values[i],
                    "explained": None if self.explained is None else self.explained[i],
                    "vector": [float(x) for x in self.vectors[i]],
                }
                for i in range(len(self))
            ],
        }

    @classmethod
    def from_dict(cls, d: dict, path: Path | None = None) -> Directions:
        if d.get("format") != FORMAT:
            raise UserError(f"{path} is not a ganstudio directions file")
        rows = d["directions"]
        ex = [r.get("explained") for r in rows]
        dirs = cls(
            method=d["method"],
            step=d.get("step"),
            vectors=np.asarray([r["vector"] for r in rows], np.float32),
            values=tuple(float(r["value"]) for r in rows),
            explained=None if None in ex else tuple(ex),
            names={int(r["index"]): r["name"] for r in rows if r.get("name")},
            layer=d.get("layer"),
            run=d.get("run"),
            path=path,
        )
        if d.get("hash") and d["hash"] != dirs.hash:
            raise UserError(f"{path} is damaged: its vectors do not match its hash")
        return dirs


# ---- finding layers generically ---------------------------------------------------------


def execution_order(G: nn.Module, z_dim: int, num_classes: int) -> list[tuple[str, nn.Module]]:
    """Leaf modules of G in the order a forward pass runs them (each listed once)."""
    order: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()
    hooks = []
    for name, m in G.named_modules():
        if not list(m.children()):

            def hook(mod, inp, out, name=name):
                if id(mod) not in seen:
                    seen.add(id(mod))
                    order.append((name, mod))

            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            G(*_inputs(G, 2, z_dim, num_classes, torch.Generator().manual_seed(0)))
    finally:
        for h in hooks:
            h.remove()
    return order


def _inputs(G: nn.Module, n: int, z_dim: int, num_classes: int, gen: torch.Generator):
    dev = next(G.parameters()).device
    z = torch.randn(n, z_dim, generator=gen).to(dev)
    y = None
    if num_classes:
        y = nn.functional.one_hot(torch.randint(num_classes, (n,), generator=gen), num_classes).float().to(dev)
    return z, y


def first_layer(G: nn.Module, z_dim: int, num_classes: int) -> tuple[str, Weighted]:
    for name, m in execution_order(G, z_dim, num_classes):
        if isinstance(m, WEIGHTED):
            return name, m
    raise UserError("G has no Linear/Conv layer that ganstudio can analyse")


def feature_layer(G: nn.Module, z_dim: int, num_classes: int) -> tuple[str, nn.Module]:
    """The first nonlinearity run after G's first Linear/Conv (GANSpace's early-layer activation)."""
    found = False
    for name, m in execution_order(G, z_dim, num_classes):
        found = found or isinstance(m, WEIGHTED)
        if found and isinstance(m, ACTIVATIONS):
            return name, m
    raise UserError("G has no nonlinearity after its first layer; PCA directions need one (try --method sefa)")


@torch.no_grad()
def activations(
    G: nn.Module, module: nn.Module, z: torch.Tensor, y: torch.Tensor | None, batch_size: int = 512
) -> torch.Tensor:
    """(N, F) flattened outputs of ``module`` for inputs (z, y)."""
    got: list[torch.Tensor] = []
    h = module.register_forward_hook(lambda m, i, o: got.append(o.detach().flatten(1).float().cpu()))
    try:
        for s in range(0, len(z), batch_size):
            G(z[s : s + batch_size], None if y is None else y[s : s + batch_size])
    finally:
        h.remove()
    return torch.cat(got)


# ---- the methods --------------------------------------------------------------------------


def pca_directions(pipe, k: int = 20, samples: int = 4096, seed: int = 0) -> Directions:
    """GANSpace: PCA of G's first hidden activation, regressed back onto z (see module docstring)."""
    G = pipe.G
    name, module = feature_layer(G, pipe.z_dim, pipe.num_classes)
    z, y = _inputs(G, samples, pipe.z_dim, pipe.num_classes, torch.Generator().manual_seed(seed))
    A = activations(G, module, z, y).double()
    A = A - A.mean(0)
    total = float(A.pow(2).sum() / (len(A) - 1))
    k = min(k, pipe.z_dim, A.shape[1], samples - 1)
    if A.shape[1] <= 4096:
        _, S, Vt = torch.linalg.svd(A, full_matrices=False)
        S, Vt = S[:k], Vt[:k]
    else:
        torch.manual_seed(seed)
        _, S, V = torch.svd_lowrank(A, q=min(k + 10, A.shape[1]))
        S, Vt = S[:k], V[:, :k].T
    var = S.pow(2) / (len(A) - 1)
    X = A @ Vt.T  # (N, k) PCA coordinates
    M = torch.linalg.lstsq(X, z.double().cpu()).solution  # (k, z_dim): z ~= X M
    vec = M / M.norm(dim=1, keepdim=True)
    return Directions(
        "pca",
        pipe.step,
        vec.float().numpy(),
        tuple(var.tolist()),
        tuple((var / total).tolist()),
        layer=name,
        run=_run(pipe),
    )


def sefa_directions(pipe, k: int = 20) -> Directions:
    """SeFa: top eigenvectors of W^T W, W = G's first-layer weight on z (class columns ignored)."""
    name, layer = first_layer(pipe.G, pipe.z_dim, pipe.num_classes)
    W = layer.weight.detach().double().cpu()
    if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        W = W.reshape(W.shape[0], -1).T  # (in, out, *k) -> (out * prod(k), in)
    elif not isinstance(layer, nn.Linear):
        W = W.transpose(0, 1).reshape(W.shape[1], -1).T  # (out, in, *k) -> (out * prod(k), in)
    W = W[:, : pipe.z_dim]  # z columns come first in every family (G concatenates [z, y])
    vals, vecs = torch.linalg.eigh(W.T @ W)
    total = vals.sum()
    order = torch.argsort(vals, descending=True)[: min(k, pipe.z_dim)]
    vals, vecs = vals[order], vecs[:, order].T
    return Directions(
        "sefa",
        pipe.step,
        vecs.float().numpy(),
        tuple(vals.tolist()),
        tuple((vals / total).tolist()),
        layer=name,
        run=_run(pipe),
    )


METHODS: dict[str, Callable[..., Directions]] = {"pca": pca_directions, "sefa": sefa_directions}


def _run(pipe) -> str | None:
    return None if pipe.run_dir is None else Path(pipe.run_dir).name


def compute(pipe, method: str = "pca", k: int = 20, **kw) -> Directions:
    if method not in METHODS:
        raise UserError(f"unknown directions method {method!r}; choose one of {', '.join(METHODS)}")
    if k <= 0:
        raise UserError(f"number of directions must be positive, got {k}")
    return METHODS[method](pipe, k=k, **kw)


# ---- files ---------------------------------------------------------------------------------


def directions_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "directions"


def save(dirs: Directions, run_dir: str | Path) -> Path:
    path = directions_dir(run_dir) / dirs.file_name
    runs.atomic_write_json(path, dirs.to_dict())
    return path


def read(path: str | Path) -> Directions:
    path = Path(path)
    try:
        return Directions.from_dict(json.loads(path.read_text()), path)
    except (OSError, json.JSONDecodeError, KeyError) as e:
        raise UserError(f"cannot read directions {path} ({e})") from None


def available(run_dir: str | Path) -> list[Path]:
    d = directions_dir(run_dir)
    return sorted(p for p in d.glob("*-*.json") if not p.name.startswith(".")) if d.is_dir() else []


def find(run_dir: str | Path, which: str | None = None, step: int | None = None) -> Directions:
    """A run's directions: ``which`` is a file path, a method name, or None (pca, else any); the file
    for ``step`` when there is one, else the newest step."""
    if which and (Path(which).suffix == ".json" or Path(which).is_file()):
        return read(which)
    files = available(run_dir)
    if not files:
        raise UserError(f"run {run_dir} has no directions yet; run `ganstudio directions {run_dir}` first")

    def parse(p: Path) -> tuple[str, int]:
        m, _, s = p.stem.rpartition("-")
        return m, int(s) if s.isdigit() else -1

    cands = [(parse(p), p) for p in files]
    methods = [which] if which else ["pca", *sorted({m for (m, _), _ in cands})]
    for m in methods:
        mine = [(s, p) for (mm, s), p in cands if mm == m]
        if mine:
            exact = [p for s, p in mine if s == step]
            return read(exact[0] if exact else max(mine)[1])
    raise UserError(f"run {run_dir} has no {which!r} directions; have: {', '.join(p.name for p in files)}")


def for_latents(run_dir: str | Path, refs: Iterable[str | None]) -> Directions | None:
    """The directions file that latents' edits refer to (``file#hash``), or None when none do.
    A missing or recomputed file is reported by ``latents.check_compatible``."""
    named = {r for r in refs if r}
    if not named:
        return None
    if len(named) > 1:
        raise UserError(f"these latents' edits refer to several directions files: {', '.join(sorted(named))}")
    name = named.pop().partition("#")[0]
    path = directions_dir(run_dir) / name
    return read(path) if path.is_file() else None


_Key = TypeVar("_Key", bound=int | str)


def set_names(path: str | Path, names: Mapping[_Key, str]) -> Directions:
    """Name directions (``{3: "sleeves"}``); an empty name removes one. Saved in the file's JSON."""
    dirs = read(path)
    new = dict(dirs.names)
    for k, v in names.items():
        i = dirs.index(int(k))
        v = v.strip()
        if v:
            clash = [j for j, n in new.items() if n.lower() == v.lower() and j != i]
            if clash:
                raise UserError(f"name {v!r} is already direction {clash[0]}")
            if v.isdigit():
                raise UserError(f"direction names cannot be numbers ({v!r})")
            new[i] = v
        else:
            new.pop(i, None)
    dirs = replace(dirs, names=new)
    runs.atomic_write_json(Path(path), dirs.to_dict())
    return dirs


def parse_names(spec: str) -> dict[int, str]:
    """``"3=sleeves,5=dark"`` -> {3: "sleeves", 5: "dark"}."""
    out: dict[int, str] = {}
    for part in spec.split(","):
        k, sep, v = part.partition("=")
        if not sep or not k.strip().isdigit():
            raise UserError(f"bad --name {part!r}; write INDEX=NAME, e.g. 3=sleeves")
        out[int(k)] = v
    return out


def preview(
    pipe,
    dirs: Directions,
    count: int = 10,
    amounts: Sequence[float] = (-3, -2, -1, 0, 1, 2, 3),
    seed: int = 0,
    classes=None,
) -> torch.Tensor:
    """Images (count * len(amounts), C, H, W): row i walks direction i from -3 to +3 sigma."""
    from ..latents import from_seeds, render_fast

    base = from_seeds(pipe, 1, seed, classes=classes)[0]
    lats = [
        base.with_(edits=((i, float(a)),) if a else (), directions=dirs.ref if a else None)
        for i in range(min(count, len(dirs)))
        for a in amounts
    ]
    return render_fast(pipe, lats, dirs)


def compute_and_save(
    run_dir: str | Path,
    methods: Sequence[str] = ("pca", "sefa"),
    k: int = 20,
    checkpoint: str = "latest",
    samples: int = 4096,
    preview_rows: int = 0,
    seed: int = 0,
    device: str = "cpu",
) -> list[Path]:
    """Compute directions for a run's checkpoint, save them (and preview strips when asked)."""
    import warnings

    from ..pipeline import load

    pipe = load(run_dir, checkpoint=checkpoint, device=device)
    written = []
    failed = []
    for m in methods:
        kw = {"samples": samples, "seed": seed} if m == "pca" else {}
        try:
            dirs = compute(pipe, m, k, **kw)
        except UserError as e:  # e.g. PCA needs a nonlinearity after G's first layer; SeFa may still work
            failed.append(f"{m}: {e}")
            continue
        old = directions_dir(run_dir) / dirs.file_name
        if old.is_file():  # keep the user's names when the vectors come out the same
            prev = read(old)
            if prev.hash == dirs.hash:
                dirs = replace(dirs, names=prev.names)
        written.append(save(dirs, run_dir))
        if preview_rows:
            written += save_preview(pipe, dirs, run_dir, preview_rows, seed)
    if failed and not written:
        raise UserError("no directions could be computed (" + "; ".join(failed) + ")")
    for f in failed:
        warnings.warn(f"skipped directions {f}", stacklevel=2)
    return written


def save_preview(pipe, dirs: Directions, run_dir: str | Path, rows: int = 10, seed: int = 0) -> list[Path]:
    """``<method>-<step>-preview.png``: row i walks direction i from -3 to +3 sigma. A sound run's rows are the
    notes' spectrograms, and ``-preview.wav`` plays them row by row (7 notes a direction, 0.2 s apart)."""
    from .. import media

    amounts = (-3, -2, -1, 0, 1, 2, 3)
    imgs = preview(pipe, dirs, rows, amounts, seed)
    path = directions_dir(run_dir) / f"{dirs.method}-{dirs.step}-preview.png"
    waves = None
    if pipe.is_sound:
        from . import sound as S

        waves = pipe.to_audio(imgs)
        imgs = S.strip_pictures(imgs).float() / 255
    h = imgs.shape[-2]
    out = [media.save_grid(imgs, path, nrow=len(amounts), scale=max(1, 64 // h))]
    if waves is not None:
        from . import sound as S

        out.append(S.write_notes(path.with_suffix(".wav"), waves, pipe.sample_rate, gap=0.2))
    return out
