"""Scenes: saved from the show's targets, loaded through the bus, refused when damaged."""

from __future__ import annotations

import json

import pytest

from ganstudio.errors import UserError
from ganstudio.live.scenes import Scene, SceneStore


def test_save_then_load_a_scene(make_session, tmp_path):
    live = make_session(scenes=tmp_path / "scenes")
    live.set("truncation", 0.6)
    live.set("path", "drift")
    live.set("dir/2", -1.5)
    live.step()
    path = live.save_scene("calm")
    saved = json.loads(path.read_text())
    assert saved["format"] == "ganstudio.live-scene/1" and saved["values"]["truncation"] == 0.6
    live.set("truncation", 1.2)
    live.set("dir/2", 3)
    live.step()
    live.controls.handle("scene", ["calm"], "osc")
    f = live.step()
    t = live.show.state.targets
    assert (t["truncation"], t["path"], t["dir/2"]) == (0.6, 1.0, -1.5) and f.scene == "calm"
    assert ("scene", "calm") in f.events
    assert live.scenes.names() == ["calm"]


def test_scene_files_are_checked(make_session, tmp_path):
    live = make_session(scenes=tmp_path)
    store = SceneStore(tmp_path)
    (tmp_path / "typo.json").write_text(json.dumps({"name": "typo", "values": {}, "colour": 1}))
    with pytest.raises(UserError, match=r"unknown field\(s\) colour"):
        store.load("typo")
    store.save(Scene("odd", {"wobble": 1}))
    with pytest.raises(UserError, match="unknown parameter 'wobble'"):
        live.load_scene("odd")
    for bad in ("../escape", "", "a b", "x" * 65):
        with pytest.raises(UserError, match="bad scene name"):
            store.path(bad)
    live.controls.handle("scene", ["missing"], "osc")  # over OSC: counted, the show goes on
    assert live.stats["errors"] == 1 and "no scene 'missing'" in live.stats.last_error
    live.step()
