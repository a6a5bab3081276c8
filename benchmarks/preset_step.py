"""Time a preset's whole training step (augmentation, EMA, every term of its schedule) per numeric variant.

Each variant (float32 NCHW, channels-last, bf16 autocast, both, float32 with
oneDNN computing in bf16) runs in its own process with the same seed,
warm-up steps first, then the timed steps; passes alternate their order so a drift of the machine's load
does not favour one variant. Reports images/s with the CPU's flags beside them (bf16 pays only where the
CPU has native bf16: AMX tiles or AVX512_BF16 dot products).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/preset_step.py --preset emoji-64 --data emoji --passes 2
    # on a GPU (oneDNN's bf16 math is a CPU variant, so it is left out there); the carried clip art of
    # benchmarks/fewshot_gpu.py where the machine has no emoji font
    python3 benchmarks/preset_step.py --device cuda --preset emoji-64 --data .gpu/clip300 --set data.labels=true \
        --variants fp32 channels_last bf16 bf16_channels_last
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

VARIANTS = {
    "fp32": [],
    "channels_last": ["train.channels_last=true"],
    "bf16": ["train.precision=bf16"],
    "bf16_channels_last": ["train.precision=bf16", "train.channels_last=true"],
    # float32 tensors throughout, but oneDNN may compute convolutions and matmuls in bf16 (AMX tiles or
    # AVX512_BF16): torch.backends.mkldnn.{conv,matmul}.fp32_precision = "bf16"; no autocast casts.
    "fp32_bf16_math": [],
}
BF16_MATH = {"fp32_bf16_math"}


def cpu_flags() -> str:
    from ganstudio.devices import cpu_flags as flags

    keep = sorted(f for f in flags() if f.startswith(("avx512", "amx")))
    return " ".join(keep) or "no AVX-512"


def worker(a) -> None:
    import torch

    from ganstudio.devices import resolve_device
    from ganstudio.training import prepare
    from ganstudio.training.options import build_run_config
    from ganstudio.training.trainer import Trainer

    torch.set_num_threads(a.threads)
    if a.worker in BF16_MATH:
        torch.backends.mkldnn.conv.fp32_precision = "bf16"
        torch.backends.mkldnn.matmul.fp32_precision = "bf16"
    cfg = build_run_config(
        data=a.data, preset=a.preset, train={"seed": 0, "threads": a.threads}, sets=VARIANTS[a.worker] + a.set
    )
    cfg, dataset = prepare(cfg)
    device = resolve_device(a.device)
    trainer = Trainer(cfg, dataset, device, run_dir=None)
    # a GPU runs ahead of Python: wait for its queue before reading the clock
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(a.warmup):
        trainer.train_step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        trainer.train_step()
    sync()
    dt = time.perf_counter() - t0
    print(
        json.dumps({"variant": a.worker, "precision": trainer.precision, "img_s": a.steps * cfg.train.batch_size / dt})
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="emoji-64")
    p.add_argument("--data", default="emoji")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--passes", type=int, default=2, help="each pass runs every variant; odd passes in reverse")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (the fp32_bf16_math variant is CPU-only)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="also applied to every variant")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.device != "cpu" and BF16_MATH & set(a.variants):
        p.error(f"{', '.join(sorted(BF16_MATH))} sets oneDNN's CPU math: leave it out with --device {a.device}")
    if a.worker:
        return worker(a)
    results: dict[str, list[float]] = {v: [] for v in a.variants}
    for i in range(a.passes):
        order = a.variants if i % 2 == 0 else a.variants[::-1]
        for v in order:
            cmd = [sys.executable, __file__, "--worker", v, "--preset", a.preset, "--data", a.data]
            cmd += ["--warmup", str(a.warmup), "--steps", str(a.steps), "--threads", str(a.threads)]
            cmd += ["--device", a.device]
            for s in a.set:
                cmd += ["--set", s]
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            if out.returncode:
                sys.exit(f"variant {v} failed:\n{out.stderr[-2000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results[v].append(row["img_s"])
            print(f"pass {i + 1} {v:>20}: {row['img_s']:.1f} img/s", flush=True)
    print(f"\n{a.preset} on {a.data}, {a.threads} threads, device {a.device}, CPU flags: {cpu_flags()}")
    base = statistics.median(results["fp32"]) if "fp32" in results else None
    for v, xs in results.items():
        med = statistics.median(xs)
        rel = f" ({med / base:.2f}x fp32)" if base else ""
        print(f"{v:>20}: {' / '.join(f'{x:.1f}' for x in xs)} img/s, median {med:.1f}{rel}")


if __name__ == "__main__":
    main()
