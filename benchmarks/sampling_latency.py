"""Generation latency per model family: one image, and a batch of 64 (what the studio asks for).

    python benchmarks/sampling_latency.py                   # every latent-to-image family, 2 threads
    python benchmarks/sampling_latency.py --families mlp dcgan --resolutions 32 64 --reps 30

For each family and resolution, G is built with its default config (weights do not change the
cost) and timed through ``Pipeline.generate`` -- latents in, [0, 1] images out, as the studio and
``ganstudio generate`` call it -- median of ``--reps`` calls after warm-up, with the batch-1 and
batch-64 calls interleaved. With ``--onnx`` the same generator is also exported (a throwaway run
folder) and timed in onnxruntime. Results: a table on stdout and benchmarks/out/sampling_latency.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _pipeline(family: str, resolution: int | None):
    import dataclasses

    import torch

    from ganstudio.config import RunConfig
    from ganstudio.models import FAMILIES, build
    from ganstudio.pipeline import Pipeline

    fam = FAMILIES[family]
    mc = fam.config_cls()
    if resolution is not None and hasattr(mc, "resolution"):
        mc = dataclasses.replace(mc, resolution=resolution)
    torch.manual_seed(0)
    G, _ = build(family, mc)
    cfg = RunConfig(model=family, model_config=mc)
    return Pipeline(G.eval(), cfg, None, 0, torch.device("cpu")), cfg


def _time(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def measure(family: str, resolution: int | None, reps: int, onnx: bool) -> dict:
    import torch

    pipe, cfg = _pipeline(family, resolution)
    z1, z64 = pipe.latents(1, 0), pipe.latents(64, 0)
    y1, y64 = pipe.class_weights(None, 1), pipe.class_weights(None, 64)
    one = lambda: pipe.generate(z1, y1)
    batch = lambda: pipe.generate(z64, y64)
    for _ in range(3):
        one(), batch()
    t1, t64 = [], []
    for _ in range(reps):  # interleaved
        t1 += _time(one, 1)
        t64 += _time(batch, 1)
    shape = tuple(batch().shape[1:])
    row = {
        "family": family,
        "image_shape": shape,
        "params_M": sum(p.numel() for p in pipe.G.parameters()) / 1e6,
        "single_ms": statistics.median(t1),
        "batch64_ms": statistics.median(t64),
        "batch64_images_per_s": 64 / statistics.median(t64) * 1e3,
        "threads": torch.get_num_threads(),
    }
    if onnx:
        row.update(_onnx_latency(pipe, cfg, reps, z1, z64, y1, y64))
    return row


def _onnx_latency(pipe, cfg, reps, z1, z64, y1, y64) -> dict:
    import onnxruntime as ort
    import torch

    from ganstudio import runs
    from ganstudio.export import export_onnx

    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "00001-bench"
        run.mkdir()
        runs.write_config_dict(run, cfg.to_dict())
        runs.write_checkpoint(run, 1, {"G": dict(pipe.G.state_dict()), "train_state": {"x": torch.zeros(1)}}, {})
        res = export_onnx(run, Path(d) / "g.onnx")
        so = ort.SessionOptions()
        so.intra_op_num_threads = torch.get_num_threads()
        sess = ort.InferenceSession(str(res.path), so, providers=["CPUExecutionProvider"])

    def feeds(z, y):
        f = {"z": z.numpy()}
        if y is not None:
            f["y"] = y.numpy()
        return f

    f1, f64 = feeds(z1, y1), feeds(z64, y64)
    for _ in range(3):
        sess.run(None, f1), sess.run(None, f64)
    t1, t64 = [], []
    for _ in range(reps):
        t1 += _time(lambda: sess.run(None, f1), 1)
        t64 += _time(lambda: sess.run(None, f64), 1)
    return {"onnx_single_ms": statistics.median(t1), "onnx_batch64_ms": statistics.median(t64)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", nargs="+", default=None, help="default: every family with a latent input")
    p.add_argument("--resolutions", nargs="+", type=int, default=None, help="default: each family's own")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--onnx", action="store_true", help="also time the exported ONNX graph in onnxruntime")
    a = p.parse_args()

    import torch

    from ganstudio.models import FAMILIES

    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    fams = a.families or [n for n, f in FAMILIES.items() if getattr(f.config_cls(), "z_dim", 0) > 0]
    rows = []
    print(
        f"{'family':<8}{'image':>14}{'params':>9}{'1 image':>10}{'64 images':>11}{'img/s':>9}"
        + (f"{'onnx 1':>9}{'onnx 64':>9}" if a.onnx else "")
    )
    for fam in fams:
        for res in a.resolutions or [None]:
            r = measure(fam, res, a.reps, a.onnx)
            rows.append(r)
            line = (
                f"{fam:<8}{'x'.join(map(str, r['image_shape'])):>14}{r['params_M']:>8.1f}M"
                f"{r['single_ms']:>8.2f}ms{r['batch64_ms']:>9.2f}ms{r['batch64_images_per_s']:>9,.0f}"
            )
            if a.onnx:
                line += f"{r['onnx_single_ms']:>7.2f}ms {r['onnx_batch64_ms']:>7.2f}ms"
            print(line, flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "sampling_latency.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {OUT / 'sampling_latency.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
