"""Prompts through the creative tools: a walk whose keyframes are prompts moves the sentence embedding along with
z (each frame's latent keeps the mix of prompts and remakes its pixels exactly), children of prompted pictures mix
their prompts, Python blends prompts; class runs map prompts to classes, other runs refuse in one line."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganstudio
from ganstudio import latents as L
from ganstudio import textembed
from ganstudio.cli import main
from ganstudio.creative import animate as A
from ganstudio.creative import breed as B
from ganstudio.creative import interpolate as I
from ganstudio.errors import UserError
from ganstudio.generate import file_stem, generate_to_files
from ganstudio.models import build
from ganstudio.pipeline import Pipeline

RED, BLUE = "a red square", "a blue square"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, captioned_squares, tiny_text_run):
    """A 2-step tiny run that reads text, on 8 one-colour captioned squares."""
    data = captioned_squares(tmp_path_factory.mktemp("captioned"), n=8, boxed=False)
    return tiny_text_run(data, seed=None)


def emb(text: str) -> np.ndarray:
    return textembed.embed([text], "words-64")[0].astype(np.float64)


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_cli_walk_between_prompts_moves_the_text_and_each_frame_remakes_exactly(text_run, tmp_path):
    out = tmp_path / "frames"
    args = ["animate", str(text_run), "--prompts", RED, BLUE, "--seed", "3", "--frames", "5", "--size", "0"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    frames = sorted(out.glob("frame*.png"))
    lats = L.load_latents(out / "latents.npz")
    assert len(frames) == 5 and len(lats) == 5
    # the ends are the prompts themselves; in between, a mix of both whose embedding is the slerp of theirs
    assert (lats[0].prompt, lats[0].text_hash) == (RED, textembed.fingerprint(emb(RED).astype(np.float32)))
    assert lats[-1].prompt == BLUE and lats[0].text_mix == lats[-1].text_mix == ()
    mid = lats[2]
    assert mid.prompt is None and [p for p, _, _ in mid.text_mix] == [RED, BLUE]
    a, b = emb(RED), emb(BLUE)
    omega = np.arccos(a @ b)
    slerp_half = (np.sin(omega / 2) * a + np.sin(omega / 2) * b) / np.sin(omega)  # cosine easing: t = 0.5 at the middle
    pipe = ganstudio.load(text_run)
    got = L.mix_embedding(pipe, mid.text_parts).double().numpy()
    np.testing.assert_allclose(got, slerp_half, atol=1e-6)
    keys = [L.from_seeds(pipe, 1, 3, prompt=t)[0] for t in (RED, BLUE)]
    assert abs(np.linalg.norm(got) - 1) < 1e-6 and mid.parents == (keys[0].id, keys[1].id)
    assert lats[1].text_mix[0][2] > lats[3].text_mix[0][2]  # red fades out
    # one noise for both prompts: only what the picture shows changes
    np.testing.assert_allclose(np.asarray(lats[0].z), np.asarray(lats[-1].z), atol=1e-6)
    # the frames' latents remake the frames, pixel for pixel
    generate_to_files(text_run, from_latent=str(out / "latents.npz"), out_dir=tmp_path / "again")
    for frame, lat in zip(frames, lats):
        assert np.array_equal(pixels(frame), pixels(tmp_path / "again" / f"{file_stem(lat)}.png"))
    # the first frame is the picture `generate --prompt` draws for that prompt and seed
    drawn = generate_to_files(text_run, n=1, seed=3, prompt=RED, out_dir=tmp_path / "drawn")
    assert np.array_equal(pixels(frames[0]), pixels(next(p for p in drawn if p.suffix == ".png")))
    assert not np.array_equal(pixels(frames[0]), pixels(frames[2]))  # the text moved the picture
    # a mixed frame survives JSON (latent id checked on reading) and carries its mix in the file
    one = L.save_latent(mid, tmp_path / "mid.json")
    assert json.loads(one.read_text())["text_mix"][1][0] == BLUE and L.load_latents(one)[0] == mid


def test_a_seed_walk_of_a_text_run_walks_the_seeds_training_captions(text_run, tmp_path):
    """Without --prompts each seed keyframe draws the training caption its seed names, not the empty caption."""
    out = tmp_path / "frames"
    args = ["animate", str(text_run), "--seeds", "4,5", "--frames", "3", "--size", "0"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    lats = L.load_latents(out / "latents.npz")
    pipe = ganstudio.load(text_run)
    assert lats[0].prompt == pipe.caption_for_seed(4) and lats[-1].prompt == pipe.caption_for_seed(5)
    assert lats[0].prompt != lats[-1].prompt and all(lat.has_text for lat in lats)


def test_an_mp4_walk_between_prompts_per_prompt_seeds_and_a_loop(text_run, tmp_path):
    paths = A.animate_run(
        text_run, tmp_path / "w.mp4", prompts=[RED, BLUE, "a green square"], seeds=[1, 2, 3], frames=9, fps=9,
        loop=True, size=32, progress=False,
    )  # fmt: skip
    from ganstudio import media_video

    assert media_video.count_frames(paths[0]) == 9
    lats = L.load_latents(paths[1])
    pipe = ganstudio.load(text_run)
    assert lats[0].z == L.from_seeds(pipe, 1, 1)[0].z and lats[3].z == L.from_seeds(pipe, 1, 2)[0].z
    assert [l.prompt for l in lats[::3]] == [RED, BLUE, "a green square"]
    assert {p for l in lats[7:] for p, _, _ in l.text_mix} == {"a green square", RED}  # back to the first


def test_python_blends_prompts_like_a_walk_does(text_run):
    pipe = ganstudio.load(text_run)
    out = pipe(n=2, seed=3, prompt={RED: 1.0, BLUE: 1.0})
    assert out.prompt == f"50% {RED} + 50% {BLUE}"
    np.testing.assert_allclose(out.classes[0].double().norm().item(), 1.0, atol=1e-6)
    walk = I.path(L.from_seeds(pipe, 1, 3, prompt=RED) + L.from_seeds(pipe, 1, 3, prompt=BLUE), 3,
                  text_embed=A.text_embed_of(pipe))  # fmt: skip
    np.testing.assert_allclose(L.text_matrix(pipe, [walk[1]])[0], out.classes[0], atol=1e-6)
    lat = L.from_seeds(pipe, 1, 3, prompt={RED: 1.0, BLUE: 1.0})[0]
    assert torch.equal(L.render(pipe, [lat])[0], pipe.generate(lat.z_tensor[None], out.classes[:1])[0])
    assert L.from_seeds(pipe, 1, 3, prompt={RED: 2.0})[0].prompt == RED  # one prompt: itself
    assert pipe(prompt={RED: -0.5, BLUE: 1.0}).prompt == f"{BLUE}, not {RED} (50%)"  # steers away (--negative)
    for weights in ({RED: -1.0}, {RED: 0.0}, {RED: float("nan"), BLUE: 1.0}):
        with pytest.raises(UserError, match="at least one of them positive"):
            pipe(prompt=weights)


def test_breeding_prompted_pictures_mixes_their_prompts(text_run, tmp_path, capsys):
    pipe = ganstudio.load(text_run)
    red, blue = L.from_seeds(pipe, 1, 1, prompt=RED)[0], L.from_seeds(pipe, 1, 2, prompt=BLUE)[0]
    fa, fb = L.save_latent(red, tmp_path / "red.json"), L.save_latent(blue, tmp_path / "blue.json")
    out = tmp_path / "kids"
    args = ["breed", str(text_run), "--parents", f"{fa},{fb}", "--children", "3", "--mode", "blend"]
    assert main([*args, "--out-dir", str(out)]) == 0
    kids = sorted(out.glob("child*.json"))
    assert len(kids) == 3
    for f in kids:
        kid = L.load_latents(f)[0]
        t = kid.origin["t"]
        assert kid.parents == (red.id, blue.id) and [p for p, _, _ in kid.text_mix] == [RED, BLUE]
        e = L.mix_embedding(pipe, kid.text_parts).double().numpy()
        expect = (1 - t) * emb(RED) + t * emb(BLUE)
        np.testing.assert_allclose(e, expect / np.linalg.norm(expect), atol=1e-6)  # the parents' mix, unit length
        remade = generate_to_files(text_run, from_latent=str(f), out_dir=tmp_path / "remade" / f.stem)
        png = next(p for p in remade if p.suffix == ".png")
        assert png.read_bytes() == f.with_suffix(".png").read_bytes()
    grid = L.load_latents(out / "grid.npz")
    assert [l.id for l in grid[:2]] == [red.id, blue.id] and grid[2].text_mix  # provenance: parents, then children
    # parents that read the same prompt pass it on unchanged; a child of children flattens the mix
    same = B.breed([red, L.from_seeds(pipe, 1, 5, prompt=RED)[0]], 2, "blend", seed=1)
    assert all(k.prompt == RED and not k.text_mix for k in same)
    kid = L.load_latents(kids[0])[0]
    grand = B.breed([kid, red], 1, "blend", seed=2, text_embed=A.text_embed_of(pipe))[0]
    assert {p for p, _, _ in grand.text_mix} == {RED, BLUE}
    assert abs(L.mix_embedding(pipe, grand.text_parts).double().norm().item() - 1) < 1e-6
    with pytest.raises(UserError, match="some parents were drawn from a prompt"):
        B.breed([red, red.with_(prompt=None, text_hash=None)], 1)


def test_class_runs_map_prompts_to_classes_and_other_runs_refuse(run, tiny_config, tmp_path, capsys):
    fashion = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    cfg = tiny_config()
    cfg = dataclasses.replace(cfg, model_config=dataclasses.replace(cfg.model_config, num_classes=len(fashion)))
    torch.manual_seed(0)
    G, _ = build(cfg.model, cfg.model_config)
    cp = Pipeline(G, cfg, None, 0, torch.device("cpu"), fashion)
    keys = A.prompt_keyframes(cp, ["a coat", "a bag"], [], seed=4, embedder=textembed.embedder("words-64"))
    assert [int(np.argmax(k.classes)) for k in keys] == [4, 8] and keys[0].origin["prompt"] == "a coat"
    paths = A.animate(cp, keys, tmp_path / "cb", frames=4, size=0, progress=False)
    lats = L.load_latents(paths[1])
    assert len(lats) == 4 and lats[1].classes[4] > lats[1].classes[8] > 0 and not lats[1].has_text
    # an unconditional run without text (or named directions): one line, nothing written
    assert main(["animate", str(run), "--prompts", RED, BLUE, "--out", str(tmp_path / "x.gif")]) == 2
    assert "neither reads text nor has classes" in capsys.readouterr().err and not (tmp_path / "x.gif").exists()
    assert main(["animate", str(run), "--prompts", RED, "--out", str(tmp_path / "y.gif")]) == 2
    assert "at least two" in capsys.readouterr().err
    # a prompted latent refused by a run that does not read text
    text_lat = L.Latent(z=(0.0,) * cp.z_dim, prompt=RED, text_hash="0" * 16)
    with pytest.raises(UserError, match="reads text"):
        A.animate(cp, [text_lat, text_lat], tmp_path / "z.gif", frames=2, progress=False)


def test_without_the_embeddings_text_moves_in_a_straight_line(text_run):
    """What callers that pass no ``text_embed`` get (e.g. the studio's walks): still a mix that remakes exactly."""
    pipe = ganstudio.load(text_run)
    red, blue = L.from_seeds(pipe, 1, 1, prompt=RED)[0], L.from_seeds(pipe, 1, 2, prompt=BLUE)[0]
    mid = I.interpolate(red, blue, 0.25)
    assert mid.text_mix == ((RED, red.text_hash, 0.75), (BLUE, blue.text_hash, 0.25))
    kid = B.breed([red, blue], 1, "blend", seed=0)[0]
    t = kid.origin["t"]
    assert [w for _, _, w in kid.text_mix] == pytest.approx([1 - t, t])
    assert torch.equal(L.render(pipe, [kid]), L.render(pipe, [L.Latent.from_dict(kid.to_dict())]))


def test_taste_suggestions_keep_their_parents_prompts(text_run):
    from ganstudio.creative import taste as T

    pipe = ganstudio.load(text_run)
    liked = L.from_seeds(pipe, 2, 1, prompt=RED) + L.from_seeds(pipe, 1, 5, prompt={RED: 1.0, BLUE: 1.0})
    ideas = T.suggest(T.fit(liked), n=6, explore=0.3, seed=1)
    by_id = {l.id: l for l in liked}
    assert all(i.has_text for i in ideas)
    for i in ideas:
        if i.parents:
            assert i.text_parts == by_id[i.parents[0]].text_parts
    assert L.render(pipe, ideas).shape[0] == 6


def test_a_mix_is_checked_like_a_prompt(text_run):
    pipe = ganstudio.load(text_run)
    lat = L.from_seeds(pipe, 1, 3, prompt={RED: 1.0, BLUE: 1.0})[0]
    (p1, h1, w1), part2 = lat.text_mix
    forged = lat.with_(text_mix=((p1, "0" * 16, w1), part2))
    with pytest.raises(UserError, match=r"embeds 'a red square' as .* cannot be remade exactly"):
        L.render(pipe, [forged])
    with pytest.raises(UserError, match="either one prompt or a text_mix"):
        lat.with_(prompt=RED, text_hash=h1)
    with pytest.raises(UserError, match="at least two"):
        lat.with_(text_mix=lat.text_mix[:1])
    with pytest.raises(UserError, match="edited by hand"):
        L.Latent.from_dict({**lat.to_dict(), "text_mix": [[p1, h1, w1 * 2], list(part2)]})
