"""``EvalHook``: evaluate while training (``--eval-every N``) and keep a ``best`` checkpoint.

    train(cfg, extra_hooks=[EvalHook(every=1000, n=2000, features="auto")])

A training hook is any callable ``hook(trainer, event, info)``; this one sits above both training
and evaluation and imports neither the trainer nor ``ganstudio.training``: it reads only the
attributes listed in :class:`TrainerView`. Every ``every`` steps (and once at the end of a run that
was not interrupted) it

1. saves a checkpoint for the step (``trainer.save_checkpoint(protect=[best_step])``),
2. samples ``n`` images from the sampling generator exactly as ``ganstudio evaluate --n n
   --seed seed`` would from that checkpoint (image i from latent seed ``seed + i``), inside
   ``torch.random.fork_rng``, so training's RNG state is untouched and a run with the hook trains
   bit for bit like one without,
3. scores them (the extractor is resolved at the start event, so a missing classifier stops the run
   before it trains; the real data is prepared at the first evaluation and cached on disk), appends
   ``{"step", "eval": {...}}`` to metrics.jsonl and writes ``eval/<step>.json`` with its
   originality panel,
4. on a new best value of ``best_by`` (a registered metric with a direction; FID by default)
   points ``checkpoints/best`` at the step's checkpoint (``runs.mark``) and marks that folder
   ``KEEP`` so that no later save prunes it (the previous best loses its mark).

On resume the best so far is read back from metrics.jsonl. Evaluation time counts towards
``--minutes``. Only the writer process (rank 0) evaluates.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Protocol

import torch

from .. import runs
from ..errors import UserError
from ..features import Extractor, get_extractor
from ..pipeline import Pipeline
from .core import (
    Reference,
    build_result,
    draw,
    prepare_reference,
    score,
)
from .reference import Log, stderr_log
from .registry import get, metrics
from .results import write_result

KEEP = "KEEP"  # a checkpoint folder holding this file is never pruned (runs._prune)
LOGGED = ("precision", "recall", "copy_fraction")  # shown after the best_by metric in the log line


class TrainerView(Protocol):
    """What EvalHook reads from the trainer it is called with."""

    run_dir: Path | None
    is_writer: bool
    run_cfg: Any  # the run's config: .data, .model_config.resolution, .class_names
    progress: Any  # .step
    device: torch.device

    def save_checkpoint(self, protect: Any = ()) -> Path: ...

    def sampling_generator(self) -> torch.nn.Module: ...


def _run_dir(t: TrainerView) -> Path:
    if t.run_dir is None:
        raise ValueError("EvalHook: the trainer has no run folder to evaluate into")
    return t.run_dir


class EvalHook:
    def __init__(
        self,
        every: int,
        n: int = 2000,
        features: str = "auto",
        reference: str = "test",
        seed: int = 0,
        originality_n: int = 10_000,
        log: Log | None = None,
        best_by: str = "fid",
    ):
        if every <= 0:
            raise ValueError(f"every must be positive, got {every}")
        best = get(best_by)
        if best.lower_is_better is None:
            directed = [m.name for m in metrics() if m.lower_is_better is not None]
            raise ValueError(f"best_by: {best_by} has no better direction; pick one of {', '.join(directed)}")
        self.every, self.n, self.features, self.reference = int(every), int(n), features, reference
        self.seed, self.originality_n = seed, originality_n
        self.best_by, self._sign = best_by, 1.0 if best.lower_is_better else -1.0
        self.log = log or stderr_log
        self.extractor: Extractor | None = None  # resolved at the start event
        self.ref: Reference | None = None  # built at the first evaluation
        self.best_value = math.inf  # of best_by, sign-adjusted so that lower is better
        self.best_step: int | None = None
        self.last_step = -1
        self.history: list[dict] = []  # rows logged by this hook in this process

    # ---- the hook protocol ------------------------------------------------------------------
    def __call__(self, t: TrainerView, event: str, info: dict) -> None:
        if t.run_dir is None or not t.is_writer:
            return
        if event == "start":
            if self.extractor is None:  # fail before training, not at the first evaluation
                self.extractor = get_extractor(self.features, t.run_cfg.data, self.log)
            if self.extractor.modality == "sound":
                raise UserError(
                    f"evaluation during training scores spectrogram pictures, not {self.extractor.name}; evaluate "
                    "a sound run's checkpoints with `ganstudio evaluate RUN --features "
                    f"{self.features}` (or train with picture features such as folder-rcf)"
                )
            self._restore_best(t)
            self.last_step = t.progress.step if self._evaluated(t, t.progress.step) else -1
            return
        step = t.progress.step
        due = event == "step" and step % self.every == 0
        final = event == "end" and info.get("reason") != "interrupted" and step > 0
        if (due or final) and step != self.last_step:
            self.evaluate(t)

    # ---- work ---------------------------------------------------------------------------------
    def evaluate(self, t: TrainerView) -> dict:
        t0 = time.monotonic()
        run_dir = _run_dir(t)
        step = t.progress.step
        if self.ref is None:
            if self.extractor is None:
                self.extractor = get_extractor(self.features, t.run_cfg.data, self.log)
            self.ref = prepare_reference(
                t.run_cfg.data,
                self.extractor,
                self.reference,
                self.n,
                self.originality_n,
                default_resolution=t.run_cfg.model_config.resolution,
                seed=0,
                log=self.log,
            )
            # the best so far only counts if it was measured the same way
            self._restore_best(t)
        ckpt = t.save_checkpoint(protect=[self.best_step] if self.best_step is not None else [])
        t1 = time.monotonic()
        G = t.sampling_generator()
        was_training = G.training
        devices = [t.device.index or 0] if t.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                pipe = Pipeline(G, t.run_cfg, run_dir, step, t.device, t.run_cfg.class_names)  # sets eval()
                images, requested, mix = draw(pipe, self.ref, self.n, self.seed)  # as `evaluate` draws
        finally:
            G.train(was_training)
        t2 = time.monotonic()
        row, details = score(images, self.ref, requested)
        t3 = time.monotonic()
        seconds = {"checkpoint": round(t1 - t0, 2), "sampling": round(t2 - t1, 2), "scoring": round(t3 - t2, 2)}
        res = build_result(run_dir, step, self.n, self.seed, self.ref, row, details, seconds, images)
        res["class_mix"] = mix
        write_result(run_dir, res)
        label = self.ref.extractor.label
        entry = {
            "step": step,
            "eval": {
                **row,
                "extractor": label,
                "reference": res["reference"],
                "seed": self.seed,
                "seconds": round(t3 - t0, 2),
            },
        }
        runs.append_metrics(run_dir, [entry])
        self.history.append(entry)
        self.last_step = step
        best = get(self.best_by)
        value = row[self.best_by]
        if self._sign * value < self.best_value:
            old = self.best_step
            self.best_value, self.best_step = self._sign * value, step
            (ckpt / KEEP).write_text(f"best {best.label} {value:.4f} ({label})\n")
            runs.mark(run_dir, "best", ckpt)
            if old is not None and old != step:
                (runs.checkpoint_dir(run_dir) / f"{old:09d}" / KEEP).unlink(missing_ok=True)
        shown = ", ".join(f"{m.label} {m.format(row)}" for m in map(get, LOGGED) if row.get(m.name) is not None)
        self.log(
            f"step {step}: {best.label} {best.format(row)} (best {best.format({best.name: self.best})} "
            f"at step {self.best_step}), {shown} [{label}, n={self.n}, {t3 - t0:.1f} s]"
        )
        return entry

    @property
    def best(self) -> float:
        """The best value of ``best_by`` so far (inf, or -inf for higher-is-better, before any)."""
        return self._sign * self.best_value

    # ---- resume -------------------------------------------------------------------------------
    def _matches(self, ev: dict) -> bool:
        if self.extractor is None:
            return True
        return (
            ev.get("extractor") == self.extractor.label
            and ev.get("n", self.n) == self.n
            and ev.get("seed", self.seed) == self.seed
        )

    def _restore_best(self, t: TrainerView) -> None:
        self.best_value, self.best_step = math.inf, None
        run_dir = _run_dir(t)
        best_dir = runs.checkpoint_dir(run_dir) / "best"
        pointer = (
            int(best_dir.read_text().strip()) if best_dir.is_file() and best_dir.read_text().strip().isdigit() else None
        )
        for r in runs.read_metrics(run_dir):
            ev = r.get("eval")
            if not isinstance(ev, dict) or ev.get(self.best_by) is None or not self._matches(ev):
                continue
            v = self._sign * ev[self.best_by]
            if v < self.best_value and (Path(runs.checkpoint_dir(run_dir)) / f"{r['step']:09d}").is_dir():
                self.best_value, self.best_step = v, r["step"]
        if self.best_step is None and pointer is not None:
            self.best_step = pointer  # keep protecting it even if its score is not comparable

    def _evaluated(self, t: TrainerView, step: int) -> bool:
        return any(r.get("step") == step and isinstance(r.get("eval"), dict) for r in runs.read_metrics(_run_dir(t)))
