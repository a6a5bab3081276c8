"""``EvalHook``: evaluate while training (``--eval-every N``) and keep a ``best`` checkpoint by FID.

    train(cfg, extra_hooks=[EvalHook(every=1000, n=2000, features="auto")])

Every ``every`` steps (and once at the end of a run that was not interrupted) the hook

1. saves a checkpoint for the step (``trainer.save_checkpoint(protect=[best_step])``),
2. samples ``n`` images from the sampling generator exactly as ``ganstudio evaluate --n n
   --seed seed`` would from that checkpoint (image i from latent seed ``seed + i``), on its own
   ``torch.Generator`` and inside ``torch.random.fork_rng``, so training's RNG state is untouched
   and a run with the hook trains bit for bit like one without,
3. scores them with ``ganstudio.evaluation`` (the extractor is resolved at the start event, so a
   missing classifier stops the run before it trains; the real data is prepared at the first
   evaluation and cached on disk), appends ``{"step", "eval": {...}}`` to
   metrics.jsonl and writes ``eval/<step>.json`` with its originality panel,
4. on a new lowest FID points ``checkpoints/best`` at the step's checkpoint (``runs.mark``) and
   marks that folder ``KEEP`` so that no later save prunes it (the previous best loses its mark).

On resume the best so far is read back from metrics.jsonl. Evaluation time counts towards
``--minutes``. Only the writer process (rank 0) evaluates.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from .. import runs

KEEP = "KEEP"  # a checkpoint folder holding this file is never pruned (runs._prune)


class EvalHook:
    def __init__(self, every: int, n: int = 2000, features: str = "auto", reference: str = "test", seed: int = 0,
                 originality_n: int = 10_000, log: Callable[[str], None] | None = None):
        if every <= 0:
            raise ValueError(f"every must be positive, got {every}")
        self.every, self.n, self.features, self.reference = int(every), int(n), features, reference
        self.seed, self.originality_n = seed, originality_n
        self.log = log or (lambda s: print(s, file=sys.stderr, flush=True))
        self.extractor = None  # resolved at the start event
        self.ref = None  # evaluation.Reference, built at the first evaluation
        self.best_fid = math.inf
        self.best_step: int | None = None
        self.last_step = -1
        self.history: list[dict] = []  # rows logged by this hook in this process

    # ---- the hook protocol ------------------------------------------------------------------
    def __call__(self, t, event: str, info: dict) -> None:
        if t.run_dir is None or not t.is_writer:
            return
        if event == "start":
            if self.extractor is None:  # fail before training, not at the first evaluation
                from ..features import get_extractor

                self.extractor = get_extractor(self.features, t.run_cfg.data, self.log)
            self._restore_best(t)
            self.last_step = t.progress.step if self._evaluated(t, t.progress.step) else -1
            return
        step = t.progress.step
        due = event == "step" and step % self.every == 0
        final = event == "end" and info.get("reason") != "interrupted" and step > 0
        if (due or final) and step != self.last_step:
            self.evaluate(t)

    # ---- work ---------------------------------------------------------------------------------
    def evaluate(self, t) -> dict:
        from .. import evaluation
        from ..features import get_extractor
        from ..pipeline import Pipeline

        t0 = time.monotonic()
        step = t.progress.step
        if self.ref is None:
            if self.extractor is None:
                self.extractor = get_extractor(self.features, t.run_cfg.data, self.log)
            self.ref = evaluation.prepare_reference(
                t.run_cfg.data, self.extractor, self.reference, self.n, self.originality_n,
                default_resolution=t.run_cfg.model_config.resolution, seed=0, log=self.log)
            # the best so far only counts if it was measured the same way
            self._restore_best(t)
        ckpt = t.save_checkpoint(protect=[self.best_step] if self.best_step is not None else [])
        t1 = time.monotonic()
        G = t.sampling_generator()
        was_training = G.training
        devices = [t.device.index or 0] if t.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                pipe = Pipeline(G, t.run_cfg, t.run_dir, step, t.device, t.run_cfg.class_names)  # sets eval()
                images = evaluation.sample_images(pipe, self.n, self.seed)
        finally:
            G.train(was_training)
        t2 = time.monotonic()
        row, details = evaluation.score(images, self.ref)
        t3 = time.monotonic()
        seconds = {"checkpoint": round(t1 - t0, 2), "sampling": round(t2 - t1, 2), "scoring": round(t3 - t2, 2)}
        res = evaluation.build_result(t.run_dir, step, self.n, self.seed, self.ref, row, details, seconds, images)
        evaluation.write_result(t.run_dir, res)
        entry = {"step": step, "eval": {**row, "extractor": self.ref.extractor.label, "reference": res["reference"],
                                        "seed": self.seed, "seconds": round(t3 - t0, 2)}}
        runs.append_metrics(t.run_dir, [entry])
        self.history.append(entry)
        self.last_step = step
        fid = row["fid"]
        if fid < self.best_fid:
            old = self.best_step
            self.best_fid, self.best_step = fid, step
            (ckpt / KEEP).write_text(f"best FID {fid:.4f} ({self.ref.extractor.label})\n")
            runs.mark(t.run_dir, "best", ckpt)
            if old is not None and old != step:
                (runs.checkpoint_dir(t.run_dir) / f"{old:09d}" / KEEP).unlink(missing_ok=True)
        self.log(f"step {step}: FID {fid:.3f} (best {self.best_fid:.3f} at step {self.best_step}), "
                 f"precision {row['precision']:.3f}, recall {row['recall']:.3f}, "
                 f"copies {row['copy_fraction']:.2%} [{self.ref.extractor.label}, n={self.n}, {t3 - t0:.1f} s]")
        return entry

    # ---- resume -------------------------------------------------------------------------------
    def _matches(self, ev: dict) -> bool:
        if self.extractor is None:
            return True
        return ev.get("extractor") == self.extractor.label and ev.get("n", self.n) == self.n \
            and ev.get("seed", self.seed) == self.seed

    def _restore_best(self, t) -> None:
        self.best_fid, self.best_step = math.inf, None
        best_dir = runs.checkpoint_dir(t.run_dir) / "best"
        pointer = int(best_dir.read_text().strip()) if best_dir.is_file() and best_dir.read_text().strip().isdigit() \
            else None
        for r in runs.read_metrics(t.run_dir):
            ev = r.get("eval")
            if not isinstance(ev, dict) or "fid" not in ev or not self._matches(ev):
                continue
            if ev["fid"] < self.best_fid and (Path(runs.checkpoint_dir(t.run_dir)) / f"{r['step']:09d}").is_dir():
                self.best_fid, self.best_step = ev["fid"], r["step"]
        if self.best_step is None and pointer is not None:
            self.best_step = pointer  # keep protecting it even if its score is not comparable

    def _evaluated(self, t, step: int) -> bool:
        return any(r.get("step") == step and isinstance(r.get("eval"), dict) for r in runs.read_metrics(t.run_dir))
