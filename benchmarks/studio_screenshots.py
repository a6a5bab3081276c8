"""Screenshots of the studio's panels for docs/screenshots/, from runs that show something real.

    nice -n 10 python benchmarks/studio_screenshots.py [--runs DIR] [--minutes 2] [--out docs/screenshots]

With ``--runs`` it uses the runs there (the newest ``lightweight`` run, else ``dcgan``, else ``mlp``, or
``--gan NAME``; the newest ``pix2pix`` run for the Sketch panel). The shots in docs/screenshots/ were taken
from the 30-minute ``emoji-64`` run of benchmarks/emoji_presets.py and a 3-minute sketch run:

    python benchmarks/studio_screenshots.py --runs /tmp/shots --prompt "a smiling face" --expect "Smileys"

Without ``--runs`` it first trains, each in its own ``ganstudio train`` process:
  - Fashion-MNIST, class-conditional DCGAN (``--preset fashion-mnist``) for ``--minutes``;
  - a Fashion-MNIST sketch -> garment pix2pix run (``--model pix2pix --set data.pairs=sketch``) for
    ``--sketch-minutes`` (for the Sketch panel).
Then it starts the studio on 127.0.0.1, drives headless Chromium (/usr/bin/chromium, Python Playwright)
through every panel and saves one PNG per panel. The browser test (tests/studio/test_browser.py)
checks the same flows on tiny runs; this script only takes the pictures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")  # the Sketch panel's camera


def train(runs: Path, minutes: float, *args: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "ganstudio",
        "train",
        "--data",
        "fashion-mnist",
        "--minutes",
        f"{minutes:g}",
        "--out",
        str(runs),
        "--quiet",
        *args,
    ]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def newest(runs: Path, model: str) -> str | None:
    import json

    for p in sorted(runs.iterdir(), reverse=True):
        try:
            if json.loads((p / "config.json").read_text()).get("model") == model:
                return p.name
        except (OSError, ValueError):
            continue
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default=None, help="a runs folder to use as it is (default: train new runs)")
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--sketch-minutes", type=float, default=1.5)
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--no-prompt", action="store_true", help="skip the text-prompt shot (loads the sentence model)")
    ap.add_argument("--prompt", default="a pair of leather ankle boots", help="the Create panel's text prompt")
    ap.add_argument("--expect", default="ankle boots", help="text the prompt's note must show (its class)")
    ap.add_argument("--gan", default=None, help="the run folder name for the noise-to-image shots (default: newest)")
    a = ap.parse_args(argv)

    runs = Path(a.runs) if a.runs else Path(tempfile.mkdtemp(prefix="studio-shots-"))
    if not a.runs:
        train(runs, a.sketch_minutes, "--model", "pix2pix", "--schedule", "pix2pix", "--set", "data.pairs=sketch")
        train(runs, a.minutes, "--preset", "fashion-mnist")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    import torch
    from playwright.sync_api import sync_playwright
    from studio_server import serve

    from ganstudio.browser import launch_chromium

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    base, srv = serve(runs)
    # the newest colour run first: the docs should show what artists bring, from a really trained run
    gan = a.gan or newest(runs, "lightweight") or newest(runs, "dcgan") or newest(runs, "mlp")
    sketch = newest(runs, "pix2pix")

    with sync_playwright() as pw:
        browser = launch_chromium(pw, *FAKE_CAMERA)
        ctx = browser.new_context(
            viewport={"width": 1280, "height": 860}, permissions=["camera"], bypass_csp=True
        )  # wait_for_function evaluates strings
        page = ctx.new_page()
        page.set_default_timeout(120_000)

        def shot(name: str) -> None:
            time.sleep(0.3)
            page.screenshot(path=str(out / f"{name}.png"))
            print("wrote", out / f"{name}.png", flush=True)

        def tab(name: str) -> None:
            page.click(f"#tab-{name}")
            page.wait_for_selector(f"#panel-{name}:not([hidden])")

        page.goto(base + "/#create")
        page.wait_for_selector("body[data-ready=true]")
        page.select_option("#run-select", gan)
        tab("create")
        page.fill("input[name=seed]", "7")
        page.select_option("select[name=n]", "16")
        page.click("#generate-btn")
        page.wait_for_function("document.querySelectorAll('#create-grid .card').length === 16")
        likes = page.locator("#create-grid .card .acts button[aria-label^=Like]")
        for i in (0, 2, 5, 9):
            if likes.nth(i).get_attribute("aria-pressed") != "true":  # liked in an earlier run of this script
                likes.nth(i).click()
            page.wait_for_selector(f"#create-grid .card:nth-child({i + 1}) button[aria-label^=Like][aria-pressed=true]")
        shot("create")

        page.locator("#create-grid .card .thumb").nth(2).click()
        page.wait_for_selector("#viewer[open]")
        shot("viewer")
        page.click("#viewer [data-act=explore]")
        page.wait_for_selector("#panel-explore:not([hidden]) #direction-list .dir")
        page.wait_for_function("document.querySelector('#explore-img').dataset.seq !== undefined")
        sliders = page.locator("#direction-list input[type=range]")
        sliders.nth(0).fill("2.5")
        sliders.nth(2).fill("-1.5")
        name = page.locator("#direction-list input[type=text]").first
        name.fill("shape")
        name.press("Enter")
        page.wait_for_function("+document.querySelector('#explore-img').dataset.seq === S.seq")
        shot("explore")

        tab("create")
        for i in (0, 5):
            page.locator("#create-grid .card .thumb").nth(i).click()
            page.click("#viewer [data-act=breed]")
            page.click("#viewer [data-act=close]")
        tab("breed")
        page.click("#breed-btn")
        page.wait_for_function("document.querySelectorAll('#children .card').length === 6")
        page.locator("#children button[aria-label='Show lineage']").first.click()
        page.wait_for_selector("#lineage:not([hidden]) .gen img")
        shot("breed")

        tab("favourites")
        page.wait_for_selector("#fav-grid .card")
        shot("favourites")

        tab("animate")
        page.wait_for_selector("#anim-favs button.pick")
        for i in range(3):
            page.locator("#anim-favs button.pick").nth(i).click()
        page.click("#anim-preview")
        page.wait_for_selector("#anim-img:not([hidden])")
        page.click("#anim-render")
        page.wait_for_selector("#anim-download:not([hidden])")
        shot("animate")

        tab("exhibition")
        page.click("#exhibit-start")
        page.wait_for_function("+(document.querySelector('#exhibit-img').dataset.shown || 0) >= 10")
        shot("exhibition")
        page.click("#exhibit-stop")

        tab("train")
        page.wait_for_selector("#train-data option", state="attached")
        shot("train")
        tab("runs")
        page.wait_for_selector("#run-cards .run-card")
        page.wait_for_function("document.querySelector('#loss-summary').textContent.includes('to step')")
        shot("runs")

        if not a.no_prompt:
            tab("create")
            page.fill("input[name=seed]", "")
            page.select_option("select[name=n]", "8")
            page.fill("input[name=prompt]", a.prompt)
            page.click("#generate-btn")
            page.wait_for_function(
                f"document.querySelector('#create-note').textContent.includes({a.expect!r})", timeout=300_000
            )
            shot("create-prompt")
            page.fill("input[name=prompt]", "")

        page.set_viewport_size({"width": 420, "height": 860})
        tab("create")
        shot("create-narrow")
        page.set_viewport_size({"width": 1280, "height": 860})

        if sketch:
            page.select_option("#run-select", sketch)
            page.wait_for_selector("#panel-sketch:not([hidden])")
            page.wait_for_function("document.querySelector('#sketch-hint').textContent.includes('trained on')")
            page.fill("#sketch-size", "14")
            box = page.locator("#sketch-canvas").bounding_box()
            x0, y0 = box["x"], box["y"]
            # a T-shirt outline
            outline = [
                (120, 70),
                (80, 90),
                (50, 150),
                (95, 170),
                (110, 140),
                (110, 320),
                (275, 320),
                (275, 140),
                (290, 170),
                (335, 150),
                (305, 90),
                (265, 70),
                (230, 90),
                (192, 100),
                (155, 90),
                (120, 70),
            ]
            page.mouse.move(x0 + outline[0][0], y0 + outline[0][1])
            page.mouse.down()
            for x, y in outline[1:]:
                page.mouse.move(x0 + x, y0 + y, steps=6)
            page.mouse.up()
            page.wait_for_function("+(document.querySelector('#sketch-out').dataset.seq || -1) === SK.seq")
            shot("sketch")
        ctx.close()
        browser.close()
    srv.should_exit = True
    print("runs:", runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
