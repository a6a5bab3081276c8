"""``train.text_guidance``: G's pictures must match their captions in a frozen matching model fitted on the run's
own training pictures (``training.guide``)."""

from __future__ import annotations

import pytest
import torch

from ganstudio import runs
from ganstudio.training import Trainer, prepare, train


@pytest.fixture(scope="module")
def guided(tmp_path_factory, captioned_squares, tiny_text_config):
    root = captioned_squares(tmp_path_factory.mktemp("captioned-guide"), n=8, boxed=False)
    train_fields = {"steps": 1, "loss": "hinge", "seed": 1, "checkpoint_every": None, "text_guidance": 1.0}
    with pytest.MonkeyPatch.context() as mp:  # a module fixture runs before the per-test cache is set
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.mktemp("guide-cache")))
        cfg, ds = prepare(tiny_text_config(root, model={"class_input": None}, **train_fields))
        return Trainer(cfg, ds, torch.device("cpu"), None)


def test_the_guide_knows_the_training_pairs_and_passes_gradients_to_pictures_only(guided):
    ctx = guided.ctx
    guide = ctx.guide
    assert guide is not None and not any(p.requires_grad for p in guide.parameters())
    real, y = ctx.next_real()
    # the fitted guide prefers each real picture's own caption to the batch's others: below chance (log B)
    right = guide.loss(real, y, ctx.noise)
    wrong = guide.loss(real, y.roll(1, 0), ctx.noise)
    assert right < torch.log(torch.tensor(float(len(real)))) < wrong
    pictures = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(guide.loss(pictures, y, ctx.noise), pictures)
    assert grad.abs().sum() > 0


def test_the_term_reaches_g_and_is_logged(guided):
    ctx = guided.ctx
    z, y = ctx.sample_latents(8)
    loss = ctx.guide.loss(ctx.G(z, y), y, ctx.noise)
    g = torch.autograd.grad(loss, [p for p in ctx.g_params if p.requires_grad], allow_unused=True)
    assert any(t is not None and t.abs().sum() > 0 for t in g)
    out = guided.step_fn(ctx)
    assert "text_guidance" in out and torch.isfinite(out["text_guidance"])


def test_the_guide_is_fitted_once_and_reused(guided, monkeypatch):
    from ganstudio.training import guide as guide_module

    ctx = guided.ctx
    first = guide_module.TextGuide.fit(ctx.batches.dataset.images, ctx.batches.captions)  # this test's own cache

    def refit(*args, **kwargs):
        raise AssertionError("the cached guide was fitted again")

    monkeypatch.setattr(guide_module, "fit_matcher", refit)
    again = guide_module.TextGuide.fit(ctx.batches.dataset.images, ctx.batches.captions)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in first.state_dict().items())
    # the fit is deterministic: the trainer's guide (fitted under another cache folder) has the same weights
    assert all(torch.equal(v, ctx.guide.state_dict()[k]) for k, v in first.state_dict().items())


def test_refused_without_text_or_below_zero(tiny_config):
    from ganstudio.config import TrainConfig
    from ganstudio.errors import UserError

    with pytest.raises(UserError, match="text_guidance must be >= 0"):
        TrainConfig(text_guidance=-1.0)
    cfg, ds = prepare(tiny_config(steps=1, text_guidance=1.0))
    with pytest.raises(UserError, match="guides G with the captions of a run that reads text"):
        Trainer(cfg, ds, torch.device("cpu"), None)


@pytest.mark.parametrize("negatives", ["batch", "all"])
def test_resume_with_guidance_equals_uninterrupted(tmp_path, captioned_squares, tiny_text_config, negatives):
    root = tmp_path / "data"
    root.mkdir()
    captioned_squares(root, n=8, boxed=False)
    fields = {"loss": "hinge", "seed": 2, "text_guidance": 1.0, "checkpoint_every": 2}
    if negatives == "all":  # every caption a negative: G draws the real batch's captions (caption_recon)
        fields |= {"text_guidance_negatives": "all", "caption_recon": 1.0}
    one_go = train(tiny_text_config(root, steps=4, **fields), out=tmp_path / "a", progress=False)
    split = train(tiny_text_config(root, steps=2, **fields), out=tmp_path / "b", progress=False)
    train(resume=split, overrides={"steps": 4}, progress=False)
    a, b = runs.find_checkpoint(one_go), runs.find_checkpoint(split)
    assert a.step == b.step == 4
    for name in ("G", "D"):
        ta, tb = a.tensors(name), b.tensors(name)
        assert all(torch.equal(ta[k], tb[k]) for k in ta), f"{name} differs after resume"
    assert "text_guidance" in runs.read_metrics(one_go)[-1]


@pytest.fixture(scope="module")
def guided_all(tmp_path_factory, tiny_text_config):
    """A guide with every training caption as negatives (``text_guidance_negatives="all"``), on 8 pictures with
    two captions each that no other picture shares (a colour on the left or right half)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("captioned-guide-all")
    colours = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (240, 220, 40)}
    for name, rgb in colours.items():
        for side, box in (("left", (0, 0, 8, 16)), ("right", (8, 0, 16, 16))):
            im = Image.new("RGB", (16, 16), (255, 255, 255))
            im.paste(rgb, box)
            im.save(root / f"{name}-{side}.png")
            (root / f"{name}-{side}.txt").write_text(f"a {name} half on the {side}\n{name} {side}")
    train_fields = {
        "steps": 1,
        "loss": "hinge",
        "seed": 1,
        "checkpoint_every": None,
        "text_guidance": 1.0,
        "text_guidance_negatives": "all",
        "caption_recon": 1.0,  # G draws the real batch's captions, so each picture's caption row is known
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.mktemp("guide-all-cache")))
        cfg, ds = prepare(tiny_text_config(root, model={"class_input": None}, **train_fields))
        return Trainer(cfg, ds, torch.device("cpu"), None)


def test_every_caption_is_a_negative_but_the_pictures_own(guided_all):
    ctx = guided_all.ctx
    guide, table = ctx.guide, ctx.batches.captions
    assert guide.bank is not None and guide.bank.shape[0] == len(table.texts) > 8
    real, y = ctx.next_real()
    rows = ctx.batches.real_rows
    # each real picture against every caption: its own wins more often than chance over the rows it competes with
    right = guide.loss(real, y, ctx.noise, rows)
    wrong = guide.loss(real, y, ctx.noise, rows.roll(1, 0))
    assert right < wrong
    assert right < torch.log(torch.tensor(float(len(table.texts))))
    # the picture's other captions are not wrong answers: making them the best match leaves the loss as it was
    with torch.no_grad():
        a = guide.model.image(real.float())
    pictures = guide.row_picture[rows]
    others = [r for r in range(len(table.texts)) if guide.row_picture[r] == pictures[0] and r != rows[0]]
    assert others, "the fixture's pictures have several captions"
    first = guide._bank_loss(a[:1], rows[:1])  # the first picture alone
    saved = guide.bank.clone()
    try:
        guide.bank[others] = 100 * a[0]
        assert torch.equal(guide._bank_loss(a[:1], rows[:1]), first)
        stranger = next(r for r in range(len(table.texts)) if guide.row_picture[r] != pictures[0])
        guide.bank[stranger] = 100 * a[0]  # another picture's caption: now a strong wrong answer
        assert guide._bank_loss(a[:1], rows[:1]) > first + 1
    finally:
        guide.bank.copy_(saved)


def test_all_negatives_train_a_step_and_are_refused_where_the_rows_are_unknown(
    guided_all, tiny_text_config, captioned_squares, tmp_path
):
    from ganstudio.config import TrainConfig
    from ganstudio.errors import UserError

    out = guided_all.step_fn(guided_all.ctx)
    assert torch.isfinite(out["text_guidance"])
    with pytest.raises(UserError, match="unknown text_guidance_negatives 'some'; choose one of batch, all"):
        TrainConfig(text_guidance_negatives="some")
    cfg, ds = prepare(
        tiny_text_config(
            captioned_squares(tmp_path, n=8),
            model={"class_input": None, "match_real_weight": 0.0},
            steps=1,
            text_guidance=1.0,
            text_guidance_negatives="all",
        )
    )
    with pytest.raises(UserError, match="text_guidance_negatives=all needs G to draw the real batch's captions"):
        Trainer(cfg, ds, torch.device("cpu"), None)
