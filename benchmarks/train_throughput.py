"""Training throughput of the seed MLP GAN: ganstudio vs the seed's own TensorFlow code, in one run.

    python benchmarks/train_throughput.py                      # b64 and b256, 3 alternating runs each
    python benchmarks/train_throughput.py --batch 64 --runs 5 --steps 400
    python benchmarks/train_throughput.py --no-tf              # skip TensorFlow (no install needed)
    python benchmarks/train_throughput.py --families           # also the convolutional families (C)

What runs, each variant in its own fresh process (so ``ru_maxrss`` is that variant's peak memory),
alternating variant by variant, ``--runs`` times after a warm-up, median reported:

  tf         the seed's train_step in TensorFlow (``seed_tf.py --fixed``: D outputs logits), from a
             TensorFlow installed into its own venv ``benchmarks/out/tf-venv`` on first use
             (``pip install tensorflow-cpu``; never a project dependency)
  fast       ganstudio's simultaneous schedule with the hand-written MLP step (training/fast_mlp.py)
  autograd   ganstudio's simultaneous schedule through autograd (the fast path switched off)
  typical    idiomatic PyTorch for context: separate D and G passes, ``loss.backward()``, foreach Adam

plus, in this process, the GEMM ceiling: ``torch.mm`` timed on exactly the GEMMs the seed's step
runs (G forward; D forward on real and on fake; D's weight and input gradients for d_loss; the
input-gradient chain through D and G's gradients for g_loss: 26 MFLOP per image), summed to a
per-step time. Every variant is reported as images/s, as a fraction of that ceiling and as a ratio
to TensorFlow. Same data (Fashion-MNIST), threads (``--threads``, default 2) and batch sizes.

Results go to stdout (a table) and ``benchmarks/out/train_throughput.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
TF_VENV = OUT / "tf-venv"
SEED_TF = HERE / "seed_tf.py"
FASHION = "/usr/share/datasets/fashion-mnist"

# The seed's layer sizes: G 100-256-512-1024-784, D 784-1024-512-256-1.
G_SIZES = [100, 256, 512, 1024, 784]
D_SIZES = [784, 1024, 512, 256, 1]


# ---- workers (run in their own process) ------------------------------------------------------


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _torch_setup(threads: int):
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    return torch


def _trainer(
    batch: int,
    family: str = "mlp",
    resolution: int | None = None,
    channels_last: bool = False,
    precision: str = "fp32",
    compile_models: bool = False,
    fast: bool = False,
):
    import torch

    from ganstudio.config import RunConfig
    from ganstudio.training import Trainer, prepare

    cfg, ds = prepare(
        RunConfig.from_dict(
            {
                "model": family,
                "data": {"name": "fashion-mnist", "resolution": resolution},
                "train": {
                    "batch_size": batch,
                    "device": "cpu",
                    "threads": None,
                    "precision": precision,
                    "schedule": "simultaneous",
                },
            }
        )
    )
    t = Trainer(cfg, ds, torch.device("cpu"), None, fast_step=fast)
    if channels_last:
        t.G.to(memory_format=torch.channels_last)
        t.D.to(memory_format=torch.channels_last)
    if compile_models:  # the schedule calls ctx.G / ctx.D; compiled modules keep the same parameters
        t.G, t.D = t.ctx.G, t.ctx.D = torch.compile(t.G), torch.compile(t.D)
    return t


def worker_ganstudio(
    variant: str,
    batch: int,
    steps: int,
    warmup: int,
    threads: int,
    family: str = "mlp",
    resolution: int | None = None,
    channels_last: bool = False,
    precision: str = "fp32",
    compile_models: bool = False,
) -> dict:
    torch = _torch_setup(threads)
    from ganstudio.training import fast_mlp

    t = _trainer(batch, family, resolution, channels_last, precision, compile_models, fast=variant == "fast")
    if variant == "fast" and not isinstance(t.step_fn, fast_mlp.FastStep):
        raise SystemExit("fast_mlp does not support this trainer")
    t.G.train()
    t.D.train()
    for _ in range(warmup):
        out = t.train_step()
    out["d_loss"].item()
    t0 = time.perf_counter()
    for _ in range(steps):
        out = t.train_step()
    d_loss = out["d_loss"].item()  # the one sync
    dt = time.perf_counter() - t0
    return {
        "variant": variant,
        "batch": batch,
        "images_per_s": steps * batch / dt,
        "d_loss": d_loss,
        "maxrss_mib": _maxrss_mib(),
        "torch": torch.__version__,
    }


def worker_typical(batch: int, steps: int, warmup: int, threads: int) -> dict:
    """What most PyTorch GAN tutorials write: separate D and G passes, backward(), foreach Adam."""
    torch = _torch_setup(threads)
    from torch import nn

    from ganstudio.data import DataConfig, load_dataset
    from ganstudio.data.base import to_float

    ds = load_dataset(DataConfig(name="fashion-mnist"))
    images = ds.images
    torch.manual_seed(0)

    def mlp(sizes, last):
        layers = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2) if i < len(sizes) - 2 else last]
        return nn.Sequential(*[m for m in layers if m is not None])

    G, D = mlp(G_SIZES, nn.Tanh()), mlp(D_SIZES, None)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, eps=1e-7)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, eps=1e-7)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    gen = torch.Generator().manual_seed(0)

    def step():
        idx = torch.randint(len(images), (batch,), generator=gen)
        real = to_float(images[idx]).flatten(1)
        z = torch.randn(batch, 100)
        fake = G(z)
        d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = bce(D(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        return d_loss

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        d = step()
    d_loss = d.item()
    dt = time.perf_counter() - t0
    return {
        "variant": "typical",
        "batch": batch,
        "images_per_s": steps * batch / dt,
        "d_loss": d_loss,
        "maxrss_mib": _maxrss_mib(),
    }


def seed_gemms(b: int) -> list[tuple[int, int, int, str]]:
    """(m, k, n, kind) of every GEMM in the seed's train_step at batch ``b`` (TensorFlow's graph)."""
    g = list(itertools.pairwise(G_SIZES))
    d = list(itertools.pairwise(D_SIZES))
    out = [(b, i, o, "fwd") for i, o in g]  # G forward
    out += [(b, i, o, "fwd") for i, o in d] * 2  # D on real, D on fake
    out += [(i, b, o, "wgrad") for i, o in d] * 2  # disc tape: D weight grads, both branches
    out += [(b, o, i, "igrad") for i, o in d[1:]] * 2  # disc tape: input grads above D's first layer
    out += [(b, o, i, "igrad") for i, o in d]  # gen tape: through D on the fake branch, to the image
    out += [(i, b, o, "wgrad") for i, o in g]  # G weight grads
    out += [(b, o, i, "igrad") for i, o in g[1:]]  # G input grads above its first layer
    return out


def gemm_ceiling(b: int, threads: int, reps: int = 7, inner: int = 20) -> dict:
    """Per-step time of the seed step's GEMMs alone (torch.mm with out=), median of ``reps``."""
    torch = _torch_setup(threads)
    shapes = seed_gemms(b)
    ops = []
    for m, k, n, kind in shapes:
        if kind == "fwd":  # activations (m, k) @ weight (k, n)
            a, w = torch.randn(m, k), torch.randn(k, n)
        elif kind == "wgrad":  # X^T @ dY with X (b, k=in) stored row-major: a transposed view
            a, w = torch.randn(k, m).t(), torch.randn(k, n)
        else:  # dY (m, k) @ W^T with W (n, k)... stored as (in, out) = (n, k): a transposed view
            a, w = torch.randn(m, k), torch.randn(n, k).t()
        ops.append((a, w, torch.empty(m, n)))
    flops = sum(2 * m * k * n for m, k, n, _ in shapes)

    def run():
        for a, w, o in ops:
            torch.mm(a, w, out=o)

    for _ in range(5):
        run()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            run()
        times.append((time.perf_counter() - t0) / inner)
    step_s = statistics.median(times)
    return {
        "batch": b,
        "gemms": len(shapes),
        "mflop_per_image": flops / b / 1e6,
        "step_ms": step_s * 1e3,
        "gflops": flops / step_s / 1e9,
        "images_per_s": b / step_s,
    }


# ---- the driver ---------------------------------------------------------------------------------


def ensure_tf(install: bool) -> Path | None:
    py = TF_VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import tensorflow"], capture_output=True).returncode == 0:
        return py
    if not install:
        return None
    print(f"installing tensorflow-cpu into {TF_VENV} (once) ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(TF_VENV)], check=True)
    subprocess.run(
        [str(TF_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "tensorflow-cpu", "pillow"],
        check=True,
    )
    return py


def run_process(cmd: list[str], env: dict | None = None) -> dict:
    """Run one worker; its JSON line plus its own peak RSS (os.wait4 gives the child's rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({p.returncode}):\n{err.read().decode()[-3000:]}")
    line = [s for s in text.splitlines() if s.startswith("{")][-1]
    res = json.loads(line)
    res["maxrss_mib"] = ru.ru_maxrss / 1024
    return res


def _worker_cmd(args, variant: str, batch: int, steps: int, warmup: int, extra: list[str] = ()) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        variant,
        "--batch",
        str(batch),
        "--steps",
        str(steps),
        "--warmup",
        str(warmup),
        "--threads",
        str(args.threads),
        *extra,
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    p.add_argument("--runs", type=int, default=3, help="timed runs per variant (median reported)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per run (default ~20k images)")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--variants", nargs="+", default=["tf", "fast", "autograd", "typical"])
    p.add_argument("--no-tf", action="store_true", help="skip TensorFlow")
    p.add_argument("--no-install", action="store_true", help="do not install TensorFlow if it is missing")
    p.add_argument("--families", action="store_true", help="also time the convolutional families (C)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--family", default="mlp", help=argparse.SUPPRESS)
    p.add_argument("--resolution", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--channels-last", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    p.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--layouts",
        nargs="+",
        default=["default", "channels_last", "bf16"],
        help="families table: default, channels_last, bf16, compile",
    )
    p.add_argument("--family-list", nargs="+", default=["dcgan", "resnet"], help="families table: which families")
    p.add_argument("--resolutions", nargs="+", type=int, default=[28, 32, 64], help="families table: sizes")
    p.add_argument("--only-families", action="store_true", help="skip the seed MLP table")
    a = p.parse_args()

    if a.worker:  # one measurement in this fresh process
        if a.worker == "typical":
            res = worker_typical(a.batch[0], a.steps, a.warmup, a.threads)
        else:
            res = worker_ganstudio(
                a.worker,
                a.batch[0],
                a.steps,
                a.warmup,
                a.threads,
                a.family,
                a.resolution,
                a.channels_last,
                a.precision,
                a.compile,
            )
        print(json.dumps(res))
        return 0

    variants = [v for v in a.variants if not (a.no_tf and v == "tf")]
    tf_py = None
    if "tf" in variants:
        tf_py = ensure_tf(not a.no_install)
        if tf_py is None:
            print("TensorFlow missing (run without --no-install to install it): skipping tf", file=sys.stderr)
            variants.remove("tf")
        if not SEED_TF.exists():
            raise SystemExit(f"{SEED_TF} is missing")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "1"}

    results: dict = {"threads": a.threads, "runs": a.runs, "cpu": _cpu_name(), "batches": {}}
    for b in [] if a.only_families else a.batch:
        steps = a.steps or max(50, 20000 // b)
        ceiling = gemm_ceiling(b, a.threads)
        got: dict[str, list[dict]] = {v: [] for v in variants}
        for r in range(a.runs):  # alternate: one run of each variant, then the next round
            for v in variants:
                if v == "tf":
                    cmd = [
                        str(tf_py),
                        str(SEED_TF),
                        "--fixed",
                        "--batch",
                        str(b),
                        "--steps",
                        str(steps),
                        "--warmup",
                        str(a.warmup),
                        "--threads",
                        str(a.threads),
                        "--data",
                        FASHION,
                    ]
                else:
                    cmd = _worker_cmd(a, v, b, steps, a.warmup)
                res = run_process(cmd, env)
                got[v].append(res)
                print(
                    f"  b{b} run {r + 1}/{a.runs} {v:<9} {res['images_per_s']:>9,.0f} img/s "
                    f"{res['maxrss_mib']:>6.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
        ceiling_after = gemm_ceiling(b, a.threads)  # measured before and after: load drifts
        ceil_ips = statistics.median([ceiling["images_per_s"], ceiling_after["images_per_s"]])
        row = {
            "ceiling": {
                **ceiling,
                "images_per_s_after": ceiling_after["images_per_s"],
                "images_per_s_median": ceil_ips,
            },
            "variants": {},
        }
        tf_ips = statistics.median([x["images_per_s"] for x in got["tf"]]) if "tf" in got else None
        for v, rs in got.items():
            ips = statistics.median([x["images_per_s"] for x in rs])
            row["variants"][v] = {
                "images_per_s": ips,
                "all": [round(x["images_per_s"], 1) for x in rs],
                "of_ceiling": ips / ceil_ips,
                "vs_tf": ips / tf_ips if tf_ips else None,
                "maxrss_mib": max(x["maxrss_mib"] for x in rs),
            }
        results["batches"][str(b)] = row
        _print_table(b, row)

    if a.families or a.only_families:
        results["families"] = families_table(a)
    OUT.mkdir(exist_ok=True)
    (OUT / "train_throughput.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {OUT / 'train_throughput.json'}")
    return 0


def _print_table(b: int, row: dict) -> None:
    c = row["ceiling"]
    print(
        f"\nbatch {b}: GEMM ceiling {c['images_per_s_median']:,.0f} img/s "
        f"({c['mflop_per_image']:.1f} MFLOP/image, {c['gemms']} GEMMs, {c['gflops']:.0f} GFLOP/s)"
    )
    print(f"{'variant':<10}{'img/s':>10}{'of ceiling':>12}{'vs TF':>8}{'peak MiB':>10}   runs")
    for v, r in row["variants"].items():
        vs = f"{r['vs_tf']:.2f}x" if r["vs_tf"] else "-"
        print(f"{v:<10}{r['images_per_s']:>10,.0f}{r['of_ceiling']:>11.0%}{vs:>8}{r['maxrss_mib']:>10.0f}   {r['all']}")


def families_table(a) -> list[dict]:
    """Images/s and peak memory per convolutional family and resolution (autograd schedule)."""
    from ganstudio.models import FAMILIES

    rows = []
    # (name, worker flags): the default layout, channels-last weights, bf16 autocast, torch.compile.
    known = {
        "default": [],
        "channels_last": ["--channels-last"],
        "bf16": ["--precision", "bf16"],
        "compile": ["--compile"],
    }
    layouts = [(name, known[name]) for name in a.layouts]
    for fam in [f for f in a.family_list if f in FAMILIES]:
        for res in a.resolutions:
            if fam == "resnet" and res == 28:
                continue  # resnet is the 32-128 px family
            b = 64
            got: dict[str, list[dict]] = {name: [] for name, _ in layouts}
            for _ in range(a.runs):  # alternate the layouts so that load drift hits them all alike
                for name, flags in layouts:
                    extra = ["--family", fam, "--resolution", str(res), *flags]
                    got[name].append(run_process(_worker_cmd(a, "autograd", b, a.steps or 30, 5, extra)))
            for name, rs in got.items():
                ips = statistics.median([x["images_per_s"] for x in rs])
                row = {
                    "family": fam,
                    "resolution": res,
                    "layout": name,
                    "batch": b,
                    "images_per_s": ips,
                    "all": [round(x["images_per_s"], 1) for x in rs],
                    "maxrss_mib": max(x["maxrss_mib"] for x in rs),
                }
                rows.append(row)
                print(
                    f"{fam:<8} {res:>4}px {name:<14} {ips:>8,.1f} img/s {row['maxrss_mib']:>6.0f} MiB  {row['all']}",
                    flush=True,
                )
    return rows


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
