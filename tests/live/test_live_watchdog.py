"""The watchdog: attract mode after silence, and back to the performer's settings on the next input."""

from __future__ import annotations

from ganstudio.live.bus import Event
from ganstudio.live.params import PATHS
from ganstudio.live.watchdog import Watchdog


def test_the_rules():
    w = Watchdog(after=2.0)
    assert w.check("live", now=10.0, last_input=9.0, has_input=False) is None
    assert w.check("live", now=11.0, last_input=9.0, has_input=False) == Event("mode", "attract", None)
    assert w.check("attract", now=50.0, last_input=9.0, has_input=False) is None
    assert w.check("attract", now=50.0, last_input=50.0, has_input=True) == Event("mode", "live", None)
    assert Watchdog(after=0).check("live", now=1e9, last_input=0.0, has_input=False) is None


def test_attract_after_silence_and_back_on_input(make_session, wait):
    live = make_session(fps=100, attract_after=0.2, osc_port=0)
    live.set("path", "still")
    live.set("dir/0", 2.0)
    live.start()
    wait(lambda: live.last_frame is not None and live.last_frame.mode == "attract", timeout=3, what="attract mode")
    t = live.show.state.targets
    assert t["path"] == PATHS.index("drift") and t["dir/0"] == 0.0 and t["speed"] > 0
    from pythonosc.udp_client import SimpleUDPClient

    SimpleUDPClient(*live.osc_in.address).send_message("/ganstudio/truncation", 0.75)
    wait(lambda: live.last_frame.mode == "live", what="back to live")
    t = live.show.state.targets
    assert (t["path"], t["dir/0"], t["truncation"]) == (PATHS.index("still"), 2.0, 0.75)
