"""``ganstudio.browser``: the one way the browser tests and benchmarks start headless Debian Chromium."""

from __future__ import annotations

import sys

import pytest

from ganstudio import browser
from ganstudio.errors import UserError


def test_importing_it_does_not_import_playwright():
    import subprocess

    code = "import sys, ganstudio.browser; print('playwright' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_missing_chromium_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no chromium on the PATH
    monkeypatch.setattr(browser, "DEBIAN_CHROMIUM", str(tmp_path / "chromium"))
    assert browser.chromium_path() is None
    with pytest.raises(UserError, match="make browser") as e:
        browser.launch_chromium(object())  # refused before Playwright is asked for anything
    assert "\n" not in str(e.value)


@pytest.mark.skipif(browser.chromium_path() is None, reason="chromium not installed (make browser)")
def test_it_launches_debians_chromium_headless_with_extra_flags():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = browser.launch_chromium(pw, "--autoplay-policy=no-user-gesture-required")
        try:
            page = b.new_page()
            assert page.evaluate("navigator.webdriver") is True
            assert "Headless" in page.evaluate("navigator.userAgent")
            assert b.version.split(".")[0].isdigit()
        finally:
            b.close()
