"""Requested-class accuracy of conditional runs: the maths, the metric through the real scoring path
(a tiny classifier trained on digits), ``evaluate`` on a tiny conditional run, and the library function
the benchmarks call."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ganstudio import evaluation
from ganstudio import runs as run_folder
from ganstudio.data import DataConfig, load_dataset
from ganstudio.errors import UserError
from ganstudio.evaluation.core import class_accuracy, requested_classes, same_classes
from ganstudio.features import get_extractor
from ganstudio.metrics import requested_class_accuracy
from ganstudio.pipeline import load
from ganstudio.training import train

N = 64


# fewer KID subsets, and one cache for the module (the classifier, the real rows), the tests' too (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("fast_eval", "fast_eval_cache")


@pytest.fixture(scope="module")
def digits_classifier(fast_eval):
    """A tiny CNN trained on the digits (28 px): ~90 % test accuracy in a few seconds."""
    from ganstudio.features.classifier import train_classifier

    train_classifier(DataConfig(name="digits"), epochs=4, widths=(8, 16), hidden=32, batch_size=32, log=lambda s: None)
    return get_extractor("classifier", DataConfig(name="digits"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fast_eval, tiny_config):
    """A tiny conditional digits run and the same run unconditional (8 px, 20 steps)."""
    root = tmp_path_factory.mktemp("class-acc-runs")
    cfg = tiny_config(steps=20)
    cond = train(dataclasses.replace(cfg, conditional=True), out=root / "cond", progress=False)
    plain = train(cfg, out=root / "plain", progress=False)
    return cond, plain


def test_requested_class_accuracy_known_answer():
    # 3 classes; samples asked for 0, 0, 0, 0, 1, 1, 2, 2 and judged 0, 0, 0, 1, 1, 0, 2, 2
    judged = [0, 0, 0, 1, 1, 0, 2, 2]
    probs = np.full((8, 3), 0.1, np.float32)
    probs[np.arange(8), judged] = 0.8
    res = requested_class_accuracy(probs, np.array([0, 0, 0, 0, 1, 1, 2, 2]), 3)
    assert res == {"class_accuracy": 0.75, "class_accuracy_min": 0.5, "per_class": [0.75, 0.5, 1.0], "worst_class": 1}
    # a class never asked for is not the worst one
    res = requested_class_accuracy(probs[:4], np.zeros(4, int), 3)
    assert res["per_class"] == [0.75, None, None] and res["class_accuracy_min"] == 0.75 and res["worst_class"] == 0
    with pytest.raises(ValueError, match="requested must be"):
        requested_class_accuracy(probs, np.zeros(3, int), 3)
    with pytest.raises(ValueError, match=r"requested classes must be in 0\.\.2"):
        requested_class_accuracy(probs, np.full(8, 3), 3)


def test_metric_through_the_scoring_path_is_the_classifiers_accuracy(digits_classifier):
    """Real test digits 'generated for' their own labels: the metric is the classifier's accuracy on them;
    asked for the next digit instead, it is the share the classifier confuses that way."""
    data = DataConfig(name="digits")
    ref = evaluation.prepare_reference(data, digits_classifier, n=100, originality_n=200, log=lambda s: None)
    test = load_dataset(dataclasses.replace(data, split="test"))
    images, labels = test.images[:80], test.labels[:80].numpy()
    predicted = digits_classifier.extract(images).probs.argmax(1)
    row, _ = evaluation.score(images, ref, requested=labels)
    assert row["class_accuracy"] == pytest.approx(float((predicted == labels).mean()))
    assert row["class_accuracy"] > 0.7
    per_class = [float((predicted[labels == k] == k).mean()) for k in np.unique(labels)]
    assert row["class_accuracy_min"] == pytest.approx(min(per_class))
    shifted, _ = evaluation.score(images, ref, requested=(labels + 1) % 10)
    assert shifted["class_accuracy"] == pytest.approx(float((predicted == (labels + 1) % 10).mean()))
    assert shifted["class_accuracy"] < 0.2
    plain, _ = evaluation.score(images, ref)  # classes not known: no entry (like classes_covered without a classifier)
    assert "class_accuracy" not in plain and "class_accuracy_min" not in plain
    assert "class_accuracy" not in ref.real_row  # the real row's images were not generated for a class


def test_evaluate_reports_it_for_conditional_runs_only(runs, digits_classifier):
    cond, plain = runs
    res = evaluation.evaluate(cond, n=N, features="classifier", originality_n=200, write=False, log=lambda s: None)
    gen = res["rows"]["generated"]
    assert 0 <= gen["class_accuracy_min"] <= gen["class_accuracy"] <= 1
    assert "req. class" in evaluation.format_table(res)
    assert "class_accuracy" not in res["rows"]["real"]
    # the requested classes are the ones the samples were drawn with: class i % 10 per generator call
    pipe = load(cond)
    assert requested_classes(pipe, 7, digits_classifier, batch_size=3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    images = evaluation.sample_images(pipe, N)
    row, _ = evaluation.score(images, evaluation.prepare_reference(pipe.config.data, digits_classifier, n=N))
    assert "class_accuracy" not in row  # score without the classes
    # an unconditional run, or an extractor without the run's classes: not applicable
    res = evaluation.evaluate(plain, n=N, features="classifier", originality_n=200, write=False, log=lambda s: None)
    assert "class_accuracy" not in res["rows"]["generated"]
    rcf = get_extractor("folder-rcf")
    assert not same_classes(pipe, rcf) and requested_classes(pipe, N, rcf) is None  # so evaluate passes None


def test_class_accuracy_per_requested_class(runs, digits_classifier):
    cond, plain = runs
    pipe = load(cond)
    res = class_accuracy(pipe, digits_classifier, per_class=8, seed=5)
    assert len(res["per_class"]) == 10 and res["per_class_n"] == 8 and res["class_names"] == list(pipe.class_names)
    assert res["class_accuracy"] == pytest.approx(float(np.mean(res["per_class"])))  # equal shares per class
    assert res["class_accuracy_min"] == min(res["per_class"]) == res["per_class"][res["worst_class"]]
    # class k's pictures are pipe(n=8, seed=5 + 10_000 k, classes=k), judged by the classifier
    k = res["worst_class"]
    pics = pipe(n=8, seed=5 + 10_000 * k, classes=k).images.mul(255).round().to(torch.uint8)
    assert res["per_class"][k] == pytest.approx(float((digits_classifier.extract(pics).probs.argmax(1) == k).mean()))
    assert class_accuracy(pipe, digits_classifier, per_class=8, seed=5) == res  # reproducible
    with pytest.raises(UserError, match="class-conditional"):
        class_accuracy(load(plain), digits_classifier, per_class=2)
    with pytest.raises(UserError, match="does not know this run's classes"):
        class_accuracy(pipe, get_extractor("folder-rcf"), per_class=2)


def test_eval_hook_scores_requested_classes_during_training(digits_classifier, tmp_path, tiny_config):
    """The hook that scores checkpoints while a conditional run trains reports the same requested-class
    accuracy as ``evaluate`` does afterwards."""
    from ganstudio.evaluation.hook import EvalHook

    hook = EvalHook(every=10, n=N, features="classifier", log=lambda s: None)
    cfg = dataclasses.replace(tiny_config(steps=10), conditional=True)
    run = train(cfg, out=tmp_path, progress=False, extra_hooks=[hook])
    (during,) = [r["eval"] for r in run_folder.read_metrics(run) if "eval" in r]
    after = evaluation.evaluate(run, n=N, features="classifier", write=False, log=lambda s: None)
    assert 0 <= during["class_accuracy"] <= 1
    assert during["class_accuracy"] == after["rows"]["generated"]["class_accuracy"]


def _labelled(labels, class_names):
    """The two things ``class_plan`` reads of a reference dataset."""
    from types import SimpleNamespace

    return SimpleNamespace(labels=torch.tensor(labels), class_names=tuple(class_names))


def test_class_plan_follows_the_reference_proportions(runs):
    from ganstudio.evaluation.core import class_plan

    cond, plain = runs
    pipe = load(cond)
    names = pipe.class_names
    # 5 : 3 : 2 of classes 0, 1, 2 and none of the others
    ds = _labelled([0] * 50 + [1] * 30 + [2] * 20, names)
    plan = class_plan(pipe, ds, 100)
    assert np.bincount(plan.numpy(), minlength=10).tolist() == [50, 30, 20] + [0] * 7
    for m in range(1, 101):  # every prefix is within one image of the proportions
        counts = np.bincount(plan[:m].numpy(), minlength=3)[:3]
        assert np.all(np.abs(counts - m * np.array([0.5, 0.3, 0.2])) < 1), (m, counts)
    # a balanced reference asks exactly as `generate` does: 0, 1, ..., 9, 0, ...
    balanced = _labelled(list(range(10)) * 7, names)
    assert class_plan(pipe, balanced, 23).tolist() == [i % 10 for i in range(23)]
    # nothing to follow: uniform asked for, other class names, no labels, an unconditional run
    assert class_plan(pipe, ds, 100, mix="uniform") is None
    assert class_plan(pipe, _labelled([0, 1], [f"c{i}" for i in range(10)]), 10) is None
    unlabelled = _labelled([0], names)
    unlabelled.labels = None
    assert class_plan(pipe, unlabelled, 10) is None
    assert class_plan(load(plain), ds, 10) is None
    with pytest.raises(UserError, match="--class-mix must be one of data, uniform"):
        class_plan(pipe, ds, 10, mix="balanced")


def test_evaluate_asks_in_the_references_proportions(runs, digits_classifier):
    """The plan reaches the sampled pictures and the requested classes; the result says which mix it used."""
    from ganstudio.evaluation.core import class_plan

    cond, plain = runs
    pipe = load(cond)
    ds = _labelled([3] * 6 + [7] * 2, pipe.class_names)
    plan = class_plan(pipe, ds, 12)
    assert np.bincount(plan.numpy(), minlength=10)[[3, 7]].tolist() == [9, 3]
    images = evaluation.sample_images(pipe, 12, seed=4, classes=plan)
    w = torch.nn.functional.one_hot(plan, 10).float()
    direct = pipe(n=12, seed=4, classes=w).images.mul(255).round().to(torch.uint8)
    assert torch.equal(images, direct)  # image i: latent seed 4 + i, class plan[i]
    assert requested_classes(pipe, 12, digits_classifier, plan=plan).tolist() == plan.tolist()
    quiet = {"n": N, "features": "classifier", "originality_n": 200, "write": False, "log": lambda s: None}
    assert evaluation.evaluate(cond, **quiet)["class_mix"] == "data"
    res = evaluation.evaluate(cond, class_mix="uniform", **quiet)
    assert res["class_mix"] == "uniform" and "asked in turn" in evaluation.format_table(res)
    assert evaluation.evaluate(plain, **quiet)["class_mix"] is None
    with pytest.raises(UserError, match="--class-mix"):
        evaluation.evaluate(cond, class_mix="balanced", **quiet)


def test_cli_class_mix(runs, digits_classifier, capsys):
    from ganstudio.cli import main

    cond, _ = runs
    argv = ["evaluate", str(cond), "--n", str(N), "--features", "classifier", "--originality-train", "200"]
    assert main([*argv, "--class-mix", "uniform"]) == 0
    assert "classes:   asked in turn (uniform)" in capsys.readouterr().out
    assert main(argv) == 0
    assert "classes:   asked in the reference's proportions" in capsys.readouterr().out
