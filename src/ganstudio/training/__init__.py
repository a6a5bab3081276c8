"""``train(config) -> run folder``: new runs and resumes, around the one generic loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .. import runs
from ..config import RESUMABLE_FIELDS, RunConfig, TrainConfig, diff
from ..data import SOURCES, clusters, load_dataset
from ..devices import resolve_device
from ..errors import UserError
from . import distributed
from .hooks import Checkpoints, Logger, SampleGrids
from .resolve import resolve
from .trainer import Trainer

__all__ = ["RunConfig", "TrainConfig", "Trainer", "complete_model_config", "prepare", "resolve", "train"]


def complete_model_config(cfg: RunConfig, dataset) -> RunConfig:
    """Fill the model's shape fields (resolution, height, channels, classes, input channels) from the data:
    the one place a run's shape is decided."""
    c, h, w = dataset.shape
    if cfg.conditional and not dataset.num_classes:
        raise UserError(
            f"--conditional needs class labels but {cfg.data.name} has none "
            "(for a folder, put each class in its own sub-folder)"
        )
    mc = cfg.model_config
    names = {f.name for f in dataclasses.fields(mc)}
    shape = {
        "resolution": w,
        "height": h if h != w else None,
        "channels": c,
        "num_classes": dataset.num_classes if cfg.conditional else mc.num_classes,
    }
    if getattr(dataset, "inputs", None) is not None:  # paired data (pix2pix): the inputs' channels
        shape["in_channels"] = int(dataset.inputs.shape[1])
    if shape["num_classes"] and shape["num_classes"] != dataset.num_classes:
        raise UserError(f"model has {mc.num_classes} classes but the data has {dataset.num_classes}")
    mc = dataclasses.replace(mc, **{k: v for k, v in shape.items() if k in names})
    return dataclasses.replace(cfg, model_config=mc, class_names=tuple(dataset.class_names))


def _default_resolution(cfg: RunConfig) -> int | None:
    """The data's size when ``data.resolution`` is unset: a named dataset's own (28 for MNIST-likes: every
    family builds 28 px natively, upscaling would only cost time), else the model config's."""
    if cfg.data.name in SOURCES:
        return SOURCES[cfg.data.name].native_resolution
    return cfg.model_config.resolution


def prepare(cfg: RunConfig | dict) -> tuple[RunConfig, Any]:
    """Resolve a config against its family and its data: returns (complete config, dataset)."""
    cfg = resolve(RunConfig.from_dict(cfg) if isinstance(cfg, dict) else cfg)
    dataset = load_dataset(cfg.data, default_resolution=_default_resolution(cfg))
    made_for = cfg.model_config.num_classes if cfg.conditional else 0  # a run resumed or fine-tuned from
    grouped_by_look = dataset.class_names[:1] == (clusters.name(0),)  # auto left any labels of the data's own
    if cfg.data.clusters == clusters.AUTO and grouped_by_look and made_for and dataset.num_classes != made_for:
        # a run made before ``auto`` folded small groups (session 24) keeps the groups it learned: k-means with its
        # own number of groups is exactly what ``auto`` made then (regrouped in place: the pictures are already shaped)
        dataset = clusters.label_by_look(dataset, made_for)
    if len(dataset) < cfg.train.batch_size:
        raise UserError(
            f"dataset has {len(dataset)} images, fewer than one batch of {cfg.train.batch_size}; lower --batch-size"
        )
    return complete_model_config(cfg, dataset), dataset


def _setup_torch(cfg: TrainConfig) -> torch.device:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # Once D saturates, gradients fill with denormal floats and a CPU step gets several times slower
    # (measured: docs/speed-scale-export.md); TensorFlow flushes them itself, and flushing changes nothing
    # visible in the results.
    torch.set_flush_denormal(True)
    return resolve_device(cfg.device)


def check_resume(stored: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Apply allowed train overrides on resume; refuse (naming the fields) when others conflict."""
    st = dataclasses.asdict(stored.train)
    conflicts = [
        f"train.{k}: run has {st[k]!r}, given {v!r}"
        for k, v in overrides.items()
        if k not in RESUMABLE_FIELDS and st.get(k) != v
    ]
    if conflicts:
        raise UserError(
            "cannot resume: options conflict with the run's config ("
            + "; ".join(conflicts)
            + "); drop them, or start a new run"
        )
    allowed = {k: v for k, v in overrides.items() if k in RESUMABLE_FIELDS}
    return stored.replace_train(**allowed) if allowed else stored


def train(
    config: RunConfig | dict | None = None,
    out: str | Path = "runs",
    resume: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    show: bool = False,
    progress: bool = True,
    extra_hooks: Sequence[Any] = (),
) -> Path:
    """Train a new run (``config``) or continue one (``resume=RUN_DIR``); returns the run folder.

    ``overrides`` are TrainConfig fields given explicitly (CLI flags); on resume only stopping rules,
    intervals and the device may change.
    """
    overrides = overrides or {}
    writer = distributed.env_rank() == 0  # under torchrun only rank 0 writes the run folder
    run_dir: Path | None = None
    resume_dir: Path | None = None  # set exactly when resuming
    if resume is not None:
        run_dir = resume_dir = runs.require_run(resume)
        stored = RunConfig.from_dict(runs.read_config_dict(run_dir))
        if config is not None:
            given = RunConfig.from_dict(config) if isinstance(config, dict) else config
            bad = [d for d in diff(stored.to_dict(), given.to_dict()) if not d.startswith("train.")]
            if bad:
                raise UserError("cannot resume: the given config conflicts with the run's (" + "; ".join(bad) + ")")
        cfg = check_resume(stored, overrides)
        cfg, dataset = prepare(cfg)
        if writer:
            runs.write_config_dict(run_dir, cfg.to_dict())
    else:
        if config is None:
            raise UserError("nothing to train: give a config (or --resume RUN_DIR)")
        cfg = RunConfig.from_dict(config) if isinstance(config, dict) else config
        if overrides:
            cfg = cfg.replace_train(**overrides)
        cfg, dataset = prepare(cfg)
    device = _setup_torch(cfg.train)
    dist_info = distributed.setup(cfg.train.device)
    trainer = Trainer(cfg, dataset, device if dist_info is None else dist_info.device, run_dir, dist=dist_info)
    hooks: list = [Logger(progress and writer)] + ([trainer.guard] if trainer.guard is not None else [])
    try:
        if resume_dir is not None:
            if writer:
                runs.clean_partial(resume_dir)
            distributed.barrier()
            ckpt = runs.find_checkpoint(resume_dir, "latest")
            if ckpt is not None:
                trainer.load_checkpoint(ckpt)
                if writer:
                    runs.truncate_metrics(resume_dir, ckpt.step)
        else:
            if cfg.init_from:
                _init_from(trainer, cfg.init_from)
            if writer:
                run_dir = runs.new_run_dir(out, f"{cfg.model}-{runs.slug(cfg.data.name)}")
                runs.write_config_dict(run_dir, cfg.to_dict())
            trainer.run_dir = run_dir = distributed.broadcast_path(run_dir)
        captions = trainer.batches.captions
        if writer and captions is not None:  # what `generate --anchor` pulls prompts toward
            assert run_dir is not None  # the writer made or resumed it above
            runs.write_captions(run_dir, captions.model, captions.texts)
        hooks += [SampleGrids(show), Checkpoints(), *extra_hooks]
        reason = trainer.fit(hooks)
    finally:
        distributed.cleanup()
    if reason == "interrupted" and progress and writer:
        print(
            f"interrupted: saved a checkpoint at step {trainer.progress.step}; "
            f"continue with: ganstudio train --resume {run_dir}",
            flush=True,
        )
    assert run_dir is not None  # rank 0 made (or resumed) it; the other ranks were sent its path
    return run_dir


def _init_from(trainer: Trainer, source: str) -> None:
    """Fine-tuning: copy G and D weights (and the EMA if both have one) from another run."""
    src = runs.require_run(source)
    ckpt = runs.find_checkpoint(src, "latest")
    if ckpt is None:
        raise UserError(f"--init-from {source}: that run has no checkpoint yet")
    for name in ("G", "D", "G_ema"):
        comp = trainer.stateful.get(name)
        if comp is not None and ckpt.has(name):
            try:
                comp.module.load_state_dict(ckpt.tensors(name))
            except RuntimeError as e:
                raise UserError(
                    f"--init-from {source}: its {name} does not fit this model "
                    f"({str(e).splitlines()[0]}); use the same model family and shape"
                ) from None
    trainer.bank_references()  # a retrieving G draws over *these* pictures, not the source run's
