"""The gallery in real headless Chromium, served by a plain static server: under the iwer emulator (``?emulate=1``,
loaded from the gallery's own vendor folder) it enters VR, a controller ray selects a work and its panel opens, an
AR session's hit-test places a work on the emulated wall; without WebXR the plain 3D view opens a work's details
by a click; living paintings draw frames from onnxruntime-web; and no request leaves the local server. Needs
Debian's chromium and the playwright package (skipped otherwise; never `playwright install`)."""

from __future__ import annotations

import json
import time

import pytest

from ganstudio.browser import chromium_path, launch_chromium

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make browser)")
G = "window.ganstudioGallery"


def poll(page, expr: str, timeout: float = 30.0):
    """Wait until ``expr`` (evaluated in the page) is truthy; return its value. (Playwright's wait_for_function
    compiles its predicate with eval, which the gallery's Content-Security-Policy rightly forbids.)"""
    end = time.monotonic() + timeout
    while True:
        value = page.evaluate(expr)
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {expr}")
        time.sleep(0.05)


@pytest.fixture
def browser_page(served):
    """(page, requests, errors): a fresh page recording every request's URL and every page error."""
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 600})
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            yield page, requests, errors
        finally:
            browser.close()


def _only_local(requests: list[str], base: str) -> None:
    outside = [u for u in requests if not u.startswith(base)]
    assert requests and not outside, outside


def test_vr_select_opens_the_panel_and_ar_hit_test_places_a_work(browser_page, served, built_gallery):
    page, requests, errors = browser_page
    page.goto(served + "?emulate=1")
    # ready: set up, with the render loop started; firstFrameMs: its first frame drawn (the next animation frame)
    state = json.loads(poll(page, f"{G} && {G}.state.ready && {G}.state.firstFrameMs && JSON.stringify({G}.state)"))
    assert state["emulated"] and state["xr"] == {"vr": True, "ar": True} and state["firstFrameMs"] > 0
    assert page.is_visible("#enter-vr") and page.is_visible("#enter-ar")
    target = state["works"][1]

    page.click("#enter-vr")
    poll(page, f"{G}.state.mode === 'vr'")
    pos = page.evaluate(f"{G}.worldPositionOf('{target}')")
    page.evaluate(f"{G}.device.remote.dispatch('look_at', {{device: 'controller-right', target: {json.dumps(pos)}}})")
    # the next XR frames carry the controller's new pose into the scene; wait until its ray is on the work
    poll(page, f"{G}.pointedAt().some(p => p && p.id === '{target}')")
    page.evaluate(f"{G}.device.remote.dispatch('select', {{device: 'controller-right'}})")
    # the panel is marked open once its variations' textures have loaded (an await after state.panel is set)
    poll(page, f"{G}.state.panel && document.body.dataset.panel === 'open'")
    assert page.evaluate(f"{G}.state.selected") == target
    assert page.evaluate(f"{G}.state.lastRay.hit.id") == target

    page.evaluate(f"{G}.exit()")
    poll(page, f"{G}.state.mode === '3d'")
    page.click("#enter-ar")
    poll(page, f"{G}.state.mode === 'ar' && {G}.state.reticle")  # the emulated room's wall is hit
    page.evaluate(f"{G}.device.remote.dispatch('select', {{device: 'controller-right'}})")
    placed = poll(page, f"{G}.state.placed")
    assert placed["id"] == target and placed["surface"] == "wall"
    # the headset starts at (0, 1.6, 0) looking along -z; the emulated wall is the plane z = -2
    assert placed["position"]["z"] == pytest.approx(-2, abs=1e-4)
    assert placed["position"]["y"] == pytest.approx(1.6, abs=1e-4)
    page.evaluate(f"{G}.exit()")

    frames = poll(page, f"{G}.state.livingFrames >= 3 && {G}.state.livingFrames", timeout=60)
    assert frames >= 3 and page.evaluate(f"{G}.state.livingError") is None
    assert not errors, errors
    _only_local(requests, served)
    assert any(u.endswith("/vendor/iwer/iwer.module.js") for u in requests)
    assert any(u.endswith(".wasm") for u in requests) and any(u.endswith(".onnx") for u in requests)


def test_without_webxr_the_plain_view_opens_details_on_click(browser_page, served):
    page, requests, errors = browser_page
    page.add_init_script("delete Navigator.prototype.xr")  # a browser without WebXR (or not https)
    page.goto(served)
    state = json.loads(poll(page, f"{G} && {G}.state.ready && JSON.stringify({G}.state)"))
    assert not state["emulated"] and state["xr"] == {"vr": False, "ar": False}
    assert not page.is_visible("#enter-vr") and not page.is_visible("#enter-ar")
    assert "WebXR is not available" in page.inner_text("#hint")
    target = state["works"][0]
    page.evaluate(f"{G}.lookAt('{target}')")
    xy = page.evaluate(f"{G}.screenPositionOf('{target}')")
    page.mouse.click(xy["x"], xy["y"])
    poll(page, f"{G}.state.selected === '{target}'")
    assert page.is_visible("#panel")
    assert target in page.inner_text("#panel-details")
    assert page.locator("#panel-variations img").count() == 2
    page.click("#panel-close")
    assert not page.is_visible("#panel")
    assert not errors, errors
    _only_local(requests, served)
    assert not any("iwer" in u for u in requests)  # the emulator loads only when asked for
