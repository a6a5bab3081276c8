"""Anchored prompts (issue 15): a text run keeps its training captions (``captions.json``), and ``anchor``
pulls a prompt's embedding toward the nearest of them. Strength 0 is the prompt as written, bit for bit; an
anchored picture keeps its strength in its latent and remakes exactly; bad use is refused before anything is
written. A real tiny run that reads text (``words-64``: no download)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import ganstudio
from ganstudio import latents as L
from ganstudio import runs, textembed
from ganstudio.data.captions import caption_table
from ganstudio.errors import UserError
from ganstudio.generate import generate_to_files


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, captioned_squares, tiny_text_run):
    """A 2-step tiny run that reads text, on 16 boxed squares captioned "a red square" + "red box" (4 colours)."""
    return tiny_text_run(captioned_squares(tmp_path_factory.mktemp("anchor-data"), n=16), seed=None)


def test_the_run_keeps_the_captions_it_trained_on(text_run):
    model, texts = runs.read_captions(text_run)
    pipe = ganstudio.load(text_run)
    assert model == pipe.text_model == "words-64"
    assert sorted(set(texts)) == sorted(
        {f"a {c} square" for c in ("red", "green", "blue", "yellow")}
        | {f"{c} box" for c in ("red", "green", "blue", "yellow")}
    )
    bank_texts, bank = pipe.caption_bank()
    assert len(bank_texts) == len(set(bank_texts)) == 8 and bank.shape == (8, pipe.text_dim)
    assert np.array_equal(bank, textembed.embed(bank_texts, "words-64"))
    from ganstudio.data import load_dataset

    cfg = pipe.config
    assert tuple(texts) == caption_table(load_dataset(cfg.data), "words-64").texts  # the rows training embedded


def test_anchor_zero_is_the_prompt_and_an_anchor_moves_toward_a_known_caption(text_run):
    pipe = ganstudio.load(text_run)
    plain = pipe(n=2, seed=1, prompt="a red thing")
    assert torch.equal(pipe(n=2, seed=1, prompt="a red thing", anchor=0.0).images, plain.images)
    e = pipe.embed_prompt("a red thing")
    _, bank = pipe.caption_bank()
    pulled = pipe.anchored(e, 1.0).numpy()
    nearest_row = textembed.nearest(e.numpy(), bank, 1)[0][0]
    assert float(pulled @ bank[nearest_row]) > float(e.numpy() @ bank[nearest_row])
    assert pipe.known_captions("a red thing", 2)[0][0] in ("a red square", "red box")
    anchored = pipe(n=2, seed=1, prompt="a red thing", anchor=1.0)
    assert not torch.equal(anchored.images, plain.images) and torch.allclose(anchored.classes[0], pipe.anchored(e, 1.0))


def test_an_anchored_picture_keeps_its_strength_and_remakes_exactly(text_run, tmp_path):
    written = generate_to_files(text_run, n=2, seed=3, prompt="a red thing", anchor=0.5, out_dir=tmp_path / "a")
    js = sorted(p for p in written if p.suffix == ".json")
    d = json.loads(js[0].read_text())
    assert d["anchor"] == 0.5 and d["prompt"] == "a red thing"
    again = generate_to_files(text_run, from_latent=str(js[0]), out_dir=tmp_path / "b")
    png = next(p for p in again if p.suffix == ".png")
    assert png.read_bytes() == js[0].with_suffix(".png").read_bytes()
    lat = L.load_latents(js[0])[0]
    assert L.Latent.from_dict(lat.to_dict()) == lat and lat.with_(anchor=0.0).id != lat.id
    assert "anchor" not in lat.with_(anchor=0.0).to_dict()  # unanchored latents keep their old form and ids
    with pytest.raises(UserError, match="does not match its content"):
        L.Latent.from_dict({**d, "anchor": 0.6})


def test_bad_anchors_are_refused_before_anything_is_written(text_run, run, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(UserError, match=r"in \[0, 1\]"):
        generate_to_files(text_run, n=1, prompt="a red thing", anchor=1.5, out_dir=out)
    with pytest.raises(UserError, match="give --prompt"):
        generate_to_files(text_run, n=1, anchor=0.5, out_dir=out)
    with pytest.raises(UserError, match="give --prompt"):
        generate_to_files(run, n=1, prompt="a shirt", anchor=0.5, out_dir=out)  # a class run maps prompts itself
    with pytest.raises(UserError, match="needs a prompt"):
        L.Latent(z=(0.0,), anchor=0.5)
    assert not out.exists()


def test_a_run_without_its_captions_says_how_to_get_them(text_run, tmp_path):
    import shutil

    copy = shutil.copytree(text_run, tmp_path / text_run.name)
    (copy / runs.CAPTIONS_JSON).unlink()
    pipe = ganstudio.load(copy)
    assert pipe(n=1, prompt="a red thing").images.shape[0] == 1  # no anchor: no captions needed
    with pytest.raises(UserError, match="resume it once"):
        pipe(n=1, prompt="a red thing", anchor=0.5)
    from ganstudio.training import train

    step = runs.find_checkpoint(copy).step
    train(resume=copy, overrides={"steps": step}, progress=False)  # what the message advises: no step is trained
    assert runs.find_checkpoint(copy).step == step and (copy / runs.CAPTIONS_JSON).is_file()
    assert ganstudio.load(copy)(n=1, prompt="a red thing", anchor=0.5).images.shape[0] == 1


def test_cli_generate_anchor_names_the_captions_it_pulls_toward(text_run, tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganstudio",
            "generate",
            str(text_run),
            "--prompt",
            "a red thing",
            "--anchor",
            "0.5",
            "--n",
            "2",
            "--grid",
            str(tmp_path / "g.png"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "anchored at 0.5 toward" in r.stderr and ("'a red square'" in r.stderr or "'red box'" in r.stderr)
    assert all(l.anchor == 0.5 for l in L.load_latents(tmp_path / "g.npz"))
    bad = subprocess.run(
        [sys.executable, "-m", "ganstudio", "generate", str(text_run), "--prompt", "x", "--anchor", "2"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "[0, 1]" in bad.stderr


def test_walks_and_children_of_anchored_pictures_keep_their_anchor(text_run):
    """A walk between keyframes anchored 0.2 and 0.6 is exactly 0.2 and 0.6 at its ends and 0.4 half-way (no jump
    at a keyframe); a child of two such parents is pulled by their weighted mean; every one renders."""
    from ganstudio.creative import breed as B
    from ganstudio.creative import interpolate as I

    pipe = ganstudio.load(text_run)
    a = L.from_seeds(pipe, 1, 3, prompt="a red thing", anchor=0.2)[0]
    b = L.from_seeds(pipe, 1, 4, prompt="a blue thing", anchor=0.6)[0]
    ends = [I.interpolate(a, b, t, "lerp") for t in (0.0, 0.5, 1.0)]
    assert [e.anchor for e in ends] == [0.2, pytest.approx(0.4), 0.6]
    assert torch.equal(L.render(pipe, [ends[0]]), L.render(pipe, [a.with_(parents=ends[0].parents)]))
    kid = B.breed([a, b], 1, "blend", seed=0)[0]
    w = kid.origin["weights"]
    assert kid.anchor == pytest.approx(w[0] * 0.2 + w[1] * 0.6, abs=1e-6) and kid.text_mix
    assert L.render(pipe, [kid]).shape[0] == 1
