"""Data-parallel training with 2 CPU processes (gloo), launched the way torchrun launches them.

One spawn of two processes checks: both ranks hold the same weights after N steps; they equal one
process trained with the same global batch; a single-process checkpoint resumes under world 2 and
lands where uninterrupted training does. The torchrun test runs the CLI end to end.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from ganstudio import runs
from ganstudio.training import Trainer, fast_mlp, prepare

STEPS, RESUME_AT, B = 6, 4, 16  # per-rank batch 16 x 2 ranks = single-process batch 32

# Steps 1-3 through autograd (schedules.simultaneous), steps 4-6 through the fast MLP step: both
# paths must call sync_grads. The trainer picks one when it is built; the test swaps its step function
# (the same two functions, averaged across ranks as the trainer wraps them) to cover both in one run.
# Same toggle in the single-process reference.
WORKER = r"""
import json
import torch
from safetensors.torch import save_file
from ganstudio import runs
from ganstudio.config import RunConfig
from ganstudio.training import Trainer, distributed, fast_mlp, prepare

out, ckpt_run = {out!r}, {ckpt_run!r}
info = distributed.setup("cpu")
assert info is not None and info.world == 2 and info.backend == "gloo"
torch.set_flush_denormal(True)

if info.rank == 1:  # a different init on rank 1: the trainer must broadcast rank 0's weights when built
    import ganstudio.training.trainer as T
    _build = T.build
    def _shifted_build(*a):
        G, D = _build(*a)
        with torch.no_grad():
            for p in G.parameters(): p.add_(1.0)
        return G, D
    T.build = _shifted_build

def trainer():
    cfg, ds = prepare(RunConfig.from_dict(json.loads({config!r})))
    return Trainer(cfg, ds, torch.device("cpu"), None, dist=info)

def run(t, first, last):
    logs = []
    for i in range(first, last):
        base = fast_mlp.FastStep(t.ctx) if i >= 3 else t.schedule.step
        t.step_fn = distributed.averaged_outputs(base, info.world)
        o = t.train_step()
        logs.append({{k: float(v) for k, v in o.items()}})
    return logs

t = trainer()
logs = run(t, 0, {steps})
r = t.stateful["G"].state_tensors() | {{"D." + k: v for k, v in t.stateful["D"].state_tensors().items()}}
save_file({{k: v.contiguous() for k, v in r.items()}}, f"{{out}}/fresh{{info.rank}}.safetensors")
json.dump({{"logs": logs, "pos": t.sampler.pos, "writer": t.is_writer}}, open(f"{{out}}/fresh{{info.rank}}.json", "w"))

# resume a single-process checkpoint under world size 2
t = trainer()
t.load_checkpoint(runs.find_checkpoint(ckpt_run))
run(t, {resume_at}, {steps})
r = t.stateful["G"].state_tensors() | {{"D." + k: v for k, v in t.stateful["D"].state_tensors().items()}}
save_file({{k: v.contiguous() for k, v in r.items()}}, f"{{out}}/resumed{{info.rank}}.safetensors")
distributed.cleanup()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single(tiny_config, steps_from: int, steps_to: int, t: Trainer | None = None):
    if t is None:
        cfg, ds = prepare(tiny_config(batch_size=2 * B))
        t = Trainer(cfg, ds, torch.device("cpu"), None)
    logs = []
    for i in range(steps_from, steps_to):
        t.step_fn = fast_mlp.FastStep(t.ctx) if i >= 3 else t.schedule.step
        logs.append({k: float(v) for k, v in t.train_step().items()})
    return t, logs


def _weights(t: Trainer) -> dict[str, torch.Tensor]:
    return t.stateful["G"].state_tensors() | {"D." + k: v for k, v in t.stateful["D"].state_tensors().items()}


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, tiny_config):
    torch.set_flush_denormal(True)
    out = tmp_path_factory.mktemp("ddp")
    # the single-process checkpoint the ranks resume from: batch 32, RESUME_AT steps
    t, _ = _single(tiny_config, 0, RESUME_AT)
    t.run_dir = out / "ckpt-run"
    t.run_dir.mkdir()
    assert t.progress.step == RESUME_AT
    t.save_checkpoint()
    config = json.dumps(tiny_config(batch_size=B).to_dict())  # each rank's config, handed over as JSON
    code = WORKER.format(config=config, out=str(out), ckpt_run=str(t.run_dir), steps=STEPS, resume_at=RESUME_AT)
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "OMP_NUM_THREADS": "1",
        }
        procs.append(
            subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    for p in procs:
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, err.decode()[-3000:]
    return out


def test_ranks_hold_identical_weights(two_ranks):
    a, b = load_file(str(two_ranks / "fresh0.safetensors")), load_file(str(two_ranks / "fresh1.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    info = [json.loads((two_ranks / f"fresh{r}.json").read_text()) for r in range(2)]
    assert [i["writer"] for i in info] == [True, False]
    assert info[0]["logs"] == info[1]["logs"]  # metrics are averaged across ranks: the same everywhere


@pytest.fixture(scope="module")
def single(tiny_config):
    """One process, batch 2*B, STEPS steps: what the two ranks must reproduce."""
    return _single(tiny_config, 0, STEPS)


def test_two_ranks_equal_one_process_with_the_global_batch(two_ranks, single):
    t, logs = single
    ddp = load_file(str(two_ranks / "fresh0.safetensors"))
    lr = t.cfg.lr_g
    for k, v in _weights(t).items():
        assert (ddp[k] - v).abs().max() < 1e-2 * lr, k  # within 1% of one Adam step
    info = json.loads((two_ranks / "fresh0.json").read_text())
    assert info["pos"] == t.sampler.pos  # the same global data position
    for mine, theirs in zip(logs, info["logs"]):
        for k in mine:
            assert theirs[k] == pytest.approx(mine[k], rel=1e-4, abs=1e-6), k


def test_resume_under_a_different_world_size(two_ranks, single):
    t, _ = single  # uninterrupted single process
    for r in range(2):
        resumed = load_file(str(two_ranks / f"resumed{r}.safetensors"))
        for k, v in _weights(t).items():
            assert (resumed[k] - v).abs().max() < 1e-2 * t.cfg.lr_g, (r, k)


def test_torchrun_cli_end_to_end(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({"model": "mlp", "model_config": {"g_hidden": [32], "d_hidden": [32], "resolution": 8}}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANSTUDIO_OFFLINE": "1"}
    base = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port",
        str(_free_port()),
        "-m",
        "ganstudio",
        "train",
    ]
    r = subprocess.run(
        base
        + [
            "--data",
            "digits",
            "--resolution",
            "8",
            "--config",
            str(cfg),
            "--steps",
            "12",
            "--batch-size",
            "16",
            "--log-every",
            "4",
            "--out",
            str(tmp_path / "runs"),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    made = list((tmp_path / "runs").iterdir())
    assert len(made) == 1  # only rank 0 created a run folder
    run = made[0]
    assert runs.find_checkpoint(run).step == 12
    rows = runs.read_metrics(run)
    assert [x["step"] for x in rows] == [4, 8, 12]  # one writer: no duplicate rows
    # resume in one process (world size 2 -> 1)
    r = subprocess.run(
        [sys.executable, "-m", "ganstudio", "train", "--resume", str(run), "--steps", "14", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert runs.find_checkpoint(run).step == 14
