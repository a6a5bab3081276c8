"""The WebXR gallery (``ganstudio exhibit RUN --xr``), built and opened as a visitor would (issue 17's must-show):
its size on disk, the time to build it, and in headless Debian Chromium (software WebGL, no GPU) the time to the
first drawn frame and the living paintings' frames from onnxruntime-web.

    python benchmarks/xr_bench.py RUN                      # about a minute with a 28 px dcgan run
    python benchmarks/xr_bench.py RUN --loads 5 --n 8

1. Build: ``build_gallery(RUN, n, curate=4n, variations=4)`` into a fresh folder: seconds, and the folder's
   size split into the page, the npm files (three.js, onnxruntime-web's WebAssembly, iwer), works and models.
2. Loads: the folder served by Python's ``http.server`` on 127.0.0.1; each of ``--loads`` visits is a new
   browser (cold cache): first frame = ms from navigation start to the first ``renderer.render`` after the
   manifest and every picture loaded; first living frame = ms to the first generator frame on a painting;
   living frames/s = frames drawn by one painting over ``--seconds`` after that (asked at <= 10 fps).
   Every request is recorded; any that leaves the local server fails the benchmark.
3. A screenshot of the plain view and of the emulated VR view (``?emulate=1``) in benchmarks/out/xr/.

Results: a table on stdout and benchmarks/out/xr_bench.json (with the CPU model and the Chromium version).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ganstudio.browser import launch_chromium

OUT = Path(__file__).resolve().parent / "out"
G = "window.ganstudioGallery"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def poll(page, expr: str, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while True:
        v = page.evaluate(expr)
        if v:
            return v
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {expr}")
        time.sleep(0.02)


def sizes(root: Path) -> dict[str, float]:
    parts = {"page": 0, "vendor/three": 0, "vendor/ort": 0, "vendor/iwer": 0, "works": 0, "models": 0}
    for p in root.rglob("*"):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            key = next((k for k in parts if rel.startswith(k + "/")), "page")
            parts[key] += p.stat().st_size
    return {k: round(v / 1e6, 3) for k, v in parts.items()} | {"total": round(sum(parts.values()) / 1e6, 3)}


def visit(pw, base: str, seconds: float, shot: Path | None) -> dict:
    browser = launch_chromium(pw)
    try:
        page = browser.new_page(viewport={"width": 1024, "height": 640})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(base)
        first = poll(page, f"{G} && {G}.state.ready && {G}.state.firstFrameMs")
        living_first = poll(page, f"{G}.state.firstLivingFrameMs")
        n0, t0 = page.evaluate(f"[{G}.state.livingFrames, performance.now()]")
        time.sleep(seconds)
        n1, t1 = page.evaluate(f"[{G}.state.livingFrames, performance.now()]")
        infer = page.evaluate(f"{G}.state.livingInferMs")
        if shot is not None:
            page.screenshot(path=str(shot))
        outside = [u for u in requests if not u.startswith(base.split("?")[0])]
        if outside:
            raise SystemExit(f"requests left the local server: {outside}")
        return {
            "first_frame_ms": round(first, 1),
            "first_living_frame_ms": round(living_first, 1),
            "living_fps": round((n1 - n0) / ((t1 - t0) / 1000), 2),
            "generator_ms": round(statistics.median(infer), 1),
            "requests": len(requests),
        }
    finally:
        browser.close()


def vr_shot(pw, base: str, shot: Path) -> float:
    """Enter VR under the emulator; returns ms from the click to the session's first frame in the mode."""
    browser = launch_chromium(pw)
    try:
        page = browser.new_page(viewport={"width": 1024, "height": 640})
        page.goto(base + "?emulate=1")
        poll(page, f"{G} && {G}.state.ready")
        t = time.perf_counter()
        page.click("#enter-vr")
        poll(page, f"{G}.state.mode === 'vr'")
        ms = (time.perf_counter() - t) * 1000
        wid = page.evaluate(f"{G}.state.works[0]")
        pos = page.evaluate(f"{G}.worldPositionOf('{wid}')")
        page.evaluate(f"{G}.device.remote.dispatch('look_at', {{device: 'headset', target: {json.dumps(pos)}}})")
        page.evaluate(
            f"{G}.device.remote.dispatch('look_at', {{device: 'controller-right', target: {json.dumps(pos)}}})"
        )
        poll(page, f"{G}.pointedAt().some(p => p && p.id === '{wid}')")
        page.evaluate(f"{G}.device.remote.dispatch('select', {{device: 'controller-right'}})")
        poll(page, f"{G}.state.panel")
        # step up to the work to read its panel (0.6 m in front of it)
        page.evaluate(
            f"{G}.device.remote.dispatch('look_at', {{device: 'headset', target: {json.dumps(pos)}, moveToDistance: 1.4}})"
        )
        time.sleep(0.5)
        page.screenshot(path=str(shot))
        return ms
    finally:
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from ganstudio.xr import build_gallery

    shots = OUT / "xr"
    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        res = build_gallery([a.run], Path(tmp) / "gallery", n=a.n, variations=4)
        size = sizes(res.out)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(res.out)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            with sync_playwright() as pw:
                loads = [visit(pw, base, a.seconds, shots / "plain.png" if i == 0 else None) for i in range(a.loads)]
                vr_ms = vr_shot(pw, base, shots / "vr-panel.png")
        finally:
            server.shutdown()
            server.server_close()
    med = {
        k: statistics.median(x[k] for x in loads)
        for k in ("first_frame_ms", "first_living_frame_ms", "living_fps", "generator_ms")
    }
    result = {
        "run": str(a.run),
        "works": res.n_works,
        "build_s": round(res.seconds, 1),
        "size_mb": size,
        "loads": loads,
        "median": med,
        "enter_vr_ms": round(vr_ms, 1),
        "cpu": platform.processor() or _cpu(),
        "chromium": subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip(),
    }
    (OUT / "xr_bench.json").write_text(json.dumps(result, indent=2))
    print(f"gallery: {res.n_works} works + 1 living, built in {res.seconds:.1f} s, {size['total']:.1f} MB")
    print("  size MB: " + ", ".join(f"{k} {v:.2f}" for k, v in size.items() if k != "total"))
    print("| loads | first frame (ms) | first living frame (ms) | living frames/s | generator (ms/frame) |")
    print("|---|---|---|---|---|")
    print(
        f"| median of {a.loads} | {med['first_frame_ms']:.0f} | {med['first_living_frame_ms']:.0f} | {med['living_fps']:.1f} | {med['generator_ms']:.1f} |"
    )
    print(f"enter VR (emulated): {vr_ms:.0f} ms; screenshots in {shots}")


def _cpu() -> str:
    try:
        return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
