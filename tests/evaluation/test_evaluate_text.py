"""Evaluating a run that reads text: G draws from captions of the reference pictures (drawn with the
evaluation's seed), not from the empty caption, in ``ganstudio evaluate`` and in the in-training EvalHook."""

from __future__ import annotations

import pytest
import torch

import ganstudio
from ganstudio import evaluation, runs
from ganstudio.data.captions import caption_table
from ganstudio.evaluation import core
from ganstudio.evaluation.hook import EvalHook
from ganstudio.training import train

N = 12  # generated images per evaluation: more than the 8 reference pictures, so captions repeat


pytestmark = pytest.mark.usefixtures("fast_eval")  # fewer KID subsets, the module's own cache (tests/conftest.py)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, fast_eval, tiny_text_run):
    """A 2-step tiny text-conditioned run on 16 captioned coloured squares (16 px)."""
    return tiny_text_run(out=tmp_path_factory.mktemp("runs") / "text")


def _recording_load(monkeypatch) -> list[torch.Tensor | None]:
    """Let ``evaluate`` load the real run, and record the y every G call of it receives."""
    seen: list[torch.Tensor | None] = []
    real_load = core.load

    def load(*args, **kwargs):
        pipe = real_load(*args, **kwargs)
        pipe.G.register_forward_pre_hook(lambda _m, inputs: seen.append(None if inputs[1] is None else inputs[1]))
        return pipe

    monkeypatch.setattr(core, "load", load)
    return seen


def test_evaluate_samples_a_text_run_with_reference_captions(text_run, monkeypatch):
    seen = _recording_load(monkeypatch)
    res = evaluation.evaluate(text_run, n=N, features="folder-rcf", write=False, log=lambda s: None)
    assert res["n"] == N and isinstance(res["rows"]["generated"]["fid"], float)
    assert seen and all(y is not None for y in seen)
    y = torch.cat([t for t in seen if t is not None])
    assert y.shape == (N, 64)
    assert torch.allclose(y.norm(dim=1), torch.ones(N), atol=1e-5)  # real captions: unit rows, not the empty one
    # every row is a caption of a reference picture (half A of the folder, chosen by the evaluation's seed)
    pipe = ganstudio.load(text_run)
    real = core.load_real(pipe.config.data, n=N, default_resolution=16, seed=0)
    table = caption_table(real.reference, "words-64")
    assert all(bool((table.embeddings == row).all(1).any()) for row in y)
    assert len(torch.unique(y, dim=0)) > 1  # several captions, not one


def test_caption_draw_is_seeded_and_changes_the_pictures(text_run):
    pipe = ganstudio.load(text_run)
    extractor = core.get_extractor("folder-rcf", pipe.config.data, lambda s: None)
    ref = core.prepare_reference(pipe.config.data, extractor, n=N, default_resolution=16, log=lambda s: None)
    a, b = core.caption_embeddings(pipe, ref, N, seed=0), core.caption_embeddings(pipe, ref, N, seed=0)
    assert a is not None and b is not None and torch.equal(a, b)
    other = core.caption_embeddings(pipe, ref, N, seed=1)
    assert other is not None and not torch.equal(a, other)
    # the texts drawn: the reference pictures' captions, several colours (every picture once before any twice)
    table = caption_table(ref.real.reference, "words-64")
    texts = {table.texts[int(torch.nonzero((table.embeddings == row).all(1))[0])] for row in a}
    assert len({t.split()[-2] if t.startswith("a ") else t.split()[0] for t in texts}) >= 2
    with_text = core.sample_images(pipe, N, 0, text=a)
    assert with_text.shape == (N, 3, 16, 16) and with_text.dtype == torch.uint8
    assert not torch.equal(with_text, core.sample_images(pipe, N, 0))  # not the empty caption's pictures


def test_eval_hook_samples_a_text_run_with_captions(text_run, tmp_path):
    """The in-training evaluation draws the same captioned samples as ``ganstudio evaluate``."""
    cfg = ganstudio.load(text_run).config
    hook = EvalHook(every=2, n=N, features="folder-rcf", log=lambda s: None)
    run = train(cfg, out=tmp_path / "hooked", progress=False, extra_hooks=[hook])
    ev = [r["eval"] for r in runs.read_metrics(run) if "eval" in r]
    assert len(ev) == 1 and ev[0]["n"] == N
    standalone = evaluation.evaluate(run, n=N, features="folder-rcf", write=False, log=lambda s: None)
    assert standalone["rows"]["generated"]["fid"] == pytest.approx(ev[0]["fid"], rel=1e-6)
