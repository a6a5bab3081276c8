"""``ganstudio live``: bad input is refused in one line before anything starts or is written; a recorded
show is rendered again with ``--replay``."""

from __future__ import annotations

import socket

import pytest

from ganstudio.cli import main


def files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def refused(capsys, live_run):
    """``refused(*args) -> message``: run ``ganstudio live RUN *args``, expect exit 2 with one error line and
    nothing written into the run folder."""

    def run(*args, run_dir=None):
        before = files(live_run)
        rc = main(["live", str(run_dir or live_run), *args])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err and files(live_run) == before
        return err

    return run


def test_bad_input_is_refused_in_one_line(refused, tmp_path):
    assert "does not exist" in refused(run_dir=tmp_path / "nope")
    bad = tmp_path / "bad.json"
    bad.write_text('{"midi": [{"cc": 1, "param": "dir/0",}]}')
    assert "not valid JSON (line 1" in refused("--mapping", str(bad))
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"midi": [{"cc": 1, "param": "brightness"}]}')
    assert "unknown live parameter 'brightness'" in refused("--mapping", str(unknown), "--osc-port", "0", "--port", "0")
    assert "--osc-out must be HOST:PORT" in refused("--osc-out", "localhost")
    assert "--replay needs --out" in refused("--replay", str(bad))


def test_ports_in_use_are_refused(refused):
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp.bind(("127.0.0.1", 0))
        assert "is in use" in refused("--port", str(tcp.getsockname()[1]), "--osc-port", "0")
        assert "OSC port" in refused("--port", "0", "--osc-port", str(udp.getsockname()[1]))


def test_bad_flags_are_argparse_one_liners(capsys, live_run):
    with pytest.raises(SystemExit) as e:
        main(["live", str(live_run), "--osc-port", "70000"])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_replay_renders_the_recorded_frames(make_session, tmp_path, live_run, capsys):
    import numpy as np
    from PIL import Image

    live = make_session()
    live.start_recording()
    shown = []
    for i in range(6):
        if i == 2:
            live.set("truncation", 0.5)
        shown.append(live.step().image)
    live.stop_recording(tmp_path / "rec.json")
    assert main(["live", str(live_run), "--replay", str(tmp_path / "rec.json"), "--out", str(tmp_path / "frames")]) == 0
    assert "wrote" in capsys.readouterr().out
    pngs = sorted((tmp_path / "frames").glob("*.png"))
    assert len(pngs) == 6
    for png, img in zip(pngs, shown):  # grey frames come back as RGB with three equal channels
        assert np.array_equal(np.asarray(Image.open(png).convert("RGB"))[..., 0], img[..., 0])
