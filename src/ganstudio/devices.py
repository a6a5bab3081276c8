"""Device selection (never hard-code cuda) and what a device does natively (bf16)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from .errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} requested but CUDA is not available here; use --device cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("device 'mps' requested but Apple's MPS is not available here; use --device cpu or auto")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"unsupported device {name!r}; use cpu, cuda, mps or auto")
    return dev


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (``/proc/cpuinfo``); empty where it does not."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def bf16_kind(device: torch.device) -> str:
    """How ``device`` computes bfloat16: "amx" (CPU tiles), "avx512_bf16" (CPU dot products), "gpu", or
    "emulated" (AVX2 and older CPUs, MPS, and any CPU whose ATen kernels are held below AVX-512, e.g. by
    ``ATEN_CPU_CAPABILITY=avx2``: autocast's casts and elementwise bf16 then run emulated)."""
    if device.type == "cuda":
        return "gpu" if torch.cuda.is_bf16_supported() else "emulated"
    if device.type != "cpu" or not cpu_capability().startswith("AVX512"):
        return "emulated"
    flags = cpu_flags()
    if "amx_bf16" in flags:
        return "amx"
    return "avx512_bf16" if "avx512_bf16" in flags else "emulated"


def cpu_capability() -> str:
    """The kernel family ATen runs on this CPU ("DEFAULT", "AVX2", "AVX512"), as ATEN_CPU_CAPABILITY may limit it."""
    return torch.backends.cpu.get_cpu_capability()


# Where bf16 autocast pays: GPUs and AMX. Measured on an AVX512_BF16 CPU without AMX (benchmarks/README.md):
# dcgan 32 px 0.80x, 64 px 0.89x, resnet 32 px 0.76x of float32, so `--precision auto` stays float32 there;
# on an AMX CPU the presets' whole steps ran 1.06-1.43x (emoji-64 1.34x, folder-64-dcgan 1.43x).
BF16_PAYS = ("gpu", "amx")


def auto_precision(device: torch.device) -> str:
    """What ``--precision auto`` trains in on ``device``: "bf16" only where it measured faster."""
    return "bf16" if bf16_kind(device) in BF16_PAYS else "fp32"
