"""The session's own controls: one class, a prompt (worker thread), a frame's latent that remakes it exactly,
and the status the page and /api/status show."""

from __future__ import annotations

import hashlib

import numpy as np

from ganstudio import latents as L
from ganstudio.live.mapping import Mapping, ParamOverride
from ganstudio.media import as_uint8_nchw


def toy_embedder(texts):
    """Exact strings get the same unit vector, different strings (almost surely) orthogonal ones."""
    out = np.zeros((len(texts), 4096), np.float32)
    for i, t in enumerate(texts):
        out[i, int(hashlib.sha256(t.encode()).hexdigest(), 16) % 4096] = 1.0
    return out


def test_one_class_and_a_prompt_set_the_class_mix(make_session, wait):
    live = make_session(embedder=toy_embedder)
    live.controls.handle("class", [3], "osc")
    live.step()
    t = live.show.state.targets
    assert [t[f"class/{i}"] for i in range(10)] == [1.0 if i == 3 else 0.0 for i in range(10)]
    live.controls.handle("prompt", ["a 7"], "page")
    wait(lambda: live.bus.pending() >= 10, what="the prompt worker")
    live.step()
    assert live.show.state.targets["class/7"] == 1.0 and live.show.state.targets["class/3"] == 0.0
    live.controls.handle("prompt", ["a photo of a cat"], "osc")  # matches no class: counted, nothing moves
    wait(lambda: live.stats["errors"] == 1, what="the prompt's error")
    assert "matches none of this run's classes" in live.stats.last_error
    live.controls.handle("class", ["eleven"], "osc")
    assert live.stats["errors"] == 2


def test_a_frame_is_remade_from_its_latent_bit_for_bit(make_session, tmp_path):
    live = make_session()
    live.set("dir/1", 2.5)
    live.set("truncation", 0.7)
    live.set("glide", 0)
    for _ in range(12):
        frame = live.step()
    assert frame.latent.edits and frame.latent.truncation < 1
    again = L.load_latents(L.save_latent(frame.latent, tmp_path / "frame.json"))[0]
    img = L.render(live.pipe, [again], live.directions)  # what `ganstudio generate --from frame.json` does
    assert np.array_equal(as_uint8_nchw(img)[0].transpose(1, 2, 0), frame.image)


def test_status_says_what_runs(make_session):
    live = make_session(osc_port=0)
    live.step()
    st = live.status()
    assert st["frame"] == 1 and st["backend"] == "torch" and st["osc"].startswith("127.0.0.1:")
    assert set(st["stats"]) >= {"received", "malformed", "unknown", "refused", "errors", "last_error"}


def test_a_walk_through_given_latents_passes_through_their_pictures_and_replays(make_session, tmp_path):
    from ganstudio.live.recording import load_recording, replay

    live = make_session(directions=2)
    keys = [L.from_seeds(live.pipe, 1, 40 + c, classes=c, truncation=0.8)[0] for c in (1, 5, 8)]
    keys[1] = L.add_edits(keys[1], [(0, 1.5)], live.directions.ref)
    live = make_session(keys=keys, directions=2, mapping=Mapping(params={"speed": ParamOverride(slew=0.0)}))
    live.set("path", "drift")
    live.set("glide", 0)
    live.set("speed", 60)  # one keyframe a second: at 30 frames/s frame 30k shows keyframe k
    live.start_recording()
    frames = [live.step() for _ in range(61)]
    for k in (0, 1, 2):
        want = as_uint8_nchw(L.render(live.pipe, [keys[k]], live.directions))[0].transpose(1, 2, 0)
        got = frames[30 * k].image.astype(int)
        assert np.abs(got - want).max() <= 1, k  # the keyframe's picture (slerp at t=0: last-bit rounding)
    live.stop_recording(tmp_path / "keys.json")
    rec = load_recording(tmp_path / "keys.json")
    assert len(rec.keys["z"]) == 3
    again = list(replay(rec, live.pipe, live.renderer, live.directions))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(again, frames, strict=True))
