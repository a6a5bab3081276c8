"""The live control bus, end to end: `ganstudio live` in its own process, driven over real OSC/UDP and read
over its real WebSocket, as TouchDesigner and the browser would (issue 17's must-shows).

    python benchmarks/live_bench.py                       # everything, about 1.5-2 minutes
    python benchmarks/live_bench.py --skip-fps            # latency and fuzz only

1. Latency: p50/p95/max from sending one OSC packet to receiving the first frame that applied it on the
   live WebSocket (the header's ``inputs`` counter), at 64 px (dcgan, 32 channels: the folder-64 preset's
   G), at the default frame clock (30 fps) and at 60 fps. Packets are sent at random phases of the frame clock.
2. Frames/s per model size: ``--fps 1000`` (frames back to back) for each model and backend (PyTorch,
   onnxruntime), frames received on the WebSocket per second, and the median render time per frame.
3. Fuzz: 1,000 malformed OSC packets per second for 10 s (random bytes, truncations, damaged arguments
   and bundles, wrong types, NaN, unknown addresses) while the show runs at 30 fps: the server must not
   crash, every packet must be counted, frame intervals stay bounded; the server's RSS before and after.

Generators have random weights (weights do not change the cost), written as throwaway run folders.
Results: tables on stdout and benchmarks/out/live_bench.json, with the CPU's model and flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
GANSTUDIO = Path(sys.executable).with_name("ganstudio")

# (label, family, model_config overrides, also with onnxruntime): the live piece's sizes, small to large.
# The ONNX export takes seconds per model, so onnxruntime is timed where it matters most for the time budget.
MODELS = [
    ("mlp 28 px (the seed)", "mlp", {}, True),
    ("dcgan 64 px, 32 ch (folder-64)", "dcgan", {"resolution": 64, "g_channels": 32, "d_channels": 32}, True),
    ("dcgan 64 px, 64 ch (default)", "dcgan", {"resolution": 64}, True),
    (
        "lightweight 64 px, 16 ch (emoji-64)",
        "lightweight",
        {"resolution": 64, "g_channels": 16, "d_channels": 16},
        False,
    ),
    ("resnet 64 px, 32 ch", "resnet", {"resolution": 64, "g_channels": 32, "d_channels": 32}, False),
]


def cpu() -> dict:
    import torch

    from ganstudio.devices import cpu_capability, cpu_flags

    name = next(
        (ln.partition(":")[2].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        "?",
    )
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
    return {
        "model": name,
        "cores": os.cpu_count(),
        "flags": sorted(f for f in cpu_flags() if f in wanted),
        "aten_capability": cpu_capability(),
        "torch": torch.__version__,
        "load_1min": os.getloadavg()[0],
    }


def make_run(root: Path, family: str, overrides: dict) -> Path:
    import torch

    from ganstudio import runs
    from ganstudio.config import RunConfig
    from ganstudio.models import FAMILIES, build

    mc = dataclasses.replace(FAMILIES[family].config_cls(), **overrides)
    torch.manual_seed(0)
    G, _ = build(family, mc)
    run = root / f"{len(list(root.iterdir())) + 1:05d}-{family}"
    run.mkdir()
    runs.write_config_dict(run, RunConfig(model=family, model_config=mc).to_dict())
    runs.write_checkpoint(run, 1, {"G": dict(G.state_dict()), "train_state": {"x": torch.zeros(1)}}, {})
    return run


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Live:
    """``ganstudio live RUN`` in a subprocess, with a WebSocket reader thread and an OSC client."""

    def __init__(self, run: Path, *args: str, timeout: float = 120):
        from pythonosc.udp_client import SimpleUDPClient

        self.http, self.osc_port = free_port(), free_port(socket.SOCK_DGRAM)
        cmd = [str(GANSTUDIO), "live", str(run), "--port", str(self.http), "--osc-port", str(self.osc_port)]
        cmd += ["--attract-after", "0", "--directions", "4", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.base = f"127.0.0.1:{self.http}"
        end = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ganstudio live exited: {self.proc.stdout.read() if self.proc.stdout else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.http), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > end:
                    raise RuntimeError("ganstudio live did not start") from None
                time.sleep(0.1)
        self.osc = SimpleUDPClient("127.0.0.1", self.osc_port)
        self.headers: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        self._stop = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        from websockets.sync.client import connect

        from ganstudio.live.frames import decode

        with connect(f"ws://{self.base}/ws", origin=f"http://{self.base}", max_size=None) as ws:
            while not self._stop:
                try:
                    m = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                if isinstance(m, bytes):
                    t = time.perf_counter()
                    h, _ = decode(m)
                    with self.cond:
                        self.headers.append((t, h))
                        self.cond.notify_all()

    def wait_header(self, pred, timeout: float = 5.0) -> tuple[float, dict]:
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, h in reversed(self.headers[-8:]):
                    if pred(h):
                        return t, h
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no such frame")
                self.cond.wait(left)

    def status(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(f"http://{self.base}/api/status", timeout=5) as r:
            return json.loads(r.read())

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> str:
        self._stop = True
        self.reader.join(3)
        self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def latency(run: Path, fps: int, n: int) -> dict:
    live = Live(run, "--fps", str(fps))
    try:
        live.wait_header(lambda h: True)
        rng = random.Random(0)
        lat = []
        for i in range(n):
            _, h = live.wait_header(lambda h: True)
            prev = h["inputs"]
            with live.cond:
                prev = max(prev, live.headers[-1][1]["inputs"])
            t0 = time.perf_counter()
            live.osc.send_message("/ganstudio/dir/0", (i % 64) / 16 - 2)
            t, _ = live.wait_header(lambda h, p=prev: h["inputs"] > p)
            lat.append((t - t0) * 1e3)
            time.sleep(rng.uniform(0, 2.0 / fps))  # a random phase of the frame clock
        st = live.status()
    finally:
        live.close()
    return {
        "fps": fps,
        "n": n,
        "p50_ms": statistics.median(lat),
        "p95_ms": pct(lat, 0.95),
        "max_ms": max(lat),
        "render_ms": st["render_ms"],
        "measured_fps": st["fps"],
    }


def frame_rate(run: Path, backend: str, seconds: float) -> dict:
    live = Live(run, "--fps", "1000", "--backend", backend, timeout=300)
    try:
        live.wait_header(lambda h: True, timeout=60)
        time.sleep(0.5)  # warm-up
        with live.cond:
            start = len(live.headers)
        t0 = time.perf_counter()
        time.sleep(seconds)
        with live.cond:
            got = live.headers[start:]
        dt = time.perf_counter() - t0
        render = statistics.median(h["render_ms"] for _, h in got) if got else float("nan")
    finally:
        live.close()
    return {"backend": backend, "frames_per_s": len(got) / dt, "render_ms": render}


def fuzz_packets(rng: random.Random, n: int) -> list[bytes]:
    from pythonosc.osc_message_builder import OscMessageBuilder

    def msg(address, *args):
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram

    good = msg("/ganstudio/truncation", 0.7)
    fixed = [
        msg("/ganstudio/truncation", "high"),
        msg("/ganstudio/truncation", float("nan")),
        msg("/ganstudio/truncation", 0.5, 0.6),
        msg("/ganstudio/scene", 3),
        msg("/ganstudio/colour", 1.0),
        msg("/elsewhere/truncation", 1.0),
        b"/" + b"x" * 9000,
    ]
    out = []
    for _ in range(n):
        k = rng.randrange(5)
        if k == 0:
            out.append(b"\x00" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200))))
        elif k == 1:
            out.append(good[: rng.randrange(1, len(good) - 1)])
        elif k == 2:
            out.append(good[:-4] + bytes([rng.randrange(256)]))
        elif k == 3:
            size = rng.choice([3, -4, 0, 4096])
            out.append(b"#bundle\x00" + bytes(8) + struct.pack(">i", size) + good[: rng.randrange(0, len(good))])
        else:
            out.append(rng.choice(fixed))
    return out


def fuzz(run: Path, rate: int, seconds: float) -> dict:
    live = Live(run, "--fps", "30")
    try:
        live.wait_header(lambda h: True)
        time.sleep(2.0)
        rss0 = live.rss_mb()

        def intervals(a: int, b: int) -> list[float]:
            ts = [t for t, _ in live.headers[a:b]]
            return [(y - x) * 1e3 for x, y in itertools.pairwise(ts)]

        with live.cond:
            mark0 = len(live.headers)
        time.sleep(3.0)  # a quiet baseline
        with live.cond:
            mark1 = len(live.headers)
        base = intervals(mark0, mark1)
        rng = random.Random(1)
        packets = fuzz_packets(rng, 2000)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        addr = ("127.0.0.1", live.osc_port)
        sent = 0
        t0 = time.perf_counter()
        while (now := time.perf_counter() - t0) < seconds:
            due = int(now * rate)
            while sent < due:
                sock.sendto(packets[sent % len(packets)], addr)
                sent += 1
            time.sleep(0.002)
        sock.close()
        with live.cond:
            mark2 = len(live.headers)
        during = intervals(mark1, mark2)
        time.sleep(0.5)
        st = live.status()
        rss1 = live.rss_mb()
        alive = live.proc.poll() is None
    finally:
        out = live.close()
    s = st["stats"]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "sent": sent,
        "counted_dropped": s["malformed"] + s["unknown"],
        "accepted": s["accepted"],
        "alive": alive,
        "frames_during": len(during) + 1,
        "interval_quiet_p50_p95_max_ms": [statistics.median(base), pct(base, 0.95), max(base)],
        "interval_fuzz_p50_p95_max_ms": [statistics.median(during), pct(during, 0.95), max(during)],
        "rss_before_mb": rss0,
        "rss_after_mb": rss1,
        "exit": out.strip().splitlines()[-1:] if out else [],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--skip-fps", action="store_true", help="skip frames/s per model size")
    p.add_argument("--no-onnx", action="store_true", help="frames/s with PyTorch only")
    p.add_argument("--trials", type=int, default=100, help="latency trials per frame clock")
    p.add_argument("--fps-seconds", type=float, default=2.0)
    p.add_argument("--fuzz-seconds", type=float, default=10.0)
    p.add_argument("--fuzz-rate", type=int, default=1000)
    a = p.parse_args()
    if not GANSTUDIO.exists():
        print(f"{GANSTUDIO} not found: run from the project's venv", file=sys.stderr)
        return 1
    t_start = time.monotonic()
    info = cpu()
    print(f"CPU: {info['model']} ({info['cores']} cores; {', '.join(info['flags'])}; ATen {info['aten_capability']})")
    print(f"load average (1 min) at start: {info['load_1min']:.1f}")
    root = Path(tempfile.mkdtemp(prefix="ganstudio-live-bench-"))
    result: dict = {
        "cpu": info,
        "time": time.strftime("%Y-%m-%d %H:%M"),
        "env": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
    }
    try:
        runs = {label: make_run(root, fam, ov) for label, fam, ov, _ in MODELS}
        target = runs[MODELS[1][0]]
        print("\nOSC packet -> first frame that applied it, on the live WebSocket (dcgan 64 px, 32 ch)")
        result["latency"] = []
        for fps in (30, 60):
            r = latency(target, fps, a.trials)
            result["latency"].append(r)
            print(
                f"  --fps {fps:<3} p50 {r['p50_ms']:5.1f} ms  p95 {r['p95_ms']:5.1f} ms  max {r['max_ms']:5.1f} ms"
                f"  (render {r['render_ms']:.2f} ms, {r['measured_fps']:.1f} frames/s, {r['n']} packets)"
            )
        print(f"\nfuzz: {a.fuzz_rate} malformed OSC packets/s for {a.fuzz_seconds:g} s at --fps 30")
        r = fuzz(target, a.fuzz_rate, a.fuzz_seconds)
        result["fuzz"] = r
        print(
            f"  sent {r['sent']}, counted and dropped {r['counted_dropped']}, accepted {r['accepted']}, "
            f"server alive: {r['alive']}\n"
            f"  frame interval p50/p95/max: quiet {'/'.join(f'{x:.1f}' for x in r['interval_quiet_p50_p95_max_ms'])} ms, "
            f"under fuzz {'/'.join(f'{x:.1f}' for x in r['interval_fuzz_p50_p95_max_ms'])} ms\n"
            f"  server RSS {r['rss_before_mb']:.1f} -> {r['rss_after_mb']:.1f} MB"
        )
        if not a.skip_fps:
            print("\nframes/s on the live WebSocket, --fps 1000 (back to back), one thread")
            result["frame_rate"] = []
            for label, _, _, with_onnx in MODELS:
                for backend in ("torch", "onnx") if with_onnx and not a.no_onnx else ("torch",):
                    r = {"model": label, **frame_rate(runs[label], backend, a.fps_seconds)}
                    result["frame_rate"].append(r)
                    print(
                        f"  {label:<38} {backend:<6} {r['frames_per_s']:7.1f} frames/s  render {r['render_ms']:6.2f} ms"
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["load_1min_end"] = os.getloadavg()[0]
    result["wall_s"] = time.monotonic() - t_start
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "live_bench.json").write_text(json.dumps(result, indent=2))
    print(
        f"\n{result['wall_s']:.0f} s; load average at end {result['load_1min_end']:.1f}; wrote {OUT / 'live_bench.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
