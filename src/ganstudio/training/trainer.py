"""The one generic training loop: models, optimizers, data, RNGs and checkpointable state.

State that must survive a resume is registered in ``self.stateful`` as components with
``state_tensors() / state_json() / load_state(tensors, json)``; the checkpoint writer and the
resume-equivalence test both iterate over that registry, so new state (EMA, augmentation
probability, guard-adjusted learning rates) joins simply by registering itself.
"""

from __future__ import annotations

import math
import signal
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from .. import runs
from ..config import RunConfig
from ..data.base import ImageDataset
from ..data.captions import reference_bank
from ..devices import auto_precision, bf16_kind, cpu_capability
from ..errors import UserError
from ..losses import LOSSES
from ..models import build, get_family
from ..models.tasks import Preview, with_captions
from . import distributed, fast_mlp
from .components import EMA, Augmenter, LeCamAnchors
from .distributed import DistInfo
from .guard import Guard
from .resolve import resolve
from .sampler import BatchSampler
from .schedules import SCHEDULES
from .step import Batches, StepContext, StepFn

DEFAULT_EPOCHS = 50  # the seed's EPOCHS, used when no stopping rule is given


class ModuleState:
    def __init__(self, module: torch.nn.Module):
        self.module = module

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.module.state_dict())

    def state_json(self) -> dict:
        return {}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        self.module.load_state_dict(tensors)


class OptimizerState:
    """Adam state as flat tensors (safetensors) + hyper-parameters as JSON: no pickle."""

    def __init__(self, opt: torch.optim.Optimizer):
        self.opt = opt

    def state_tensors(self) -> dict[str, torch.Tensor]:
        sd = self.opt.state_dict()
        return {f"{i}.{k}": v for i, s in sd["state"].items() for k, v in s.items() if torch.is_tensor(v)}

    def state_json(self) -> dict:
        return {"param_groups": self.opt.state_dict()["param_groups"]}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        state: dict[int, dict] = {}
        for key, v in tensors.items():
            i, k = key.split(".", 1)
            state.setdefault(int(i), {})[k] = v
        self.opt.load_state_dict({"state": state, "param_groups": js["param_groups"]})


class GeneratorState:
    def __init__(self, gen: torch.Generator):
        self.gen = gen

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"state": self.gen.get_state()}

    def state_json(self) -> dict:
        return {}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        self.gen.set_state(tensors["state"])


class Counters:
    """Step counters that schedules need across resumes (e.g. when the next lazy R1 is due)."""

    def __init__(self):
        self.d_steps = 0

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def state_json(self) -> dict:
        return {"d_steps": self.d_steps}

    def load_state(self, tensors: dict[str, torch.Tensor], js: dict) -> None:
        self.d_steps = js.get("d_steps", 0)


@dataclass
class Progress:
    step: int = 0
    started: float = field(default_factory=time.monotonic)
    wall_before: float = 0.0  # wall seconds of earlier invocations of this run


class Trainer:
    """The one loop's state: models, optimisers, data order, RNGs and every registered component.

    Chosen here, once, from the config: the schedule (the family's default unless the run names
    another), the fused seed step when it computes the same thing (``fast_step=None``: wherever it
    applies; ``False``: never, for tests and benchmarks), and, under torchrun (``dist``), this process's
    slice of data and noise, gradient averaging and rank 0 as the only writer.
    """

    def __init__(
        self,
        cfg: RunConfig,
        dataset: ImageDataset,
        device: torch.device,
        run_dir: Path | None,
        dist: DistInfo | None = None,
        fast_step: bool | None = None,
    ):
        cfg = resolve(cfg)  # the family's schedule when none is named; refuses combinations that cannot train
        self.run_cfg, self.cfg, self.device, self.run_dir = cfg, cfg.train, device, run_dir
        self.dataset = dataset
        self.family = get_family(cfg.model)
        with torch.random.fork_rng(devices=[]):  # seeded weight init without touching the global RNG
            torch.manual_seed(self.cfg.seed)
            self.G, self.D = (m.to(device) for m in build(cfg.model, cfg.model_config))
        if self.cfg.channels_last:  # NHWC weights: convolutions then run (and return) channels-last
            for m in (self.G, self.D):
                m.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's overloads omit it
        self.ema: EMA | None = None
        self.bank_references()  # before the EMA copy, which then carries the same bank
        self.g_params = [p for p in self.G.parameters() if p.requires_grad]
        self.d_params = [p for p in self.D.parameters() if p.requires_grad]
        fused = self.cfg.fused_adam and device.type in ("cpu", "cuda", "mps")
        adam = lambda params, lr: torch.optim.Adam(
            params, lr=lr, betas=(self.cfg.beta1, self.cfg.beta2), eps=self.cfg.eps, fused=fused
        )
        self.opt_g, self.opt_d = adam(self.g_params, self.cfg.lr_g), adam(self.d_params, self.cfg.lr_d)
        precision = auto_precision(device) if self.cfg.precision == "auto" else self.cfg.precision
        bf16 = precision == "bf16"
        if bf16 and bf16_kind(device) == "emulated":
            # bf16 arithmetic is emulated there (measured: docs/speed-scale-export.md).
            warnings.warn(
                f"--precision bf16 on a CPU without AVX512-BF16/AMX kernels ({cpu_capability()}) "
                "is emulated and far slower than fp32; use it on GPUs (or --precision auto)",
                stacklevel=2,
            )
        self.precision = precision  # what this run trains in ("auto" resolved for this device)
        assert self.cfg.schedule is not None  # resolve() names the schedule
        self.schedule = SCHEDULES[self.cfg.schedule]
        self.z_dim = cast(int, self.G.z_dim)  # every family's G sets z_dim (an int)
        self.num_classes = cfg.model_config.num_classes
        rank, world = (0, 1) if dist is None else (dist.rank, dist.world)
        # One seeded generator per purpose: data order (CPU) and latent noise (on the device).
        try:
            self.sampler = BatchSampler(len(dataset), self.cfg.batch_size, self.cfg.seed, rank, world)
        except ValueError as e:
            raise UserError(f"{e}: lower --batch-size or use fewer processes") from None
        self.noise = torch.Generator(device=device).manual_seed(self.cfg.seed + 1)
        self.progress = Progress()
        self.is_writer = rank == 0  # only one process writes the run folder
        self.last_log: dict | None = None
        self.stop_reason: str | None = None  # set by hooks (e.g. the divergence guard) to end training
        self.counters = Counters()
        self.stateful: dict[str, Any] = {
            "G": ModuleState(self.G),
            "D": ModuleState(self.D),
            "opt_g": OptimizerState(self.opt_g),
            "opt_d": OptimizerState(self.opt_d),
            "rng_noise": GeneratorState(self.noise),
            "sampler": self.sampler,
            "counters": self.counters,
        }
        c = self.cfg
        self.ema = EMA(self.G, c.ema_beta) if c.ema_beta > 0 else None
        if self.ema is not None:
            self.stateful["G_ema"] = self.ema
        self.augmenter = None
        if c.augment or cfg.data.flip:
            self.augmenter = Augmenter(
                c.augment,
                c.augment_p,
                c.ada,
                c.ada_target,
                c.ada_speed_images,
                c.ada_interval,
                c.batch_size,
                device,
                c.seed,
                cfg.data.flip,
            )
            self.stateful["augment"] = self.augmenter
        self.lecam = None
        if c.lecam:
            self.lecam = self.stateful["lecam"] = LeCamAnchors(c.lecam_decay, device)
        self.guard = None
        if c.guard:
            self.guard = self.stateful["guard"] = Guard(self)
        self.batches = Batches(
            dataset, self.sampler, self.noise, self.z_dim, self.num_classes, device, self.augmenter, rank, world
        )
        matches = getattr(self.D, "match", None) is not None  # D has the caption matching head (text runs)
        self.ctx = StepContext(
            cfg=c,
            model_config=cfg.model_config,
            G=self.G,
            D=self.D,
            g_params=self.g_params,
            d_params=self.d_params,
            opt_g=self.opt_g,
            opt_d=self.opt_d,
            loss=LOSSES[c.loss],
            noise=self.noise,
            batches=self.batches,
            augmenter=self.augmenter,
            ema=self.ema,
            lecam=self.lecam,
            acgan=bool(getattr(self.D, "has_aux", False)),  # ACGAN head: D(x, y, return_aux=True)
            recon_weight=float(getattr(cfg.model_config, "recon_weight", 0.0))
            if getattr(self.D, "reconstructs", False)
            else 0.0,
            recon_every=int(getattr(cfg.model_config, "recon_every", 1)),
            learns_detail=bool(getattr(self.G, "learns_detail", False)),
            match_weight=float(getattr(cfg.model_config, "match_weight", 0.0)) if matches else 0.0,
            match_real_weight=float(getattr(cfg.model_config, "match_real_weight", 0.0)) if matches else 0.0,
            grad_sync=None if dist is None else distributed.GradAverager(world),
            bf16=bf16,
        )
        self.step_fn: StepFn = self.schedule.step
        # The fused seed step: same maths, faster (measured: docs/speed-scale-export.md).
        if fast_step is not False and fast_mlp.supports(self.ctx):
            self.step_fn = fast_mlp.FastStep(self.ctx)
        self.agree_stop = None  # data-parallel: every process stops at the same step
        if dist is not None:
            self.step_fn = distributed.averaged_outputs(self.step_fn, world)
            self.agree_stop = distributed.agree_stop
            distributed.broadcast_weights(self)
        self.preview_inputs = self.family.task.preview_inputs(dataset, self.z_dim, self.num_classes, device)
        captions = self.batches.captions
        if captions is not None:  # a text run previews a fixed set of training captions, not the empty one
            self.preview_inputs = with_captions(self.preview_inputs, captions.embeddings, captions.texts)

    def bank_references(self) -> None:
        """A retrieving G (``model.retrieve``) and its EMA copy draw over this run's training pictures: give them the
        bank (``data.captions.reference_bank``). Nothing for any other G."""
        if not getattr(self.G, "retrieves", False):
            return
        bank = reference_bank(self.dataset, self.run_cfg.model_config.text_model)
        for G in (self.G, None if self.ema is None else self.ema.module):
            if G is not None:
                cast(Callable, G.set_references)(*bank)

    @property
    def d_steps(self) -> int:
        """D updates so far (lazy R1's clock); the loop adds each schedule's ``d_updates`` after a step."""
        return self.counters.d_steps

    def train_step(self) -> dict[str, torch.Tensor]:
        """One step of the schedule; the loop's counters move here and nowhere else."""
        self.ctx.d_steps = self.counters.d_steps
        out = self.step_fn(self.ctx)
        self.counters.d_steps += self.schedule.d_updates(self.cfg, self.run_cfg.model_config)
        self.progress.step += 1
        return out

    # ---- state ------------------------------------------------------------------------------
    def state_groups(self) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
        tensors: dict[str, dict[str, torch.Tensor]] = {}
        js: dict[str, Any] = {"wall_s": self.wall_s(), "epoch": self.sampler.epoch_progress}
        for name, comp in self.stateful.items():
            tensors[name] = comp.state_tensors()
            js[name] = comp.state_json()
        # G and D go in their own files so that pipelines can load weights alone.
        train_state = {f"{n}.{k}": v for n, g in tensors.items() if n not in ("G", "D", "G_ema") for k, v in g.items()}
        groups: dict[str, dict[str, torch.Tensor]] = {n: tensors[n] for n in ("G", "D", "G_ema") if n in tensors}
        groups["train_state"] = train_state
        return groups, js

    def load_checkpoint(self, ckpt: runs.Checkpoint) -> None:
        train_state = ckpt.tensors("train_state")
        for name, comp in self.stateful.items():
            if name in ("G", "D", "G_ema"):
                t = ckpt.tensors(name)
            else:
                t = {k[len(name) + 1 :]: v for k, v in train_state.items() if k.startswith(name + ".")}
            # Tensors arrive on the CPU; each component places its own (modules and optimisers copy
            # into their device tensors, RNG states must stay on the CPU).
            comp.load_state(t, ckpt.state.get(name, {}))
        self.progress.step = ckpt.step
        self.progress.wall_before = ckpt.state.get("wall_s", 0.0)

    def save_checkpoint(self, protect=()) -> Path:
        if self.run_dir is None:
            raise RuntimeError("save_checkpoint: this trainer has no run folder")
        groups, js = self.state_groups()
        return runs.write_checkpoint(
            self.run_dir, self.progress.step, groups, js, keep=self.cfg.keep_checkpoints, protect=protect
        )

    def wall_s(self) -> float:
        return self.progress.wall_before + time.monotonic() - self.progress.started

    # ---- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def preview(self) -> Preview:
        """The fixed preview (the task decides what: a fixed-noise grid, or inputs / outputs / targets) from
        the sampling generator (the EMA copy when there is one)."""
        G = self.sampling_generator()
        was = G.training
        G.eval()
        try:
            return self.family.task.preview(G, self.preview_inputs)
        finally:
            G.train(was)

    def sampling_generator(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.G

    # ---- the loop -----------------------------------------------------------------------------
    def total_steps(self) -> int | None:
        c = self.cfg
        if c.steps is None and c.epochs is None and c.minutes is None:
            return DEFAULT_EPOCHS * self.sampler.steps_per_epoch
        limits = [
            s
            for s in (c.steps, None if c.epochs is None else math.ceil(c.epochs * self.sampler.steps_per_epoch))
            if s is not None
        ]
        return min(limits) if limits else None

    def fit(self, hooks: Sequence[Callable[[Trainer, str, dict], None]] = ()) -> str:
        """Train until a stopping rule fires; returns why it stopped ('done', 'time', 'interrupted')."""
        total = self.total_steps()
        deadline = None if self.cfg.minutes is None else time.monotonic() + 60 * self.cfg.minutes
        stop = {"flag": False}

        def request_stop(signum, frame):
            if stop["flag"]:  # second Ctrl-C: stop now
                raise KeyboardInterrupt
            stop["flag"] = True

        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for s in old:
                signal.signal(s, request_stop)
        except ValueError:  # not the main thread (e.g. a notebook worker): no signal handling
            old = {}
        self.G.train()
        self.D.train()
        reason = "done"
        try:
            self._emit(hooks, "start", {"total": total})
            while total is None or self.progress.step < total:
                reason_now = (
                    self.stop_reason
                    or ("interrupted" if stop["flag"] else None)
                    or ("time" if deadline is not None and time.monotonic() >= deadline else None)
                )
                if self.agree_stop is not None:
                    reason_now = self.agree_stop(reason_now)
                if reason_now:
                    reason = reason_now
                    break
                epochs_before = self.completed_epochs()
                out = self.train_step()
                self._emit(hooks, "step", out)
                if self.completed_epochs() > epochs_before:
                    self._emit(hooks, "epoch", {"epoch": self.completed_epochs()})
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        self._emit(hooks, "end", {"reason": reason})
        return reason

    def completed_epochs(self) -> int:
        """Epochs fully consumed, counting the current one once no full batch is left in it."""
        s = self.sampler
        return s.epoch + (s.pos + s.global_batch > s.n)

    def _emit(self, hooks, event: str, info: dict) -> None:
        for h in hooks:
            h(self, event, info)
