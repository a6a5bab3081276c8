"""The bus: newest value wins, a flood never queues, order is the order of the latest writes."""

from __future__ import annotations

import threading

from ganstudio.live.bus import ControlBus, Event
from ganstudio.live.params import ParamSpec, Registry

REG = Registry([ParamSpec("a", 0, 1, 0), ParamSpec("b", 0, 1, 0), ParamSpec("c", -1, 1, 0, deadzone=0.1)])


def test_newest_value_wins_and_nothing_queues():
    bus = ControlBus(REG)
    for i in range(10_000):
        bus.set("a", i / 10_000)
    assert bus.pending() == 1
    assert bus.drain() == [Event("set", "a", 9_999 / 10_000)]
    assert bus.stats["replaced"] == 9_999 and bus.stats["applied"] == 1 and bus.drain() == []


def test_events_keep_the_order_of_their_latest_write():
    bus = ControlBus(REG)
    bus.set("a", 0.1)
    bus.set("b", 0.2)
    bus.post(Event("scene", "calm", {"a": 0.9}))
    bus.set("a", 0.3)  # after the scene: the fader wins over the scene's value
    assert [(e.kind, e.name) for e in bus.drain()] == [("set", "b"), ("scene", "calm"), ("set", "a")]


def test_values_are_parsed_by_their_parameter_and_bad_ones_counted():
    bus = ControlBus(REG)
    assert bus.set_norm("c", 0.52)  # inside the deadzone: the rest value
    assert bus.set("b", 7)  # clamped
    assert not bus.set("b", float("nan")) and not bus.set("nope", 1) and not bus.set_norm("a", "x")
    assert dict((e.name, e.value) for e in bus.drain()) == {"c": 0.0, "b": 1.0}
    s = bus.stats.snapshot()
    assert (s["malformed"], s["unknown"], s["received"], s["accepted"]) == (2, 1, 5, 2)


def test_a_flood_from_threads_stays_bounded_while_frames_drain():
    bus = ControlBus(REG)
    stop = threading.Event()

    def flood(name):
        i = 0
        while not stop.is_set():
            bus.set(name, (i % 100) / 100)
            i += 1

    threads = [threading.Thread(target=flood, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    most = 0
    for _ in range(200):
        most = max(most, len(bus.drain()))
    stop.set()
    for t in threads:
        t.join()
    assert most <= 3  # never more than one slot per parameter
    assert bus.stats["accepted"] == bus.stats["applied"] + bus.stats["replaced"] + bus.pending()
