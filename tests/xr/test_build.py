"""``build_gallery`` / ``ganstudio exhibit --xr``: what the folder holds, that its works are remade exactly from
their latents, favourites first, curation, and the one-line errors raised before anything is written."""

from __future__ import annotations

import json
import re
import shutil
import sys

import pytest

from ganstudio.cli import main
from ganstudio.errors import UserError
from ganstudio.xr import assets, build_gallery
from ganstudio.xr.build import FORMAT, manifest

needs_npm = pytest.mark.skipif(
    bool(assets.missing(assets.wanted(living=True, emulator=True))), reason="the gallery's npm packages: make npm"
)


def test_the_folder_holds_page_works_variations_model_and_vendor_files(built_gallery, xr_run):
    out = built_gallery.out
    m = manifest(out)
    assert m["format"] == FORMAT and len(m["runs"]) == 1
    run = m["runs"][0]
    assert run["key"] == xr_run.name and len(run["works"]) == 3 == built_gallery.n_works
    for w in run["works"]:
        assert (out / w["image"]).is_file() and (out / w["latent"]).is_file()
        assert json.loads((out / w["latent"]).read_text())["id"] == w["id"]
        assert len(w["variations"]) == 2 and all((out / v["image"]).is_file() for v in w["variations"])
        assert w["source"] == "sample" and "seed" in w["caption"] and xr_run.name in w["caption"]
        assert dict(w["details"])["latent"] == w["id"]
    living = run["living"]
    assert (out / living["model"]).stat().st_size > 0 and len(living["keyframes"]) == 3
    assert all(len(k) == living["z_dim"] for k in living["keyframes"]) and len(living["classes"][0]) == 10
    assert living["parity_max_abs_diff"] is not None and living["parity_max_abs_diff"] <= 1e-4
    for f in (
        "index.html",
        "gallery.js",
        "worker.js",
        "emulate.js",
        "vendor/three/three.module.js",
        "vendor/three/three.core.js",
        "vendor/ort/ort.bundle.js",
        "vendor/ort/ort-wasm-simd-threaded.wasm",
        "vendor/iwer/iwer.module.js",
    ):
        assert (out / f).is_file(), f
    assert built_gallery.size_bytes == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert not list(out.parent.glob(".gallery.partial-*"))


def test_the_page_names_no_other_origin(built_gallery):
    out = built_gallery.out
    html = (out / "index.html").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp and "default-src 'self'" in csp.group(1) and "script-src 'self' 'wasm-unsafe-eval'" in csp.group(1)
    for f in ("index.html", "gallery.js", "worker.js", "emulate.js", "style.css"):
        assert not re.search(r"https?://|//cdn|unpkg|jsdelivr", (out / f).read_text()), f


def test_each_work_is_remade_bit_for_bit_from_its_latent(built_gallery, xr_run, tmp_path):
    from ganstudio.generate import generate_to_files

    w = manifest(built_gallery.out)["runs"][0]["works"][1]
    v = w["variations"][0]
    for item in (w, v):
        made = generate_to_files(
            xr_run, from_latent=str(built_gallery.out / item["latent"]), out_dir=tmp_path / item["id"]
        )
        png = next(p for p in made if p.suffix == ".png")
        assert png.read_bytes() == (built_gallery.out / item["image"]).read_bytes()


@needs_npm
def test_favourites_hang_first_then_curated_samples(xr_run, tmp_path):
    from ganstudio import latents as L
    from ganstudio.pipeline import load
    from ganstudio.studio.store import Store

    pipe = load(xr_run)
    liked = L.from_seeds(pipe, 1, seed=42)[0]
    disliked = L.from_seeds(pipe, 1, seed=43)[0]
    store = Store(xr_run.parent / ".studio" / "studio.sqlite3")
    store.rate(xr_run.name, liked.to_dict(), 1)
    store.rate(xr_run.name, disliked.to_dict(), -1)
    store.rate("another-run", L.from_seeds(pipe, 1, seed=44)[0].to_dict(), 1)
    try:
        res = build_gallery([xr_run], tmp_path / "g", n=3, curate=6, variations=0, living=False)
    finally:
        shutil.rmtree(xr_run.parent / ".studio")  # the run is shared with the other tests
    works = manifest(res.out)["runs"][0]["works"]
    assert [w["source"] for w in works] == ["favourite", "curated", "curated"]
    assert works[0]["id"] == liked.id and "seed 42" in works[0]["caption"]
    assert {w["id"] for w in works}.isdisjoint({disliked.id})
    ranks = [dict(w["details"])["realism rank"] for w in works[1:]]
    assert ranks[0].startswith("1 of 6") and ranks[1].startswith("2 of 6")
    assert not (res.out / "vendor" / "ort").exists() and not (res.out / "models").exists()  # living=False


@needs_npm
def test_the_command_builds_and_explains_mistakes(xr_run, tmp_path, capsys):
    out = tmp_path / "gallery"
    assert main(["exhibit", str(xr_run), "--out", str(out)]) == 2
    assert "add --xr" in capsys.readouterr().err and not out.exists()
    args = ["exhibit", str(xr_run), "--xr", "--out", str(out), "--n", "2", "--curate", "0", "--living", "0"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 works, 0 living" in printed and "http.server" in printed
    assert main(args) == 2  # now --out is not empty
    assert "is not empty" in capsys.readouterr().err


def _refused(tmp_path, what: str, **kw) -> str:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(UserError) as e:
        build_gallery(**kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing may be written"
    msg = str(e.value)
    assert "\n" not in msg and what in msg, msg
    return msg


def test_one_line_errors_before_anything_is_written(xr_run, tmp_path, monkeypatch):
    _refused(tmp_path, "does not exist", run_dirs=[tmp_path / "nope"], out=tmp_path / "g")
    (tmp_path / "file").write_text("x")
    _refused(tmp_path, "is a file", run_dirs=[xr_run], out=tmp_path / "file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.txt").write_text("x")
    _refused(tmp_path, "is not empty", run_dirs=[xr_run], out=tmp_path / "full")
    monkeypatch.setenv("GANSTUDIO_XR_NPM", str(tmp_path / "no-npm"))
    _refused(tmp_path, "make npm", run_dirs=[xr_run], out=tmp_path / "g")
    monkeypatch.delenv("GANSTUDIO_XR_NPM")
    if not assets.missing(assets.wanted(living=True, emulator=True)):
        monkeypatch.setitem(sys.modules, "onnx", None)  # as if the onnx extra were not installed
        msg = _refused(tmp_path, "ganstudio[onnx]", run_dirs=[xr_run], out=tmp_path / "g")
        assert "--living 0" in msg
