"""evaluate_pairs: a pix2pix run scored on its test split (L1, PSNR, SSIM, FID) and on a held-out folder,
through the library and the translate-eval CLI."""

import json
import os

import numpy as np
from PIL import Image

from ganstudio.evaluation.paired import evaluate_pairs


def test_evaluate_pairs_writes_metrics(pix2pix_resumed):
    run = pix2pix_resumed[0]
    res = evaluate_pairs(run, n=24, features="folder-rcf", log=lambda s: None)
    assert res["split"] == "test" and res["n"] == 24 and res["input_kind"] == "sketch"
    assert 0 <= res["l1"]["mean"] <= 1 and -1 <= res["ssim"]["mean"] <= 1 and np.isfinite(res["fid"])
    assert os.path.isfile(res["path"]) and os.path.isfile(res["grid"])


def test_evaluate_pairs_on_a_held_out_folder(pix2pix_resumed, boxes, tmp_path, capsys):
    """Folders have no test split: --data scores the model on another folder through the run's own transform."""
    run = pix2pix_resumed[0]
    held = tmp_path / "held-out"
    held.mkdir()
    for i, img in enumerate(boxes(6, side=24, seed=5)):
        Image.fromarray(img[0].numpy()).convert("RGB").save(held / f"{i}.png")  # RGB: the run converts
    res = evaluate_pairs(run, n=24, features="folder-rcf", data=str(held), write=False, log=lambda s: None)
    assert res["n"] == 6 and res["note"] == f"held-out pairs from {held}"  # every image of the folder, no more
    assert 0 <= res["l1"]["mean"] <= 1 and np.isfinite(res["fid"])
    from ganstudio.cli import main

    assert (
        main(
            [
                "translate-eval",
                str(run),
                "--data",
                str(held),
                "--n",
                "6",
                "--features",
                "folder-rcf",
                "--no-write",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["n"] == 6
    assert main(["translate-eval", str(run), "--data", str(tmp_path / "missing")]) == 2
    assert "no such folder or dataset" in capsys.readouterr().err
