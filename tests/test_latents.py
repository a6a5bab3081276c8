"""Latents: JSON/npz round trips, exact remakes (PNG bytes), refusals, edits, slerp, breeding."""

import json
import math

import pytest
import torch

from ganstudio import latents as L
from ganstudio.creative import breed as B
from ganstudio.creative import directions as D
from ganstudio.creative import interpolate as I
from ganstudio.errors import UserError
from ganstudio.generate import generate_to_files


def test_latent_json_and_npz_round_trip(pipe, tmp_path):
    lats = L.from_seeds(pipe, 3, seed=5, truncation=0.7)
    assert lats[0].origin == {"op": "seed", "seed": 5} and lats[0].run == pipe.run_dir.name and lats[0].step == 30
    assert torch.equal(torch.stack([l.z_tensor for l in lats]), pipe.latents(3, 5))
    back = L.load_latents(L.save_latent(lats[1], tmp_path / "a.json"))[0]
    assert back == lats[1] and back.id == lats[1].id and back.origin == lats[1].origin
    batch = L.load_latents(L.save_batch(lats, tmp_path / "b.npz"))
    assert batch == lats
    d = json.loads((tmp_path / "a.json").read_text())
    d["z"][0] += 1.0
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(UserError, match="edited by hand"):
        L.load_latents(tmp_path / "bad.json")


def test_generate_writes_latents_and_remake_is_byte_exact(run, tmp_path):
    paths = generate_to_files(run, n=4, seed=11, out_dir=tmp_path / "a", truncation=0.8)
    names = sorted(p.name for p in paths)
    assert names == sorted([f"seed{s:06d}.{e}" for s in range(11, 15) for e in ("png", "json")])
    generate_to_files(run, n=4, seed=11, grid=tmp_path / "g.png", truncation=0.8)
    assert len(L.load_latents(tmp_path / "g.npz")) == 4
    # remake one image of the batch from its JSON, and all of them from the grid's npz
    generate_to_files(run, from_latent=str(tmp_path / "a" / "seed000013.json"), out_dir=tmp_path / "b")
    assert (tmp_path / "b" / "seed000013.png").read_bytes() == (tmp_path / "a" / "seed000013.png").read_bytes()
    generate_to_files(run, from_latent=str(tmp_path / "g.npz"), out_dir=tmp_path / "c")
    for s in range(11, 15):
        assert (tmp_path / "c" / f"seed{s:06d}.png").read_bytes() == (tmp_path / "a" / f"seed{s:06d}.png").read_bytes()


def test_remake_refuses_other_checkpoint_and_other_run(run, pipe, tmp_path):
    lat = L.from_seeds(pipe, 1, seed=2)[0]
    f = L.save_latent(lat, tmp_path / "x.json")
    with pytest.raises(UserError, match=r"made at checkpoint step 30 .*--checkpoint 30"):
        generate_to_files(run, from_latent=str(f), checkpoint="20", out_dir=tmp_path / "o")
    gone = L.save_latent(lat.with_(step=5), tmp_path / "gone.json")  # pruned / never saved
    with pytest.raises(UserError, match=r"made at checkpoint step 5.*cannot be remade exactly"):
        generate_to_files(run, from_latent=str(gone), out_dir=tmp_path / "o")
    other = L.save_latent(lat.with_(run="00007-mlp-elsewhere"), tmp_path / "other.json")
    with pytest.raises(UserError, match="made by run 00007-mlp-elsewhere"):
        generate_to_files(run, from_latent=str(other), out_dir=tmp_path / "o")


@pytest.mark.numerics
def test_zero_edit_is_identity_and_edits_remake(run, pipe, tmp_path):
    D.compute_and_save(run, ["pca"], k=8, samples=512)
    dirs = D.find(run, "pca", pipe.step)
    lat = L.from_seeds(pipe, 1, seed=4)[0]
    zero = L.add_edits(lat, [(0, 0.0), (3, 0.0)], dirs.ref)
    assert torch.equal(L.render(pipe, [zero], dirs), L.render(pipe, [lat]))
    moved = L.add_edits(lat, [(0, 2.5)], dirs.ref)
    dz = L.effective_z([moved], dirs) - L.effective_z([lat])
    assert torch.allclose(dz[0], 2.5 * torch.from_numpy(dirs.vectors[0]), atol=1e-6)
    assert not torch.equal(L.render(pipe, [moved], dirs), L.render(pipe, [lat]))
    # through files, with a named direction; then the directions are recomputed differently -> refusal
    D.set_names(dirs.path, {3: "slant"})
    paths = generate_to_files(run, n=1, seed=4, edits="0:+2.5,slant:-1", out_dir=tmp_path / "e")
    png, js = paths
    assert L.load_latents(js)[0].edits == ((0, 2.5), (3, -1.0))
    generate_to_files(run, from_latent=str(js), out_dir=tmp_path / "f")
    assert (tmp_path / "f" / png.name).read_bytes() == png.read_bytes()
    D.compute_and_save(run, ["pca"], k=8, samples=256, seed=1)
    with pytest.raises(UserError, match="recomputed"):
        generate_to_files(run, from_latent=str(js), out_dir=tmp_path / "g")


def test_truncation_pulls_toward_mean():
    lat = L.Latent(z=[1.0, -2.0, 4.0], truncation=0.5)
    assert L.effective_z([lat]).tolist() == [[0.5, -1.0, 2.0]]
    with pytest.raises(UserError, match="truncation"):
        L.Latent(z=[0.0], truncation=0)


def test_parse_edits():
    assert L.parse_edits("0:+2.5, 3:-1,sleeves:2") == [(0, 2.5), (3, -1.0), ("sleeves", 2.0)]
    with pytest.raises(UserError, match="DIRECTION:AMOUNT"):
        L.parse_edits("0+2")


@pytest.mark.numerics
def test_slerp_keeps_norms_and_endpoints():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(100, generator=g), torch.randn(100, generator=g)
    b = b * (a.norm() / b.norm())
    t = torch.linspace(0, 1, 11)
    path = I.slerp(a, b, t)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(11), rtol=1e-5)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    assert I.lerp(a, b, 0.5).norm() < 0.8 * a.norm()  # lerp cuts through the middle, slerp does not
    c = 3 * b
    mid = I.slerp(a, c, 0.25)
    assert math.isclose(float(mid.norm()), float(0.75 * a.norm() + 0.25 * c.norm()), rel_tol=1e-5)
    assert torch.allclose(I.slerp(a, a, 0.3), a, atol=1e-5)  # parallel: no NaN


@pytest.mark.numerics
def test_interpolated_latent_blends_classes():
    a = L.Latent(z=[1.0, 0.0], classes=[1.0, 0.0])
    b = L.Latent(z=[0.0, 1.0], classes=[0.0, 1.0])
    m = I.interpolate(a, b, 0.5)
    assert m.classes == (0.5, 0.5) and m.parents == (a.id, b.id)
    assert math.isclose(m.z[0], math.sqrt(0.5), rel_tol=1e-6)
    frames = I.path([a, b], 5)
    assert frames[0].z == a.z and frames[-1].z == b.z


def _parents(k=100):
    g = torch.Generator().manual_seed(1)
    return [
        L.Latent(z=torch.randn(k, generator=g).numpy(), classes=c, run="r", step=1)
        for c in ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    ]


def test_crossover_children_take_every_dimension_from_a_parent():
    a, b = _parents()
    kids = B.breed([a, b], children=6, mode="crossover", mutation=0.0, seed=3)
    za, zb = a.z_tensor, b.z_tensor
    for k in kids:
        z = k.z_tensor
        assert torch.all((z == za) | (z == zb))
        assert 0 < (z == za).float().mean() < 1
        assert k.parents == (a.id, b.id) and k.origin["op"] == "breed"
        assert math.isclose(sum(k.classes), 1.0, rel_tol=1e-5) and k.classes[1] == 0.0
    mutated = B.breed([a, b], children=6, mode="crossover", mutation=0.3, seed=3)
    assert all(not torch.equal(m.z_tensor, k.z_tensor) for m, k in zip(mutated, kids))
    assert B.breed([a, b], 6, "crossover", 0.3, seed=3) == mutated  # seeded


@pytest.mark.numerics
def test_blend_children_lie_on_the_arc_between_parents():
    a, b = _parents()
    za, zb = a.z_tensor.double(), b.z_tensor.double()
    ang = lambda u, v: torch.arccos((u @ v) / (u.norm() * v.norm())).item()
    basis = torch.linalg.qr(torch.stack([za, zb], 1))[0]
    for k in B.breed([a, b], children=8, mode="blend", mutation=0.0, seed=5):
        z = k.z_tensor.double()
        assert (z - basis @ (basis.T @ z)).norm() < 1e-4 * z.norm()  # in the span
        assert math.isclose(ang(za, z) + ang(z, zb), ang(za, zb), abs_tol=1e-4)  # on the arc
        t = k.origin["t"]
        assert torch.allclose(k.classes_tensor, torch.tensor([1 - t, 0.0, t]), atol=1e-5)


def test_breed_refuses_bad_input():
    a, b = _parents()
    with pytest.raises(UserError, match="at least two parents"):
        B.breed([a], 2)
    with pytest.raises(UserError, match="different runs"):
        B.breed([a, b.with_(run="other")], 2)
    with pytest.raises(UserError, match="mutation"):
        B.breed([a, b], 2, mutation=1.5)


def test_saved_files_are_atomic_and_readable_like_any_other(tmp_path, pipe):
    """Every writer goes through fsutil.atomic_file: the result has a plain open()'s permissions (mkstemp
    alone leaves 0600: a batch .npz once came out unreadable to a web server), and a failed write leaves
    the old file and no temp file behind."""
    import os
    import stat

    import numpy as np

    from ganstudio import media
    from ganstudio.fsutil import atomic_file, file_mode

    lats = L.from_seeds(pipe, 3, seed=1)
    written = [
        L.save_batch(lats, tmp_path / "b.npz"),
        L.save_latent(lats[0], tmp_path / "a.json"),
        media.save_image(np.zeros((4, 4), np.uint8), tmp_path / "i.png"),
    ]
    written += L.save_with_latents(L.render(pipe, lats), lats, tmp_path / "kids", ["k0", "k1", "k2"])
    for p in written:
        assert stat.S_IMODE(os.stat(p).st_mode) == file_mode(), p
    assert sorted(p.name for p in (tmp_path / "kids").iterdir()) == [
        "k0.json",
        "k0.png",
        "k1.json",
        "k1.png",
        "k2.json",
        "k2.png",
    ]
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
