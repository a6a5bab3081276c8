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

plus, in this process, the GEMM ceiling: every GEMM one fast step performs (``step_gemms``: the
forward, data-gradient and weight-gradient GEMMs of each linear layer of G and D, B rows for G, 2B
for D over [real; fake]; 22 GEMMs, 24.75 MFLOP per image) timed alone with the library the step
uses (``torch.mm`` / ``torch.addmm`` with ``out=``, float32, the same ``.t()`` views, the same
threads): warm-up, then ``--ceiling-repeats`` (30) repeats of 10-50 back-to-back calls, the best
mean per call kept, before and after the variants (best of both). The ceiling is the sum of those
best times: the step's time if it did nothing but its GEMMs, each at its best sustained rate.
Every variant is reported as images/s, ms per step, as a fraction of that ceiling (ceiling time /
step time; the other variants compute the same maths with more GEMM work, so they sit lower) and as
a ratio to TensorFlow. Same data (Fashion-MNIST), threads (``--threads``, default 2) and batch sizes.

Results go to stdout (a table) and ``benchmarks/out/train_throughput.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
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


def step_gemms(b: int) -> list[dict]:
    """Every GEMM of one fast seed step (``training/fast_mlp.py``) at batch ``b``, as that step calls it.

    Each entry is ``torch.addmm(bias, A, B, out=C)`` (``bias``) or ``torch.mm(A, B, out=C)``, with C
    (m, n), A (m, k) and B (k, n); ``ta`` / ``tb`` mark an operand passed as the ``.t()`` view of a
    contiguous tensor, as the step passes it (A = ``E.t()`` of a (k, m) Jacobian or delta, B =
    ``W.t()`` of an nn.Linear weight (n, k)); every other operand and every output is contiguous.
    D runs once over [real; fake] (2B rows); one chain of per-sample Jacobians over those 2B rows
    serves both losses, and D's input gradient is only formed for the B fake rows (it feeds G). The
    rank-1 step through D's head (``expand`` of its (1, 256) weight) is not a GEMM. 22 GEMMs,
    24.75 MFLOP per image.
    """
    g = list(itertools.pairwise(G_SIZES))
    d = list(itertools.pairwise(D_SIZES))
    out: list[dict] = []

    def add(what: str, m: int, k: int, n: int, ta: bool = False, tb: bool = False, bias: bool = False) -> None:
        out.append({"what": what, "m": m, "k": k, "n": n, "ta": ta, "tb": tb, "bias": bias})

    for i, (fi, fo) in enumerate(g, 1):  # addmm(bias, h (B, in), W.t())
        add(f"G{i} fwd", b, fi, fo, tb=True, bias=True)
    for i, (fi, fo) in enumerate(d, 1):  # addmm(bias, a (2B, in), W.t()) over [real; fake]
        add(f"D{i} fwd", 2 * b, fi, fo, tb=True, bias=True)
    for i, (fi, fo) in enumerate(d, 1):  # mm(E.t(), a_in (2B, in)) -> D's weight gradient (out, in)
        add(f"D{i} wgrad", fo, 2 * b, fi, ta=True)
    for i, (fi, fo) in list(enumerate(d, 1))[:-1]:  # mm(E (rows, out), W (out, in)): the Jacobian chain
        add(f"D{i} dgrad", b if i == 1 else 2 * b, fo, fi)  # layer 1: only the fake rows (G's input)
    for i, (fi, fo) in enumerate(g, 1):  # mm(delta.t(), a_in (B, in)) -> G's weight gradient
        add(f"G{i} wgrad", fo, b, fi, ta=True)
    for i, (fi, fo) in list(enumerate(g, 1))[1:]:  # mm(delta (B, out), W (out, in)), not below G's input
        add(f"G{i} dgrad", b, fo, fi)
    return out


def time_gemm(torch, g: dict, repeats: int, min_calls: int = 10, max_calls: int = 50, target_s: float = 0.02) -> dict:
    """Best sustained time of one GEMM: warm-up, then ``repeats`` runs of ``calls`` back-to-back calls;
    the best mean per call is kept. ``calls`` is sized so one run takes about ``target_s``."""
    m, k, n = g["m"], g["k"], g["n"]
    a = torch.randn(k, m).t() if g["ta"] else torch.randn(m, k)
    w = torch.randn(n, k).t() if g["tb"] else torch.randn(k, n)
    c = torch.empty(m, n)
    if g["bias"]:
        bias = torch.randn(n)

        def call():
            torch.addmm(bias, a, w, out=c)
    else:

        def call():
            torch.mm(a, w, out=c)

    for _ in range(5):
        call()
    t0 = time.perf_counter()
    for _ in range(5):
        call()
    est = (time.perf_counter() - t0) / 5
    calls = max(min_calls, min(max_calls, math.ceil(target_s / max(est, 1e-9))))
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - t0) / calls)
    return {"best_s": best, "calls": calls}


def gemm_ceiling(b: int, threads: int, repeats: int = 30, earlier: dict | None = None) -> dict:
    """The GEMM ceiling of one fast seed step: each of its GEMMs timed alone with the library the step
    uses (torch.mm / addmm, float32, same operand layouts, same threads), best of ``repeats``; the
    ceiling is the sum of those best times, i.e. the step's time if it did nothing but its GEMMs, each
    at its best sustained rate. ``earlier``: this function's result for the same batch from an earlier
    session (before the variants ran); each GEMM keeps its best over all sessions (load only ever
    makes a GEMM slower)."""
    torch = _torch_setup(threads)
    shapes = step_gemms(b)
    session = [time_gemm(torch, g, repeats) for g in shapes]
    rows = []
    for j, g in enumerate(shapes):
        times = [*(earlier["shapes"][j]["session_s"] if earlier else []), session[j]["best_s"]]
        flop = 2 * g["m"] * g["k"] * g["n"]
        rows.append(
            {
                **g,
                "mflop": flop / 1e6,
                "best_us": min(times) * 1e6,
                "gflops": flop / min(times) / 1e9,
                "calls": session[j]["calls"],
                "session_s": times,
            }
        )
    flops = sum(2 * g["m"] * g["k"] * g["n"] for g in shapes)
    step_s = sum(r["best_us"] for r in rows) / 1e6
    return {
        "batch": b,
        "gemms": len(shapes),
        "repeats": repeats,
        "mflop_per_image": flops / b / 1e6,
        "step_ms": step_s * 1e3,
        "session_step_ms": [sum(r["session_s"][i] for r in rows) * 1e3 for i in range(len(rows[0]["session_s"]))],
        "gflops": flops / step_s / 1e9,
        "images_per_s": b / step_s,
        "shapes": rows,
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
    p.add_argument("--ceiling-repeats", type=int, default=30, help="GEMM ceiling: timed repeats per GEMM (best kept)")
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
        ceiling = gemm_ceiling(b, a.threads, a.ceiling_repeats)
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
        # timed again after the variants (load drifts); each GEMM keeps its best of both sessions
        ceiling = gemm_ceiling(b, a.threads, a.ceiling_repeats, earlier=ceiling)
        row = {"ceiling": ceiling, "variants": {}}
        tf_ips = statistics.median([x["images_per_s"] for x in got["tf"]]) if "tf" in got else None
        for v, rs in got.items():
            ips = statistics.median([x["images_per_s"] for x in rs])
            row["variants"][v] = {
                "images_per_s": ips,
                "ms_per_step": b / ips * 1e3,
                "all": [round(x["images_per_s"], 1) for x in rs],
                "of_ceiling": ips / ceiling["images_per_s"],  # = ceiling time / step time
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
    sessions = " / ".join(f"{t:.2f}" for t in c["session_step_ms"])
    print(
        f"\nbatch {b}: GEMM ceiling {c['step_ms']:.2f} ms/step = {c['images_per_s']:,.0f} img/s "
        f"({c['gemms']} GEMMs of the fast step, {c['mflop_per_image']:.2f} MFLOP/image, {c['gflops']:.0f} GFLOP/s; "
        f"best of {c['repeats']} repeats per GEMM; sessions before / after the variants: {sessions} ms)"
    )
    print(f"  {'GEMM':<10}{'call':<22}{'m x k x n':>18}{'MFLOP':>9}{'best us':>10}{'GFLOP/s':>9}")
    for r in c["shapes"]:
        call = f"{'addmm' if r['bias'] else 'mm'}({'A.t()' if r['ta'] else 'A'}, {'B.t()' if r['tb'] else 'B'})"
        mkn = f"{r['m']}x{r['k']}x{r['n']}"
        print(f"  {r['what']:<10}{call:<22}{mkn:>18}{r['mflop']:>9.2f}{r['best_us']:>10.1f}{r['gflops']:>9.1f}")
    print(f"{'variant':<10}{'img/s':>10}{'ms/step':>9}{'of ceiling':>12}{'vs TF':>8}{'peak MiB':>10}   runs")
    for v, r in row["variants"].items():
        vs = f"{r['vs_tf']:.2f}x" if r["vs_tf"] else "-"
        print(
            f"{v:<10}{r['images_per_s']:>10,.0f}{r['ms_per_step']:>9.2f}{r['of_ceiling']:>11.0%}{vs:>8}"
            f"{r['maxrss_mib']:>10.0f}   {r['all']}"
        )


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
