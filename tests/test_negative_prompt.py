"""Negative prompts (``--negative TEXT``): a text run's G reads ``unit(e_prompt - w * e_negative)``, a text mix with a
negative part; kept in each latent (so the picture remakes exactly), carried by walks, refused in one line where it
means nothing, before anything is written."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ganstudio
from ganstudio import argtypes
from ganstudio import latents as L
from ganstudio.cli import build_parser, main
from ganstudio.errors import UserError
from ganstudio.generate import generate_to_files


@pytest.fixture(scope="module")
def text_run(tiny_text_run):
    """A 2-step tiny text run (16 captioned coloured squares, the download-free ``words-64`` text model)."""
    return tiny_text_run()


def test_a_negative_part_is_subtracted_and_the_mix_kept_at_unit_length(text_run):
    pipe = ganstudio.load(text_run)
    parts = L.mix_prompts(pipe, L.with_negative("a red square", "red", 0.5))
    assert [(p, w < 0) for p, _, w in parts] == [("a red square", False), ("red", True)]
    assert parts[1][2] == pytest.approx(-0.5 * parts[0][2])  # the weights keep their ratio
    e_p, e_n = pipe.embed_prompt("a red square").double(), pipe.embed_prompt("red").double()
    want = (e_p - 0.5 * e_n) / (e_p - 0.5 * e_n).norm()
    got = L.mix_embedding(pipe, parts).double()
    # float32 sum of two unit vectors times weights <= 1.2: a few float32 ulps of 1 per entry
    assert torch.allclose(got, want, rtol=0, atol=8 * np.finfo(np.float32).eps)
    lat = L.from_seeds(pipe, 1, 0, prompt=L.with_negative("a red square", "red", 0.5))[0]
    assert lat.prompt is None and lat.text_label == "a red square, not red (50%)"
    two = L.Latent(z=(0.0,), text_mix=(("an apple", "h", 0.6), ("a rocket", "h", 0.4), ("red", "h", -0.5)))
    assert two.text_label == "60% an apple + 40% a rocket, not red (50%)"


def test_bad_negatives_are_refused_in_one_line(text_run):
    pipe = ganstudio.load(text_run)
    for negative, weight, message in (
        ("  ", 0.5, "negative prompt is empty"),
        ("a red square", 0.5, "both the prompt and a negative"),
        ("red", 0.0, r"must be in \(0, 1\]"),
        ("red", 1.5, r"must be in \(0, 1\]"),
        ("red", "much", "must be a number"),
    ):
        with pytest.raises(UserError, match=message):
            L.with_negative("a red square", negative, weight)
    with pytest.raises(UserError, match="at least one of them positive"):
        L.mix_prompts(pipe, {"red": -1.0})
    with pytest.raises(UserError, match="give the prompt too"):
        pipe(n=1, negative="red")


def test_pipeline_draws_the_steered_embedding_and_steering_changes_the_picture(text_run):
    pipe = ganstudio.load(text_run)
    plain = pipe(n=2, seed=3, prompt="a red square")
    steered = pipe(n=2, seed=3, prompt="a red square", negative="red", negative_weight=0.8)
    assert steered.prompt == "a red square, not red (80%)"
    parts = L.mix_prompts(pipe, {"a red square": 1.0, "red": -0.8})
    assert torch.equal(steered.classes[0], L.mix_embedding(pipe, parts))  # a text run keeps the embedding here
    assert torch.equal(steered.images, pipe.generate(plain.z, L.mix_embedding(pipe, parts)[None].expand(2, -1)))
    assert not torch.equal(steered.images, plain.images)
    # a mapping prompt takes negatives too, and several at once
    both = pipe(n=1, seed=3, prompt={"a red square": 1.0}, negative=["red", "blue"], negative_weight=0.3)
    assert both.prompt == "a red square, not red (30%), not blue (30%)"


def test_cli_negative_prompt_sheet_remakes_exactly_from_its_latents(text_run, tmp_path, capsys):
    grid = tmp_path / "sheet.png"
    argv = ["generate", str(text_run), "--n", "2", "--seed", "5", "--grid", str(grid)]
    assert main([*argv, "--prompt", "a red square", "--prompt", "a blue square", "--negative", "green"]) == 0
    assert "steered away from 'green' (each at weight 0.5" in capsys.readouterr().err
    rows = grid.with_suffix(".txt").read_text().splitlines()
    assert rows == ["row 1: a red square, not green (50%)", "row 2: a blue square, not green (50%)"]
    lats = L.load_latents(grid.with_suffix(".npz"))
    assert [m[0] for m in lats[0].text_mix] == ["a red square", "green"] and lats[0].text_mix[1][2] < 0
    again = tmp_path / "again.png"
    main(["generate", str(text_run), "--from", str(grid.with_suffix(".npz")), "--grid", str(again)])
    assert again.read_bytes() == grid.read_bytes()
    assert again.with_suffix(".txt").read_text() == grid.with_suffix(".txt").read_text()
    # the same seeds without the negative draw other pictures
    plain = tmp_path / "plain.png"
    main([*argv[:-1], str(plain), "--prompt", "a red square", "--prompt", "a blue square"])
    assert plain.read_bytes() != grid.read_bytes()
    assert build_parser().parse_args(["generate", "r"]).negative_weight == L.NEGATIVE_WEIGHT  # one default
    assert argtypes.NEGATIVE_WEIGHT == L.NEGATIVE_WEIGHT  # every command's --negative-weight (argtypes.add_negative)


def test_negative_is_refused_where_it_means_nothing_before_anything_is_written(text_run, run, tmp_path, capsys):
    out = tmp_path / "out"
    for argv, message in (
        (["generate", str(text_run), "--negative", "red", "--out-dir", str(out)], "give the prompt too"),
        (["generate", str(run), "--prompt", "a shirt", "--negative", "red", "--out-dir", str(out)], "maps prompts"),
        (
            ["generate", str(text_run), "--prompt", "a red square", "--negative", "red", "--negative-weight", "2"],
            "--negative-weight must be in",
        ),
        (["generate", str(text_run), "--prompt", "red", "--prompt", "blue", "--negative", "blue"], "both the prompt"),
    ):
        assert main([*argv, "--grid", str(tmp_path / "g.png")]) != 0
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "g.png").exists()
    with pytest.raises(UserError, match="do not apply"):
        generate_to_files(text_run, n=1, from_latent=str(tmp_path / "x.json"), negative="red")


def test_a_walk_between_prompts_steers_every_keyframe(text_run, tmp_path):
    from ganstudio.creative.animate import prompt_keyframes
    from ganstudio.creative.breed import breed
    from ganstudio.creative.interpolate import interpolate

    pipe = ganstudio.load(text_run)
    keys = prompt_keyframes(pipe, ["a red square", "a blue square"], [], 2, negative="green", negative_weight=0.4)
    assert [k.text_label for k in keys] == ["a red square, not green (40%)", "a blue square, not green (40%)"]
    mid = interpolate(keys[0], keys[1], 0.5)
    assert {p for p, _, _ in mid.text_parts} == {"a red square", "a blue square", "green"}
    assert dict((p, w) for p, _, w in mid.text_parts)["green"] < 0
    # a child of steered parents stays steered (its text: the parents' parts with their weights)
    kids = breed(keys, children=2, mode="blend", seed=1, text_embed=lambda parts: L.mix_embedding(pipe, parts))
    assert all(dict((p, w) for p, _, w in k.text_parts)["green"] < 0 for k in kids)
    frames = tmp_path / "frames"
    argv = ["animate", str(text_run), "--prompts", "a red square", "a blue square", "--negative", "green"]
    assert main([*argv, "--frames", "3", "--size", "0", "--quiet", "--out", str(frames)]) == 0
    first = L.load_latents(frames / "latents.npz")[0]
    assert [m[0] for m in first.text_mix] == ["a red square", "green"]
