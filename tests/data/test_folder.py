"""The folder-of-images loader: formats, geometry, labels, bad files, errors and the on-disk cache."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.data import DataConfig, folder, load_dataset
from ganstudio.errors import UserError

RED, GREEN, BLUE, GREY = (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("GANSTUDIO_CACHE", str(d))
    return d


@pytest.fixture
def decode_count(monkeypatch):
    """Counts calls of folder._decode (the per-file decoder) without changing what it does."""
    calls = []
    real = folder._decode

    def counting(path, *a, **k):
        calls.append(Path(path).name)
        return real(path, *a, **k)

    monkeypatch.setattr(folder, "_decode", counting)
    return calls


def solid(path: Path, colour=RED, size=(40, 30), mode="RGB", **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, **save)
    return path


def bars(path: Path) -> Path:
    """100 x 50 grey image with 10-pixel red bars at the left and right edges."""
    a = np.full((50, 100, 3), 128, np.uint8)
    a[:, :10] = RED
    a[:, -10:] = RED
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def load(root: Path, **kw) -> folder.ImageDataset:
    kw.setdefault("resolution", 16)
    return folder.load(root, DataConfig(name=str(root), **kw))


def pixel(ds, i, y, x):
    return tuple(int(v) for v in ds.images[i, :, y, x])


def close(a, b, tol=6):
    return all(abs(int(p) - int(q)) <= tol for p, q in zip(a, b))


def corrupt_set(root: Path) -> None:
    """A corrupt .jpg (random bytes), a truncated .png and a text file named .png."""
    (root / "bad").mkdir(parents=True, exist_ok=True)
    (root / "bad" / "noise.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 2000, np.uint8).tobytes())
    good = solid(root / "tmp.png", size=(64, 64))
    data = good.read_bytes()
    good.unlink()
    (root / "bad" / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "bad" / "text.png").write_text("this is not a picture\n")


# ---------------------------------------------------------------------------------------------


def test_every_format_nested_shape_dtype_order(tmp_path):
    root = tmp_path / "art"
    solid(root / "a.jpg", RED)
    solid(root / "b.JPEG", GREEN)
    solid(root / "c.png", BLUE)
    solid(root / "nested" / "deeper" / "d.webp", RED)
    solid(root / "nested" / "e.BMP", GREEN)
    solid(root / "nested" / "f.gif", BLUE)
    (root / "notes.txt").write_text("not an image, not counted")
    solid(root / ".hidden.png", RED)  # hidden: ignored
    ds = load(root, resolution=64)
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (6, 3, 64, 64)
    assert ds.name == "art" and ds.source == str(root)
    assert ds.labels is None and ds.class_names == ()
    want = [RED, GREEN, BLUE, RED, GREEN, BLUE]  # sorted: a, b, c, nested/deeper/d, nested/e, nested/f
    for i, colour in enumerate(want):
        assert close(pixel(ds, i, 32, 32), colour, tol=8), (i, pixel(ds, i, 32, 32))


def test_animated_gif_first_frame(tmp_path):
    root = tmp_path / "gif"
    root.mkdir()
    frames = [Image.new("RGB", (20, 20), c) for c in (RED, BLUE, GREEN)]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(root / "anim.gif") as im:
        assert im.n_frames == 3
    ds = load(root)
    assert ds.images.shape == (1, 3, 16, 16)
    assert close(pixel(ds, 0, 8, 8), RED)


def test_alpha_is_composited_onto_white(tmp_path):
    root = tmp_path / "alpha"
    solid(root / "clear.png", (0, 0, 0, 0), mode="RGBA")
    solid(root / "half_red.png", (255, 0, 0, 128), mode="RGBA")
    ds = load(root)
    assert ds.shape == (3, 16, 16)
    assert pixel(ds, 0, 8, 8) == (255, 255, 255)
    assert close(pixel(ds, 1, 8, 8), (255, 127, 127), tol=2)


def test_channels_auto_gray_and_forced(tmp_path):
    gray = tmp_path / "gray"
    solid(gray / "a.png", 100, mode="L")
    solid(gray / "b.jpg", 200, mode="L")
    solid(gray / "c.png", (50, 255), mode="LA")
    ds = load(gray)
    assert ds.images.shape == (3, 1, 16, 16)
    assert close(pixel(ds, 0, 8, 8), (100,), 1) and close(pixel(ds, 1, 8, 8), (200,), 3)
    assert pixel(ds, 2, 8, 8) == (50,)
    assert load(gray, channels=3).images.shape == (3, 3, 16, 16)

    mixed = tmp_path / "mixed"
    solid(mixed / "a.png", 100, mode="L")
    solid(mixed / "b.png", RED)
    ds = load(mixed)
    assert ds.images.shape == (2, 3, 16, 16)
    assert pixel(ds, 0, 8, 8) == (100, 100, 100) and pixel(ds, 1, 8, 8) == RED
    ds1 = load(mixed, channels=1)
    assert ds1.images.shape == (2, 1, 16, 16)
    assert close(pixel(ds1, 1, 8, 8), (76,), 1)  # ITU-R 601 luma of pure red


def test_crop_cuts_the_bars_pad_keeps_them(tmp_path):
    root = tmp_path / "bars"
    bars(root / "wide.png")
    crop = load(root, resolution=64)
    pad = load(root, resolution=64, fit="pad")
    assert crop.images.shape == pad.images.shape == (1, 3, 64, 64)
    # crop: the middle 50 x 50 -> all grey, the red bars are gone
    assert close(pixel(crop, 0, 32, 1), GREY) and close(pixel(crop, 0, 32, 62), GREY)
    assert (crop.images[0, 0].int() - crop.images[0, 1].int()).abs().max() <= 6
    # pad: scaled to 64 x 32, letterboxed in black rows 0-15 and 48-63; the bars survive
    assert pixel(pad, 0, 2, 32) == (0, 0, 0) and pixel(pad, 0, 61, 32) == (0, 0, 0)
    assert close(pixel(pad, 0, 32, 1), RED, 10) and close(pixel(pad, 0, 32, 62), RED, 10)
    assert close(pixel(pad, 0, 32, 32), GREY)


def test_exif_orientation_is_applied(tmp_path):
    root = tmp_path / "exif"
    root.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: the 100 x 50 pixels show as 50 x 100
    Image.new("RGB", (100, 50), GREY).save(root / "rotated.jpg", exif=exif, quality=95)
    ds = load(root, fit="pad")
    assert pixel(ds, 0, 8, 1) == (0, 0, 0) and pixel(ds, 0, 8, 14) == (0, 0, 0)  # portrait: black sides
    assert close(pixel(ds, 0, 1, 8), GREY) and close(pixel(ds, 0, 14, 8), GREY)


def test_non_square_through_load_dataset(tmp_path):
    root = tmp_path / "wide"
    bars(root / "a.png")
    solid(root / "b.png", BLUE, size=(30, 90))
    ds = load_dataset(DataConfig(name=str(root), resolution=64, height=48))
    assert ds.images.shape == (2, 3, 48, 64) and ds.images.dtype == torch.uint8
    # crop keeps a 4:3 window of the 100 x 50 source: full height, the middle 66.7 columns (bars cut)
    assert close(pixel(ds, 0, 24, 1), GREY)
    assert close(pixel(ds, 1, 24, 32), BLUE)
    pad = load_dataset(DataConfig(name=str(root), resolution=64, height=48, fit="pad"))
    assert pad.images.shape == (2, 3, 48, 64)
    assert pixel(pad, 1, 24, 1) == (0, 0, 0) and close(pixel(pad, 1, 24, 32), BLUE)
    # a named dataset is squashed to the same shape by _reshape
    digits = load_dataset(DataConfig(name="digits", resolution=32, height=24, limit=4))
    assert digits.images.shape == (4, 1, 24, 32)


def test_load_dataset_square_is_a_no_op_reshape(tmp_path):
    root = tmp_path / "sq"
    solid(root / "a.png", RED)
    ds = load_dataset(DataConfig(name=str(root), resolution=32))
    assert ds.images.shape == (1, 3, 32, 32) and pixel(ds, 0, 16, 16) == RED


def test_labels_from_subfolders(tmp_path):
    root = tmp_path / "zoo"
    solid(root / "dogs" / "d1.png", BLUE)
    solid(root / "cats" / "c1.png", RED)
    solid(root / "cats" / "sub" / "c2.jpg", RED)
    (root / "empty_class").mkdir()
    ds = load(root, labels=True)
    assert ds.class_names == ("cats", "dogs")
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [0, 0, 1]
    plain = load(root)
    assert plain.labels is None and plain.class_names == ()

    solid(root / "stray.png", GREEN)
    with pytest.raises(UserError, match=r"class sub-folder.*stray\.png"):
        load(root, labels=True)


def test_undecodable_files_are_skipped_with_one_warning(tmp_path):
    root = tmp_path / "mixed"
    solid(root / "ok1.png", RED)
    solid(root / "ok2.jpg", GREEN)
    corrupt_set(root)
    with pytest.warns(folder.SkippedFilesWarning) as rec:
        ds = load(root)
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert "\n" not in msg
    assert msg.startswith("skipped 3 of 5 files") and "could not be decoded" in msg
    for name in ("bad/noise.jpg", "bad/text.png", "bad/truncated.png"):
        assert name in msg
    assert ds.images.shape == (2, 3, 16, 16)

    # the cached load says it again (same files left out), still once
    with pytest.warns(folder.SkippedFilesWarning) as rec:
        load(root)
    assert len(rec) == 1 and str(rec[0].message) == msg


def test_many_skipped_files_list_only_the_first_few(tmp_path):
    root = tmp_path / "lots"
    solid(root / "ok.png")
    for i in range(8):
        (root / f"bad{i}.png").write_text("nope")
    with pytest.warns(folder.SkippedFilesWarning, match=r"skipped 8 of 9 files .*bad4\.png and 3 more$"):
        load(root)


def test_empty_and_undecodable_folders_raise(tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "readme.txt").write_text("no pictures here")
    with pytest.raises(UserError, match=r"no images found in .*empty.*\.jpg"):
        load(empty)

    broken = tmp_path / "broken"
    corrupt_set(broken)
    with pytest.raises(UserError, match=r"none of the 3 image files in .*broken could be decoded"):
        load(broken)
    with pytest.raises(UserError):
        load_dataset(DataConfig(name=str(broken)))


def test_config_validation():
    with pytest.raises(UserError, match="fit"):
        DataConfig(fit="stretch")
    with pytest.raises(UserError, match="height"):
        DataConfig(height=2)
    with pytest.raises(UserError, match="flip"):
        DataConfig(flip="yes")
    cfg = DataConfig(fit="pad", flip=True, labels=True, height=48)
    assert (cfg.fit, cfg.flip, cfg.labels, cfg.height) == ("pad", True, True, 48)


def test_default_resolution_is_64(tmp_path):
    root = tmp_path / "d"
    solid(root / "a.png")
    assert folder.load(root, DataConfig(name=str(root))).images.shape == (1, 3, 64, 64)


# --- cache -----------------------------------------------------------------------------------


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "folders").glob("*"))


def test_cache_hit_skips_decoding(tmp_path, cache_dir, monkeypatch):
    root = tmp_path / "c"
    solid(root / "a" / "x.png", RED)
    solid(root / "b" / "y.jpg", BLUE)
    first = load(root, labels=True)
    files = cache_files(cache_dir)
    assert len(files) == 1 and files[0].suffix == ".npz"
    with np.load(files[0], allow_pickle=False) as z:  # no pickled objects inside
        assert z["images"].shape == (2, 3, 16, 16)
        assert list(z["class_names"]) == ["a", "b"]

    def boom(*a, **k):
        raise AssertionError("decoded despite the cache")

    monkeypatch.setattr(folder, "_decode", boom)
    second = load(root, labels=True)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert second.class_names == ("a", "b") and second.name == "c"


def test_cache_invalidation(tmp_path, cache_dir, decode_count):
    root = tmp_path / "inv"
    solid(root / "a.png", RED)
    solid(root / "b.png", GREEN)
    load(root)
    assert len(decode_count) == 2
    load(root)
    assert len(decode_count) == 2  # hit

    st = (root / "a.png").stat()  # touched: same bytes, new mtime
    os.utime(root / "a.png", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    load(root)
    assert len(decode_count) == 4
    assert len(cache_files(cache_dir)) == 1  # the stale entry was replaced

    solid(root / "c.png", BLUE)  # added
    assert len(load(root)) == 3 and len(decode_count) == 7

    (root / "b.png").unlink()  # removed
    ds = load(root)
    assert len(ds) == 2 and pixel(ds, 1, 8, 8) == BLUE and len(decode_count) == 9

    n = len(decode_count)
    for change in ({"fit": "pad"}, {"resolution": 32}, {"height": 8}, {"channels": 1}, {"labels": False}):
        before = len(decode_count)
        load(root, **change)
        assert len(decode_count) == before + (2 if change != {"labels": False} else 0), change
    assert len(decode_count) == n + 8
    assert len(cache_files(cache_dir)) == 5  # one entry per option set (labels=False is the base one)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_cache_is_rebuilt(tmp_path, cache_dir, decode_count, damage):
    root = tmp_path / "cc"
    solid(root / "a.png", RED)
    first = load(root)
    (entry,) = cache_files(cache_dir)
    data = entry.read_bytes()
    entry.write_bytes({"garbage": b"not a zip file at all", "truncated": data[: len(data) // 2], "empty": b""}[damage])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt silently
        again = load(root)
    assert torch.equal(first.images, again.images) and len(decode_count) == 2
    (entry2,) = cache_files(cache_dir)
    assert entry2 == entry and entry2.read_bytes() != b""
    load(root)
    assert len(decode_count) == 2  # the rebuilt entry is used


def test_cache_write_leaves_no_temp_files(tmp_path, cache_dir):
    root = tmp_path / "t"
    solid(root / "a.png")
    load(root)
    load(root, fit="pad")
    names = [p.name for p in cache_files(cache_dir)] + [p.name for p in (cache_dir / "folders").glob(".*")]
    assert len(names) == 2 and all(n.endswith(".npz") and not n.startswith(".") for n in names)


def test_pictures_over_the_pixel_limit_are_skipped_in_the_one_warning(tmp_path, monkeypatch):
    # Pillow's threshold and ours, lowered so that a 12 x 12 picture is "too large" (Pillow warns over its limit and
    # only refuses at twice it; we refuse over it): the skipped-files warning names it, Pillow's own is not repeated
    monkeypatch.setattr(folder.Image, "MAX_IMAGE_PIXELS", 100)
    monkeypatch.setattr(folder, "MAX_PIXELS", 100)
    root = tmp_path / "big"
    solid(root / "small.png", RED, size=(8, 8))
    solid(root / "huge.png", GREEN, size=(12, 12))
    with pytest.warns(folder.SkippedFilesWarning) as rec:
        ds = load(root)
    assert [type(w.message) for w in rec] == [folder.SkippedFilesWarning]
    assert "skipped 1 of 2 files" in str(rec[0].message) and "huge.png" in str(rec[0].message)
    assert len(ds) == 1
