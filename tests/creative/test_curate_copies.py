"""``generate --curate`` sets near-copies of training pictures aside: the copy check on a tiny run."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ganstudio import latents as L
from ganstudio.creative import curate as C
from ganstudio.data import load_dataset
from ganstudio.features.cache import reference_root


def test_moved_and_mirrored_training_pictures_are_near_copies_held_out_ones_are_not(pipe):
    train = C.training_pictures(pipe)
    assert tuple(train.shape[1:]) == tuple(pipe(n=1, seed=0).images.shape[1:])
    picks = train[[3, 50, 400, 900]].float() / 255
    copies = torch.cat([picks[:2].roll(1, dims=-1), picks[2:].flip(-1)])  # a 1 px move (8 x 8 pictures) and mirrors
    cfg = pipe.config
    held = load_dataset(dataclasses.replace(cfg.data, split="test"), default_resolution=cfg.model_config.resolution)
    fresh = held.images[:60].float() / 255
    for old in reference_root().glob("copycal-*.npz"):  # another test may have calibrated this data already
        old.unlink()
    logs: list[str] = []
    o = C.near_copies(pipe, torch.cat([copies, fresh]), train, log=logs.append)
    assert o["flagged"][:4] == [True] * 4 and o["nn_index"][:4] == [3, 50, 400, 900]
    assert sum(o["flagged"][4:]) <= 2, sum(o["flagged"][4:])  # held-out digits: at most a near-duplicate or two
    assert len(logs) == 1 and list(reference_root().glob("copycal-*.npz"))  # calibrated once, then cached
    again = C.near_copies(pipe, copies, train, log=logs.append)
    assert len(logs) == 1 and again["threshold"] == o["threshold"]


def test_curation_records_the_copy_check_and_keeps_the_best_of_the_rest(pipe):
    pool = L.from_seeds(pipe, 24, seed=0)
    kept = C.select(pipe, pool, 5)
    images = L.render_fast(pipe, pool)
    flagged = np.asarray(C.near_copies(pipe, images)["flagged"])
    scores = C.realism(pipe, pool, images=images)
    expect = [i for i in torch.argsort(scores, descending=True, stable=True).tolist() if not flagged[i]][:5]
    assert [k.origin["seed"] for k in kept] == expect
    for k in kept:
        info = k.origin["curate"]
        assert info["copies_set_aside"] == int(flagged.sum()) and info["copy_ratio"] >= 1.0
    plain = C.select(pipe, pool, 5, copies=False)
    assert "copy_ratio" not in plain[0].origin["curate"]
