import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from ganstudio.data import DataConfig, load_dataset, mnist
from ganstudio.data.download import fetch
from ganstudio.data.idx import read_idx, write_idx
from ganstudio.errors import UserError


def test_idx_round_trip_raw_and_gzip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.idx", a)
    write_idx(tmp_path / "x.idx.gz", a)
    assert (read_idx(tmp_path / "x.idx") == a).all()
    assert (read_idx(tmp_path / "x.idx.gz", expect_ndim=3) == a).all()


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda b: b"\x00\x00\x0d\x03" + b[4:], "bad magic"),
        (lambda b: b"PK\x03\x04" + b[4:], "bad magic"),
        (lambda b: b[:-5], "truncated"),
        (lambda b: b + b"extra", "longer than its header"),
        (lambda b: b[:10], "truncated"),
        (lambda b: b"", "bad magic"),
    ],
)
def test_bad_idx_files_name_the_file(tmp_path, corrupt, message):
    f = tmp_path / "train-images-idx3-ubyte"
    write_idx(f, np.zeros((4, 5, 5), np.uint8))
    f.write_bytes(corrupt(f.read_bytes()))
    with pytest.raises(UserError, match=message) as e:
        read_idx(f, expect_ndim=3)
    assert str(f) in str(e.value)


def test_wrong_dimensions_and_corrupt_gzip(tmp_path):
    f = tmp_path / "labels-idx1-ubyte"
    write_idx(f, np.zeros((4, 5, 5), np.uint8))
    with pytest.raises(UserError, match="has 3 dimensions, expected 1"):
        read_idx(f, expect_ndim=1)
    g = tmp_path / "images.gz"
    g.write_bytes(gzip.compress(b"\x00" * 100)[:20])
    with pytest.raises(UserError, match="corrupt or truncated gzip") as e:
        read_idx(g)
    assert str(g) in str(e.value)


def test_dataset_found_in_env_folder(idx_dir):
    ds = load_dataset(DataConfig(name="mnist"))
    assert ds.images.shape == (128, 1, 28, 28) and ds.labels.shape == (128,)
    assert ds.source == str(idx_dir)
    test = load_dataset(DataConfig(name="mnist", split="test", resolution=16))
    assert test.images.shape == (32, 1, 16, 16)


def test_digits_fallback_upscaled():
    ds = load_dataset(DataConfig(name="digits"), default_resolution=28)
    assert ds.images.shape[1:] == (1, 28, 28) and ds.images.dtype.is_floating_point is False
    assert len(ds) + len(load_dataset(DataConfig(name="digits", split="test"))) == 1797
    assert ds.num_classes == 10


class _Server:
    """A real HTTP server on loopback serving files from a folder; 'lie' makes it truncate a file."""

    def __init__(self, root: Path):
        self.root = root
        self.truncate: set[str] = set()
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                f = srv.root / name
                if not f.is_file():
                    self.send_error(404)
                    return
                data = f.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if name in srv.truncate else data)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    rng = np.random.default_rng(1)
    for stem, arr in (
        ("train-images-idx3-ubyte", rng.integers(0, 256, (40, 28, 28))),
        ("train-labels-idx1-ubyte", rng.integers(0, 10, 40)),
    ):
        write_idx(root / f"{stem}.gz", arr.astype(np.uint8))
    s = _Server(root)
    yield s
    s.close()


def _source(server_root: Path) -> mnist.IdxSource:
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in server_root.iterdir()}
    return mnist.IdxSource("mnist", tuple(str(i) for i in range(10)), (), sums)


def test_download_verified_into_cache(server, tmp_path, monkeypatch):
    monkeypatch.delenv("GANSTUDIO_OFFLINE", raising=False)
    src = _source(server.root)
    dead = "http://127.0.0.1:9/"  # nothing listens here: the next mirror must be tried
    imgs, labs = mnist.download(src, "train", mirrors=[dead, server.url], dest_dir=tmp_path / "cache")
    assert imgs.read_bytes() == (server.root / imgs.name).read_bytes()
    assert read_idx(imgs).shape == (40, 28, 28) and read_idx(labs).shape == (40,)


def test_wrong_checksum_is_rejected_and_removed(server, tmp_path):
    f = "train-images-idx3-ubyte.gz"
    with pytest.raises(UserError, match="checksum mismatch"):
        fetch(f, "0" * 64, [server.url], tmp_path)
    assert not (tmp_path / f).exists() and not list(tmp_path.glob("*.part"))


def test_truncated_download_is_rejected_and_removed(server, tmp_path):
    f = "train-images-idx3-ubyte.gz"
    server.truncate.add(f)
    good = hashlib.sha256((server.root / f).read_bytes()).hexdigest()
    with pytest.raises(UserError, match="could not download"):
        fetch(f, good, [server.url], tmp_path)
    assert not (tmp_path / f).exists() and not list(tmp_path.glob("*.part"))


def test_offline_and_missing_gives_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GANSTUDIO_DATA", str(tmp_path))
    monkeypatch.setattr(mnist, "search_dirs", lambda name: [tmp_path / name])
    with pytest.raises(UserError, match="not found on disk"):
        load_dataset(DataConfig(name="mnist"))
