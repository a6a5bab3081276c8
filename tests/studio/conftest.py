"""Studio test fixtures: ``serve``, a real HTTP server for browser tests, and ``open_page``, real headless
Chromium on it.

Tests take them as fixtures, never by importing this file.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import pytest


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


ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARGS += ["--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def _open_page(chromium: str, url: str, **context) -> Iterator[tuple[Any, list[str]]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
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
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed (make browser)")
    return partial(_open_page, chromium)
