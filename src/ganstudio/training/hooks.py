"""Loop hooks: logging (metrics.jsonl + progress bar), sample grids, checkpoints.

A hook is ``hook(trainer, event, info)`` with events start, step, epoch, end. Hooks read the
trainer; they never change what is trained, so a run with or without them is the same run.
"""

from __future__ import annotations

import sys
import time

import torch

from .. import runs
from ..devices import bf16_kind


class Logger:
    """Averages step outputs over ``log_every`` steps with one host sync per log line."""

    def __init__(self, progress_bar: bool = True):
        self.progress_bar = progress_bar
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        # Steps that reported each key: a term that is not computed every step (the lazy reconstruction loss)
        # is averaged over the steps that computed it, not diluted by the ones that did not.
        self.seen: dict[str, int] = {}
        self.bar = None
        self.t_last = time.monotonic()

    def __call__(self, t, event: str, info: dict) -> None:
        if event == "start":
            self.t_last, self.step_last = time.monotonic(), t.progress.step
            if self.progress_bar:
                from tqdm.auto import tqdm

                if t.cfg.precision == "auto":  # a preset may ask for it: say what it became on this machine
                    kind = bf16_kind(t.device)  # amx, avx512_bf16, gpu or emulated
                    print(f"precision auto: {t.precision} (bf16 on this {t.device.type}: {kind})", file=sys.stderr)

                self.bar = tqdm(
                    total=info["total"],
                    initial=t.progress.step,
                    unit="step",
                    dynamic_ncols=True,
                    file=sys.stderr,
                    desc=t.run_dir.name if t.run_dir else "train",
                )
        elif event == "step":
            for k, v in info.items():
                self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
                self.seen[k] = self.seen.get(k, 0) + 1
            self.count += 1
            if t.progress.step % t.cfg.log_every == 0:
                self.flush(t)
        elif event == "end":
            self.flush(t)
            if self.bar is not None:
                self.bar.close()

    def flush(self, t) -> None:
        if not self.count:
            return
        keys = list(self.sums)
        seen = torch.tensor([self.seen[k] for k in keys], dtype=torch.float32)
        values = (torch.stack([self.sums[k].float() for k in keys]).cpu() / seen).tolist()  # the one sync
        now = time.monotonic()
        steps = t.progress.step - self.step_last
        ips = steps * t.cfg.batch_size * t.sampler.world / max(now - self.t_last, 1e-9)
        row = {
            "step": t.progress.step,
            "epoch": round(t.sampler.epoch_progress, 4),
            **{k: round(v, 5) for k, v in zip(keys, values)},
            "images_per_s": round(ips, 1),
            "wall_s": round(t.wall_s(), 2),
            "lr_g": t.opt_g.param_groups[0]["lr"],
            "lr_d": t.opt_d.param_groups[0]["lr"],
        }
        t.last_log = row
        if t.run_dir is not None and t.is_writer:
            runs.append_metrics(t.run_dir, [row])
        if self.bar is not None:
            self.bar.update(t.progress.step - self.bar.n)
            extra = {"p": f"{row['ada_p']:.2f}"} if "ada_p" in row else {}  # ADA's augmentation probability
            self.bar.set_postfix(
                d=f"{row['d_loss']:.3f}", g=f"{row['g_loss']:.3f}", img_s=f"{ips:,.0f}", **extra, refresh=False
            )
        self.sums, self.seen, self.count = {}, {}, 0
        self.t_last, self.step_last = now, t.progress.step


class SampleGrids:
    """The seed's 'display samples after every epoch': the task's fixed preview per epoch (at most every
    ``preview_seconds`` of wall time, so a few dozen pictures, a few steps an epoch, do not write a grid every few
    steps), every ``sample_every`` steps, and at the end."""

    def __init__(self, show: bool = False):
        self.show = show
        self.last_step = -1
        self.last_time: float | None = None  # when the last grid was written; None: none yet in this invocation

    def _epoch_due(self, t) -> bool:
        return self.last_time is None or time.monotonic() - self.last_time >= t.cfg.preview_seconds

    def __call__(self, t, event: str, info: dict) -> None:
        due = (
            (event == "epoch" and self._epoch_due(t))
            or event == "end"
            or (event == "step" and t.cfg.sample_every and t.progress.step % t.cfg.sample_every == 0)
        )
        if not due or self.last_step == t.progress.step or t.run_dir is None or not t.is_writer:
            return
        self.last_step, self.last_time = t.progress.step, time.monotonic()
        samples = t.run_dir / "samples"
        write = t.family.task.write_preview  # the task decides the format: a grid PNG for pictures
        preview = t.preview()
        path = write(preview, samples / f"step-{t.progress.step:09d}")[0]
        write(preview, samples / "latest")
        if self.show:
            _show_inline(path, f"step {t.progress.step}, epoch {t.sampler.epoch_progress:.2f}")


def _show_inline(path, caption: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is not None:
        print(caption)
        display(Image(filename=str(path)))


class Checkpoints:
    def __init__(self):
        self.saved_step = -1

    def __call__(self, t, event: str, info: dict) -> None:
        if event == "start":
            self.saved_step = t.progress.step  # resumed from (or starting at) a saved state
            return
        if t.run_dir is None or not t.is_writer or self.saved_step == t.progress.step:
            return
        if (event == "step" and t.progress.step % t.cfg.checkpoint_every == 0) or event == "end":
            t.save_checkpoint()
            self.saved_step = t.progress.step
