"""Translation with a trained pix2pix run: any-size inputs keep their size and aspect, whole folders,
and the translate CLI."""

import pytest
from PIL import Image, ImageDraw

from ganstudio.translate import load_translator, translate_folder


def test_translate_odd_size_restores_aspect_and_folder_cli(pix2pix_resumed, tmp_path):
    run = pix2pix_resumed[0]
    tr = load_translator(run)
    assert (tr.resolution, tr.line_width, tr.input_kind) == (8, 1, "sketch")
    im = Image.new("RGBA", (37, 23), (0, 0, 0, 0))  # a transparent canvas with one stroke
    ImageDraw.Draw(im).line([(3, 3), (30, 18)], fill=(0, 0, 0, 255), width=3)
    out = tr(im)
    assert out.size == (37, 23) and out.mode == "L"
    small = tr(im, size="model")
    assert small.size == (8, 5)  # 37x23 fitted inside 8x8 keeps its aspect
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    im.save(src / "a.png")
    Image.new("RGB", (9, 40), "white").save(src / "sub" / "b.jpg")
    (src / "broken.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match="broken.png"):
        paths = translate_folder(run, src, tmp_path / "out", progress=False)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths) == ["a.png", "sub/b.png"]
    assert Image.open(tmp_path / "out" / "sub" / "b.png").size == (9, 40)
    from ganstudio.cli import main

    assert main(["translate", str(run), str(src / "a.png"), "--out", str(tmp_path / "one.png"), "--quiet"]) == 0
    assert Image.open(tmp_path / "one.png").size == (37, 23)
