"""The live page and its WebSocket on a real uvicorn server, with a real WebSocket client (websockets)."""

from __future__ import annotations

import io
import json
import threading
import time

import httpx
import pytest
from PIL import Image

from ganstudio.live.frames import decode
from ganstudio.live.mapping import Mapping, ParamOverride
from ganstudio.live.server import bind_tcp, make_server

ws_client = pytest.importorskip("websockets.sync.client")
pytest.importorskip("uvicorn")


@pytest.fixture
def serve(make_session):
    """``serve(token=None, **session_kw) -> (base url, session)``: a running session behind a real server."""
    servers = []

    def start(token=None, **kw):
        live = make_session(**kw).start()
        sock = bind_tcp("127.0.0.1", 0)
        srv = make_server(live, "127.0.0.1", token)
        th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
        th.start()
        end = time.monotonic() + 10
        while not srv.started and time.monotonic() < end:
            time.sleep(0.01)
        assert srv.started
        servers.append((srv, th, sock))
        return f"127.0.0.1:{sock.getsockname()[1]}", live

    yield start
    for srv, th, sock in servers:
        srv.should_exit = True
        th.join(5)
        sock.close()


def frames(ws, n: int, timeout: float = 3.0):
    """The next n frame messages as (header, picture), skipping text messages."""
    out = []
    end = time.monotonic() + timeout
    while len(out) < n:
        m = ws.recv(timeout=max(0.01, end - time.monotonic()))
        if isinstance(m, bytes):
            out.append(decode(m))
    return out


def test_the_page_is_served_locally_with_a_strict_policy(serve):
    base, _ = serve(fps=30)
    r = httpx.get(f"http://{base}/")
    assert r.status_code == 200 and '<canvas id="out"' in r.text and "/static/live.js" in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "http" not in r.text.split("<body>")[1]
    js = httpx.get(f"http://{base}/static/live.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert httpx.get(f"http://{base}/api/status").json()["run"]
    assert httpx.get(f"http://{base}/", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding


def test_frames_arrive_and_the_page_moves_parameters(serve):
    base, live = serve(fps=60, mapping=Mapping(params={"truncation": ParamOverride(slew=0.0)}))
    with ws_client.connect(f"ws://{base}/ws", origin=f"http://{base}") as ws:
        hello = json.loads(ws.recv(timeout=3))
        assert hello["type"] == "hello" and "truncation" in [p["name"] for p in hello["params"]]
        (header, png), *_ = frames(ws, 2)
        assert Image.open(io.BytesIO(png)).size == (8, 8) and header["mode"] == "live"
        ws.send(json.dumps({"set": {"truncation": 0.5, "dir/0/norm": 1.0}}))
        for bad in ("not json", json.dumps({"set": 5}), json.dumps({"colour": 1}), json.dumps({"set": {"nope": 1}})):
            ws.send(bad)
        ws.send(b"\x00\x01")
        end = time.monotonic() + 3
        while time.monotonic() < end:
            (header, _), *_ = frames(ws, 1)
            if header["values"]["truncation"] == 0.5:
                break
        assert header["values"]["truncation"] == 0.5
    s = live.stats.snapshot()
    assert (s["malformed"], s["unknown"]) == (4, 1)


def test_other_sites_and_missing_tokens_are_refused(serve):
    base, _ = serve(fps=30)
    with pytest.raises(Exception, match="403"):
        ws_client.connect(f"ws://{base}/ws", origin="http://evil.example").close()
    base, _ = serve(token="t0k3n", fps=30)
    assert httpx.get(f"http://{base}/").status_code == 401
    with pytest.raises(Exception, match="403"):
        ws_client.connect(f"ws://{base}/ws", origin=f"http://{base}").close()
    r = httpx.get(f"http://{base}/?token=t0k3n")
    assert r.status_code == 303 and "ganstudio_live_token=t0k3n" in r.headers["set-cookie"]
    with ws_client.connect(f"ws://{base}/ws?token=t0k3n", origin=f"http://{base}") as ws:
        assert json.loads(ws.recv(timeout=3))["type"] == "hello"
