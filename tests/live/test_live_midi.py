"""MIDI through mido's in-memory port (no sequencer needed): mapped CCs and notes, and MIDI-learn."""

from __future__ import annotations

import json

import mido
import pytest
from mido.ports import EchoPort

from ganstudio.live.mapping import Mapping, MidiBinding, ParamOverride

NO_SLEW = {n: ParamOverride(slew=0.0) for n in ("truncation", "dir/0", "dir/1")}


def cc(control, value, channel=0):
    return mido.Message("control_change", control=control, value=value, channel=channel)


def test_a_mapped_cc_and_note_move_parameters(make_session, wait):
    mapping = Mapping(
        params=NO_SLEW,
        midi=(
            MidiBinding(param="dir/0", cc=1),
            MidiBinding(param="truncation", cc=7, channel=2),
            MidiBinding(action="attract", note=36),
        ),
    )
    port = EchoPort()
    live = make_session(mapping=mapping, midi=port)
    port.send(cc(1, 127))
    port.send(cc(7, 0, channel=2))
    port.send(cc(7, 127, channel=5))  # another channel: not this binding
    wait(lambda: live.bus.pending() == 2, what="two MIDI values on the bus")
    f = live.step()
    assert f.values["dir/0"] == 4.0 and f.values["truncation"] == 0.05
    port.send(mido.Message("note_on", note=36, velocity=90))
    wait(lambda: live.bus.pending() == 1, what="the note's action")
    assert live.step().mode == "attract"
    assert live.stats["unmapped"] == 1


def test_midi_learn_move_a_control_then_name_the_parameter(make_session, wait, tmp_path):
    port = EchoPort()
    out = tmp_path / "mapping.json"
    live = make_session(mapping=Mapping(params=NO_SLEW), mapping_out=out, midi=port)
    port.send(cc(20, 0))
    wait(lambda: live.midi.last is not None, what="the moved control")
    assert live.learn("truncation").startswith("cc 20 (channel 1) -> truncation")
    port.send(cc(20, 127))
    wait(lambda: live.bus.pending() == 1, what="the learned control")
    assert live.step().values["truncation"] == 1.5
    assert json.loads(out.read_text())["midi"] == [{"cc": 20, "channel": 0, "param": "truncation"}]

    # the other order: name the parameter (the page's "learn" button, OSC /ganstudio/learn), then move
    live.midi.last = None
    live.controls.handle("learn", ["dir/1"], "page")
    assert live.midi.armed == "dir/1"
    port.send(cc(21, 64))  # binds, and moves nothing yet
    wait(lambda: live.midi.armed is None, what="the armed binding")
    port.send(cc(21, 127))
    wait(lambda: live.bus.pending() == 1, what="the second learned control")
    assert live.step().values["dir/1"] == 4.0
    assert {b["param"] for b in json.loads(out.read_text())["midi"]} == {"truncation", "dir/1"}


def test_learning_without_midi_or_an_unknown_parameter_is_counted_not_fatal(make_session):
    live = make_session(midi=EchoPort())
    live.controls.handle("learn", ["no-such"], "osc")
    assert live.stats["malformed"] == 1 and live.midi.armed is None
    plain = make_session()
    plain.controls.handle("learn", ["truncation"], "osc")
    assert plain.stats["errors"] == 1 and "no MIDI input" in plain.stats.last_error


def test_a_port_name_that_is_not_there_is_a_one_line_error():
    from ganstudio.errors import UserError
    from ganstudio.live.midi import open_port

    with pytest.raises(UserError) as e:
        open_port("no such port 123", lambda m: None)
    assert "\n" not in str(e.value)
