"""Evaluation of runs: evaluate(), eval JSON + cache, EvalHook (best checkpoint, RNG), CLI, report."""

from __future__ import annotations

import json

import pytest
import torch

from ganstudio import evaluation, runs
from ganstudio.cli import main
from ganstudio.data import DataConfig
from ganstudio.errors import UserError
from ganstudio.evaluation.hook import KEEP, EvalHook
from ganstudio.training import train

N = 64  # generated images per evaluation: enough for every metric, fast


pytestmark = pytest.mark.usefixtures("fast_eval")  # fewer KID subsets, the module's own cache (tests/conftest.py)


@pytest.fixture(scope="module")
def hooked(tmp_path_factory, fast_eval, tiny_config):
    """A 40-step tiny run evaluated every 10 steps (checkpoints kept: 1, so only KEEP protects the best),
    and the same run trained without the hook."""
    root = tmp_path_factory.mktemp("eval-runs")
    cfg = tiny_config(steps=40, checkpoint_every=10, keep_checkpoints=1)
    logs: list[str] = []
    hook = EvalHook(every=10, n=N, features="folder-rcf", log=logs.append)
    run = train(cfg, out=root / "hooked", progress=False, extra_hooks=[hook])
    plain = train(cfg, out=root / "plain", progress=False)
    return run, plain, hook, logs


def test_eval_hook_logs_metrics_and_keeps_best(hooked):
    run, _, hook, logs = hooked
    rows = [r for r in runs.read_metrics(run) if "eval" in r]
    assert [r["step"] for r in rows] == [10, 20, 30, 40]
    for r in rows:
        ev = r["eval"]
        assert ev["extractor"].startswith("folder-rcf@") and ev["n"] == N
        for k in ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "copy_fraction"):
            assert isinstance(ev[k], float), k
    best = min(rows, key=lambda r: r["eval"]["fid"])["step"]
    assert (run / "checkpoints" / "best").read_text().strip() == f"{best:09d}"
    ckpts = [p.name for p in runs.list_checkpoints(run)]
    assert f"{best:09d}" in ckpts and "000000040" in ckpts  # best survived pruning (keep=1), latest too
    assert [p.parent.name for p in (run / "checkpoints").glob(f"*/{KEEP}")] == [f"{best:09d}"]
    assert runs.find_checkpoint(run, "best").step == best
    assert sorted(p.name for p in (run / "eval").glob("*.json")) == [f"{s:09d}.json" for s in (10, 20, 30, 40)]
    assert any("FID" in line for line in logs) and hook.best_step == best


def test_eval_hook_does_not_change_training(hooked):
    """Sampling for evaluation uses its own generators: the run trains bit for bit like one without it."""
    run, plain, _, _ = hooked
    a, b = runs.find_checkpoint(run), runs.find_checkpoint(plain)
    assert a.step == b.step == 40
    for group in ("G", "D", "train_state"):
        ta, tb = a.tensors(group), b.tensors(group)
        assert ta.keys() == tb.keys()
        assert all(torch.equal(ta[k], tb[k]) for k in ta), group
    train_rows = lambda r: [
        {k: v for k, v in x.items() if k not in ("images_per_s", "wall_s")}
        for x in runs.read_metrics(r)
        if "eval" not in x
    ]
    assert train_rows(run) == train_rows(plain)


def test_evaluate_writes_json_table_and_uses_cache(hooked):
    _, plain, _, _ = hooked
    logs: list[str] = []
    res = evaluation.evaluate(plain, n=N, features="folder-rcf", log=logs.append)
    path = plain / "eval" / "000000040.json"
    assert res["path"] == str(path) and json.loads(path.read_text())["rows"] == res["rows"]
    assert not list((plain / "eval").glob(".*"))  # no temp files left
    gen, real = res["rows"]["generated"], res["rows"]["real"]
    assert res["extractor"]["name"] == "folder-rcf" and len(res["extractor"]["id"]) == 12
    assert res["reference"] == "test" and "digits test split" in res["data"]["reference"]
    assert real["fid"] < gen["fid"]  # 40 steps of a tiny GAN are worse than the data
    assert real["n"] == gen["n"] == min(N, 359)
    panel = plain / res["originality"]["panel"]
    assert panel.is_file() and len(res["originality"]["generated"]["worst"]) == evaluation.WORST_K
    w = res["originality"]["generated"]["worst"][0]
    assert w["seed"] == res["seed"] + w["sample"]  # `ganstudio generate --seed` remakes it
    table = evaluation.format_table(res)
    assert "folder-rcf@" in table and "real (data)" in table and "FID" in table
    # second time: real-data features, twin distances and the real row all come from the cache
    logs.clear()
    again = evaluation.evaluate(plain, n=N, features="folder-rcf", log=logs.append)
    assert not any("computing" in line or "scoring the real row" in line for line in logs), logs
    assert again["rows"] == res["rows"]
    # another reference is kept beside it in the same file
    other = evaluation.evaluate(plain, n=N, features="folder-rcf", reference="train", log=logs.append)
    stored = json.loads(path.read_text())
    assert stored["reference"] == "train" and [p["reference"] for p in stored["previous"]] == ["test"]
    assert "training images" in other["data"]["reference"]
    assert len(evaluation.read_evals(plain)) == 2


def test_evaluate_with_classifier_features(hooked, tmp_path, monkeypatch):
    from ganstudio.features.classifier import train_classifier

    _, plain, _, _ = hooked
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path))
    with pytest.raises(UserError, match="ganstudio features train --data digits"):
        evaluation.evaluate(plain, n=N, features="classifier", write=False)
    train_classifier(
        DataConfig(name="digits", resolution=8), epochs=4, widths=(8, 16), hidden=32, batch_size=32, log=lambda s: None
    )
    res = evaluation.evaluate(plain, n=N, features="auto", write=False, log=lambda s: None)  # auto finds it
    assert res["extractor"]["name"] == "classifier-digits" and res["extractor"]["accuracy"] > 0
    for row in res["rows"].values():
        assert 1 <= row["classifier_score"] <= 10 and 0 <= row["classes_covered"] <= 10
        assert row["num_classes"] == 10
    assert res["rows"]["real"]["classes_covered"] >= 8


def test_cli_evaluate_report_and_errors(hooked, capsys):
    run, _, _, _ = hooked
    assert main(["evaluate", str(run), "--checkpoint", "best", "--n", str(N), "--features", "folder-rcf"]) == 0
    out = capsys.readouterr().out
    assert "folder-rcf@" in out and "real (data)" in out and "written:" in out
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 6
    assert "<script" not in html and 'src="http' not in html  # self-contained
    pngs = {p.name for p in (run / "report").glob("*.png")}
    assert {"losses.png", "d_outputs.png", "samples.png", "originality.png"} <= pngs
    assert any(p.startswith("metric_fid") for p in pngs) and any(p.startswith("metric_coverage") for p in pngs)
    assert main(["evaluate", str(run), "--n", "5"]) == 2
    assert "at least 10" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--features", "nope", "--n", "20"]) == 2
    assert "unknown features" in capsys.readouterr().err
    assert main(["features", "list"]) == 0
    assert "folder-rcf" in capsys.readouterr().out


def test_report_without_evaluations(tmp_path, tiny_config):
    run = train(tiny_config(steps=10), out=tmp_path, progress=False)
    from ganstudio.report import build_report

    html = build_report(run).read_text()
    assert "No evaluations yet" in html and "data:image/png;base64," in html


def test_folder_run_uses_two_halves(tmp_path):
    """An image folder has no test split: reference = one seeded half, real row = the other."""
    import numpy as np
    from PIL import Image

    from ganstudio.data import DataConfig
    from ganstudio.models.mlp import MLPConfig
    from ganstudio.training import RunConfig, TrainConfig

    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    for i in range(60):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i:02d}.png")
    cfg = RunConfig(
        model="mlp",
        model_config=MLPConfig(g_hidden=(16,), d_hidden=(16,), resolution=8, channels=3),
        data=DataConfig(name=str(tmp_path / "imgs"), resolution=8),
        train=TrainConfig(steps=4, batch_size=16, device="cpu", log_every=2),
    )
    run = train(cfg, out=tmp_path / "runs", progress=False)
    res = evaluation.evaluate(run, n=40, features="folder-rcf", log=lambda s: None)
    assert res["reference"] == "folder-half" and "half A" in res["data"]["reference"]
    assert res["rows"]["real"]["n"] == 30 and res["rows"]["generated"]["n"] == 40


def test_eval_hook_resumes_with_its_best(hooked, tmp_path):
    import shutil

    run = shutil.copytree(hooked[0], tmp_path / "run")
    before = [r for r in runs.read_metrics(run) if "eval" in r]
    best = min(before, key=lambda r: r["eval"]["fid"])
    hook = EvalHook(every=10, n=N, features="folder-rcf", log=lambda s: None)
    train(resume=run, overrides={"steps": 50}, progress=False, extra_hooks=[hook])
    after = [r["step"] for r in runs.read_metrics(run) if "eval" in r]
    assert after == [10, 20, 30, 40, 50]  # step 40 (already evaluated) is not repeated
    new = next(r for r in runs.read_metrics(run) if r.get("step") == 50 and "eval" in r)["eval"]["fid"]
    expect = 50 if new < best["eval"]["fid"] else best["step"]
    assert hook.best_step == expect and runs.find_checkpoint(run, "best").step == expect


@pytest.fixture
def toy_metric():
    """A metric registered once, the way a new one would be; unregistered afterwards."""
    from ganstudio.evaluation import registry

    m = registry.register(
        registry.Metric(
            "toy_mean",
            lambda x: {"toy_mean": float(x.fake.feats.mean()), "toy_n": len(x.fake)},
            label="toy",
            cell="{toy_mean:.4f} of {toy_n}",
            keys=("toy_mean", "toy_n"),
            lower_is_better=False,
            panel="Toy panel",
        )
    )
    yield m
    registry.unregister(m.name)


def test_a_registered_metric_reaches_row_table_and_report(hooked, toy_metric, tmp_path):
    import shutil

    from ganstudio.report import build_report

    run = shutil.copytree(hooked[1], tmp_path / "run")
    shutil.rmtree(run / "eval", ignore_errors=True)  # the report's table shows the latest evaluation: this one
    logs: list[str] = []
    res = evaluation.evaluate(run, n=N, features="folder-rcf", log=logs.append)
    assert any("scoring the real row" in line for line in logs)  # a cached real row without the metric is not reused
    for row in res["rows"].values():
        assert list(row)[-2:] == ["toy_mean", "toy_n"] and isinstance(row["toy_mean"], float)
        assert row["toy_n"] == row["n"]
    stored = json.loads((run / "eval" / "000000040.json").read_text())["rows"]["generated"]
    assert stored["toy_mean"] == res["rows"]["generated"]["toy_mean"]
    cell = f"{res['rows']['generated']['toy_mean']:.4f} of {N}"
    header, generated = evaluation.format_table(res).splitlines()[6:8]
    assert header.split()[-1] == "toy" and generated.endswith(cell)
    html = build_report(run).read_text()
    assert "<th>toy</th>" in html and f"<td>{cell}</td>" in html and "<h2>Toy panel</h2>" in html
    assert (run / "report" / "metric_toy_mean_0.png").is_file()


def test_registry_refuses_ambiguous_metrics(toy_metric):
    from ganstudio.evaluation import registry

    with pytest.raises(ValueError, match="already registered"):
        registry.register(toy_metric)
    with pytest.raises(ValueError, match="already belong to"):  # a key another metric writes
        registry.register(registry.Metric("toy2", lambda x: {}, label="t", cell="{toy2}", keys=("toy2", "toy_n")))
    with pytest.raises(ValueError, match="does not show it"):
        registry.Metric("toy3", lambda x: {}, label="t", cell="{other:.3f}")
    bad = registry.Metric("toy4", lambda x: {"toy4": 1.0, "extra": 2}, label="t", cell="{toy4}")
    with pytest.raises(ValueError, match="returned"):
        bad.values(None)
    with pytest.raises(ValueError, match="no better direction"):
        EvalHook(every=10, best_by="copy_fraction")
    assert "toy2" not in registry.REGISTRY and "toy3" not in registry.REGISTRY
