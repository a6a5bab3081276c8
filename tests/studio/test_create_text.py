"""The Create panel with a run that reads text: the run listing says so, and a prompt posted to
/api/generate conditions the generator itself (the prompt is kept in each picture's latent), while a
class-conditional run keeps mapping prompts to classes (tests/studio/test_api.py)."""

from __future__ import annotations

import base64
import dataclasses
import io
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from ganstudio.studio import create_app
from ganstudio.training import train

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_config, tiny_text_run) -> Iterator[tuple[TestClient, str, str]]:
    """A runs folder with a 2-step tiny text run (16 captioned coloured squares, the ``words-64`` text
    model: no download) and a 2-step class-conditional run; (client, text run, class run)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.mktemp("create-text-cache")))
        root = tmp_path_factory.mktemp("studio-text-runs")
        text_run = tiny_text_run(out=root).name
        class_run = train(
            dataclasses.replace(tiny_config(steps=2, threads=1), conditional=True), out=root, progress=False
        ).name
        yield TestClient(create_app(root), base_url=BASE), text_run, class_run
    torch.set_num_threads(before)


def test_run_listing_says_which_runs_read_text(studio):
    c, text_run, class_run = studio
    runs = {r["name"]: r for r in c.get("/api/runs").json()}
    assert runs[text_run]["reads_text"] is True
    assert runs[text_run]["prompt_mode"].startswith("this run reads text")
    assert runs[class_run]["reads_text"] is False
    assert runs[class_run]["prompt_mode"].startswith("this run does not read text")
    assert c.get(f"/api/runs/{text_run}").json()["reads_text"] is True
    page = c.get("/").text  # the Create panel's text box and its prompt-mode line, filled by panels/create.js
    assert 'id="prompt-label"' in page and 'id="prompt-mode"' in page


def generate(c: TestClient, run: str, prompt: str, seed: int = 3) -> list[dict]:
    r = c.post("/api/generate", json={"run": run, "n": 2, "seed": seed, "prompt": prompt})
    assert r.status_code == 200, r.text
    return r.json()["images"]


def test_a_prompt_conditions_a_text_run_and_is_kept_in_the_latents(studio):
    c, text_run, _ = studio
    red = generate(c, text_run, "a red square")
    assert all(p["latent"]["prompt"] == "a red square" and p["latent"]["text_hash"] for p in red)
    assert all(p["latent"].get("classes") is None for p in red)
    again = generate(c, text_run, "a red square")
    assert [p["image"] for p in again] == [p["image"] for p in red]  # same prompt + seed: the same pixels
    assert [p["latent"]["z"] for p in again] == [p["latent"]["z"] for p in red]
    blue = generate(c, text_run, "a blue box")
    assert [p["latent"]["z"] for p in blue] == [p["latent"]["z"] for p in red]  # same seeds, same noise...
    assert all(b["image"] != r["image"] for b, r in zip(blue, red, strict=True))  # ...other text, other pictures
    assert blue[0]["latent"]["text_hash"] != red[0]["latent"]["text_hash"]


def test_a_text_runs_latent_remakes_its_picture(studio):
    """The latent JSON is the picture's provenance: rendering it again gives the same PNG."""
    c, text_run, _ = studio
    (pic,) = generate(c, text_run, "a green square")[:1]
    r = c.post("/api/render", json={"run": text_run, "latent": pic["latent"], "size": 0})
    assert r.status_code == 200, r.text
    assert b"a green square" in r.content  # the latent JSON embedded in the download names its prompt
    shown = Image.open(io.BytesIO(base64.b64decode(pic["image"].split(",", 1)[1])))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.content))), np.asarray(shown))


def test_without_text_a_text_run_draws_its_own_training_captions_by_seed(studio):
    c, text_run, _ = studio
    r = c.post("/api/generate", json={"run": text_run, "n": 3, "seed": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    prompts = [p["latent"]["prompt"] for p in body["images"]]
    assert all(p and p.strip() for p in prompts) and len(set(prompts)) == 3  # one caption per seed, never empty
    assert body["note"].startswith("no text given: its own training captions")
    assert f"“{prompts[0]}”" in body["note"]
    again = generate(c, text_run, prompts[1], seed=6)  # seed 6 drew that caption: the same picture as asking for it
    assert again[0]["image"] == body["images"][1]["image"]


def test_text_run_prompt_refusals_are_clear(studio):
    c, text_run, _ = studio
    both = c.post("/api/generate", json={"run": text_run, "n": 2, "prompt": "a red square", "class": 0})
    assert both.status_code in (400, 422) and "not both" in both.text


def test_create_panel_labels_the_text_box_by_what_the_run_does(studio, serve, open_page):
    """In real headless Chromium: the text run's box asks for a description and its prompt draws pictures;
    the class run's box stays a text prompt; the line under the form is the run's prompt mode."""
    c, text_run, class_run = studio
    # bypass_csp: the test itself evaluates JS
    with serve(c.app) as url, open_page(url, bypass_csp=True) as (page, errors):
        page.select_option("#run-select", text_run)
        page.wait_for_function("document.querySelector('#prompt-label').textContent === 'Describe the picture'")
        assert page.text_content("#prompt-mode").startswith("this run reads text")
        page.fill("input[name=seed]", "3")
        page.fill("input[name=prompt]", "a red square")
        page.click("#generate-btn")
        page.wait_for_function("document.querySelector('#create-note').textContent.includes('drawn from the text')")
        assert page.locator("#create-grid .card").count() == 8
        assert page.is_visible("#anchor-label")  # "closer to what it knows": only for runs that read text
        page.fill("input[name=anchor]", "0.5")
        page.wait_for_function("document.querySelector('output[name=anchor-out]').textContent === '0.50'")
        page.click("#generate-btn")
        page.wait_for_function("document.querySelector('#create-note').textContent.includes('anchored 0.5 toward')")
        page.select_option("#run-select", class_run)
        page.wait_for_function("document.querySelector('#prompt-label').textContent === 'Text prompt'")
        assert page.text_content("#prompt-mode").startswith("this run does not read text")
        assert not page.is_visible("#anchor-label")
        assert errors == []


def test_a_retrieving_runs_note_names_the_training_picture_it_draws_over(tmp_path, tiny_text_run, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = tiny_text_run(out=tmp_path / "runs", model={"retrieve": True, "retrieve_temperature": 0.02})
        c = TestClient(create_app(tmp_path / "runs"), base_url=BASE)
        r = c.post("/api/generate", json={"run": run.name, "n": 1, "seed": 0, "prompt": "a red square"})
        assert r.status_code == 200, r.text
        assert "over the training picture of “a red square”" in r.json()["note"]  # another red square's caption
    finally:
        torch.set_num_threads(before)


def test_prompts_separated_by_bars_make_a_sheet_from_the_same_seeds(studio):
    """ "a | b" in the text box: n pictures of each prompt, in turn, from the same seeds (``generate --prompt a
    --prompt b``); an empty prompt between bars, or more pictures than one request may ask, is refused in one line."""
    c, text_run, _ = studio
    r = c.post("/api/generate", json={"run": text_run, "n": 2, "seed": 11, "prompt": "a red square | a blue square"})
    assert r.json()["note"] == "“a red square”, “a blue square”: drawn from the text"  # said once for the sheet
    sheet = r.json()["images"]
    assert [im["latent"]["prompt"] for im in sheet] == ["a red square"] * 2 + ["a blue square"] * 2
    assert [im["latent"]["z"] for im in sheet[:2]] == [im["latent"]["z"] for im in sheet[2:]]
    # each row is what its prompt draws alone
    assert [im["image"] for im in sheet[2:]] == [im["image"] for im in generate(c, text_run, "a blue square", seed=11)]
    for prompt, message in (("a red square | ", "is empty"), (" | ".join(["red"] * 33), "more than 64")):
        r = c.post("/api/generate", json={"run": text_run, "n": 2, "seed": 1, "prompt": prompt})
        assert r.status_code == 400 and message in r.json()["detail"]


def test_a_retrieving_run_draws_a_prompt_over_the_users_picture(tmp_path, tiny_text_run, serve, open_page, monkeypatch):
    """Create's "Over my picture": the picture posted with the prompt is what G draws over (kept in each latent, so
    the download remakes it); refused in one line without a prompt or by a run that cannot draw over one; in real
    Chromium the file input appears only for such a run and its picture reaches the request."""
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = tiny_text_run(out=tmp_path / "runs", model={"retrieve": True}).name
        plain = tiny_text_run(out=tmp_path / "runs").name
        c = TestClient(create_app(tmp_path / "runs"), base_url=BASE)
        listing = {r["name"]: r for r in c.get("/api/runs").json()}
        assert listing[run]["draws_over"] is True and listing[plain]["draws_over"] is False
        photo = tmp_path / "photo.png"
        Image.new("RGB", (30, 20), (20, 180, 40)).save(photo)
        url = "data:image/png;base64," + base64.b64encode(photo.read_bytes()).decode()
        body = {"run": run, "n": 2, "seed": 1, "prompt": "a red square", "over": url}
        r = c.post("/api/generate", json=body)
        assert r.status_code == 200, r.text
        pics = r.json()["images"]
        assert ", over your picture" in r.json()["note"]
        assert all(p["latent"]["over"].startswith("data:image/png;base64,") for p in pics)
        part = c.post("/api/generate", json={**body, "over_strength": 0.5}).json()
        assert "over your picture (0.5 of it)" in part["note"] and part["images"][0]["latent"]["over_strength"] == 0.5
        own = c.post("/api/generate", json={**body, "over": None}).json()["images"]
        assert "over" not in own[0]["latent"] and own[0]["latent"]["id"] != pics[0]["latent"]["id"]
        down = c.post("/api/render", json={"run": run, "latent": pics[0]["latent"], "size": 0})
        assert down.status_code == 200, down.text
        shown = Image.open(io.BytesIO(base64.b64decode(pics[0]["image"].split(",", 1)[1])))
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(down.content))), np.asarray(shown))
        broken = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n not a picture").decode()
        for b, message in (
            ({**body, "prompt": None}, "describe what to draw over"),
            ({**body, "run": plain}, "does not draw over"),
            ({**body, "over": broken}, "the picture to draw over is not a readable picture"),
        ):
            bad = c.post("/api/generate", json=b)
            assert bad.status_code == 400 and message in bad.json()["detail"]
        with serve(c.app) as base, open_page(base, bypass_csp=True) as (page, errors):
            page.select_option("#run-select", plain)
            page.wait_for_function("document.querySelector('#prompt-label').textContent === 'Describe the picture'")
            assert not page.is_visible("#over-label")
            page.select_option("#run-select", run)
            page.wait_for_selector("#over-label", state="visible")
            page.set_input_files("input[name=over]", str(photo))
            page.wait_for_selector("#over-preview", state="visible")  # the picture has been read, and is shown
            assert page.is_visible("#over-strength-label")  # "how much of my picture": only with a picture
            page.fill("input[name=seed]", "1")
            page.fill("input[name=prompt]", "a red square")
            page.click("#generate-btn")
            page.wait_for_function("document.querySelector('#create-note').textContent.includes('over your picture')")
            page.click("#over-clear")
            assert not page.is_visible("#over-preview") and not page.is_visible("#over-strength-label")
            page.click("#generate-btn")
            page.wait_for_function("!document.querySelector('#create-note').textContent.includes('over your picture')")
            assert errors == []
    finally:
        torch.set_num_threads(before)


def test_not_steers_a_text_runs_description_away_from_words(studio, serve, open_page):
    """Create's "Not" (a negative prompt): the latents read the description minus the words at the chosen weight
    (kept, so the download remakes it); refused in one line without a description or by a class run; in real
    Chromium the field shows for a text run only and its weight slider once words are typed."""
    c, text_run, class_run = studio
    body = {"run": text_run, "n": 2, "seed": 7, "prompt": "a red square", "negative": "red", "negative_weight": 0.3}
    r = c.post("/api/generate", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["note"].startswith("“a red square”: drawn from the text, steered away from “red” (0.3)")
    lat = r.json()["images"][0]["latent"]
    assert lat.get("prompt") is None and [m[0] for m in lat["text_mix"]] == ["a red square", "red"]
    assert lat["text_mix"][1][2] == pytest.approx(-0.3 * lat["text_mix"][0][2])
    plain = generate(c, text_run, "a red square", seed=7)
    assert [im["image"] for im in plain] != [im["image"] for im in r.json()["images"]]
    again = c.post("/api/render", json={"run": text_run, "latent": lat, "size": 0})  # its download, from the latent
    assert again.status_code == 200 and again.content.startswith(b"\x89PNG")
    for bad, message in (
        ({**body, "prompt": None}, "describe the picture too"),
        ({**body, "run": class_run}, "maps words to its classes"),
    ):
        r = c.post("/api/generate", json=bad)
        assert r.status_code == 400 and message in r.json()["detail"]
    with serve(c.app) as url, open_page(url, bypass_csp=True) as (page, errors):  # the test evaluates JS
        page.select_option("#run-select", text_run)
        page.wait_for_function("document.querySelector('#prompt-label').textContent === 'Describe the picture'")
        assert page.is_visible("#negative-label") and not page.is_visible("#negative-weight-label")
        page.fill("input[name=seed]", "7")
        page.fill("input[name=prompt]", "a red square")
        page.fill("input[name=negative]", "red")
        assert page.is_visible("#negative-weight-label")
        page.click("#generate-btn")
        page.wait_for_function("document.querySelector('#create-note').textContent.includes('steered away from')")
        # each card names its text as the library does (latents.Latent.text_label): the weight against the prompt's
        assert page.get_attribute("#create-grid .card .thumb", "title") == "seed 7, a red square, not red (50%)"
        page.select_option("#run-select", class_run)
        page.wait_for_function("document.querySelector('#prompt-label').textContent === 'Text prompt'")
        assert not page.is_visible("#negative-label") and not page.is_visible("#negative-weight-label")
        assert errors == []
