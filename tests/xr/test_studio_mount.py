"""``ganstudio studio`` serves galleries built into ``<runs>/galleries/NAME`` at ``/xr/NAME/`` (the route module
``studio.routes.xr``): its files with the right types and a CSP allowing WebAssembly, nothing outside it."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


@pytest.fixture
def client(built_gallery, tmp_path):
    from fastapi.testclient import TestClient

    from ganstudio.studio.app import create_app
    from ganstudio.studio.routes import ROUTERS
    from ganstudio.studio.routes import xr as xr_routes

    assert xr_routes.router in ROUTERS  # the studio serves galleries without any extra step
    runs = tmp_path / "runs"
    shutil.copytree(built_gallery.out, runs / "galleries" / "show")
    app = create_app(runs)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        yield c


def test_the_studio_serves_a_gallery_with_a_csp_that_allows_webassembly(client):
    assert client.get("/api/xr").json() == {"galleries": [{"name": "show", "url": "/xr/show/"}]}
    r = client.get("/xr/show", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/xr/show/"
    page = client.get("/xr/show/")
    assert page.status_code == 200 and "gallery.js" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp and "default-src 'self'" in csp
    assert client.get("/xr/show/gallery.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/xr/show/vendor/ort/ort-wasm-simd-threaded.wasm").headers["content-type"] == "application/wasm"
    assert client.get("/xr/show/gallery.json").json()["format"] == "ganstudio.xr-gallery/1"


def test_nothing_outside_a_gallery_is_served(client):
    assert client.get("/xr/show/../../galleries/show/index.html").status_code == 404
    assert client.get("/xr/show/%2e%2e/%2e%2e/.studio/studio.sqlite3").status_code == 404
    assert client.get("/xr/nope/").status_code == 404
    assert client.get("/xr/show/missing.js").status_code == 404


def test_a_gallery_served_by_the_studio_runs_its_living_painting_in_chromium(built_gallery, tmp_path):
    """Under the studio's headers (its CSP as a header, not only the page's meta tag) the worker still compiles
    onnxruntime-web's WebAssembly and the emulated headset still loads."""
    import socket
    import threading
    import time

    sync_api = pytest.importorskip("playwright.sync_api")
    uvicorn = pytest.importorskip("uvicorn")
    from ganstudio.browser import chromium_path, launch_chromium

    if chromium_path() is None:
        pytest.skip("chromium not installed (make browser)")
    from ganstudio.studio.app import create_app

    runs = tmp_path / "runs"
    shutil.copytree(built_gallery.out, runs / "galleries" / "show")
    app = create_app(runs)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    th = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/xr/show/"
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "?emulate=1")
            end = time.monotonic() + 60
            expr = "window.ganstudioGallery && (window.ganstudioGallery.state.livingFrames >= 2 || window.ganstudioGallery.state.livingError)"
            while not page.evaluate(expr) and time.monotonic() < end:
                time.sleep(0.05)
            state = page.evaluate("window.ganstudioGallery.state")
            browser.close()
        assert state["livingError"] is None and state["livingFrames"] >= 2 and state["xr"]["vr"], state
        assert not errors, errors
        origin = base.split("/xr/")[0] + "/"
        assert requests and all(u.startswith(origin) for u in requests)
    finally:
        server.should_exit = True
        th.join(5)
        sock.close()
