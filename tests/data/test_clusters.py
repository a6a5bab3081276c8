"""Groups of look as classes (``data.clusters``): what they group, how they are numbered, and what is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.data import DataConfig, clusters, load_dataset
from ganstudio.errors import UserError


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))


def look(kind: str, i: int) -> np.ndarray:
    """A 32 px picture of one of three looks, each copy a little different (position and shade)."""
    rng = np.random.default_rng(i)
    a = np.full((32, 32, 3), 255, np.uint8)
    shift = int(rng.integers(-3, 4))
    shade = int(rng.integers(0, 40))
    if kind == "red disc":
        yy, xx = np.mgrid[:32, :32]
        a[(yy - 16 - shift) ** 2 + (xx - 16) ** 2 < 100] = (220 - shade, 20, 20)
    elif kind == "blue stripes":
        a[:, (np.arange(32) + shift) % 6 < 3] = (20, 20, 200 - shade)
    else:  # green checks
        yy, xx = np.mgrid[:32, :32]
        a[((yy + shift) // 4 + xx // 4) % 2 == 0] = (20, 180 - shade, 20)
    return a


COUNTS = {"blue stripes": 6, "green checks": 5, "red disc": 4}  # sizes differ, so the numbering is fixed


def folder_of_looks(root: Path, alpha: bool = False) -> dict[str, str]:
    """The looks written in a shuffled order under plain names; returns file name -> look."""
    items = [(kind, i) for kind, n in COUNTS.items() for i in range(n)]
    order = np.random.default_rng(0).permutation(len(items))
    truth = {}
    for j, idx in enumerate(order):
        kind, i = items[idx]
        a = look(kind, i)
        name = f"{j:02d}.png"
        if alpha:  # white made transparent: the same look on a transparent background
            rgba = np.concatenate([a, np.where(a.min(2, keepdims=True) == 255, 0, 255).astype(np.uint8)], 2)
            Image.fromarray(rgba, "RGBA").save(root / name)
        else:
            Image.fromarray(a).save(root / name)
        truth[name] = kind
    return truth


def test_three_looks_become_three_clusters_numbered_by_size(tmp_path):
    truth = folder_of_looks(tmp_path)
    ds = load_dataset(DataConfig(name=str(tmp_path), resolution=32, clusters=3))
    assert ds.class_names == ("cluster 1", "cluster 2", "cluster 3")
    kinds = [truth[n] for n in sorted(truth)]  # the folder loader reads files in sorted order
    by_cluster = {c: {k for k, lab in zip(kinds, ds.labels.tolist()) if lab == c} for c in range(3)}
    assert by_cluster == {0: {"blue stripes"}, 1: {"green checks"}, 2: {"red disc"}}  # one look each, largest first
    again = load_dataset(DataConfig(name=str(tmp_path), resolution=32, clusters=3))
    assert torch.equal(again.labels, ds.labels)


def test_transparent_pictures_group_as_they_look_on_white(tmp_path):
    (tmp_path / "white").mkdir()
    (tmp_path / "alpha").mkdir()
    folder_of_looks(tmp_path / "white")
    folder_of_looks(tmp_path / "alpha", alpha=True)
    white = load_dataset(DataConfig(name=str(tmp_path / "white"), resolution=32, clusters=3))
    rgba = load_dataset(DataConfig(name=str(tmp_path / "alpha"), resolution=32, background="transparent", clusters=3))
    assert rgba.shape[0] == 4
    assert torch.equal(rgba.labels, white.labels)


def test_auto_makes_one_group_per_45_pictures_and_keeps_labels_a_source_has(tmp_path):
    assert [clusters.auto_k(n) for n in (1, 60, 70, 300, 1445, 100_000)] == [1, 1, 2, 7, 32, 100]
    folder_of_looks(tmp_path)
    ds = load_dataset(DataConfig(name=str(tmp_path), resolution=32, clusters="auto"))  # 15 pictures: one group
    assert ds.class_names == ("cluster 1",) and ds.labels.tolist() == [0] * 15
    labelled = tmp_path / "labelled"
    for sub in ("cats", "dogs"):
        (labelled / sub).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(look("red disc" if sub == "cats" else "blue stripes", i)).save(labelled / sub / f"{i}.png")
    kept = load_dataset(DataConfig(name=str(labelled), resolution=32, labels=True, clusters="auto"))
    assert kept.class_names == ("cats", "dogs") and kept.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert load_dataset(DataConfig(name=str(tmp_path), resolution=32, clusters="none")).labels is None


def test_kmeans_numbering_and_duplicates():
    x = torch.tensor([[0.0], [0.1], [10.0], [10.1], [10.2], [5.0]], dtype=torch.float64)
    assert clusters.kmeans(x, 3).tolist() == [1, 1, 0, 0, 0, 2]
    same = torch.zeros(4, 2, dtype=torch.float64)  # fewer distinct rows than groups: still k labels, no error
    assert clusters.kmeans(same, 3).tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"clusters": 0}, "data.clusters must be a number of groups 1..1000"),
        ({"clusters": "many"}, "data.clusters must be a number of groups 1..1000"),
        ({"clusters": True}, "data.clusters must be a number of groups 1..1000"),
        ({"clusters": 3, "labels": True}, "both make the classes: drop one"),
        ({"clusters": 3, "pairs": "grayscale"}, "image-to-image pairs take no classes"),
    ],
)
def test_bad_settings_are_one_line_errors(kw, needle):
    with pytest.raises(UserError, match=needle):
        DataConfig(name="x", **kw)


def test_more_groups_than_pictures_is_refused(tmp_path):
    folder_of_looks(tmp_path)
    with pytest.raises(UserError, match=r"data.clusters=16 asks for more groups than there are pictures \(15\)"):
        load_dataset(DataConfig(name=str(tmp_path), resolution=32, clusters=16))


def test_a_conditional_folder_run_clusters_an_unsorted_folder_and_keeps_a_sorted_ones_classes(tmp_path):
    from ganstudio.training.options import build_run_config

    unsorted = tmp_path / "unsorted"
    unsorted.mkdir()
    folder_of_looks(unsorted)
    sorted_ = tmp_path / "sorted"
    for sub in ("a", "b"):
        (sorted_ / sub).mkdir(parents=True)
        Image.fromarray(look("red disc", 0)).save(sorted_ / sub / "x.png")

    def data_of(folder: Path, clusters) -> tuple:
        cfg = build_run_config(data=str(folder), model="dcgan", conditional=True, data_options={"clusters": clusters})
        return cfg.data.labels, cfg.data.clusters

    assert data_of(unsorted, "auto") == (False, "auto")  # auto: an unsorted folder is grouped by look
    assert data_of(sorted_, "auto") == (True, "auto")  # ... a sorted one keeps its sub-folders as classes
    assert data_of(sorted_, 3) == (False, 3)  # a number always groups by look
    assert data_of(unsorted, None) == (True, None)  # as before: a conditional folder run reads sub-folders


def test_small_groups_are_folded_into_their_nearest_neighbours():
    x = torch.tensor([[0.0]] * 10 + [[10.0]] * 8 + [[6.0]], dtype=torch.float64)  # 6.0: nearer 10 than 0
    labels = clusters.kmeans(x, 3)
    assert torch.bincount(labels).tolist() == [10, 8, 1]
    folded = clusters.fold_small_groups(x, labels, min_size=5)
    assert folded.tolist() == [0] * 10 + [1] * 9  # the outlier joined the group of 10.0s; renumbered by size
    assert torch.equal(clusters.fold_small_groups(x, labels, min_size=1), labels)  # nothing under 1: unchanged


def outlier_folder(root: Path) -> Path:
    """115 pictures (auto: 3 groups): 60 red discs, 54 blue stripes and one black square that k-means gives a
    group of its own."""
    root.mkdir(parents=True, exist_ok=True)
    items = [("red disc", i) for i in range(60)] + [("blue stripes", i) for i in range(54)]
    for j, (kind, i) in enumerate(items):
        Image.fromarray(look(kind, i)).save(root / f"{j:03d}.png")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "114.png")
    return root


def test_auto_folds_a_one_picture_group_so_no_group_is_learnt_by_heart(tmp_path):
    root = outlier_folder(tmp_path / "outlier")
    exact = load_dataset(DataConfig(name=str(root), resolution=32, clusters=3))  # a number: exactly that many
    assert clusters.auto_k(115) == 3 and sorted(torch.bincount(exact.labels).tolist()) == [1, 54, 60]
    auto = load_dataset(DataConfig(name=str(root), resolution=32, clusters="auto"))
    assert auto.class_names == ("cluster 1", "cluster 2")
    assert min(torch.bincount(auto.labels).tolist()) >= clusters.MIN_AUTO_GROUP


def test_a_run_made_before_small_groups_were_folded_keeps_its_own_groups(tmp_path):
    import dataclasses

    from ganstudio.training import prepare
    from ganstudio.training.options import build_run_config

    root = outlier_folder(tmp_path / "outlier")
    cfg, ds = prepare(build_run_config(data=str(root), preset="folder-64"))
    assert cfg.model_config.num_classes == 2 and ds.num_classes == 2  # a new run: the folded groups
    # a run that learnt auto's three groups (its stored model config says 3) resumes on the same three
    old = dataclasses.replace(cfg, model_config=dataclasses.replace(cfg.model_config, num_classes=3))
    cfg3, ds3 = prepare(old)
    exact = load_dataset(DataConfig(name=str(root), resolution=64, clusters=3))
    assert cfg3.class_names == ("cluster 1", "cluster 2", "cluster 3") and torch.equal(ds3.labels, exact.labels)
