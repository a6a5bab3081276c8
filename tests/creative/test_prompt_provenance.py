"""A picture drawn from a prompt keeps the prompt and its embedding's fingerprint in its latent, and remakes
bit for bit from it; a changed embedding is refused by name; class-conditional runs keep today's mapping and
say so."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

import ganstudio
from ganstudio import latents as L
from ganstudio import textembed
from ganstudio.errors import UserError
from ganstudio.generate import generate_to_files, prompt_mode


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, captioned_squares, tiny_text_run):
    """A 2-step tiny run that reads text, on 8 one-colour captioned squares."""
    data = captioned_squares(tmp_path_factory.mktemp("captioned"), n=8, boxed=False)
    return tiny_text_run(data, seed=None)


def test_prompt_and_hash_are_stored_and_remake_the_same_bytes(text_run, tmp_path):
    written = generate_to_files(text_run, n=2, seed=3, prompt="a red square", out_dir=tmp_path / "a")
    js = sorted(p for p in written if p.suffix == ".json")
    d = json.loads(js[0].read_text())
    e = textembed.embed(["a red square"], "words-64")[0]
    assert d["prompt"] == "a red square" and d["text_hash"] == textembed.fingerprint(e) and d["classes"] is None
    again = generate_to_files(text_run, from_latent=str(js[0]), out_dir=tmp_path / "b")
    png = next(p for p in again if p.suffix == ".png")
    assert png.read_bytes() == js[0].with_suffix(".png").read_bytes()
    # the grid's batch file carries the prompt too, and remakes the grid exactly
    grid = generate_to_files(text_run, n=2, seed=3, prompt="a red square", grid=tmp_path / "g.png")
    lats = L.load_latents(grid[1])
    assert [l.prompt for l in lats] == ["a red square"] * 2
    assert lats[0].id == L.load_latents(js[0])[0].id  # the same recipe, whichever file it came from


def test_the_prompt_is_part_of_the_latent_id_and_a_changed_embedding_is_refused(text_run, tmp_path):
    pipe = ganstudio.load(text_run)
    red, blue = L.from_seeds(pipe, 1, 0, prompt="a red square")[0], L.from_seeds(pipe, 1, 0, prompt="a blue square")[0]
    assert red.z == blue.z and red.id != blue.id
    assert L.Latent.from_dict(red.to_dict()) == red
    forged = red.with_(text_hash="0" * 16)
    with pytest.raises(UserError, match="cannot be remade exactly"):
        L.render(pipe, [forged])
    with pytest.raises(UserError, match="embedding hash"):
        L.Latent(z=red.z, prompt="a red square")


def test_class_runs_keep_the_nearest_class_mapping_and_say_so(text_run, run):
    assert "reads text" in prompt_mode(text_run)
    assert "nearest class" in prompt_mode(run)
    with pytest.raises(UserError, match="does not read text"):
        ganstudio.load(run)(n=1, prompt="a red square")
    other = ganstudio.load(run)
    lat = L.from_seeds(ganstudio.load(text_run), 1, 0, prompt="a red square")[0].with_(z=(0.0,) * other.z_dim)
    with pytest.raises(UserError, match="reads text"):
        L.check_compatible([lat], other, exact=False)


def test_without_a_prompt_a_text_run_draws_its_own_training_captions_in_turn(text_run, tmp_path, capsys):
    from ganstudio.cli import main

    assert main(["generate", str(text_run), "--n", "5", "--seed", "4", "--out-dir", str(tmp_path / "own")]) == 0
    assert "no --prompt was given: each seed draws one of its training captions" in capsys.readouterr().err
    lats = [L.load_latents(p)[0] for p in sorted((tmp_path / "own").glob("*.json"))]
    pipe = ganstudio.load(text_run)
    assert [lat.prompt for lat in lats] == [pipe.caption_for_seed(s) for s in range(4, 9)]
    assert {lat.prompt for lat in lats[:4]} == set(pipe.training_captions())  # 4 seeds in a row: all 4 captions
    assert [lat.origin["seed"] for lat in lats] == [4, 5, 6, 7, 8]
    # each remakes exactly from its latent, and is what the prompt itself draws at that seed
    again = generate_to_files(
        text_run, from_latent=str(sorted((tmp_path / "own").glob("*.json"))[2]), out_dir=tmp_path / "b"
    )
    png = next(p for p in again if p.suffix == ".png")
    assert png.read_bytes() == sorted((tmp_path / "own").glob("*.png"))[2].read_bytes()
    assert torch.equal(L.render(pipe, lats[2:3]), pipe(n=1, seed=6, prompt="a blue square").images)


@pytest.mark.parametrize("n", [1, 2, 3, 4335, 4336, 10007])
def test_consecutive_seeds_visit_every_training_caption_once(n):
    """The seed -> caption rule is a shuffle: any n consecutive seeds draw each of n captions once, and neighbouring
    seeds land far apart (one picture's captions sit together in the bank)."""
    from ganstudio.pipeline import SEED_STRIDE

    idx = [(s * SEED_STRIDE) % n for s in range(1000, 1000 + n)]
    assert sorted(idx) == list(range(n))
    if n > 100:
        gaps = [min(abs(a - b), n - abs(a - b)) for a, b in itertools.pairwise(idx)]
        assert min(gaps) > 3


def test_a_prompt_sheet_draws_each_prompt_from_the_same_seeds_one_row_each(text_run, tmp_path, capsys):
    from PIL import Image

    from ganstudio.cli import main

    prompts = ["a red square", "a blue square", "a yellow square"]
    args = ["generate", str(text_run), "--n", "2", "--seed", "5", "--grid", str(tmp_path / "sheet.png")]
    args += ["--out-dir", str(tmp_path / "files")] + [x for p in prompts for x in ("--prompt", p)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "this run reads text" in err
    assert (tmp_path / "sheet.txt").read_text() == "row 1: a red square\nrow 2: a blue square\nrow 3: a yellow square\n"
    lats = L.load_latents(tmp_path / "sheet.npz")
    assert [l.prompt for l in lats] == [p for p in prompts for _ in range(2)]
    assert [l.origin["seed"] for l in lats] == [5, 6] * 3  # every row from the same seeds
    # one row per prompt: the grid is 2 pictures wide and 3 high (16 px pictures, enlarged 6x, 2 px gaps)
    w, h = Image.open(tmp_path / "sheet.png").size
    assert h > w and round(h / w, 1) == round((3 * 96 + 4 * 2) / (2 * 96 + 3 * 2), 1)
    # per-picture files keep the prompts apart, and each is what its prompt draws alone at its seed
    names = sorted(p.name for p in (tmp_path / "files").glob("*.png"))
    assert names == [f"p{i:02d}-seed{s:06d}.png" for i in (1, 2, 3) for s in (5, 6)]
    pipe = ganstudio.load(text_run)
    blue6 = L.load_latents(tmp_path / "files" / "p02-seed000006.json")[0]
    assert torch.equal(L.render(pipe, [blue6]), pipe(n=1, seed=6, prompt="a blue square").images)
    # the sheet's latents give back the same sheet, byte for byte, and its rows' names
    again = generate_to_files(text_run, from_latent=str(tmp_path / "sheet.npz"), grid=tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "sheet.png").read_bytes()
    assert (tmp_path / "again.txt").read_text() == (tmp_path / "sheet.txt").read_text() and len(again) == 3
    remade = generate_to_files(text_run, from_latent=str(tmp_path / "sheet.npz"), out_dir=tmp_path / "again")
    assert sorted(p.name for p in remade if p.suffix == ".png") == names
    # an empty prompt is refused in one line before anything is written
    assert main(["generate", str(text_run), "--prompt", "", "--grid", str(tmp_path / "none.png")]) == 2
    assert "--prompt is empty" in capsys.readouterr().err and not (tmp_path / "none.png").exists()


def test_remade_latents_that_share_a_seed_never_overwrite_each_other(text_run, tmp_path):
    a = generate_to_files(text_run, n=1, seed=5, prompt="a red square", out_dir=tmp_path / "a")
    b = generate_to_files(text_run, n=1, seed=5, prompt="a red square", truncation=0.5, out_dir=tmp_path / "b")
    both = ",".join(str(next(p for p in w if p.suffix == ".json")) for w in (a, b))
    remade = [p for p in generate_to_files(text_run, from_latent=both, out_dir=tmp_path / "c") if p.suffix == ".png"]
    assert len(set(remade)) == 2 and remade[0].name == "seed000005.png" and remade[1].name.startswith("seed000005-")
    assert remade[1].read_bytes() == next(p for p in b if p.suffix == ".png").read_bytes()


def test_sheet_rows_are_found_only_where_every_row_has_its_prompt(text_run):
    from ganstudio.generate import sheet_rows

    pipe = ganstudio.load(text_run)
    red, blue = (L.from_seeds(pipe, 2, 0, prompt=p) for p in ("a red square", "a blue square"))
    assert sheet_rows(red + blue) == ["a red square", "a blue square"]
    assert sheet_rows(red) is None and sheet_rows(red + blue[:1]) is None
    assert sheet_rows(red + L.from_seeds(pipe, 2, 0)) is None  # the second row draws the empty caption
    assert sheet_rows(red + L.from_seeds(pipe, 2, 5, prompt="a blue square")) is None  # other noise: not a sheet
