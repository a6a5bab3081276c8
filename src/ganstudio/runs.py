"""The run folder contract. Everything else reads and writes runs through this module.

    runs/00001-mlp-fashion-mnist/
      config.json          the RunConfig (model family + its config, data, training) + versions
      captions.json        runs that read text: the training captions, what ``--anchor`` pulls prompts toward
      metrics.jsonl        one JSON object per logged step
      samples/             fixed-noise grids (step-000001000.png, latest.png)
      checkpoints/
        000001000/         G.safetensors, D.safetensors, [G_ema.safetensors], train_state.safetensors, state.json
        latest             text file naming the newest complete checkpoint folder
      eval/, report.html   written by evaluation

Checkpoints are written into a hidden temp folder, fsynced, then renamed into place, and only
then is ``latest`` replaced: a kill -9 at any moment leaves either the old or the new checkpoint
complete. Weights are safetensors, everything else JSON: nothing here is ever unpickled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .errors import UserError
from .fsutil import _fsync_dir, atomic_write_json, atomic_write_text

RUN_RE = re.compile(r"^(\d{5,})-")
CKPT_RE = re.compile(r"^\d{9}$")
STATE_JSON = "state.json"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", Path(text).name if os.sep in text else text).strip("-").lower() or "data"


def new_run_dir(root: str | Path, tag: str) -> Path:
    """Create ``root/NNNNN-tag`` with the next free number (safe against concurrent creators)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    while True:
        nums = [int(m.group(1)) for p in root.iterdir() if (m := RUN_RE.match(p.name))]
        path = root / f"{max(nums, default=0) + 1:05d}-{tag}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def list_runs(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.iterdir() if RUN_RE.match(p.name) and (p / "config.json").is_file()), key=lambda p: p.name
    )


def require_run(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        if not run_dir.exists():
            raise UserError(f"run folder {run_dir} does not exist; `ls runs/` shows your runs")
        raise UserError(f"{run_dir} is not a ganstudio run folder (no config.json)")
    return run_dir


def read_config_dict(run_dir: str | Path) -> dict:
    path = require_run(run_dir) / "config.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {path}: {e}") from None


def write_config_dict(run_dir: Path, cfg: dict) -> None:
    atomic_write_json(Path(run_dir) / "config.json", cfg)


CAPTIONS_JSON = "captions.json"


def write_captions(run_dir: Path, model: str, texts: Iterable[str]) -> None:
    """Keep a text run's training captions (every caption row, in the order training embedded them)."""
    atomic_write_json(Path(run_dir) / CAPTIONS_JSON, {"model": model, "texts": list(texts)})


def read_captions(run_dir: str | Path) -> tuple[str, list[str]] | None:
    """(text model, caption texts) a text run trained on, or None when the run keeps none (made before
    runs kept them, or one that does not read text)."""
    path = Path(run_dir) / CAPTIONS_JSON
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        model, texts = str(d["model"]), [str(t) for t in d["texts"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"cannot read {path} ({e}); delete it and resume the run once to write it again") from None
    return model, texts


# ---- checkpoints -------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """What one checkpoint folder holds: named tensor groups plus a JSON state."""

    path: Path
    step: int
    state: dict

    def tensors(self, group: str) -> dict[str, torch.Tensor]:
        f = self.path / f"{group}.safetensors"
        if not f.is_file():
            raise UserError(f"checkpoint {self.path} has no {group} weights")
        try:
            return load_file(str(f))
        except Exception as e:  # safetensors raises several types on corrupt files
            raise UserError(f"cannot read {f} ({e}); the checkpoint is damaged, use an earlier one") from None

    def has(self, group: str) -> bool:
        return (self.path / f"{group}.safetensors").is_file()


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def write_checkpoint(
    run_dir: Path,
    step: int,
    groups: dict[str, dict[str, torch.Tensor]],
    state: dict,
    keep: int = 3,
    protect: Iterable[int] = (),
) -> Path:
    """Atomically write checkpoint ``step``: tensor groups as safetensors, ``state`` as JSON."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{step:09d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{step:09d}-"))
    try:
        for name, tensors in groups.items():
            f = tmp / f"{name}.safetensors"
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(f))
            _fsync_file(f)
        (tmp / STATE_JSON).write_text(json.dumps({**state, "step": step}, indent=1, sort_keys=True))
        _fsync_file(tmp / STATE_JSON)
        _fsync_dir(tmp)
        if final.exists():  # same step saved again (e.g. Ctrl-C right after a periodic save)
            old = root / f".old-{step:09d}-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / "latest", final.name + "\n")
    _prune(root, keep, {step, *protect})
    return final


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _prune(root: Path, keep: int, protect: set[int]) -> None:
    if keep <= 0:
        return
    ckpts = sorted(p for p in root.iterdir() if CKPT_RE.match(p.name))
    for p in ckpts[:-keep]:
        if int(p.name) not in protect and not (p / "KEEP").exists():
            shutil.rmtree(p, ignore_errors=True)


def clean_partial(run_dir: Path) -> None:
    """Remove temp folders left by a checkpoint write that was killed."""
    root = checkpoint_dir(run_dir)
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)


def _valid(p: Path) -> bool:
    try:
        json.loads((p / STATE_JSON).read_text())
        return True
    except (OSError, json.JSONDecodeError):
        return False


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if CKPT_RE.match(p.name) and _valid(p))


def find_checkpoint(run_dir: str | Path, which: str | int = "latest") -> Checkpoint | None:
    """Resolve 'latest', 'best', a step number, or a checkpoint folder path. None if the run has none."""
    run_dir = Path(run_dir)
    root = checkpoint_dir(run_dir)
    path: Path | None
    if isinstance(which, int) or (isinstance(which, str) and which.isdigit()):
        path = root / f"{int(which):09d}"
        if not _valid(path):
            raise UserError(
                f"run {run_dir} has no checkpoint at step {int(which)}; have: "
                + (", ".join(str(int(p.name)) for p in list_checkpoints(run_dir)) or "none")
            )
    elif which in ("latest", "best"):
        path = None
        pointer = root / which
        if pointer.is_file():
            cand = root / pointer.read_text().strip()
            if _valid(cand):
                path = cand
        if path is None:
            if which == "best" and not pointer.is_file():
                raise UserError(f"run {run_dir} has no 'best' checkpoint yet (train with --eval-every N)")
            ckpts = list_checkpoints(run_dir)  # pointer missing or stale: newest complete one
            if not ckpts:
                return None
            path = ckpts[-1]
    else:
        path = Path(which)
        if not _valid(path):
            raise UserError(
                f"{which} is not a readable checkpoint folder (expected state.json inside); "
                "use --checkpoint latest, best, a step number, or a checkpoint folder"
            )
    state = json.loads((path / STATE_JSON).read_text())
    return Checkpoint(path, int(state["step"]), state)


def mark(run_dir: Path, name: str, ckpt: Path) -> None:
    """Point ``checkpoints/<name>`` (e.g. 'best') at a checkpoint folder, atomically."""
    atomic_write_text(checkpoint_dir(run_dir) / name, ckpt.name + "\n")


# ---- metrics log --------------------------------------------------------------------------


def append_metrics(run_dir: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(Path(run_dir) / "metrics.jsonl", "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.flush()


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
    return rows


def truncate_metrics(run_dir: Path, step: int) -> None:
    """On resume from ``step``, drop rows logged after it (they belong to the lost future)."""
    path = Path(run_dir) / "metrics.jsonl"
    if path.is_file():
        keep = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in keep))
