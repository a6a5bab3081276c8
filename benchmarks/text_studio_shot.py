"""The studio's Create panel on a run that reads text, for docs/screenshots/create-text.png.

    python benchmarks/text_studio_shot.py --runs RUNS_DIR --run 00001-lightweight-emoji

Starts the studio on 127.0.0.1 (``studio_server.serve``), picks the text run in headless Debian Chromium (Python
Playwright), types a paraphrase the run never trained on, sets "Closer to what it knows" (the anchor) and takes the
shot once the note names the training captions the prompt was pulled toward (and, for a retrieving run, the training
picture it is drawn over). The shot in docs/screenshots/ is the ``emoji-text-64`` preset at 1,800 steps, seed 0, of
benchmarks/text_README.md ("Session 19"). With ``--over PICTURE --anchor 0`` it chooses that picture under "Over my
picture" instead (docs/screenshots/create-over.png: scikit-image's astronaut under four prompts, ``--prompt "a red heart | a green
apple | a blue car | a purple flower" --n 4 --width 800 --height 1500``); with ``--negative WORDS`` it types them
under "Not" (docs/screenshots/create-negative.png: ``--prompt "a car | a leaf" --negative red --negative-weight 1
--anchor 0``, the ``emoji-text`` run of session 21). The browser test
(tests/studio/test_create_text.py) checks the same flow on a tiny run; this script only takes the picture.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True, help="the runs folder holding the text run")
    ap.add_argument("--run", required=True, help="the text run's folder name")
    ap.add_argument("--prompt", default="a crimson apple")
    ap.add_argument("--anchor", default="0.5")
    ap.add_argument("--over", default=None, help="a picture to draw the prompt over (a run that retrieves)")
    ap.add_argument("--negative", default=None, help="words to steer the prompt away from (the panel's Not)")
    ap.add_argument("--negative-weight", default="0.5", help="how far from them (the panel's How far from it)")
    ap.add_argument("--n", default="8", help="pictures per prompt (the panel's choices: 4, 8, 16, ...)")
    ap.add_argument("--width", type=int, default=1280, help="the window's width (narrower: fewer pictures a row)")
    ap.add_argument("--height", type=int, default=860)
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "create-text.png"))
    a = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright
    from studio_server import serve

    from ganstudio.browser import launch_chromium

    base, srv = serve(Path(a.runs))
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_context(viewport={"width": a.width, "height": a.height}, bypass_csp=True).new_page()
            page.set_default_timeout(120_000)
            page.goto(base + "/#create")
            page.wait_for_selector("body[data-ready=true]")
            page.select_option("#run-select", a.run)
            page.wait_for_function("document.querySelector('#prompt-label').textContent === 'Describe the picture'")
            page.fill("input[name=seed]", "0")
            page.select_option("select[name=n]", a.n)
            page.fill("input[name=prompt]", a.prompt)
            page.fill("input[name=anchor]", a.anchor)
            if a.over:
                page.set_input_files("input[name=over]", a.over)
                page.wait_for_selector("#over-preview", state="visible")
            if a.negative:
                page.fill("input[name=negative]", a.negative)
                page.fill("input[name=negative_weight]", a.negative_weight)
            page.click("#generate-btn")
            done = "over your picture" if a.over else "steered away" if a.negative else "anchored"
            page.wait_for_function(f"document.querySelector('#create-note').textContent.includes('{done}')")
            time.sleep(0.3)
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=a.out)
            print("wrote", a.out)
            browser.close()
    finally:
        srv.should_exit = True
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
