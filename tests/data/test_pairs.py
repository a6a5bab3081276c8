"""pix2pix's paired data: sketches (binary strokes of a nominal width, cached), grayscale pairs, the
data.pairs spec, and paired folders matched by name."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.data import DataConfig, ImageDataset, load_dataset
from ganstudio.data import pairs as P
from ganstudio.errors import UserError


def _mean_stroke_width(sk: torch.Tensor) -> float:
    """Mean run length of dark pixels along the rows and columns crossing the middle of each image."""
    runs_: list[int] = []
    for img in sk[:, 0].numpy() < 128:
        h, w = img.shape
        for line in (img[h // 2], img[:, w // 2]):
            n = 0
            for v in list(line) + [False]:
                if v:
                    n += 1
                elif n:
                    runs_.append(n)
                    n = 0
    return float(np.mean(runs_))


def test_sketch_is_binary_strokes_on_white_with_the_nominal_width(boxes):
    imgs = boxes(64)
    means = {}
    for w in (1, 2, 3):
        sk = P.sketch(imgs, P.sketch_params(w, 32))
        assert sk.shape == (64, 1, 32, 32) and sk.dtype == torch.uint8
        assert set(sk.unique().tolist()) <= {0, 255}  # binary strokes
        white = (sk == 255).float().mean().item()
        assert 0.6 < white < 0.99  # mostly paper, but there are strokes
        means[w] = _mean_stroke_width(sk)
        assert abs(means[w] - w) <= 0.75, (w, means[w])
    assert means[1] < means[2] < means[3]
    assert torch.equal(P.sketch(imgs, P.sketch_params(2, 32)), P.sketch(imgs, P.sketch_params(2, 32)))  # seeded
    # the nominal width is recorded by the spec and derived from the resolution by default
    assert P.sketch_line_width("sketch:3", 32) == 3
    assert P.sketch_line_width("sketch", 28) == 1 and P.sketch_line_width("sketch", 64) == 2
    assert P.sketch_line_width("sketch", 128) == 4


def test_sketch_pairs_through_load_dataset_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    cfg = DataConfig(name="digits", resolution=16, pairs="sketch:2", limit=40)
    ds = load_dataset(cfg)
    assert ds.inputs.shape == (40, 1, 16, 16) and ds.images.shape == (40, 1, 16, 16)
    files = list((tmp_path / "cache" / "pairs").glob("sketch-*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as z:  # no pickle anywhere
        assert '"nominal_line_width": 2' in str(z["meta"][()])
        assert np.array_equal(z["inputs"], ds.inputs.numpy())
    assert torch.equal(load_dataset(cfg).inputs, ds.inputs)
    sub = ds.subset(torch.tensor([3, 1]))
    assert torch.equal(sub.inputs, ds.inputs[[3, 1]])


def test_pairs_spec_validation():
    assert DataConfig(pairs="sketch:3").pairs == "sketch:3"
    for bad in ("edges", "sketch:0", "grayscale:2", "sketch:x"):
        with pytest.raises(UserError, match=r"data\.pairs"):
            DataConfig(pairs=bad)


def test_grayscale_pairs(tmp_path):
    rgb = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    g = P.grayscale(rgb)
    ref = (0.299 * rgb[:, 0].float() + 0.587 * rgb[:, 1].float() + 0.114 * rgb[:, 2].float()).round()
    assert g.shape == (4, 1, 8, 8) and torch.equal(g[:, 0].float(), ref)
    ds = P.derive_pairs(ImageDataset("x", rgb, None), "grayscale")
    assert torch.equal(ds.inputs, g) and ds.images is rgb
    with pytest.raises(UserError, match="colour"):
        P.grayscale(rgb[:, :1])


def _paired_folder(root, names_a, names_b):
    for sub, names in (("A", names_a), ("B", names_b)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for name in names:
            v = 40 + sum(map(ord, name.rsplit(".", 1)[0])) % 200  # the pixel value encodes the pair's name
            Image.new("L" if sub == "A" else "RGB", (12, 10), v if sub == "A" else (v, 0, 0)).save(root / sub / name)


def test_paired_folders_match_by_name_and_report_mismatches(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "pairs"
    # different extensions on each side, in an order where sorting with extensions would disagree
    _paired_folder(root, ["x.png", "x.c0.png", "y2.png"], ["x.bmp", "x.c0.bmp", "y2.png"])
    ds = load_dataset(DataConfig(name=str(root), pairs="folders", resolution=8))
    assert ds.inputs.shape == (3, 1, 8, 8) and ds.images.shape == (3, 3, 8, 8)
    assert len(set(ds.inputs[:, 0, 4, 4].tolist())) == 3
    assert torch.equal(ds.inputs[:, 0, 4, 4], ds.images[:, 0, 4, 4])  # each input sits with its own target
    _paired_folder(root, ["z3.png"], ["w4.png"])
    with pytest.raises(UserError) as e:
        load_dataset(DataConfig(name=str(root), pairs="folders", resolution=8))
    msg = str(e.value)
    assert "\n" not in msg and "only in A: z3.png" in msg and "only in B: w4.png" in msg
