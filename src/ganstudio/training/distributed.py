"""Multi-process data-parallel training (torchrun): gloo on CPU, NCCL on CUDA, same code.

    torchrun --nproc_per_node=2 -m ganstudio train --data digits --steps 50

How a run is split (``cfg.train.batch_size`` is the batch of *one* process, as in PyTorch's DDP;
the global batch is ``batch_size * world``):

* data: every process holds the same global permutation and takes its own contiguous slice of
  each global batch (``BatchSampler(rank, world)``), so the data order is world-size independent;
* noise: every process draws the *global* batch of latents from the same generator and keeps its
  slice, so the latent stream (and the checkpointed RNG state) is the single-process one;
* gradients: averaged with one ``all_reduce`` over a flat buffer (``GradAverager``, the step context's
  ``grad_sync``) in ``StepContext.sync_grads()``, which every schedule (and the fast MLP step) calls
  right before its optimizer steps. The schedules use ``torch.autograd.grad`` and assign ``p.grad``,
  so DDP's backward hooks would never fire; an explicit averaged all-reduce is simpler and exact.
  Every process then applies the same update, so weights stay identical (they are broadcast from
  rank 0 once at the start);
* metrics: each step's scalar outputs are averaged across processes, so the log shows global
  means (and anything that reads them, like the divergence guard, decides the same everywhere);
* files: only rank 0 writes the run folder (``trainer.is_writer``); it creates the folder and
  broadcasts its path.

The trainer takes a ``DistInfo`` when it is built (``Trainer(..., dist=info)``) and sets all of this
up itself: its sampler, its ``Batches`` (global latents), gradient averaging, averaged outputs, the
agreed stop and the initial broadcast of rank 0's weights.

Hence N processes with batch B train what one process with batch N*B trains (up to float
rounding; BatchNorm statistics stay per process), and a checkpoint resumes under any world size.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from ..errors import UserError


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str


def launched() -> bool:
    """True when this process was started by torchrun (or another launcher) with WORLD_SIZE > 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def env_rank() -> int:
    """This process's rank from the launcher's environment (0 when not launched data-parallel)."""
    return int(os.environ.get("RANK", "0")) if launched() else 0


def setup(device: str = "auto", timeout_s: float = 600) -> DistInfo | None:
    """Join the process group described by torchrun's env vars; None when not launched that way."""
    if not launched():
        return None
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
    except (KeyError, ValueError) as e:
        raise UserError(f"data-parallel launch is missing or has a bad {e}; start with torchrun") from None
    kind = device.split(":")[0]
    use_cuda = kind == "cuda" or (kind == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise UserError(f"device {device!r} requested but CUDA is not available here")
        if local_rank >= torch.cuda.device_count():
            raise UserError(
                f"process {local_rank} on this node has no GPU ({torch.cuda.device_count()} here); "
                "use --nproc_per_node <= the number of GPUs"
            )
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        if kind == "mps":
            warnings.warn("data-parallel training does not support mps; using the CPU", stacklevel=2)
        dev, backend = torch.device("cpu"), "gloo"
    global _owned
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=timeout_s))
        _owned = True
    return DistInfo(rank, world, local_rank, dev, backend)


_owned = False  # whether setup() created the process group (then cleanup() destroys it)


def cleanup() -> None:
    """Leave the process group that ``setup`` joined (a group made by the caller is left alone).

    Every process waits for the others first: a process that tears its group down while a peer still
    talks to it can abort that peer from inside gloo's threads ("terminate called without an active
    exception"), seen about once in 15 two-process runs here before this barrier."""
    global _owned
    if _owned and dist.is_initialized():
        with contextlib.suppress(RuntimeError):  # a peer already gone: nothing left to wait for
            dist.barrier()
        dist.destroy_process_group()
    _owned = False


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def is_writer() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def broadcast_path(path: str | Path | None) -> Path | None:
    """Rank 0's ``path`` on every process (e.g. the run folder it just created)."""
    if not (dist.is_available() and dist.is_initialized()):
        return None if path is None else Path(path)
    box = [None if path is None else str(path)]
    dist.broadcast_object_list(box, src=0)
    return None if box[0] is None else Path(box[0])


class GradAverager:
    """``grad_sync(params)``: average ``p.grad`` across processes with one all-reduce per call."""

    def __init__(self, world: int):
        self.world = world
        self.buffers: dict[tuple, torch.Tensor] = {}

    def __call__(self, params: list[torch.nn.Parameter]) -> None:
        grads: list[torch.Tensor] = []
        for p in params:
            if p.grad is None:  # every process must contribute the same layout
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        key = (grads[0].device, grads[0].dtype, sum(g.numel() for g in grads))
        flat = self.buffers.get(key)
        if flat is None:
            flat = self.buffers[key] = torch.empty(key[2], device=key[0], dtype=key[1])
        views, o = [], 0
        for g in grads:
            v = flat[o : o + g.numel()].view_as(g)
            v.copy_(g)
            views.append(v)
            o += g.numel()
        dist.all_reduce(flat)
        flat.div_(self.world)
        for g, v in zip(grads, views):
            g.copy_(v)


def averaged_outputs(step_fn, world: int):
    """The step with its scalar outputs averaged across processes (one small all-reduce)."""

    def step(ctx):
        out = step_fn(ctx)
        if not out:
            return out
        keys = list(out)
        vals = torch.stack([out[k].detach().float().reshape(()) for k in keys])
        dist.all_reduce(vals)
        vals.div_(world)
        return {k: vals[i] for i, k in enumerate(keys)}

    return step


_STOP_CODES = {None: 0, "time": 1, "interrupted": 2}


def agree_stop(reason: str | None) -> str | None:
    """Every process stops at the same step: the 'strongest' reason any of them has wins."""
    codes = dict(_STOP_CODES)
    if reason not in codes:  # e.g. a guard's own reason
        codes[reason] = 3
    t = torch.tensor([codes[reason]], dtype=torch.int32)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    code = int(t.item())
    if code == codes.get(reason):
        return reason
    return {1: "time", 2: "interrupted"}.get(code, "stopped")


@torch.no_grad()
def broadcast_weights(trainer) -> None:
    """Rank 0's weights (and buffers, and the EMA copy) on every process."""
    modules = [trainer.G, trainer.D]
    ema = trainer.stateful.get("G_ema")
    if ema is not None and hasattr(ema, "module"):
        modules.append(ema.module)
    for m in modules:
        for v in m.state_dict().values():
            if torch.is_tensor(v) and v.numel():
                dist.broadcast(v, src=0)
