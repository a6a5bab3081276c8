"""Fixtures of the live tests: one tiny conditional run with an EMA generator (8 px digits, 10 steps), and
sessions over it that are stopped after each test."""

from __future__ import annotations

import dataclasses
import time

import pytest

try:  # the live extra (make test installs it); without it these tests are not collected
    import mido  # noqa: F401
    import pythonosc  # noqa: F401
except ImportError:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def live_run(tmp_path_factory, tiny_config):
    from ganstudio.training import train

    with pytest.MonkeyPatch.context() as mp:  # session fixtures run outside the per-test cache isolation
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        cfg = dataclasses.replace(tiny_config(steps=10, ema_beta=0.9), conditional=True)
        return train(cfg, out=tmp_path_factory.mktemp("live-runs"), progress=False)


@pytest.fixture
def make_session(live_run, tmp_path):
    """``make_session(**kw)``: a LiveSession over the tiny run (no watchdog, scenes in tmp_path unless given)."""
    from ganstudio.live import LiveSession

    made = []

    def make(**kw):
        kw.setdefault("attract_after", 0)
        kw.setdefault("scenes", tmp_path / "scenes")
        s = LiveSession(live_run, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def wait_until(cond, timeout: float = 20.0, what: str = "condition"):
    # generous: conditions come true in milliseconds; the limit only matters on a starved CI machine
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def wait():
    """``wait(cond, timeout=3, what=...)``: poll until ``cond()`` is true."""
    return wait_until
