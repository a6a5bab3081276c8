"""Latents between prompts in the studio (issue 15): keyframes drawn from text, a walk between two prompts whose
frames keep a ``text_mix`` (the prompts' embeddings slerped, as ``ganstudio animate RUN --prompts`` does) and
remake exactly when posted back, children of prompted parents that keep the mixed prompt, and the request
model's bounds on ``text_mix``. A real tiny run that reads text (the ``words-64`` text model: no download)."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ganstudio import latents as L
from ganstudio.creative import animate as A
from ganstudio.creative import interpolate as I
from ganstudio.media import to_pils
from ganstudio.pipeline import load
from ganstudio.studio import create_app
from ganstudio.training import train

BASE = "http://127.0.0.1"
PROMPTS = ["a red square", "a blue box"]
FPK = 4  # frames per keyframe of the preview: frame 0 is the first prompt, 4 the second, the rest in between


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_text_run) -> Iterator[tuple[TestClient, Path, str]]:
    """(client, runs folder, text run)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.mktemp("prompt-mix-cache")))
        root = tmp_path_factory.mktemp("prompt-mix-runs")
        run = tiny_text_run(out=root).name
        yield TestClient(create_app(root), base_url=BASE), root, run


def pixels(data_url_or_png: str | bytes) -> np.ndarray:
    raw = base64.b64decode(data_url_or_png.split(",", 1)[1]) if isinstance(data_url_or_png, str) else data_url_or_png
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")).astype(int)


def ok(r):
    assert r.status_code == 200, r.text
    return r.json()


def keyframes(c: TestClient, run: str, seed: int = 3) -> list[dict]:
    return ok(c.post("/api/animate/keys", json={"run": run, "prompts": PROMPTS, "seed": seed}))["images"]


def remake(c: TestClient, run: str, latent: dict) -> np.ndarray:
    r = c.post("/api/render", json={"run": run, "latent": latent, "size": 0})
    assert r.status_code == 200, r.text
    return pixels(r.content)


def test_keyframes_from_text_are_the_clis(studio):
    """/api/animate/keys draws one keyframe per prompt at one seed's noise, as `animate --prompts --seed` does."""
    c, root, run = studio
    keys = keyframes(c, run)
    assert [k["latent"]["prompt"] for k in keys] == PROMPTS
    assert keys[0]["latent"]["z"] == keys[1]["latent"]["z"]  # the same noise: only the text changes
    assert keys[0]["latent"]["text_hash"] != keys[1]["latent"]["text_hash"]
    pipe = load(root / run, device="cpu")
    cli = A.prompt_keyframes(pipe, PROMPTS, (), 3)
    assert [k["latent"]["z"] for k in keys] == [list(k.z) for k in cli]
    assert [k["latent"]["text_hash"] for k in keys] == [k.text_hash for k in cli]
    for k in keys:  # each keyframe's picture is its latent's
        assert np.array_equal(remake(c, run, k["latent"]), pixels(k["image"]))


def test_keyframes_from_text_can_be_steered_away_from_words(studio):
    """Animate's "Not" beside "Keyframe from text": the keyframes of `animate --prompts ... --negative W`."""
    c, root, run = studio
    body = {"run": run, "prompts": PROMPTS, "seed": 3, "negative": "  red ", "negative_weight": 0.4}
    keys = ok(c.post("/api/animate/keys", json=body))["images"]
    cli = A.prompt_keyframes(load(root / run, device="cpu"), PROMPTS, (), 3, negative="red", negative_weight=0.4)
    assert [k["latent"]["text_mix"] for k in keys] == [[list(m) for m in k.text_mix] for k in cli]
    assert all(k["latent"]["text_mix"][1][0] == "red" and k["latent"]["text_mix"][1][2] < 0 for k in keys)
    for k in keys:
        assert np.array_equal(remake(c, run, k["latent"]), pixels(k["image"]))
    assert (
        ok(c.post("/api/animate/keys", json={**body, "negative": " "}))["images"][0]["latent"]["prompt"] == PROMPTS[0]
    )
    bad = c.post("/api/animate/keys", json={**body, "negative": PROMPTS[0]})
    assert bad.status_code == 400 and "both the prompt and a negative" in bad.json()["detail"]


def test_a_walk_between_two_prompts_moves_through_the_text_and_each_frame_remakes_exactly(studio):
    c, root, run = studio
    keys = keyframes(c, run)
    walk = ok(
        c.post(
            "/api/animate/preview",
            json={"run": run, "keys": [k["latent"] for k in keys], "frames_per_key": FPK},
        )
    )
    lats = walk["latents"]
    assert len(lats) == len(walk["frames"]) == 2 * FPK
    assert lats[0]["prompt"] == PROMPTS[0] and lats[FPK]["prompt"] == PROMPTS[1]  # the keyframes themselves
    between = [i for i in range(2 * FPK) if i % FPK]
    for i in between:
        assert "prompt" not in lats[i]
        assert [m[:2] for m in lats[i]["text_mix"]] in (
            [[PROMPTS[0], keys[0]["latent"]["text_hash"]], [PROMPTS[1], keys[1]["latent"]["text_hash"]]],
            [[PROMPTS[1], keys[1]["latent"]["text_hash"]], [PROMPTS[0], keys[0]["latent"]["text_hash"]]],
        )
    # the text is slerped (the CLI's walk, exactly), not drawn on the straight line between the embeddings
    pipe = load(root / run, device="cpu")
    key_lats = [L.Latent.from_dict(k["latent"]) for k in keys]
    cli = I.path(key_lats, 2 * FPK, loop=True, easing="cosine", text_embed=A.text_embed_of(pipe))
    straight = I.path(key_lats, 2 * FPK, loop=True, easing="cosine")
    for i in between:
        assert lats[i]["text_mix"] == [list(m) for m in cli[i].text_mix]
        assert lats[i]["text_mix"] != [list(m) for m in straight[i].text_mix]
    middle = lats[FPK // 2]["text_mix"]  # halfway: equal weights, each above 1/2 (slerp keeps the length at 1)
    assert middle[0][2] == pytest.approx(middle[1][2]) and middle[0][2] > 0.5
    assert float(L.mix_embedding(pipe, [tuple(m) for m in middle]).norm()) == pytest.approx(1.0, abs=1e-5)
    # the text moves the pictures: frames between the prompts differ from both keyframes
    shown = [pixels(f) for f in walk["frames"]]
    assert not np.array_equal(shown[1], shown[0]) and not np.array_equal(shown[FPK - 1], shown[FPK])
    # round trip: every frame's latent JSON posted back remakes the picture (the remake renders one row at a time,
    # the preview in a batch: at most the last bit of a channel may differ), and the CLI's `--from` the same PNG
    for i in between[:3]:
        again = remake(c, run, lats[i])
        assert np.abs(again - shown[i]).max() <= 1
        cli_px = np.asarray(to_pils(L.render(pipe, [L.Latent.from_dict(lats[i])]))[0].convert("RGB")).astype(int)
        assert np.array_equal(again, cli_px)


def test_a_mixed_latent_is_checked_like_any_other(studio):
    """A text_mix is part of the latent's id; bad mixes are refused before anything is rendered."""
    c, _, run = studio
    keys = keyframes(c, run)
    lat = ok(
        c.post("/api/animate/preview", json={"run": run, "keys": [k["latent"] for k in keys], "frames_per_key": 2})
    )["latents"][1]
    assert len(lat["text_mix"]) == 2
    exp = ok(c.post("/api/explore", json={"run": run, "latent": lat}))  # the other panels take it too
    assert exp["latent"]["text_mix"] == lat["text_mix"] and exp["id"] == lat["id"]
    assert ok(c.post("/api/rate", json={"run": run, "latent": lat, "value": 1}))["id"] == lat["id"]
    changed = {**lat, "text_mix": [[p, h, w * 0.5] for p, h, w in lat["text_mix"]]}
    r = c.post("/api/render", json={"run": run, "latent": changed, "size": 0})
    assert r.status_code == 400 and "does not match its content" in r.json()["detail"]
    bad = {
        "too many parts": [[f"p{i}", lat["text_mix"][0][1], 0.1] for i in range(17)],
        "a prompt too long": [["x" * 201, lat["text_mix"][0][1], 0.5], lat["text_mix"][1]],
        "a bad hash": [[PROMPTS[0], "XYZ", 0.5], lat["text_mix"][1]],
        "a weight that is not a number": [[PROMPTS[0], lat["text_mix"][0][1], "heavy"], lat["text_mix"][1]],
        "one part only": lat["text_mix"][:1],
    }
    for why, mix in bad.items():
        r = c.post("/api/render", json={"run": run, "latent": {**lat, "id": None, "text_mix": mix}, "size": 0})
        assert r.status_code == 422, why
    both = {**lat, "id": None, "prompt": PROMPTS[0], "text_hash": keys[0]["latent"]["text_hash"]}
    r = c.post("/api/render", json={"run": run, "latent": both, "size": 0})
    assert r.status_code == 422 and "not both" in r.text
    wrong_hash = {**lat, "id": None, "text_mix": [[PROMPTS[0], "0" * 16, 0.6], lat["text_mix"][1]]}
    r = c.post("/api/render", json={"run": run, "latent": wrong_hash, "size": 0})
    assert r.status_code == 400 and "0000000000000000" in r.json()["detail"]  # the text model's check, named


def test_children_of_prompted_pictures_keep_the_mixed_prompt(studio):
    c, root, run = studio
    keys = keyframes(c, run)
    kids = ok(
        c.post(
            "/api/breed",
            json={"run": run, "parents": [k["latent"] for k in keys], "n": 4, "mode": "blend", "seed": 1},
        )
    )["images"]
    pipe = load(root / run, device="cpu")
    for kid in kids:
        lat = kid["latent"]
        assert {m[0] for m in lat["text_mix"]} == set(PROMPTS)
        # the parents' embeddings were given to breed: the child's text keeps unit length, like every caption's
        e = L.mix_embedding(pipe, [tuple(m) for m in lat["text_mix"]])
        assert float(e.norm()) == pytest.approx(1.0, abs=1e-5)
        assert np.array_equal(remake(c, run, lat), pixels(kid["image"]))  # children remake exactly
    lineage = ok(c.get(f"/api/lineage/{kids[0]['id']}"))["nodes"]
    assert {n["id"] for n in lineage} >= {kids[0]["id"], *(k["latent"]["id"] for k in keys)}


def test_a_rendered_walk_between_prompts_saves_mixed_latents(studio):
    """The Render button's loop (creative_bridge.loop_path) slerps the text too; its latents file says so."""
    c, root, run = studio
    keys = keyframes(c, run)
    t = ok(
        c.post(
            "/api/animations",
            json={"run": run, "keys": [k["latent"] for k in keys], "frames_per_key": 2, "size": 32, "fps": 4},
        )
    )
    end = time.monotonic() + 20
    while t["status"] == "running" and time.monotonic() < end:
        time.sleep(0.1)
        t = ok(c.get(f"/api/animations/{t['id']}"))
    assert t["status"] == "done", t
    video, _ = c.app.state.studio.animations.file(t["id"])
    lats = L.load_latents(A.latents_path(video))
    assert [lat.prompt for lat in lats[::2]] == PROMPTS
    pipe = load(root / run, device="cpu")
    cli = I.path([L.Latent.from_dict(k["latent"]) for k in keys], 4, loop=True, text_embed=A.text_embed_of(pipe))
    assert [lat.text_mix for lat in lats] == [lat.text_mix for lat in cli] and lats[1].text_mix


def test_walk_endpoint_returns_each_frames_latent(studio):
    c, _, run = studio
    keys = keyframes(c, run)
    r = ok(c.post("/api/walk", json={"run": run, "keys": [k["latent"] for k in keys], "t0": 0, "dt": 0.25, "count": 4}))
    assert len(r["latents"]) == 4 and r["latents"][0]["prompt"] == PROMPTS[0]
    assert all(len(lat["text_mix"]) == 2 for lat in r["latents"][1:])
    preview = ok(
        c.post("/api/animate/preview", json={"run": run, "keys": [k["latent"] for k in keys], "frames_per_key": 4})
    )
    assert r["latents"][2] == preview["latents"][2]  # t = 0.5 on both: the same latent


def number_words(texts):
    """A stand-in for the sentence model: a bag of number words, a digit counting as its word (the digits run's
    class names are "0" to "9")."""
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    out = np.zeros((len(texts), len(words) + 1), np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            w = words[int(w)] if w.isdigit() and len(w) == 1 else w
            if w in words:
                out[i, words.index(w)] += 1
        out[i, -1] = 0.05
    return out


def test_keyframes_from_text_on_a_class_run_pick_the_nearest_class(tmp_path, tiny_config, monkeypatch):
    """A run that does not read text maps each prompt to its nearest class, as `animate --prompts` does; without the
    sentence model the studio answers with the install hint, before anything is drawn."""
    import dataclasses

    from ganstudio.studio import creative_bridge as cb

    train(dataclasses.replace(tiny_config(steps=2, threads=1), conditional=True), out=tmp_path, progress=False)
    run = next(p.name for p in tmp_path.iterdir() if p.name[0].isdigit())
    c = TestClient(create_app(tmp_path), base_url=BASE)
    monkeypatch.setattr(cb, "EMBEDDER", None)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)  # as if the `text` extra were missing
    r = c.post("/api/animate/keys", json={"run": run, "prompts": ["seven", "two"]})
    assert r.status_code == 400 and "pip install 'ganstudio[text]'" in r.json()["detail"]
    monkeypatch.undo()
    monkeypatch.setattr(cb, "EMBEDDER", number_words)
    keys = ok(c.post("/api/animate/keys", json={"run": run, "prompts": ["the digit seven", "two"], "seed": 4}))[
        "images"
    ]
    assert [int(np.argmax(k["latent"]["classes"])) for k in keys] == [7, 2]
    assert keys[0]["latent"]["z"] == keys[1]["latent"]["z"] and "prompt" not in keys[0]["latent"]
    assert [k["latent"]["origin"]["prompt"] for k in keys] == ["the digit seven", "two"]
    bad = c.post("/api/animate/keys", json={"run": run, "prompts": ["   "]})
    assert bad.status_code == 400 and "prompt is empty" in bad.json()["detail"]
    assert c.post("/api/animate/keys", json={"run": run, "prompts": ["x" * 201]}).status_code == 422
    assert c.post("/api/animate/keys", json={"run": run, "prompts": ["one"] * 17}).status_code == 422


def test_create_with_an_anchor_names_the_captions_and_its_latents_remake(studio):
    """The Create panel's "closer to what it knows" slider: the anchor travels in each latent and remakes the
    same pixels through /api/render; an anchor without a text prompt, or out of [0, 1], is refused."""
    c, _, run = studio
    r = ok(c.post("/api/generate", json={"run": run, "n": 2, "seed": 4, "prompt": "a red thing", "anchor": 0.5}))
    assert "anchored 0.5 toward" in r["note"] and ("“a red square”" in r["note"] or "“red box”" in r["note"])
    lat = r["images"][0]["latent"]
    assert lat["anchor"] == 0.5
    plain = ok(c.post("/api/generate", json={"run": run, "n": 1, "seed": 4, "prompt": "a red thing"}))["images"][0]
    assert "anchor" not in plain["latent"] and plain["latent"]["id"] != lat["id"]
    assert np.array_equal(remake(c, run, lat), pixels(r["images"][0]["image"]))
    assert c.post("/api/generate", json={"run": run, "n": 1, "anchor": 0.5}).status_code == 400
    assert c.post("/api/generate", json={"run": run, "n": 1, "prompt": "x", "anchor": 1.5}).status_code == 422
