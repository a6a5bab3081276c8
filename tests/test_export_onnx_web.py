"""examples/onnx-web in headless Chromium: an exported generator draws non-blank images on the canvas.

Needs Debian's chromium (/usr/bin/chromium), Python Playwright, and `npm install` in
examples/onnx-web (onnxruntime-web, served from node_modules: nothing comes from a CDN).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from ganstudio.browser import chromium_path, launch_chromium
from ganstudio.training import train

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "onnx-web"
ORT = EXAMPLE / "node_modules" / "onnxruntime-web" / "dist" / "ort.min.js"

pytestmark = [
    pytest.mark.skipif(chromium_path() is None, reason="needs Debian's chromium (make browser)"),
    pytest.mark.skipif(not ORT.exists(), reason="run `npm install` in examples/onnx-web first"),
]


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".onnx": "application/octet-stream",
    }

    def log_message(self, *args):  # keep the test output clean
        pass


def _serve_example(root: Path, run: Path):
    """The example folder (its node_modules linked) plus the run's exported model, served on a local port."""
    pytest.importorskip("onnxruntime")
    from ganstudio.export import export_onnx

    root.mkdir()
    for f in ("index.html", "app.js"):
        shutil.copy(EXAMPLE / f, root / f)
    (root / "node_modules").symlink_to(EXAMPLE / "node_modules", target_is_directory=True)
    export_onnx(run, root / "model" / "generator.onnx")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(tmp_path, tiny_config):
    yield from _serve_example(tmp_path / "site", train(tiny_config(steps=4), out=tmp_path / "runs", progress=False))


@pytest.fixture
def text_site(tmp_path, captioned_squares, tiny_text_run):
    """A run that reads text (captioned squares): the page offers the sidecar's prompts."""
    (tmp_path / "captioned").mkdir()
    data = captioned_squares(tmp_path / "captioned", n=8, boxed=False)
    yield from _serve_example(tmp_path / "site", tiny_text_run(data, seed=None))


def _canvas(page) -> str:
    return page.evaluate("document.getElementById('canvas').toDataURL()")


def test_page_draws_generated_images(site):
    sync_api = pytest.importorskip("playwright.sync_api")
    requests = []
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p, headless=True)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(site)
            page.wait_for_function("document.body.dataset.rendered >= 1", timeout=60_000)
            assert not errors, errors
            assert "error" not in page.inner_text("#status")
            stats = page.evaluate("""() => {
                const c = document.getElementById('canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let lit = 0, min = 255, max = 0;
                for (let i = 0; i < d.length; i += 4) {
                    if (d[i] > 0) lit++;
                    min = Math.min(min, d[i]); max = Math.max(max, d[i]);
                }
                return {lit, min, max, total: d.length / 4};
            }""")
            assert stats["lit"] > stats["total"] // 4 and stats["max"] > stats["min"], stats
            before = page.evaluate("document.getElementById('canvas').toDataURL()")
            page.click("#new-seed")
            page.wait_for_function("document.body.dataset.rendered >= 2", timeout=30_000)
            assert page.evaluate("document.getElementById('canvas').toDataURL()") != before
            page.fill("#walk", "60")
            page.wait_for_function("document.body.dataset.rendered >= 3", timeout=30_000)
        finally:
            browser.close()
    assert requests and all(u.startswith(site) for u in requests), [u for u in requests if not u.startswith(site)]


def test_page_draws_a_text_run_from_its_prompts(text_site):
    """A text run's page lists the prompts the export carries; another prompt, or walking toward one, redraws."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(text_site)
            page.wait_for_function("document.body.dataset.rendered >= 1", timeout=60_000)
            assert not errors, errors
            assert "error" not in page.inner_text("#status")
            assert page.is_visible("#prompts")
            options = page.eval_on_selector_all("#prompt-a option", "os => os.map(o => o.textContent)")
            assert options == ["a red square", "a green square", "a blue square", "a yellow square"]
            red = _canvas(page)
            page.select_option("#prompt-a", label="a blue square")
            page.wait_for_function("document.body.dataset.rendered >= 2", timeout=30_000)
            blue = _canvas(page)
            assert blue != red
            page.fill("#walk", "100")  # all the way toward the second prompt (green): neither red nor blue
            page.wait_for_function("document.body.dataset.rendered >= 3", timeout=30_000)
            assert _canvas(page) not in (red, blue)
            assert not errors, errors
        finally:
            browser.close()
