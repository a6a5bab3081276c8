"""Studio test fixtures: ``serve``, a real HTTP server for browser tests, ``open_page``, real headless
Chromium on it, ``axe``, axe-core's accessibility check of a page, and ``finish_render``, a render polled to
its end.

Tests take them as fixtures, never by importing this file.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from ganstudio.browser import chromium_path, launch_chromium


@contextlib.contextmanager
def _serve(app) -> Iterator[str]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    try:
        end = time.monotonic() + 20
        while not srv.started and time.monotonic() < end:
            time.sleep(0.05)
        assert srv.started
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        th.join(10)


@pytest.fixture(scope="session")
def serve() -> Callable[..., AbstractContextManager[str]]:
    """``with serve(app) as url:`` runs ``app`` with uvicorn in a thread on a free 127.0.0.1 port, waits until it
    has started, gives its base URL (``http://127.0.0.1:PORT``) and stops it on leaving."""
    return _serve


@contextlib.contextmanager
def _open_page(url: str, **context) -> Iterator[tuple[Any, list[str]]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_context(**context).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/")
        page.wait_for_selector("body[data-ready=true]")
        yield page, errors
        browser.close()


@pytest.fixture(scope="session")
def open_page() -> Callable[..., AbstractContextManager[tuple[Any, list[str]]]]:
    """``with open_page(url, **context) as (page, errors):`` the studio at ``url`` in headless Chromium (a new
    context with Playwright's ``context`` options), once the page is ready; ``errors`` collects its uncaught
    script errors. Skips the test when Playwright or Chromium is missing."""
    pytest.importorskip("playwright.sync_api")
    if chromium_path() is None:
        pytest.skip("chromium not installed (make browser)")
    return _open_page


AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"  # tests/js


def _axe(page) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
        # no fades while axe looks: a toast caught half-faded (opacity .2 s) reads as low colour contrast
        page.add_style_tag(
            content="*, *::before, *::after { transition: none !important; animation: none !important; }"
        )
    res = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, n: v.nodes.length, t: v.nodes[0].target.join(' ')}))"
    )
    return [
        f"{v['id']} ({v['impact']}, {v['n']}x, e.g. {v['t']})" for v in res if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="session")
def axe() -> Callable[[Any], list[str]]:
    """``axe(page) -> list[str]``: axe-core's serious and critical violations on the page, one line each
    ("id (impact, Nx, e.g. selector)"); axe-core comes from npm (``npm install --prefix tests/js``)."""
    return _axe


def _finish_render(client, task: dict, tries: int = 200) -> dict:
    for _ in range(tries):
        task = client.get(f"/api/animations/{task['id']}").json()
        if task["status"] != "running":
            break
        time.sleep(0.05)
    return task


@pytest.fixture(scope="session")
def finish_render() -> Callable[..., dict]:
    """``finish_render(client, task, tries=200) -> task``: an animation render's status (``/api/animations/ID``)
    asked every 0.05 s until it is no longer running, at most ``tries`` times; the last answer."""
    return _finish_render
