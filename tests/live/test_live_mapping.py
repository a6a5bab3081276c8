"""Mappings are data: JSON in, frozen dataclasses out, unknown keys and parameters refused, nothing run."""

from __future__ import annotations

import json

import pytest

from ganstudio.errors import UserError
from ganstudio.live.mapping import Mapping, MidiBinding, OscBinding, load_mapping, save_mapping
from ganstudio.live.params import ParamSpec, Registry

REG = Registry(
    [ParamSpec("truncation", 0.05, 1.5, 1.0, slew=0.2), ParamSpec("dir/0", -4, 4, 0), ParamSpec("speed", 0, 60, 4)]
)
GOOD = {
    "format": "ganstudio.live-mapping/1",
    "params": {"truncation": {"slew": 0.5, "curve": "log"}, "dir/0": {"deadzone": 0.05}},
    "midi": [
        {"cc": 1, "param": "dir/0"},
        {"cc": 7, "channel": 0, "param": "truncation"},
        {"note": 36, "action": "scene", "value": "calm"},
    ],
    "osc": [{"address": "/1/fader1", "param": "speed", "lo": 0, "hi": 1}],
}


def test_a_mapping_file_round_trips_and_changes_the_registry(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(GOOD))
    m = load_mapping(path)
    assert m.midi[0] == MidiBinding(param="dir/0", cc=1) and m.osc[0] == OscBinding("/1/fader1", "speed", 0, 1)
    m.check(REG)
    reg = m.apply(REG)
    assert (reg["truncation"].slew, reg["truncation"].curve, reg["dir/0"].deadzone) == (0.5, "log", 0.05)
    assert load_mapping(save_mapping(m, tmp_path / "again.json")) == m


@pytest.mark.parametrize(
    "change, msg",
    [
        ({"colour": 1}, r"unknown field\(s\) colour"),
        ({"midi": [{"cc": 1, "param": "dir/0", "chanel": 2}]}, r"midi\[0\]: unknown field\(s\) chanel"),
        ({"midi": [{"cc": 300, "param": "dir/0"}]}, "cc must be a whole number 0..127"),
        ({"midi": [{"cc": 1, "note": 2, "param": "dir/0"}]}, "exactly one of cc or note"),
        ({"midi": [{"cc": 1, "action": "scene"}]}, "action is bound to a note"),
        ({"osc": [{"address": "fader", "param": "speed"}]}, "starts with '/'"),
        ({"params": {"truncation": {"slew": -1}}}, "slew must be"),
        ({"params": {"truncation": {"speed": 1}}}, r"unknown field\(s\) speed"),
        ({"midi": [{"cc": 1, "param": "__import__('os').system('true')"}]}, "unknown live parameter"),
        ({"format": "other/1"}, "this ganstudio reads"),
        ({"midi": {"cc": 1}}, "expected a list"),
    ],
)
def test_bad_mappings_are_refused_in_one_line(change, msg):
    with pytest.raises(UserError, match=msg) as e:
        Mapping.from_dict({**GOOD, **change}, "m.json").check(REG)
    assert "\n" not in str(e.value)


def test_bad_json_names_the_place(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"midi": [\n  {"cc": 1,}\n]}')
    with pytest.raises(UserError, match=r"not valid JSON \(line 2, column 12"):
        load_mapping(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_mapping(tmp_path / "missing.json")


def test_a_learned_binding_replaces_the_old_one_of_the_same_control():
    m = Mapping.from_dict(GOOD)
    m2 = m.with_midi(MidiBinding(param="speed", cc=1))
    assert [b.param for b in m2.midi if b.cc == 1] == ["speed"] and len(m2.midi) == len(m.midi)
    assert len(m2.with_midi(MidiBinding(param="speed", cc=1, channel=3)).midi) == len(m.midi) + 1
