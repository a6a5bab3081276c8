"""The live page in real headless Chromium: frames arrive and are drawn, the controls move a parameter, and
nothing is fetched from another origin. Needs Debian's chromium and the playwright package (skipped
otherwise; never `playwright install`)."""

from __future__ import annotations

import threading
import time

import pytest

from ganstudio.browser import chromium_path, launch_chromium

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make browser)")


def test_the_live_page_shows_frames_and_moves_a_parameter(make_session):
    from ganstudio.live.mapping import Mapping, ParamOverride
    from ganstudio.live.server import bind_tcp, make_server

    live = make_session(fps=30, mapping=Mapping(params={"truncation": ParamOverride(slew=0.0)})).start()
    sock = bind_tcp("127.0.0.1", 0)
    srv = make_server(live)
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 640, "height": 400}, bypass_csp=True)  # the test evaluates JS
            outside, errors = [], []
            page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else outside.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/")
            page.wait_for_function("Number(document.body.dataset.frames || 0) >= 5", timeout=10_000)
            # the canvas holds a picture, not only the black background
            lit = page.evaluate(
                """() => { const c = document.getElementById('out');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 0) n++; return n; }"""
            )
            assert lit > 1000
            page.keyboard.press("c")  # the controls
            assert page.locator("#negative-row").is_hidden()  # "not" is for runs that read text
            slider = page.locator("#p-truncation")
            slider.fill("0.5")  # the slider's step is 1/1000 of the range
            end = time.monotonic() + 5
            while abs(live.show.state.targets["truncation"] - 0.5) > 2e-3 and time.monotonic() < end:
                time.sleep(0.02)
            assert live.show.state.targets["truncation"] == pytest.approx(0.5, abs=2e-3)
            assert page.locator("#status").inner_text().startswith("frame ")
            browser.close()
        assert outside == [] and errors == []
    finally:
        srv.should_exit = True
        th.join(5)
        sock.close()
