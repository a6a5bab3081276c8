"""OSC with real UDP packets on loopback: parameters move, fuzz is dropped and counted, the token is
required when set, and events go out."""

from __future__ import annotations

import random
import socket
import struct

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from ganstudio import webaccess
from ganstudio.errors import UserError
from ganstudio.live.mapping import Mapping, OscBinding, ParamOverride
from ganstudio.live.osc import bind_udp, parse_hostport
from ganstudio.live.scenes import Scene

NO_SLEW = Mapping(params={"truncation": ParamOverride(slew=0.0), "dir/0": ParamOverride(slew=0.0)})


def msg(address, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def test_a_real_packet_moves_a_parameter(make_session, wait):
    live = make_session(osc_port=0, fps=100, mapping=NO_SLEW).start()
    client = SimpleUDPClient(*live.osc_in.address)
    first = live.wait_frame()
    client.send_message("/ganstudio/truncation", 0.5)
    wait(lambda: live.last_frame.values["truncation"] == 0.5, what="truncation 0.5 on a frame")
    client.send_message("/ganstudio/dir/0/norm", 1.0)  # normalised: the top of -4..4
    client.send_message("/ganstudio/path", "drift")  # a choice by name
    wait(lambda: live.last_frame.values["dir/0"] == 4.0 and live.last_frame.values["path"] == 1.0, what="norm + choice")
    assert live.last_frame.index > first.index and live.last_frame.latent.edits == ((0, 4.0),)


def test_a_bundle_and_a_mapping_address_are_understood(make_session, wait):
    mapping = Mapping(params=NO_SLEW.params, osc=(OscBinding("/1/fader1", "truncation", 0, 127),))
    live = make_session(osc_port=0, fps=100, mapping=mapping).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bundle = OscBundleBuilder(IMMEDIATELY)
    bundle.add_content(OscMessageBuilder("/ganstudio/seed").build())  # no argument: malformed, the rest still applies
    b = OscMessageBuilder("/ganstudio/seed")
    b.add_arg(42)
    bundle.add_content(b.build())
    sock.sendto(bundle.build().dgram, live.osc_in.address)
    sock.sendto(msg("/1/fader1", 127.0), live.osc_in.address)
    wait(lambda: live.last_frame is not None and live.last_frame.values["seed"] == 42.0, what="bundle")
    wait(lambda: live.last_frame.values["truncation"] == 1.5, what="TouchOSC-style address at the top of its range")
    assert live.stats["malformed"] == 1
    sock.close()


def fuzz_packets(n: int, seed: int = 0) -> list[bytes]:
    """Packets that must all be dropped: random bytes, truncations, damaged arguments and bundles."""
    rng = random.Random(seed)
    good = msg("/ganstudio/truncation", 0.7)
    out = []
    for _ in range(n):
        k = rng.randrange(4)
        if k == 0:  # neither a message ('/') nor a bundle ('#')
            out.append(b"\x00" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64))))
        elif k == 1:
            out.append(good[: rng.randrange(1, len(good) - 1)])  # cut short
        elif k == 2:
            out.append(good[:-4] + bytes([rng.randrange(256)]))  # an argument of the wrong size
        else:  # a bundle whose element size is impossible
            size = rng.choice([3, -4, 0, 4096])
            out.append(b"#bundle\x00" + bytes(8) + struct.pack(">i", size) + good[: rng.randrange(0, len(good))])
    return out


def test_malformed_and_fuzzed_packets_are_dropped_and_counted(make_session, wait):
    live = make_session(osc_port=0, fps=100, mapping=NO_SLEW).start()
    addr = live.osc_in.address
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def sentinel(v):
        sock.sendto(msg("/ganstudio/truncation", v), addr)  # UDP on loopback keeps order: after everything else
        wait(lambda: live.last_frame is not None and live.last_frame.values["truncation"] == v, what="the sentinel")

    bad_args = [
        msg("/ganstudio/truncation", "high"),  # text for a number
        msg("/ganstudio/truncation", float("nan")),
        msg("/ganstudio/truncation", 0.5, 0.6),  # two arguments
        msg("/ganstudio/truncation"),  # none
        msg("/ganstudio/truncation/norm", b"\x00\x01"),  # a blob
        msg("/ganstudio/scene", 3),  # a number for a name
        b"/ganstudio/truncation\x00\x00\x00,f\x00\x00" + struct.pack(">f", float("inf")),
        b"/" + b"x" * 9000,  # larger than MAX_DATAGRAM
        b"#bundle\x00" + bytes(8) + (struct.pack(">i", 24) + b"#bundle\x00" + bytes(8) + bytes(4)),  # damaged inside
    ]
    unknown = [msg("/ganstudio/colour", 1.0), msg("/other/truncation", 1.0), msg("/ganstudio/dir/99", 1.0)]
    for p in bad_args + unknown:
        sock.sendto(p, addr)
    sentinel(0.25)
    s = live.stats.snapshot()
    assert (s["malformed"], s["unknown"], s["accepted"]) == (len(bad_args), len(unknown), 1)

    fuzz = fuzz_packets(300)
    for i, p in enumerate(fuzz):
        sock.sendto(p, addr)
        if i % 50 == 49:  # in bursts the kernel's receive buffer surely holds
            wait(lambda i=i: live.osc_in.packets >= len(bad_args) + len(unknown) + 2 + i, what="the burst")
    sentinel(0.5)
    s = live.stats.snapshot()
    assert s["malformed"] + s["unknown"] == len(bad_args) + len(unknown) + len(fuzz)
    assert s["accepted"] == 2 and live.show.state.targets["truncation"] == 0.5  # nothing in the fuzz got through
    assert live.osc_in.packets == len(bad_args) + len(unknown) + len(fuzz) + 2
    before = live.last_frame.index
    wait(lambda: live.last_frame.index > before + 2, what="frames after the fuzz")  # still rendering
    sock.close()


def test_with_a_token_every_address_must_carry_it(make_session, wait):
    live = make_session(osc_port=0, fps=100, mapping=NO_SLEW, token="s3cret").start()
    client = SimpleUDPClient(*live.osc_in.address)
    client.send_message("/ganstudio/truncation", 0.3)
    client.send_message("/ganstudio/wrong/truncation", 0.4)
    client.send_message("/ganstudio/s3cret/truncation", 0.5)
    wait(lambda: live.last_frame is not None and live.last_frame.values["truncation"] == 0.5, what="token message")
    assert live.stats["refused"] == 2 and live.show.state.targets["truncation"] == 0.5


def test_access_rules_and_bind_errors():
    assert webaccess.is_loopback("127.0.0.1") and webaccess.is_loopback("::1") and webaccess.is_loopback("localhost")
    assert webaccess.needs_token("0.0.0.0") and webaccess.needs_token("192.168.1.20")
    token = webaccess.make_token()
    assert len(token) >= 16 and all(c.isalnum() or c in "-_" for c in token)  # fits in an OSC address
    taken = bind_udp("127.0.0.1", 0)
    with pytest.raises(UserError, match=r"OSC port \d+ on 127.0.0.1 is in use"):
        bind_udp("127.0.0.1", taken.getsockname()[1])
    taken.close()
    assert parse_hostport("127.0.0.1:9001") == ("127.0.0.1", 9001) and parse_hostport("[::1]:7000") == ("::1", 7000)
    for bad in ("9001", "host:", "host:99999", "host:port"):
        with pytest.raises(UserError, match="HOST:PORT"):
            parse_hostport(bad)


def test_events_go_out_over_osc(make_session):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)
    live = make_session(osc_out=f"127.0.0.1:{rx.getsockname()[1]}", fps=10)
    live.scenes.save(Scene("calm", {"speed": 60}))
    live.load_scene("calm")  # speed 60: a loop a second, so loops end within the 4 s of 40 frames at 10 fps
    got = []
    for _ in range(40):
        live.step()
    while True:
        try:
            m = OscMessage(rx.recv(4096))
        except TimeoutError:
            break
        got.append((m.address, m.params[0]))
    rx.close()
    frames = [v for a, v in got if a == "/ganstudio/frame"]
    assert frames[:40] == list(range(40))
    assert ("/ganstudio/scene", "calm") in got and ("/ganstudio/loop", 1) in got


def test_bundles_are_unpacked_strictly_and_not_too_deep():
    from ganstudio.live.osc import MAX_DEPTH, parse_packet

    def bundle(*elements: bytes) -> bytes:
        return b"#bundle\x00" + bytes(8) + b"".join(struct.pack(">i", len(e)) + e for e in elements)

    inner = bundle(msg("/ganstudio/seed", 3), msg("/ganstudio/truncation", 0.5))
    got = parse_packet(bundle(inner, msg("/ganstudio/speed", 2.0)), OscMessage)
    assert [(m.address, m.params) for m in got] == [
        ("/ganstudio/seed", [3]),
        ("/ganstudio/truncation", [0.5]),
        ("/ganstudio/speed", [2.0]),
    ]
    deep = msg("/ganstudio/seed", 1)
    for _ in range(MAX_DEPTH + 1):
        deep = bundle(deep)
    with pytest.raises(ValueError, match="nested deeper"):
        parse_packet(deep, OscMessage)
    with pytest.raises(ValueError, match="unsupported type tags"):
        parse_packet(b"/ganstudio/seed\x00,q\x00\x00", OscMessage)
    with pytest.raises(ValueError, match="do not fill"):
        parse_packet(b"/ganstudio/seed\x00,f\x00\x00", OscMessage)  # python-osc alone reads this as 0.0
