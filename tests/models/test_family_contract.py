"""The contract every registered family keeps, run over ``FAMILIES``: a new family is checked the day it
is registered, with its own default config (only the data is made small).

Per family: it declares a known task, its conditioning and a default schedule that trains that task;
its config round-trips through JSON; G and D keep the task's shapes; one step changes G; the training
preview is written by the task's writer; a run trained 2 + 2 steps with a resume equals one trained 4
in one go, bit for bit, in every checkpointed component; and the run loads back through the task's
sampling surface (a Pipeline for noise-to-image, a Translator for image-to-image).
"""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import ganstudio
from ganstudio import runs
from ganstudio.config import MODEL_CONFIGS, RunConfig, to_dict
from ganstudio.models import CONDITIONING_KINDS, FAMILIES
from ganstudio.models.tasks import TASKS
from ganstudio.training import Trainer, prepare, train
from ganstudio.training.schedules import SCHEDULES
from ganstudio.translate import load_translator

NAMES = sorted(FAMILIES)


def contract_config(name: str, steps: int) -> RunConfig:
    """The family's own defaults on 64 digits at 16 px: what a new family must train out of the box."""
    return RunConfig.from_dict(
        {
            "model": name,
            "data": {"name": "digits", "resolution": 16, "limit": 64},
            "train": {
                "steps": steps,
                "batch_size": 8,
                "threads": 1,
                "device": "cpu",
                "seed": 5,
                "log_every": 1,
                "checkpoint_every": 2,
                "keep_checkpoints": 10,
            },
        }
    )


def _sample(run) -> torch.Tensor:
    """What the run makes through its task's sampling surface, (N, C, H, W) in [0, 1]."""
    task = FAMILIES[runs.read_config_dict(run)["model"]].task.name
    if task in ("noise-to-image", "noise-to-sound"):  # sound: the spectrogram pictures
        return ganstudio.load(run)(n=2, seed=0).images
    if task == "image-to-image":
        tr = load_translator(run)
        x = torch.zeros(2, tr.in_channels, tr.height, tr.resolution)
        return tr.translate_tensor(x)
    raise AssertionError(f"task {task!r}: add its sampling surface to this contract test")


@pytest.mark.parametrize("name", NAMES)
def test_family_declares_task_conditioning_and_a_schedule_for_its_task(name):
    fam = FAMILIES[name]
    assert TASKS[fam.task.name] is fam.task
    assert MODEL_CONFIGS[name] is fam.config_cls
    assert fam.schedule in SCHEDULES and fam.task.name in SCHEDULES[fam.schedule].tasks
    assert set(fam.conditioning) <= set(CONDITIONING_KINDS)
    cfg = fam.config_cls()
    assert RunConfig.from_dict({"model": name, "model_config": to_dict(cfg)}).model_config == cfg
    assert contract_config(name, 1).train.schedule is None  # nothing named: the family's own applies
    assert prepare(contract_config(name, 1))[0].train.schedule == fam.schedule


@pytest.mark.parametrize("name", NAMES)
def test_family_shapes_one_step_and_preview(name, tmp_path):
    cfg, ds = prepare(contract_config(name, 1))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    c, h, w = ds.shape
    if t.family.task.name == "noise-to-image":
        z, y = t.ctx.sample_latents(3)
        x = t.G(z, y)
        assert x.shape == (3, c, h, w) and x.min() >= -1 and x.max() <= 1
        assert t.D(x, y).shape == (3,)
    before = [p.detach().clone() for p in t.g_params]
    out = t.train_step()
    assert {"d_loss", "g_loss"} <= out.keys() and all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, t.g_params))
    preview = t.preview()
    assert preview.images.dtype == torch.uint8 and preview.images.shape[1:] == (c, h, w) and preview.nrow > 0
    files = t.family.task.write_preview(preview, tmp_path / "preview")
    assert files and all(f.exists() for f in files)
    with Image.open(files[0]) as im:
        assert im.size[0] >= w * preview.nrow


@pytest.mark.parametrize("name", NAMES)
def test_family_resume_is_bit_exact_and_the_run_loads_back(name, tmp_path):
    one = train(contract_config(name, 4), out=tmp_path / "one", progress=False)
    part = train(contract_config(name, 2), out=tmp_path / "two", progress=False)
    train(resume=part, overrides={"steps": 4}, progress=False)
    a, b = runs.find_checkpoint(one), runs.find_checkpoint(part)
    assert a.step == b.step == 4
    files = sorted(p.name for p in a.path.glob("*.safetensors"))
    assert files == sorted(p.name for p in b.path.glob("*.safetensors")) and "G.safetensors" in files
    for f in files:
        ta, tb = load_file(str(a.path / f)), load_file(str(b.path / f))
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{name}: {f}:{k}"
    assert (one / "samples" / "latest.png").exists()
    out = _sample(one)
    c, h, w = prepare(contract_config(name, 1))[1].shape
    assert out.shape == (2, c, h, w) and out.min() >= 0 and out.max() <= 1
