"""``ganstudio.likes``: the one read of a run's liked latents, shared by the studio's exhibition walk
(``Store.liked_latents``) and the XR gallery (``xr.favourites``), on a real studio SQLite file."""

from __future__ import annotations

import json

from ganstudio.likes import liked_latents, store_path
from ganstudio.studio.store import Store
from ganstudio.xr.favourites import favourites


def _latent(seed: int) -> dict:
    return {"seed": seed, "truncation": 1.0}


def test_newest_like_first_only_this_runs_likes_with_a_latent(tmp_path):
    path = store_path(tmp_path)
    assert path == tmp_path / ".studio" / "studio.sqlite3"
    store = Store(path)
    for seed in (1, 2, 3):
        store.rate("a", _latent(seed), 1)
    store.rate("a", _latent(4), -1)  # a dislike
    store.rate("b", _latent(5), 1)  # another run
    store.rate_id(store.add_picture("sketch1", "a", b"\x89PNG"), 1)  # the newest like has no latent
    texts = liked_latents(path, "a", 10)
    assert [json.loads(t)["seed"] for t in texts] == [3, 2, 1]
    assert [json.loads(t)["seed"] for t in liked_latents(path, "a", 2)] == [3, 2]  # the limit counts latents
    assert liked_latents(path, "a", 0) == [] and liked_latents(path, "c", 10) == []
    assert store.liked_latents("a", 2) == [_latent(3), _latent(2)]  # the studio reads the same


def test_nothing_is_created_where_the_studio_never_ran(tmp_path):
    assert liked_latents(store_path(tmp_path), "a", 5) == []
    run_dir = tmp_path / "000-run"
    run_dir.mkdir()
    assert favourites(run_dir, 5) == []
    assert not (tmp_path / ".studio").exists()


def test_xr_warns_and_goes_on_without_favourites_when_the_file_is_not_sqlite(tmp_path, capsys):
    path = store_path(tmp_path)
    path.parent.mkdir()
    path.write_bytes(b"not a database" * 100)
    run_dir = tmp_path / "000-run"
    run_dir.mkdir()
    assert favourites(run_dir, 5) == []
    err = capsys.readouterr().err
    assert "cannot read the studio's favourites" in err and "using samples only" in err
    assert path.read_bytes() == b"not a database" * 100  # read-only: left as it was
