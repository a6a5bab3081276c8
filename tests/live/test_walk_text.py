"""The live walk on a run that reads text: through prompted keyframes it slerps the sentence embedding with z (as
``ganstudio animate --prompts`` does), a prompt on the bus conditions G and the shown text glides to it, and
every frame's latent (also from the live page's /api/latent) remakes the frame with ``ganstudio generate --from``."""

from __future__ import annotations

import functools
import json
import re
import threading
import time

import numpy as np
import pytest
from PIL import Image

from ganstudio import latents as L
from ganstudio import textembed
from ganstudio.browser import chromium_path, launch_chromium
from ganstudio.cli import main
from ganstudio.config import RunConfig
from ganstudio.errors import UserError
from ganstudio.generate import file_stem
from ganstudio.live.mapping import Mapping, ParamOverride
from ganstudio.live.recording import load_recording, replay
from ganstudio.media import as_uint8_nchw

RED, BLUE, GREEN = "a red square", "a blue square", "a green square"
STILL = Mapping(params={"speed": ParamOverride(slew=0.0)})  # speed jumps: frame 30k is keyframe k at 60/min


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A 2-step tiny run that reads text (captioned coloured squares, the ``words-64`` text model: no download)."""
    from ganstudio.training import train

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        root = tmp_path_factory.mktemp("captioned")
        colours = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220), "yellow": (230, 210, 40)}
        for i in range(8):
            name, rgb = list(colours.items())[i % 4]
            im = Image.new("RGB", (16, 16), (255, 255, 255))
            im.paste(rgb, (2 + i % 3, 2, 12 + i % 3, 13))
            im.save(root / f"{i}.png")
            (root / f"{i}.txt").write_text(f"a {name} square")
        tiny = {"z_dim": 8, "g_channels": 4, "d_channels": 4, "max_channels": 16, "decoder_channels": 4}
        cfg = RunConfig.from_dict(
            {
                "model": "lightweight",
                "model_config": tiny | {"text_dim": 64, "text_model": "words-64", "class_input": True},
                "data": {"name": str(root), "resolution": 16},
                "train": {"steps": 2, "batch_size": 8, "threads": 1, "device": "cpu", "checkpoint_every": 2},
            }
        )
        return train(cfg, out=tmp_path_factory.mktemp("runs"), progress=False)


@pytest.fixture(scope="module")
def live_run(text_run):
    """In this module the conftest's ``make_session`` opens its sessions over the text run."""
    return text_run


@pytest.fixture
def session(make_session):
    """``session(**kw)``: conftest's ``make_session`` over the text run, with no directions unless given."""
    return functools.partial(make_session, directions=0)


def emb(text: str) -> np.ndarray:
    return textembed.embed([text], "words-64")[0].astype(np.float64)


def picture(pipe, lat: L.Latent) -> np.ndarray:
    return as_uint8_nchw(L.render(pipe, [lat]))[0].transpose(1, 2, 0)


def remade(run, lat: L.Latent, tmp_path, name: str) -> np.ndarray:
    """What ``ganstudio generate RUN --from frame.json`` draws for a frame's saved latent."""
    f = L.save_latent(lat, tmp_path / f"{name}.json")
    out = tmp_path / f"{name}-out"
    assert main(["generate", str(run), "--from", str(f), "--out-dir", str(out)]) == 0
    with Image.open(out / f"{file_stem(lat)}.png") as im:
        return np.asarray(im.convert("RGB"))


def test_a_walk_through_prompted_keyframes_slerps_the_text_and_frames_remake(session, text_run, tmp_path):
    live = session()
    pipe = live.pipe
    keys = [L.from_seeds(pipe, 1, 1, prompt=RED)[0], L.from_seeds(pipe, 1, 2, prompt=BLUE)[0]]
    keys.append(L.from_seeds(pipe, 1, 3, prompt={RED: 1.0, GREEN: 1.0})[0])  # a mix of prompts is a keyframe too
    live = session(keys=keys, mapping=STILL)
    live.set("path", "drift")
    live.set("glide", 0)
    live.set("speed", 60)  # one keyframe a second at 30 frames/s
    live.start_recording()
    frames = [live.step() for _ in range(91)]
    for k, key in enumerate([*keys, keys[0]]):  # the walk passes through the keyframes' own pictures, and loops
        lat = frames[30 * k].latent
        assert lat.text_parts == key.text_parts, k
        diff = np.abs(frames[30 * k].image.astype(int) - picture(pipe, key))
        assert diff.max() <= 1, k  # z's slerp at t = 1 may round the last bit, as in test_live_session
    # halfway from red to blue (cosine easing: t = 1/2): a mix of both whose embedding is the slerp of theirs
    mid = frames[15].latent
    assert mid.prompt is None and [p for p, _, _ in mid.text_mix] == [RED, BLUE]
    a, b = emb(RED), emb(BLUE)
    omega = np.arccos(a @ b)
    half = np.sin(omega / 2) * (a + b) / np.sin(omega)
    np.testing.assert_allclose(L.mix_embedding(pipe, mid.text_parts).double().numpy(), half, atol=1e-6)
    assert frames[8].latent.text_mix[0][2] > frames[22].latent.text_mix[0][2]  # red fades out, blue in
    # between blue and the red+green mix: three prompts, and still the slerp (unit length: every caption's is)
    late = frames[45].latent
    assert {p for p, _, _ in late.text_mix} == {RED, BLUE, GREEN}
    assert abs(L.mix_embedding(pipe, late.text_parts).double().norm().item() - 1) < 1e-6
    # the text moves the picture: the mid frame with red's text alone is another picture
    assert not np.array_equal(frames[15].image, picture(pipe, L.with_text(mid, keys[0].text_parts)))
    # each frame's latent remakes the frame through the CLI, pixel for pixel
    for i in (15, 45, 80):
        assert np.array_equal(remade(text_run, frames[i].latent, tmp_path, f"f{i}"), frames[i].image), i
    # a recording of the walk (its keyframes keep their texts) replays the same frames
    live.stop_recording(tmp_path / "walk.json")
    rec = load_recording(tmp_path / "walk.json")
    assert rec.keys is not None and rec.keys["text"][1] == [[BLUE, keys[1].text_hash, 1.0]]
    again = list(replay(rec, pipe, live.renderer, live.directions))
    assert all(np.array_equal(x.image, y.image) and x.latent == y.latent for x, y in zip(frames, again))


def test_a_prompt_on_the_bus_conditions_g_and_the_text_glides_to_the_next(session, text_run, tmp_path, wait):
    live = session(mapping=STILL)
    live.set("path", "still")
    live.set("glide", 0)
    own = live.step()
    # without keyframes a text run walks its own training captions (the first: red), never the empty caption
    assert own.latent.prompt == RED
    live.controls.handle("prompt", [GREEN], "osc")
    wait(lambda: live.bus.pending() >= 1, what="the prompt worker")
    green = live.step()
    fingerprint = textembed.fingerprint(emb(GREEN).astype(np.float32))
    assert (green.latent.prompt, green.latent.text_hash) == (GREEN, fingerprint)
    assert green.latent.z == own.latent.z and not np.array_equal(green.image, own.image)  # the text drew it
    assert np.array_equal(green.image, picture(live.pipe, L.from_seeds(live.pipe, 1, 0, prompt=GREEN)[0]))
    # the next prompt: the shown text glides there along the slerp of the embeddings
    live.set("glide", 0.5)
    live.start_recording()
    live.controls.handle("prompt", [BLUE], "page")
    wait(lambda: live.bus.pending() >= 2, what="the prompt worker")
    frames = [live.step() for _ in range(180)]
    shares = [f.latent.text_mix[1][2] if f.latent.text_mix else None for f in frames]
    assert [p for p, _, _ in frames[5].latent.text_mix] == [GREEN, BLUE]
    assert 0 < shares[1] < shares[5] < shares[20]  # blue comes in...
    for f in frames[:20]:  # ...on the great circle between the two (unit length all the way)
        assert abs(L.mix_embedding(live.pipe, f.latent.text_parts).double().norm().item() - 1) < 1e-5
    assert frames[-1].latent.prompt == BLUE and not frames[-1].latent.text_mix  # and lands on blue itself
    assert np.array_equal(remade(text_run, frames[10].latent, tmp_path, "glide"), frames[10].image)
    # an empty prompt gives the walk's own text back (its first training caption); a recording replays prompts too
    live.set("glide", 0)
    live.controls.handle("prompt", [""], "osc")
    wait(lambda: live.bus.pending() >= 2, what="the prompt worker")
    back = live.step()
    assert back.latent.prompt == RED and np.array_equal(back.image, own.image)
    rec = live.stop_recording(tmp_path / "prompts.json")
    assert [e[1] for e in rec.events].count("text") == 2
    again = list(replay(load_recording(tmp_path / "prompts.json"), live.pipe, live.renderer))
    assert all(np.array_equal(x.image, y.image) for x, y in zip([*frames, back], again))
    assert live.stats["errors"] == 0


def test_negative_steers_the_performers_prompt_and_frames_remake(session, text_run, tmp_path, wait):
    """``/ganstudio/negative`` (and the page's "not" box): the prompt shown is redrawn steered away from the words
    (a text mix with a negative part in every frame's latent, which remakes the frame); ``negative/weight`` changes
    how far; "" stops; a bad weight is counted, the show goes on."""
    live = session(mapping=STILL)
    live.set("path", "still")
    live.set("glide", 0)
    live.controls.handle("prompt", [GREEN], "osc")
    wait(lambda: live._prompts.resolved >= 1, what="the prompt worker")
    green = live.step()
    live.controls.handle("negative", ["yellow"], "osc")
    wait(lambda: live._prompts.resolved >= 2, what="the prompt worker")
    steered = live.step()
    parts = steered.latent.text_mix
    assert [(p, w < 0) for p, _, w in parts] == [(GREEN, False), ("yellow", True)]
    assert parts[1][2] == pytest.approx(-L.NEGATIVE_WEIGHT * parts[0][2])
    assert steered.latent.z == green.latent.z and not np.array_equal(steered.image, green.image)
    assert np.array_equal(remade(text_run, steered.latent, tmp_path, "steered"), steered.image)
    live.controls.handle("negative/weight", [0.9], "page")
    wait(lambda: live._prompts.resolved >= 3, what="the prompt worker")
    further = live.step().latent.text_mix
    assert further[1][2] == pytest.approx(-0.9 * further[0][2])
    live.controls.handle("prompt", [BLUE], "osc")  # a new prompt keeps the steering
    wait(lambda: live._prompts.resolved >= 4, what="the prompt worker")
    assert [p for p, _, _ in live.step().latent.text_mix] == [BLUE, "yellow"]
    live.controls.handle("negative/weight", [2], "osc")
    assert live.stats["errors"] == 1 and "(0, 1]" in live.bus.stats.last_error
    live.controls.handle("negative", [""], "osc")
    wait(lambda: live._prompts.resolved >= 5, what="the prompt worker")
    assert live.step().latent.prompt == BLUE


def test_the_live_page_reports_the_shown_latent_and_it_remakes_the_frame(session, text_run, tmp_path):
    import httpx

    from ganstudio.live.server import bind_tcp, make_server

    live = session(mapping=STILL)
    for name, value in (("path", "still"), ("glide", 0), ("speed", 0), ("seed", 7)):
        live.set(name, value)
    live.prompt(GREEN)
    live.start()
    sock = bind_tcp("127.0.0.1", 0)
    srv = make_server(live, "127.0.0.1")
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        end = time.monotonic() + 20
        while time.monotonic() < end and not (srv.started and live.status()["text"] == GREEN):
            time.sleep(0.02)
        r = httpx.get(f"{base}/api/latent")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        lat = L.Latent.from_dict(r.json())
        assert lat.prompt == GREEN and lat.origin["op"] == "live"
        assert np.array_equal(remade(text_run, lat, tmp_path, "page"), live.last_frame.image)
        assert httpx.get(f"{base}/").text.count('href="/api/latent"') == 1  # the panel's download link
        if chromium_path() is not None:  # the page's "not" box (shown for a run that reads text) steers the prompt
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                # bypass_csp: wait_for_function compiles its predicate with eval, which the page's CSP forbids
                page = browser.new_page(viewport={"width": 640, "height": 400}, bypass_csp=True)
                page.goto(base + "/")
                page.wait_for_function("Number(document.body.dataset.frames || 0) >= 1", timeout=20_000)
                page.keyboard.press("c")  # the controls
                assert page.locator("#negative-row").is_visible()
                page.fill("#negative", "yellow")
                page.press("#negative", "Enter")
                end = time.monotonic() + 20
                while time.monotonic() < end and "not yellow" not in (live.status()["text"] or ""):
                    time.sleep(0.02)
                browser.close()
            assert live.status()["text"] == f"{GREEN}, not yellow (50%)"
            steered = L.Latent.from_dict(httpx.get(f"{base}/api/latent").json())
            assert [p for p, _, _ in steered.text_mix] == [GREEN, "yellow"]
    finally:
        srv.should_exit = True
        th.join(5)
        sock.close()


def test_keyframes_without_text_and_damaged_texts(session, text_run, tmp_path):
    live = session()
    pipe = live.pipe
    red, plain = L.from_seeds(pipe, 1, 1, prompt=RED)[0], L.from_seeds(pipe, 1, 2)[0]
    live = session(keys=[red, plain], mapping=STILL)
    live.set("path", "drift")
    live.set("glide", 0)
    live.set("speed", 60)
    frames = [live.step() for _ in range(31)]
    # no mix of a prompt with nothing can be written down: the text switches halfway (z still slerps)
    assert [f.latent.prompt for f in frames[:15]] == [RED] * 15 and not any(f.latent.has_text for f in frames[16:])
    assert np.abs(frames[30].image.astype(int) - picture(pipe, plain)).max() <= 1
    assert np.array_equal(remade(text_run, frames[20].latent, tmp_path, "plain"), frames[20].image)
    # a keyframe whose text the run's model no longer embeds the same way: refused in one line, at the start
    wrong = red.with_(text_hash="0" * 16)
    with pytest.raises(UserError, match="cannot be remade exactly"):
        session(keys=[wrong, plain])
    # a recording whose text event is damaged is refused when read, not in the middle of a replay
    live.start_recording()
    live.step()
    rec = live.stop_recording().to_dict()
    rec["events"] = [[0, "text", "prompt", [["a red square", "abc"]]]]
    (tmp_path / "bad.json").write_text(json.dumps(rec))
    with pytest.raises(UserError, match="damaged"):
        load_recording(tmp_path / "bad.json")


def test_the_studios_exhibition_walks_the_prompts_of_a_text_runs_favourites(text_run, tmp_path):
    """The Exhibition panel over a text run's favourites (drawn from two prompts in the Create panel): its frames
    read the prompts and the mixes between them, and the show's latent remakes its frame."""
    from fastapi.testclient import TestClient

    from ganstudio.live.frames import decode
    from ganstudio.studio import create_app

    app = create_app(text_run.parent)
    c = TestClient(app, base_url="http://127.0.0.1")
    for seed, prompt in ((1, RED), (2, BLUE)):
        r = c.post("/api/generate", json={"run": text_run.name, "n": 1, "seed": seed, "prompt": prompt})
        assert r.status_code == 200, r.text
        liked = c.post("/api/rate", json={"run": text_run.name, "latent": r.json()["images"][0]["latent"], "value": 1})
        assert liked.status_code == 200, liked.text
    texts: set[str | None] = set()

    def share(t: str | None, prompt: str = BLUE) -> float:  # of a label: "63% a red square + 37% a blue square"
        m = re.search(rf"(\d+)% {prompt}", t or "")
        return 1.0 if t == prompt else int(m.group(1)) / 100 if m else 0.0

    url = f"ws://127.0.0.1/api/exhibition?run={text_run.name}"
    with c.websocket_connect(url, headers={"origin": "http://127.0.0.1"}) as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_text(json.dumps({"set": {"speed": 60, "glide": 0}}))
        for _ in range(300):
            header, _ = decode(ws.receive_bytes())
            texts.add(header["text"])
            shares = [share(t) for t in texts]
            if max(shares) >= 0.9 and min(shares) <= 0.1 and any(0.2 <= x <= 0.8 for x in shares):
                break
        (live,) = app.state.studio.exhibitions._shows.values()
        frame = live.last_frame
    # from one favourite's prompt to the other's through mixes of both (the page may skip the exact keyframes)
    assert all(t is not None and abs(share(t, RED) + share(t) - 1) < 0.011 for t in texts), texts
    assert max(map(share, texts)) >= 0.9 and any(0.2 <= share(t) <= 0.8 for t in texts), texts
    assert max(share(t, RED) for t in texts) >= 0.9, texts
    assert frame is not None and frame.latent.has_text
    assert np.array_equal(remade(text_run, frame.latent, tmp_path, "exhibition"), frame.image)
