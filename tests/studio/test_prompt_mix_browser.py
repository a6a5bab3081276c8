"""Prompt mixes in real headless Chromium, on a tiny run that reads text: the Animate panel adds keyframes from
prompts and its preview walks through the text (each frame's caption says how much of each prompt), and Breed's
children of two prompted pictures show their mixed prompt in the caption and tooltip. axe-core checks both panels.

Needs Debian's chromium (/usr/bin/chromium), the Python playwright package (never `playwright install`) and
axe-core from npm in tests/js/node_modules (`npm install --prefix tests/js`); skipped otherwise."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganstudio.browser import chromium_path, launch_chromium

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"  # tests/js
# a caption between the two prompts, as the page writes it: "63% a red square + 37% a blue box" (either order)
MIX = re.compile(r"^\d+% a (red square|blue box) \+ \d+% a (red square|blue box)$")

pytestmark = [
    pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make browser)"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm install --prefix tests/js)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve, tiny_text_run) -> Iterator[tuple[str, str]]:
    """A studio on a free port over a runs folder with a 2-step tiny text run (16 captioned coloured squares,
    the ``words-64`` text model: no download); (base URL, run name)."""
    from ganstudio.studio import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.mktemp("prompt-mix-browser-cache")))
        root = tmp_path_factory.mktemp("prompt-mix-browser-runs")
        run = tiny_text_run(out=root).name
        with serve(create_app(root)) as url:
            yield url, run


def tab(page, name: str) -> None:
    page.click(f"#tab-{name}")
    page.wait_for_selector(f"#panel-{name}:not([hidden])")


def test_animate_walks_between_prompts_and_breed_keeps_the_mixed_prompt(server, axe):
    base, run = server
    violations: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.wait_for_selector("body[data-ready=true]")
        page.select_option("#run-select", run)

        # Animate: two keyframes from text at one seed; the preview walks through the text
        tab(page, "animate")
        page.wait_for_selector("#anim-text-form:not([hidden])")
        for n, prompt in enumerate(["a red square", "a blue box"], 1):
            page.fill("#anim-text-form input[name=key_prompt]", prompt)
            page.fill("#anim-text-form input[name=key_seed]", "3")
            page.click("#anim-text-add")
            page.wait_for_function(f"document.querySelectorAll('#keys .slot').length === {n}")
        captions = page.locator("#keys .slot .caption").all_text_contents()
        assert captions == ["“a red square”", "“a blue box”"]
        assert page.get_attribute("#keys .slot >> nth=1", "title") == "seed 3, “a blue box”"
        page.fill("#anim-form input[name=frames]", "4")
        page.fill("#anim-form input[name=fps]", "60")
        page.click("#anim-preview")
        page.wait_for_selector("#anim-img:not([hidden])")
        assert page.get_attribute("#anim-img", "data-frames") == "8"
        seen: set[str] = set()  # the caption under the preview follows the frames: keyframes' prompts, then mixes
        end = time.monotonic() + 10
        while time.monotonic() < end and not (
            {"a red square", "a blue box"} <= seen and any(MIX.match(s) for s in seen)
        ):
            seen.add(page.text_content("#anim-frame-text") or "")
            time.sleep(0.005)
        assert {"a red square", "a blue box"} <= {s.strip("“”") for s in seen}, seen
        assert any(MIX.match(s) for s in seen), seen
        violations["animate"] = axe(page)

        # Breed: a red square and a blue box as parents; every child carries both prompts
        tab(page, "create")
        for prompt in ("a red square", "a blue box"):
            page.fill("#create-form input[name=seed]", "3")
            page.fill("#create-form input[name=prompt]", prompt)
            page.click("#generate-btn")
            page.wait_for_function(  # every card of the new grid captioned with the prompt
                "p => { const ls = [...document.querySelectorAll('#create-grid .card .label')];"
                " return ls.length > 0 && ls.length === document.querySelectorAll('#create-grid .card').length"
                " && ls.every(l => l.textContent === p); }",
                arg=f"“{prompt}”",
            )
            page.locator("#create-grid .card .thumb").first.click()
            assert prompt in page.text_content("#viewer-caption")
            page.click("#viewer [data-act=breed]")
            page.click("#viewer [data-act=close]")
        tab(page, "breed")
        assert page.locator("#parents .slot").count() == 2
        page.select_option("#breed-form select[name=mode]", "blend")  # crossover may take every gene from one parent
        page.click("#breed-btn")
        page.wait_for_function("document.querySelectorAll('#children .card').length === 6")
        labels = page.locator("#children .card .label").all_text_contents()
        assert len(labels) == 6 and all(MIX.match(t) for t in labels), labels
        tips = [page.get_attribute(f"#children .card:nth-child({i + 1}) .thumb", "title") for i in range(6)]
        assert all(t and t.startswith("bred of 2, ") and MIX.match(t.removeprefix("bred of 2, ")) for t in tips), tips
        page.locator("#children .card .thumb").first.click()
        assert MIX.search(page.text_content("#viewer-caption").split(" · ")[1].removeprefix("bred of 2, "))
        page.click("#viewer [data-act=close]")
        violations["breed"] = axe(page)
        browser.close()
    assert not errors, errors
    bad = {k: v for k, v in violations.items() if v}
    assert not bad, f"axe found serious/critical accessibility violations: {bad}"
