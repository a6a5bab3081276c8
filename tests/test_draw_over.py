"""Drawing a prompt over the user's own picture (``--over``): a retrieving text run's G draws over the given picture
instead of its nearest training picture; the picture travels inside the latent (a PNG data URL at G's drawing size),
so the result remakes byte for byte without the file; bad input is refused in one line before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganstudio
from ganstudio import latents as L
from ganstudio import media
from ganstudio.cli import main
from ganstudio.errors import UserError
from ganstudio.generate import generate_to_files


@pytest.fixture(scope="module")
def over_run(tmp_path_factory, tiny_text_run):
    """A 2-step tiny retrieving text run (16 boxed coloured squares, 16 px)."""
    return tiny_text_run(model={"retrieve": True})


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 40 x 24 RGBA picture: a green left half, a transparent right half (which becomes the run's white)."""
    a = np.zeros((24, 40, 4), np.uint8)
    a[:, :20] = (20, 180, 40, 255)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(a, "RGBA").save(path)
    return path


def reading(pipe):
    """``pipe`` with G's reference convs set to read their picture (a 2-step G has barely moved them from zero)."""
    with torch.no_grad():
        for conv in pipe.G.ref_in:
            conv.weight.fill_(0.05)
    return pipe


def test_png_data_urls_round_trip_and_refuse_what_is_not_one():
    a = np.random.default_rng(0).integers(0, 256, (3, 5, 7), dtype=np.uint8)
    url = media.png_data_url(a)
    assert url.startswith("data:image/png;base64,") and np.array_equal(media.from_png_data_url(url), a)
    grey = np.full((1, 4, 4), 9, np.uint8)
    assert np.array_equal(media.from_png_data_url(media.png_data_url(grey)), grey)
    for bad, why in (("data:image/jpeg;base64,AAAA", "not a PNG data URL"), (url[:-12] + "!!", "damaged")):
        with pytest.raises(UserError, match=why):
            media.from_png_data_url(bad, what="the picture")
    with pytest.raises(UserError, match="at most 4 px"):
        media.from_png_data_url(url, max_side=4)


def test_the_picture_is_shaped_as_training_pictures_are_and_replaces_the_reference(over_run, photo):
    pipe = reading(ganstudio.load(over_run))
    assert pipe.draws_over and pipe.drawn_shape == (3, 16, 16)
    url = pipe.over_picture(photo)
    a = media.from_png_data_url(url)
    # center-cropped to a square (the middle 24 of 40 columns), transparent pixels on the run's white background
    assert a.shape == (3, 16, 16) and tuple(a[:, 8, 1]) == (20, 180, 40) and tuple(a[:, 8, 14]) == (255, 255, 255)
    assert pipe.over_picture(url) == url  # a data URL of the right size comes back as it was
    assert pipe.over_picture(Image.open(photo)) == url
    own = pipe(n=2, seed=4, prompt="a red square").images
    drawn = pipe(n=2, seed=4, prompt="a red square", over=photo).images
    assert drawn.shape == own.shape and not torch.equal(drawn, own)
    # G's reference is exactly what was replaced: drawing over the run's own reference gives its own picture
    y = pipe.embed_prompt("a red square")[None].expand(2, -1)
    z = pipe.latents(2, 4)
    ref = pipe.G.references(y, z)
    assert torch.equal(pipe.G(z, y, over=ref), pipe.G(z, y))


def test_a_picture_drawn_over_remakes_byte_for_byte_without_its_file(over_run, photo, tmp_path):
    copy = tmp_path / "mine.png"
    copy.write_bytes(photo.read_bytes())
    written = generate_to_files(over_run, n=2, seed=3, prompt="a blue square", over=copy, out_dir=tmp_path / "a")
    side = sorted(p for p in written if p.suffix == ".json")
    d = json.loads(side[0].read_text())
    assert d["over"].startswith("data:image/png;base64,") and d["prompt"] == "a blue square"
    lat = L.load_latents(side[0])[0]
    assert lat.over_array.shape == (3, 16, 16) and lat.id != lat.with_(over=None).id  # the picture is in the id
    copy.unlink()  # the recipe holds the picture itself
    again = generate_to_files(over_run, from_latent=str(side[0]), out_dir=tmp_path / "b")
    png = next(p for p in again if p.suffix == ".png")
    assert png.read_bytes() == side[0].with_suffix(".png").read_bytes()
    # the grid's batch file too, and mixed with latents drawn over the run's own pictures, each keeps its own
    pipe = ganstudio.load(over_run)
    mixed = L.from_seeds(pipe, 1, 3, prompt="a blue square") + [lat]
    both = L.render(pipe, mixed)
    assert torch.equal(both[0], pipe(n=1, seed=3, prompt="a blue square").images[0])
    assert torch.equal(both[1], pipe(n=1, seed=3, prompt="a blue square", over=photo).images[0])
    assert L.load_latents(L.save_batch(mixed, tmp_path / "m.npz")) == mixed


def test_bad_pictures_and_runs_are_refused_in_one_line_before_anything_is_written(over_run, run, photo, tmp_path):
    out = tmp_path / "none.png"
    cases = [
        (["--prompt", "a red square", "--over", str(tmp_path / "missing.png")], over_run, "is not a file"),
        (["--over", str(photo)], over_run, "give the prompt too"),
        (["--prompt", "a red square", "--over", str(tmp_path)], over_run, "is not a file"),
        (["--prompt", "a shirt", "--over", str(photo)], run, "does not draw over a picture"),
    ]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cases.append((["--prompt", "a red square", "--over", str(broken)], over_run, "cannot read .*broken.png"))
    for args, r, message in cases:
        with pytest.raises(UserError, match=message):
            generate_to_files(r, n=1, grid=out, over=args[-1], prompt=args[1] if args[0] == "--prompt" else None)
        assert main(["generate", str(r), *args, "--n", "1", "--grid", str(out)]) == 2
        assert not out.exists()
    with pytest.raises(UserError, match="do not apply"):
        generate_to_files(over_run, from_latent=str(photo), over=photo)
    pipe = ganstudio.load(over_run)
    lat = L.from_seeds(pipe, 1, 0, prompt="a red square", over=pipe.over_picture(photo))[0]
    with pytest.raises(UserError, match="needs the prompt"):
        L.Latent(z=lat.z, over=lat.over)
    middle = len(lat.over) // 2
    with pytest.raises(UserError, match="damaged"):  # a latent file whose picture was spoilt
        L.Latent.from_dict({**lat.to_dict(), "id": None, "over": lat.over[:middle] + "A" * 8 + lat.over[middle + 8 :]})


def test_walks_and_children_keep_or_cross_fade_the_pictures_drawn_over(over_run, photo):
    from ganstudio.creative import breed as B
    from ganstudio.creative import interpolate as I

    pipe = ganstudio.load(over_run)
    green = pipe.over_picture(photo)
    grey = media.png_data_url(np.full((3, 16, 16), 100, np.uint8))
    a = L.from_seeds(pipe, 1, 1, prompt="a red square", over=green)[0]
    b = L.from_seeds(pipe, 1, 2, prompt="a blue square", over=grey)[0]
    embed = lambda parts: L.mix_embedding(pipe, parts)
    assert I.interpolate(a, b, 0.0, text_embed=embed).over == green
    assert I.interpolate(a, b, 1.0, text_embed=embed).over == grey
    half = I.interpolate(a, b, 0.5, text_embed=embed)
    expected = np.rint(0.5 * a.over_array.astype(float) + 0.5 * 100).astype(np.uint8)
    assert np.array_equal(half.over_array, expected)  # the pictures cross-fade along the walk
    assert torch.equal(L.render(pipe, [half]), L.render(pipe, [L.Latent.from_dict(half.to_dict())]))
    same = I.interpolate(a, b.with_(over=green), 0.3, text_embed=embed)
    assert same.over == green  # a shared picture is kept as it is
    assert I.interpolate(a.with_(over_strength=0.5), b, 0.5, text_embed=embed).over_strength == 0.75  # and strengths
    kids = B.breed([a, b.with_(over=green)], children=3, seed=0, text_embed=embed)
    assert all(k.over == green for k in kids)
    with pytest.raises(UserError, match="some of these pictures were drawn over"):
        I.interpolate(a, b.with_(over=None), 0.5, text_embed=embed)
    with pytest.raises(UserError, match="some of these pictures were drawn over"):
        B.breed([a, b.with_(over=None)], children=1, seed=0, text_embed=embed)


def test_a_walk_between_prompts_over_one_picture_keeps_it_in_every_frame(over_run, photo, tmp_path):
    from ganstudio.creative.animate import animate_run

    args = ["animate", str(over_run), "--prompts", "a red square", "a blue square", "--over", str(photo)]
    assert main([*args, "--frames", "6", "--out", str(tmp_path / "walk.mp4"), "--quiet"]) == 0
    frames = L.load_latents(tmp_path / "walk.npz")
    picture = ganstudio.load(over_run).over_picture(photo)
    assert len(frames) == 6 and all(f.over == picture for f in frames)
    with pytest.raises(UserError, match="give them: --prompts"):
        animate_run(over_run, tmp_path / "no.mp4", seeds=[1, 2], over=photo)
    assert not (tmp_path / "no.mp4").exists()


def test_a_favourite_drawn_over_a_picture_hangs_as_it_was_made_and_the_gallery_says_its_walk_cannot(
    over_run, photo, capsys
):
    from ganstudio.likes import store_path
    from ganstudio.studio.store import Store
    from ganstudio.xr.works import collect

    pipe = ganstudio.load(over_run)
    lat = L.from_seeds(pipe, 1, 9, prompt="a blue square", over=pipe.over_picture(photo))[0]
    Store(store_path(over_run.parent)).rate(over_run.name, lat.to_dict(), 1)
    works = collect(over_run, "a", n=2, seed=0, curate=None, n_favourites=1, n_variations=1, prompts=["a red square"])
    fav = works.works[0]
    assert fav.source == "favourite" and fav.latent.over == lat.over
    assert torch.equal(fav.image, L.render(pipe, [lat])[0])  # drawn over the picture, as in the studio
    assert all(v.over == lat.over for v, _ in fav.variations)  # its variations too
    assert "living painting walks works drawn over your pictures" in capsys.readouterr().err


def test_over_strength_mixes_the_picture_with_the_prompts_own_reference(over_run, photo, tmp_path):
    pipe = reading(ganstudio.load(over_run))
    full = pipe(n=2, seed=4, prompt="a red square", over=photo).images
    assert torch.equal(pipe(n=2, seed=4, prompt="a red square", over=photo, over_strength=1.0).images, full)
    half = pipe(n=2, seed=4, prompt="a red square", over=photo, over_strength=0.5).images
    own = pipe(n=2, seed=4, prompt="a red square").images
    assert not torch.equal(half, full) and not torch.equal(half, own)
    # in G: strength s draws over s * picture + (1 - s) * the reference the prompt retrieves (s -> 0: its own)
    y = pipe.embed_prompt("a red square")[None].expand(2, -1)
    z = pipe.latents(2, 4)
    pic = torch.from_numpy(media.from_png_data_url(pipe.over_picture(photo))).float()[None] / 127.5 - 1
    mixed = 0.5 * pic.expand(2, -1, -1, -1) + 0.5 * pipe.G.references(y, z)
    assert torch.allclose(pipe.G(z, y, over=pic, over_strength=0.5), pipe.G(z, y, over=mixed), atol=1e-6)
    # kept in the latent (and its id), remade exactly; refused without a picture or out of range, in one line
    written = generate_to_files(
        over_run, n=1, seed=2, prompt="a red square", over=photo, over_strength=0.25, out_dir=tmp_path / "a"
    )
    side = next(p for p in written if p.suffix == ".json")
    lat = L.load_latents(side)[0]
    assert lat.over_strength == 0.25 and json.loads(side.read_text())["over_strength"] == 0.25
    assert lat.id != lat.with_(over_strength=1.0).id
    again = generate_to_files(over_run, from_latent=str(side), out_dir=tmp_path / "b")
    assert next(p for p in again if p.suffix == ".png").read_bytes() == side.with_suffix(".png").read_bytes()
    for bad, message in ((0.0, r"must be in \(0, 1\]"), (1.5, r"must be in \(0, 1\]")):
        with pytest.raises(UserError, match=message):
            generate_to_files(
                over_run, n=1, prompt="a red square", over=photo, over_strength=bad, grid=tmp_path / "x.png"
            )
    assert (
        main(
            [
                "generate",
                str(over_run),
                "--prompt",
                "a red",
                "--over-strength",
                "0.5",
                "--grid",
                str(tmp_path / "y.png"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()
    with pytest.raises(UserError, match="give the picture: --over PICTURE"):
        L.Latent(z=lat.z, prompt=lat.prompt, text_hash=lat.text_hash, over_strength=0.5)
