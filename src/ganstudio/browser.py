"""Headless Chromium for the browser checks (tests, benchmarks): Debian's ``chromium``, never a browser that
Playwright downloads, launched with one set of flags that keep it quiet (no sandbox, GPU, background
networking, component updates, sync or first-run pages).

Playwright is not imported here: the caller passes its own ``sync_playwright()`` object to
``launch_chromium``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .errors import UserError

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DEBIAN_CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> str | None:
    """Debian's Chromium: ``chromium`` on the PATH, else /usr/bin/chromium; None when neither is there."""
    return shutil.which("chromium") or (DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).exists() else None)


def launch_chromium(playwright: Any, *extra_args: str, **kw: Any) -> Any:
    """``playwright.chromium.launch`` on Debian's Chromium with ``CHROMIUM_ARGS`` (then ``extra_args``) and
    Playwright's other launch options ``kw``; a one-line ``UserError`` when Chromium is not installed."""
    path = chromium_path()
    if path is None:
        raise UserError("chromium not found: install Debian's chromium (`make browser`, or apt-get install chromium)")
    return playwright.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, *extra_args], **kw)
