"""Load test of the web studio: N concurrent clients on loopback for a bounded time.

    python benchmarks/studio_load.py [--runs RUNS_DIR] [--clients 8] [--seconds 15] [--out benchmarks/studio_README.md]

Starts the studio (uvicorn, 127.0.0.1, a free port) over RUNS_DIR (default: a fresh tiny 8x8 run, trained
first) and lets each client loop over a mix of requests: Create (generate 8 pictures) and Explore (one
slider update). Reports requests/s, p50/p95 latency per kind and the error count, and writes a markdown
table to --out.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default=None)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--out", default=str(Path(__file__).with_name("studio_README.md")))
    a = ap.parse_args(argv)
    import httpx
    from studio_server import serve

    if a.runs is None:
        from ganstudio.config import RunConfig
        from ganstudio.training import train

        a.runs = tempfile.mkdtemp(prefix="studio-load-")
        tiny = {
            "model": "mlp",
            "model_config": {"g_hidden": [32, 64], "d_hidden": [64, 32]},
            "data": {"name": "digits", "resolution": 8},
            "train": {"steps": 20, "batch_size": 32, "threads": 1, "device": "cpu", "seed": 3},
        }
        train(RunConfig.from_dict(tiny), out=a.runs, progress=False)
    base, srv = serve(a.runs)
    run = httpx.get(base + "/api/runs").json()[0]["name"]
    lat: dict[str, list[float]] = {"generate": [], "explore": []}
    errors: list[str] = []
    stop = time.monotonic() + a.seconds

    def client(k: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            i = 0
            while time.monotonic() < stop:
                kind = "generate" if i % 4 == 0 else "explore"
                body = (
                    {"run": run, "n": 8, "seed": 100 * k + i}
                    if kind == "generate"
                    else {"run": run, "latent": {"seed": k, "edits": {str(i % 8): (i % 20) / 4 - 2.5}}, "seq": i}
                )
                t = time.perf_counter()
                r = c.post(f"/api/{kind}", json=body)
                dt = time.perf_counter() - t
                if r.status_code != 200:
                    errors.append(f"{kind} {r.status_code}")
                else:
                    lat[kind].append(dt)
                i += 1

    t0 = time.monotonic()
    ts = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    wall = time.monotonic() - t0
    srv.should_exit = True
    total = sum(len(v) for v in lat.values())
    rows = [
        f"| {k} | {len(v)} | {len(v) / wall:.1f} | {1000 * statistics.median(v):.1f} | {1000 * pct(v, 0.95):.1f} |"
        for k, v in lat.items()
        if v
    ]
    import os

    report = "\n".join(
        [
            "# Studio load benchmark",
            "",
            f"`python benchmarks/studio_load.py --clients {a.clients} --seconds {a.seconds:g}`: {a.clients} concurrent "
            "HTTP clients on loopback against `ganstudio studio` (uvicorn, one process) serving a tiny 8x8 MLP run; "
            "each client loops over 1 Create (generate 8 pictures) per 3 Explore slider updates.",
            "",
            f"Machine: {os.cpu_count()} CPU cores (shared with other work while measured), torch CPU.",
            "",
            "| request | count | requests/s | p50 ms | p95 ms |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Total: {total} requests in {wall:.1f} s = {total / wall:.1f} requests/s; errors: {len(errors)}"
            + (f" ({', '.join(sorted(set(errors)))})" if errors else "")
            + ".",
            "",
        ]
    )
    print(report)
    Path(a.out).write_text(report)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
