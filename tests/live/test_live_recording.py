"""Record a live show driven by real OSC packets on a running frame loop, then replay it: the same frames,
bit for bit, because time is the frame clock and every event is stored with its frame number."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from pythonosc.udp_client import SimpleUDPClient

from ganstudio.errors import UserError
from ganstudio.live.recording import load_recording, replay
from ganstudio.live.scenes import Scene


def digest(frame) -> str:
    return hashlib.sha256(frame.image.tobytes() + str(frame.image.shape).encode()).hexdigest()


def test_record_and_replay_give_the_same_frames_bit_for_bit(make_session, tmp_path, wait):
    live = make_session(osc_port=0, fps=200, attract_after=0.15)
    live.scenes.save(Scene("wild", {"speed": 40, "truncation": 0.4, "dir/1": 2.5}))
    live.set("speed", 20)
    live.step()  # the show has already moved when recording starts
    seen: dict[int, str] = {}
    modes: list[str] = []  # every frame's mode: a short stay in a mode is never missed by polling

    def note(f):
        seen[f.index] = digest(f)
        modes.append(f.mode)

    live.on_frame(note)
    live.start_recording()
    live.start()
    osc = SimpleUDPClient(*live.osc_in.address)
    for v in (0.9, 0.5, 0.7):
        osc.send_message("/ganstudio/truncation", v)
        osc.send_message("/ganstudio/dir/0/norm", v)
        time.sleep(0.02)
    osc.send_message("/ganstudio/scene", "wild")
    osc.send_message("/ganstudio/class", 4)
    osc.send_message("/ganstudio/glide", 0.0)
    time.sleep(0.02)
    osc.send_message("/ganstudio/seed", 7)
    wait(lambda: "attract" in modes, what="the watchdog")  # silence: attract mode, then back
    start = modes.index("attract")
    osc.send_message("/ganstudio/offset", 0.3)
    wait(lambda: "live" in modes[start:], what="back from attract")
    time.sleep(0.05)
    live.stop()
    rec = live.stop_recording(tmp_path / "show.json")
    kinds = {e[1] for e in rec.events}
    assert kinds == {"set", "scene", "mode"} and rec.frames > 20

    again = load_recording(tmp_path / "show.json")
    frames = list(replay(again, live.pipe, live.renderer, live.directions))
    first = min(seen)
    assert len(frames) == rec.frames == len(seen)
    assert [digest(f) for f in frames] == [seen[first + i] for i in range(rec.frames)]
    assert [f.mode for f in frames].count("attract") > 0


def test_a_recording_is_refused_by_another_run_or_backend(make_session, tmp_path, live_run):
    live = make_session()
    live.start_recording()
    for _ in range(3):
        live.step()
    rec = live.stop_recording(tmp_path / "r.json")
    with pytest.raises(UserError, match="rendered with --backend torch"):
        list(replay(rec, live.pipe, type("R", (), {"name": "onnx"})(), live.directions))
    data = json.loads((tmp_path / "r.json").read_text())
    data["events"] = [[99, "set", "truncation", 0.5]]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="is damaged"):
        load_recording(tmp_path / "bad.json")
    with pytest.raises(UserError, match="not recording"):
        live.stop_recording()
