"""A gallery of a run that reads text: its works are drawn from prompts (given, or its own training captions),
each remade from its latent; its living painting's ONNX generator reads the prompts' embeddings, walked by slerp,
and draws frames in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest

from ganstudio import latents as L
from ganstudio import textembed
from ganstudio.browser import chromium_path, launch_chromium
from ganstudio.cli import main
from ganstudio.errors import UserError
from ganstudio.xr import assets, build_gallery
from ganstudio.xr.build import manifest

needs_living = pytest.mark.skipif(
    bool(assets.missing(assets.wanted(living=True, emulator=True))), reason="the gallery's npm packages: make npm"
)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, captioned_squares, tiny_text_run):
    """A retrieving 2-step run that reads text, on 8 one-colour captioned squares."""
    data = captioned_squares(tmp_path_factory.mktemp("captioned"), n=8, boxed=False)
    return tiny_text_run(data, model={"retrieve": True, "retrieve_temperature": 0.02}, seed=None)


@pytest.fixture(scope="module")
def text_gallery(text_run, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    if assets.missing(assets.wanted(living=True, emulator=True)):
        pytest.skip("the gallery's npm packages are missing: make npm")
    out = tmp_path_factory.mktemp("xr") / "gallery"
    return build_gallery([text_run], out, n=3, variations=1, curate=0, prompts=["a red square", "a blue square"])


@needs_living
def test_works_are_drawn_from_the_prompts_and_the_living_painting_reads_them(text_gallery, text_run):
    m = manifest(text_gallery.out)
    (run,) = m["runs"]
    lats = [L.load_latents(text_gallery.out / w["latent"])[0] for w in run["works"]]
    assert [lat.prompt for lat in lats] == ["a red square", "a blue square", "a red square"]
    assert [lat.origin["seed"] for lat in lats] == [0, 1, 2]  # each place its own seed
    assert run["works"][1]["caption"].startswith("“a blue square” · ")  # named by its prompt
    assert ["prompt", "a blue square"] in run["works"][1]["details"]
    assert all(v["latent"] for w in run["works"] for v in w["variations"])
    living = run["living"]
    assert living["condition"] == "text" and living["inputs"] == ["z", "y"]
    red = textembed.embed(["a red square"], "words-64")[0]
    assert np.array_equal(np.asarray(living["classes"][0], np.float32), red)
    # the pictures hung are the ones the prompts draw: remade from their latents
    import ganstudio

    pipe = ganstudio.load(text_run)
    remade = L.render(pipe, lats[:1])
    from PIL import Image

    hung = np.asarray(Image.open(text_gallery.out / run["works"][0]["image"]).convert("RGB"))
    assert np.array_equal(hung, (remade[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


@needs_living
def test_without_prompts_a_text_run_hangs_its_training_captions(text_run, tmp_path):
    pytest.importorskip("onnxruntime")
    import ganstudio

    res = build_gallery([text_run], tmp_path / "g", n=4, variations=0, curate=0, living=False)
    works = manifest(res.out)["runs"][0]["works"]
    prompts = [L.load_latents(res.out / w["latent"])[0].prompt for w in works]
    pipe = ganstudio.load(text_run)
    assert prompts == [pipe.caption_for_seed(s) for s in range(4)]  # each place its seed's caption
    # four seeds in a row: four different captions of the four (red, green, blue, yellow)
    assert sorted(prompts) == sorted(pipe.training_captions())


def test_works_drawn_from_prompts_steered_away_from_words(text_run, tmp_path):
    """``exhibit --prompt ... --negative W``: every work's latent reads its prompt minus the words, named so."""
    res = build_gallery(
        [text_run],
        tmp_path / "g",
        n=2,
        variations=0,
        curate=0,
        living=False,
        prompts=["a red square"],
        negative="green",
    )
    works = manifest(res.out)["runs"][0]["works"]
    lats = [L.load_latents(res.out / w["latent"])[0] for w in works]
    assert [[(p, w < 0) for p, _, w in lat.text_mix] for lat in lats] == [
        [("a red square", False), ("green", True)]
    ] * 2
    assert works[0]["caption"].startswith("“a red square, not green (50%)” · ")
    for kw, message in (({}, "give them"), ({"prompts": ["green"]}, "both the prompt and a negative")):
        with pytest.raises(UserError, match=message):
            build_gallery([text_run], tmp_path / "h", living=False, negative="green", **kw)
    assert not (tmp_path / "h").exists()


def test_prompts_are_refused_in_one_line_before_anything_is_written(text_run, xr_run, tmp_path, capsys):
    with pytest.raises(UserError, match="prompt is empty"):
        build_gallery([text_run], tmp_path / "g", prompts=["  "])
    assert main(["exhibit", str(xr_run), "--xr", "--out", str(tmp_path / "g"), "--prompt", "a cat"]) == 2
    err = capsys.readouterr().err
    assert "no run here reads text" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "g").exists()


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make browser)")
@needs_living
def test_the_text_living_painting_draws_frames_in_chromium(text_gallery):
    import time

    sync_api = pytest.importorskip("playwright.sync_api")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(text_gallery.out))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            expr = "window.ganstudioGallery && (window.ganstudioGallery.state.livingFrames >= 3 || window.ganstudioGallery.state.livingError)"
            end = time.monotonic() + 60
            while not page.evaluate(expr) and time.monotonic() < end:
                time.sleep(0.05)
            state = page.evaluate("window.ganstudioGallery.state")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert state["livingError"] is None and state["livingFrames"] >= 3, state
    assert not errors, errors
