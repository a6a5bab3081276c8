"""Fixtures of the gallery tests: one tiny conditional run (8 px digits, 10 steps), a gallery built from it and
served by Python's plain static file server (as any web server would serve it)."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import threading

import pytest

from ganstudio.xr import assets


@pytest.fixture(scope="session")
def xr_run(tmp_path_factory, tiny_config):
    from ganstudio.training import train

    with pytest.MonkeyPatch.context() as mp:  # session fixtures run outside the per-test cache isolation
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        cfg = dataclasses.replace(tiny_config(steps=10), conditional=True)
        return train(cfg, out=tmp_path_factory.mktemp("xr-runs"), progress=False)


@pytest.fixture(scope="session")
def built_gallery(xr_run, tmp_path_factory):
    """A gallery of 3 works (2 variations each) and one living painting; plain seeds (no curation)."""
    if assets.missing(assets.wanted(living=True, emulator=True)):
        pytest.skip("the gallery's npm packages are missing: make npm")
    pytest.importorskip("onnxruntime")
    from ganstudio.xr import build_gallery

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        return build_gallery([xr_run], tmp_path_factory.mktemp("xr") / "gallery", n=3, variations=2, curate=0)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="session")
def served(built_gallery):
    """The gallery on http://127.0.0.1:PORT/ (the standard library's server, its default MIME types)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built_gallery.out))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
