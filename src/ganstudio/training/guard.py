"""The divergence guard: detect a run going wrong, roll back to the last good checkpoint with
lower learning rates, and log the event.

Checked at every log step (when the loop syncs with the host anyway) and before every checkpoint,
so only healthy states are ever saved:
- non-finite D/G losses;
- exploding gradients (global gradient norm above ``guard_grad_norm``);
- a collapsed D: it separates real from fake perfectly (D(x) > 0.999 and D(G(z)) < 0.001) for
  three checks in a row, so G receives no useful gradient;
- G mode collapse: the fixed-noise samples' mean pairwise distance falls below
  ``guard_min_diversity`` of the real data's.
The guard's own state (learning-rate scale, rollbacks, events) is a checkpointed component that a
rollback does not rewind.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import runs
from ..data.base import to_float


def _mean_pairwise_distance(x: torch.Tensor) -> float:
    f = x.flatten(1).float()
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1)))


class Guard:
    def __init__(self, trainer: Any) -> None:  # a Trainer (trainer.py imports this module, not the reverse)
        self.t = trainer
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.events: list[dict] = []
        self.strikes = 0
        g = torch.Generator().manual_seed(0)
        idx = torch.randperm(len(trainer.dataset), generator=g)[:64]
        self.data_diversity = _mean_pairwise_distance(to_float(trainer.dataset.images[idx]))
        self.base_lr = (trainer.cfg.lr_g, trainer.cfg.lr_d)

    # ---- component protocol ----
    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def state_json(self) -> dict:
        return {"lr_scale": self.lr_scale, "rollbacks": self.rollbacks, "events": self.events[-50:]}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        self.lr_scale = js.get("lr_scale", 1.0)
        self.rollbacks = js.get("rollbacks", 0)
        self.events = list(js.get("events", []))
        self._apply_lr()

    def _apply_lr(self) -> None:
        for opt, base in zip((self.t.opt_g, self.t.opt_d), self.base_lr):
            for group in opt.param_groups:
                group["lr"] = base * self.lr_scale

    # ---- the checks ----
    def diagnose(self) -> str | None:
        """The reason the run looks unhealthy now, or None."""
        t, row = self.t, self.t.last_log or {}
        for k in ("d_loss", "g_loss"):
            if k in row and not math.isfinite(row[k]):
                return f"{k} is {row[k]}"
        grads = [p.grad for p in t.g_params + t.d_params if p.grad is not None]
        if grads:
            norm = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))
            if not math.isfinite(norm) or norm > t.cfg.guard_grad_norm:
                return f"gradient norm {norm:.3g} exploded (limit {t.cfg.guard_grad_norm:g})"
        if not all(torch.isfinite(p).all() for p in t.G.parameters()):
            return "G's weights are not finite"
        if row.get("d_real", 0) > 0.999 and row.get("d_fake", 1) < 0.001:
            self.strikes += 1
            if self.strikes >= 3:
                return "D collapsed: it separates real and fake perfectly, G gets no gradient"
        else:
            self.strikes = 0
        div = _mean_pairwise_distance(t.preview().images.float() / 127.5 - 1)
        if div < t.cfg.guard_min_diversity * self.data_diversity:
            return f"mode collapse: sample diversity {div:.3g} vs data {self.data_diversity:.3g}"
        return None

    def __call__(self, t, event: str, info: dict) -> None:
        if event == "start":
            self._apply_lr()
            if t.run_dir is not None and t.is_writer and runs.find_checkpoint(t.run_dir) is None:
                t.save_checkpoint()  # a known-good state to return to
            return
        if event != "step":
            return
        step = t.progress.step
        if step % t.cfg.log_every and step % t.cfg.checkpoint_every:
            return
        reason = self.diagnose()
        if reason:
            self.rollback(reason)

    def rollback(self, reason: str) -> None:
        t = self.t
        event = {"step": t.progress.step, "event": "rollback", "reason": reason}
        keep = (self.lr_scale, self.rollbacks, list(self.events))
        ckpt = runs.find_checkpoint(t.run_dir) if t.run_dir is not None else None
        if ckpt is not None:  # also when giving up: the run must end on its last healthy state
            t.load_checkpoint(ckpt)
            event["to_step"] = ckpt.step
        if ckpt is None or keep[1] >= t.cfg.guard_max_rollbacks:
            event["event"] = "gave-up"
            t.stop_reason = "diverged"
        self.lr_scale, self.rollbacks, self.events = keep[0] * t.cfg.guard_lr_factor, keep[1] + 1, keep[2] + [event]
        self.strikes = 0
        self._apply_lr()
        event["lr_scale"] = self.lr_scale
        if t.run_dir is not None and t.is_writer:
            runs.append_metrics(t.run_dir, [event])
        print(
            f"guard: {reason} at step {event['step']}; "
            + (
                "stopping: too many rollbacks"
                if t.stop_reason
                else f"rolled back to step {event['to_step']} with learning rates x{self.lr_scale:g}"
            ),
            flush=True,
        )
