"""The lightweight family reading text (``model.text_dim``): G and D take a caption's sentence embedding as y
(shapes, and the text changes the picture), one training step, a bit-exact resume with text on, a run that
loads back and draws from a prompt, and the refusals (text and classes together, text on uncaptioned data)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

import ganstudio
from ganstudio import runs
from ganstudio.config import LightweightConfig, RunConfig
from ganstudio.errors import UserError
from ganstudio.models import FAMILIES
from ganstudio.training import Trainer, prepare, train

TINY = {"z_dim": 8, "g_channels": 4, "d_channels": 4, "max_channels": 16, "decoder_channels": 4, "class_input": True}
SHAPES = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220), "yellow": (230, 210, 40)}


@pytest.fixture(scope="module")
def captioned(tmp_path_factory, captioned_squares):
    """16 pictures of coloured squares at 16 px, each with a two-line sidecar caption."""
    return captioned_squares(tmp_path_factory.mktemp("captioned"))


def text_config(folder, steps: int, train: dict | None = None, **model) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": "lightweight",
            "model_config": {**TINY, "text_dim": 64, "text_model": "words-64", **model},
            "data": {"name": str(folder), "resolution": 16},
            "train": {
                "steps": steps,
                "batch_size": 8,
                "threads": 1,
                "device": "cpu",
                "seed": 5,
                "log_every": 1,
                "checkpoint_every": 2,
                "keep_checkpoints": 10,
                "schedule": "alternating",
                "loss": "hinge",
                "ema_beta": 0.9,
                **(train or {}),
            },
        }
    )


def test_family_declares_text_conditioning():
    assert "text" in FAMILIES["lightweight"].conditioning


def test_g_and_d_read_a_sentence_embedding(captioned):
    cfg, ds = prepare(text_config(captioned, 1))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    z, y = t.ctx.sample_latents(3)
    assert y is not None and y.shape == (3, 64)
    assert torch.allclose(y.norm(dim=1), torch.ones(3), atol=1e-5)  # training captions' unit embeddings
    x = t.G(z, y)
    assert x.shape == (3, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert t.D(x, y).shape == (3,)
    assert t.G(z, None).shape == (3, 3, 16, 16)  # no text: the empty caption
    t.G.eval()
    other = torch.roll(y, 1, 0)
    assert not torch.equal(t.G(z, y), t.G(z, other))  # the text changes the picture
    assert not torch.equal(t.D(x, y), t.D(x, other))  # and D's verdict (projection)
    real, y_real = t.ctx.next_real()
    assert real.shape == (8, 3, 16, 16) and y_real is not None and y_real.shape == (8, 64)
    with pytest.raises(ValueError, match=r"y must have shape \(3, 64\)"):
        t.G(z, y[:, :10])


def test_one_step_logs_the_wrong_caption_term_and_changes_g(captioned):
    cfg, ds = prepare(text_config(captioned, 1))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    before = [p.detach().clone() for p in t.g_params]
    out = t.train_step()
    assert {"d_loss", "g_loss", "d_wrong"} <= out.keys() and all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, t.g_params))


# with and without the text terms (D's caption matching head and both contrastive terms, MSGAN's mode seeking,
# caption noise, interpolated captions, G's retrieval, LeCam), whose parameters, state and noise draws must resume
# like the rest
EXTRAS = {
    "plain": ({}, {}),
    "match+mode-seeking": (
        {"mode_seeking": 1.0, "caption_noise": 0.2, "caption_mix": 0.5},
        {"match_weight": 1.0, "match_dim": 16, "match_real_weight": 1.0},
    ),
    # G's retrieval bank (buffers saved with its weights, reloaded at their saved size) and LeCam's anchors
    "retrieve+lecam": ({"lecam": 0.3}, {"retrieve": True}),
    # three distinct neighbours side by side (their grouping by picture is rebuilt from the saved bank)
    "retrieve-3-pictures": ({}, {"retrieve": True, "retrieve_pictures": 3, "retrieve_variety": 0.05}),
}


@pytest.mark.parametrize("extras", EXTRAS.values(), ids=EXTRAS.keys())
def test_resume_with_text_is_bit_exact_and_loads_back_with_a_prompt(captioned, tmp_path, extras, capsys):
    tr, model = extras
    one = train(text_config(captioned, 4, tr, **model), out=tmp_path / "one", progress=False)
    part = train(text_config(captioned, 2, tr, **model), out=tmp_path / "two", progress=False)
    train(resume=part, overrides={"steps": 4}, progress=False)
    a, b = runs.find_checkpoint(one), runs.find_checkpoint(part)
    assert a.step == b.step == 4
    files = sorted(p.name for p in a.path.glob("*.safetensors"))
    assert files == sorted(p.name for p in b.path.glob("*.safetensors")) and "train_state.safetensors" in files
    for f in files:
        ta, tb = load_file(str(a.path / f)), load_file(str(b.path / f))
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{f}:{k}"
    if model.get("match_weight"):
        assert any(k.startswith("match.") for k in load_file(str(a.path / "D.safetensors")))
    if model.get("retrieve"):  # the bank travels with G (and its EMA copy): 16 pictures, 2 captions each
        g = load_file(str(a.path / "G.safetensors"))
        assert g["ref_images"].shape == (16, 3, 16, 16) and g["ref_keys"].shape == (32, 64)
    pipe = ganstudio.load(one)
    assert pipe.reads_text
    out = pipe(n=2, seed=0, prompt="a red square")
    assert out.images.shape == (2, 3, 16, 16) and out.prompt == "a red square" and out.classes.shape == (2, 64)
    assert not torch.equal(out.images, pipe(n=2, seed=0, prompt="a blue square").images)
    assert torch.equal(out.images, pipe(n=2, seed=0, prompt=" a red square ").images)
    if model.get("retrieve"):  # the picture a prompt is drawn over is named, from the run's own captions
        texts = runs.read_captions(one)[1]
        over = pipe.reference_caption("a red square")
        assert over in texts  # (these squares share captions, so another square's "a red square" may serve)
        from ganstudio.cli import main

        assert main(["generate", str(one), "--prompt", "a red square", "--grid", str(tmp_path / "g.png")]) == 0
        assert f"drawn over the training picture of {over!r}" in capsys.readouterr().err
    else:
        assert pipe.reference_caption("a red square") is None


def test_text_and_classes_together_are_refused():
    with pytest.raises(UserError, match="either text"):
        LightweightConfig(text_dim=64, num_classes=3)


def test_text_on_uncaptioned_data_is_refused_before_anything_is_written(tmp_path):
    cfg = RunConfig.from_dict(
        {
            "model": "lightweight",
            "model_config": {**TINY, "text_dim": 64, "text_model": "words-64"},
            "data": {"name": "digits", "resolution": 16, "limit": 16},
            "train": {"steps": 1, "batch_size": 8, "threads": 1, "device": "cpu"},
        }
    )
    with pytest.raises(UserError, match="no captions"):
        train(cfg, out=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_text_dim_must_match_the_text_model(captioned):
    cfg, ds = prepare(text_config(captioned, 1, text_dim=32))
    with pytest.raises(UserError, match="text_dim=64"):
        Trainer(cfg, ds, torch.device("cpu"), None)


def test_preview_of_a_text_run_draws_training_captions_one_per_column(captioned):
    """The preview reads a fixed set of training captions (not the empty one): each column is one caption, the
    columns differ, and two runs with the same seed draw the same captions and the same grid."""
    from ganstudio.models.tasks import PREVIEW_CAPTIONS
    from ganstudio.pixels import to_uint8

    cfg, ds = prepare(text_config(captioned, 1))
    a, b = Trainer(cfg, ds, torch.device("cpu"), None), Trainer(cfg, ds, torch.device("cpu"), None)
    fx = a.preview_inputs
    texts = {f"a {n} square" for n in SHAPES} | {f"{n} box" for n in SHAPES}
    assert len(fx.captions) == PREVIEW_CAPTIONS == len(set(fx.captions)) and set(fx.captions) <= texts
    assert fx.captions == b.preview_inputs.captions
    c = len(fx.captions)
    assert fx.y is not None and fx.y.shape == (64, 64)
    table = a.batches.captions
    assert table is not None
    for j, text in enumerate(fx.captions):  # column j: caption j's embedding in every row
        assert torch.equal(fx.y[j::c], table.embeddings[table.texts.index(text)].expand(len(fx.y[j::c]), -1))
    pa, pb = a.preview(), b.preview()
    assert pa.nrow == c and pa.images.shape == (64, 3, 16, 16)
    assert torch.equal(pa.images, pb.images)  # same seed: the same preview
    # columns differ: with the same noise, caption j and caption k draw different pictures
    G = a.sampling_generator().eval()
    z0 = fx.z[:1].expand(c, -1)
    cols = G(z0, fx.y[:c])
    assert all(not torch.equal(cols[j], cols[k]) for j in range(c) for k in range(j + 1, c))
    assert all(not torch.equal(pa.images[j], pa.images[k]) for j in range(c) for k in range(j + 1, c))
    assert not torch.equal(pa.images[:c], to_uint8(G(fx.z[:c], None)))  # not the empty caption's pictures


# --- retrieval (model.retrieve): G draws over the picture of the nearest training caption of another picture ---


def test_nearest_reference_never_returns_the_picture_a_training_caption_names():
    from ganstudio.models.lightweight import nearest_reference

    keys = torch.nn.functional.normalize(torch.tensor([[1.0, 0, 0], [1.0, 0.1, 0], [0.9, 0.5, 0], [0, 0, 1.0]]), dim=1)
    rows = torch.tensor([0, 0, 1, 2])  # picture 0 has two captions (rows 0 and 1)
    # a training caption (row 0, any scale): its own picture 0 is set aside, both its rows, so picture 1
    # (row 2) is nearest even though row 1 is nearer still
    assert nearest_reference(3 * keys[:1], keys, rows).tolist() == [2]
    assert nearest_reference(keys[3:], keys, rows).tolist() == [0]  # picture 2's caption: rows 0-2 tie at 0
    # a caption the bank does not hold: its nearest caption, whichever picture that is
    new = torch.nn.functional.normalize(torch.tensor([[1.0, 0.05, 0.0], [0.1, 0.0, 1.0]]), dim=1)
    assert nearest_reference(new, keys, rows).tolist() == [1, 3]


def test_a_fresh_retrieving_g_ignores_its_references_until_it_learns_to_use_them(captioned):
    cfg, ds = prepare(text_config(captioned, 1, retrieve=True))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    G = t.G.eval()
    assert G.ref_images.shape == (16, 3, 16, 16) and G.ref_rows.tolist() == sorted(G.ref_rows.tolist())
    z, y = t.ctx.sample_latents(4)
    before = G(z, y)
    keys, rows, images = G.ref_keys.clone(), G.ref_rows.clone(), G.ref_images.clone()
    G.set_references(keys, rows, 255 - images)  # every reference inverted: the zero convs see no difference
    assert torch.equal(G(z, y), before)
    with torch.no_grad():
        G.ref_in[-1].weight.fill_(0.1)  # a G that has learned to read its references
    assert not torch.equal(G(z, y), before)
    inverted = G(z, y)
    G.set_references(keys, rows, images)
    assert not torch.equal(G(z, y), inverted)  # and now the reference's content reaches the picture


def test_retrieve_is_refused_without_text_and_an_empty_bank_says_so():
    from ganstudio.models.lightweight import LightweightGenerator

    with pytest.raises(UserError, match=r"model\.retrieve needs a run that reads text"):
        LightweightConfig(**TINY, resolution=16, retrieve=True)
    G = LightweightGenerator(LightweightConfig(**TINY, resolution=16, text_dim=64, retrieve=True))
    with pytest.raises(ValueError, match="the bank is empty"):
        G(torch.randn(2, 8), torch.randn(2, 64))


def test_soft_references_cross_fade_where_the_nearest_caption_changes():
    from ganstudio.models.lightweight import LightweightGenerator, reference_weights

    sim = torch.tensor([[0.9, 0.5, 0.88, -4.0]])
    rows, w = reference_weights(sim, 0.0)
    assert rows.tolist() == [[0]] and w.tolist() == [[1.0]]
    rows, w = reference_weights(sim, 0.02)
    assert rows[0, :2].tolist() == [0, 2] and torch.isclose(w.sum(), torch.tensor(1.0))
    assert torch.isclose(w[0, 1] / w[0, 0], torch.exp(torch.tensor(-0.02 / 0.02)), rtol=1e-5)  # e^(-gap / T)

    def bank(temperature: float) -> LightweightGenerator:
        cfg = LightweightConfig(**TINY, resolution=16, text_dim=3, retrieve=True, retrieve_temperature=temperature)
        G = LightweightGenerator(cfg)
        images = torch.stack([torch.zeros(3, 16, 16), torch.full((3, 16, 16), 255.0)]).to(torch.uint8)  # black, white
        G.set_references(torch.eye(3)[:2], torch.tensor([0, 1]), images)
        return G

    t = torch.linspace(0, 1, 101)[:, None]
    walk = torch.cat([1 - t, t, torch.ones_like(t)], 1)  # from nearer black to nearer white, never a bank caption
    # soft: the weight of white is a logistic in (cos_white - cos_black) / T, whose slope is at most 1/4; that gap
    # grows by about 2 / |walk| / 100 = 0.0163 a frame (|walk| ~ 1.22 at the midpoint), so a frame moves the
    # reference by at most 2 * 0.0163 / 0.05 / 4 = 0.16 (black to white is 2): a fade over more than 12 frames
    for temperature, biggest_step in ((0.0, 2.0), (0.05, 0.2)):
        refs = bank(temperature).references(walk)
        steps = (refs[1:] - refs[:-1]).abs().amax((1, 2, 3))
        assert refs[0].max() < -0.9 and refs[-1].min() > 0.9  # black at one end, white at the other
        # the nearest picture alone cuts from black to white (a step of 2) in one frame; the blend fades over many
        assert (
            torch.isclose(steps.max(), torch.tensor(biggest_step)) if temperature == 0 else steps.max() < biggest_step
        )
    with pytest.raises(UserError, match=r"model\.retrieve_temperature must be >= 0"):
        LightweightConfig(**TINY, resolution=16, text_dim=3, retrieve=True, retrieve_temperature=-1.0)


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """8 pictures at 16 px, each with a caption of its own (no two share one)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("named")
    names = ["red apple", "green pear", "blue sky", "yellow sun", "black cat", "white snow", "orange fox", "pink pig"]
    for i, name in enumerate(names):
        Image.new("RGB", (16, 16), (30 * i, 255 - 30 * i, 100)).save(root / f"{i}.png")
        (root / f"{i}.txt").write_text(name)
    return root


def test_retrieve_self_lets_a_share_of_captions_draw_over_their_own_picture(named, captioned):
    cfg, ds = prepare(text_config(named, 1, {"retrieve_self": 1.0}, retrieve=True))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    _, y = t.ctx.next_real()
    own = t.G.ref_rows[t.ctx.batches.real_rows]  # the picture of each drawn caption
    jittered = t.ctx.g_captions(y)
    assert torch.allclose(jittered.norm(dim=1), y.norm(dim=1)) and (jittered * y).sum(1).min() > 0.998
    assert (t.G.ref_rows[t.G.reference_rows(y)] != own).all()  # exact captions: never their own picture
    assert (t.G.ref_rows[t.G.reference_rows(jittered)] == own).all()  # moved off their row: their own
    with pytest.raises(UserError, match=r"set model_config\.retrieve=true too"):
        Trainer(*prepare(text_config(captioned, 1, {"retrieve_self": 0.5})), torch.device("cpu"), None)
    with pytest.raises(UserError, match=r"retrieve_self must be in \[0, 1\]"):
        text_config(captioned, 1, {"retrieve_self": 1.5})


def test_fine_tuning_a_retrieving_run_draws_over_the_new_pictures(named, captioned, tmp_path):
    src = train(text_config(captioned, 2, retrieve=True), out=tmp_path / "src", progress=False)
    assert runs.find_checkpoint(src).tensors("G")["ref_images"].shape[0] == 16
    cfg = text_config(named, 2, retrieve=True)
    run = train(dataclasses.replace(cfg, init_from=str(src)), out=tmp_path / "dst", progress=False)
    for name in ("G", "G_ema"):  # the bank is the new folder's 8 pictures, in G and in its EMA copy alike
        bank = runs.find_checkpoint(run).tensors(name)
        assert bank["ref_images"].shape[0] == 8 and bank["ref_keys"].shape[0] == 8


def test_retrieve_variety_lets_the_noise_choose_among_neighbours_when_sampling_only(named):
    cfg, ds = prepare(text_config(named, 1, retrieve=True, retrieve_temperature=0.02, retrieve_variety=0.5))
    G = Trainer(cfg, ds, torch.device("cpu"), None).G
    y = G.ref_keys[:1].expand(64, -1)  # one caption, 64 seeds
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    G.train()  # training: every seed draws over the same (unshifted) reference
    assert torch.equal(G.references(y, z), G.references(y, z[:1].expand(64, -1)))
    G.eval()  # sampling: the seeds spread over several of the 7 other pictures
    refs = G.references(y, z)
    distinct = {tuple(r.flatten()[:3].tolist()) for r in refs.round(decimals=3)}
    assert len(distinct) >= 3
    assert torch.equal(G.references(y, 0 * z), G.references(y))  # zero noise: no shift (truncation 0)
    with pytest.raises(UserError, match=r"model\.retrieve_variety must be >= 0"):
        LightweightConfig(**TINY, resolution=16, text_dim=3, retrieve=True, retrieve_variety=-0.1)


def test_side_by_side_references_are_the_nearest_distinct_other_pictures_with_their_cosines():
    from ganstudio.models.lightweight import LightweightGenerator

    cfg = LightweightConfig(**TINY, resolution=16, text_dim=3, retrieve=True, retrieve_pictures=2)
    G = LightweightGenerator(cfg).eval()
    assert G.ref_in[0].in_channels == 2 * (3 + 1)
    keys = torch.nn.functional.normalize(torch.tensor([[1.0, 0, 0], [1.0, 0.1, 0], [0.9, 0.5, 0], [0, 0, 1.0]]), dim=1)
    rows = torch.tensor([0, 0, 1, 2])  # picture 0 has two captions
    images = torch.stack([torch.full((3, 16, 16), v) for v in (0.0, 127.5, 255.0)]).round().to(torch.uint8)
    G.set_references(keys, rows, images)
    # a new caption nearest picture 0's two rows: pictures 0 then 1 (not picture 0 twice), each at its best cosine
    y = torch.nn.functional.normalize(torch.tensor([[1.0, 0.05, 0.0]]), dim=1)
    x = G.reference_input(y)
    assert x.shape == (1, 8, 16, 16)
    assert torch.allclose(x[0, :3], torch.tensor(-1.0)) and torch.allclose(x[0, 3:6], torch.tensor(0.0), atol=5e-3)
    cos = y @ keys.T
    assert torch.allclose(x[0, 6], cos[0, :2].max()) and torch.allclose(x[0, 7], cos[0, 2])
    assert torch.equal(G.references(y), x[:, :3])  # the picture it is named as drawn over: the nearest
    # a training caption never sees its own picture among them: picture 0's row 0 gets pictures 1 and 2
    x = G.reference_input(keys[:1])
    assert torch.allclose(x[0, :3], torch.tensor(0.0), atol=5e-3) and torch.allclose(x[0, 3:6], torch.tensor(1.0))
    assert G(torch.randn(1, 8), keys[:1]).shape == (1, 3, 16, 16)
    with pytest.raises(UserError, match=r"retrieve_pictures 3 needs more than 3 training pictures"):
        LightweightGenerator(cfg.__class__(**{**cfg.__dict__, "retrieve_pictures": 3})).set_references(
            keys, rows, images
        )
    with pytest.raises(UserError, match=r"model\.retrieve_pictures must be >= 1"):
        LightweightConfig(**TINY, resolution=16, text_dim=3, retrieve=True, retrieve_pictures=0)


def test_over_replaces_the_retrieved_reference_and_is_refused_where_it_cannot_apply(captioned):
    cfg, ds = prepare(text_config(captioned, 1, retrieve=True))
    G = Trainer(cfg, ds, torch.device("cpu"), None).G.eval()
    with torch.no_grad():
        G.ref_in[-1].weight.fill_(0.1)  # a G that reads its reference
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    y = G.ref_keys[:3]
    assert G.draws_over and torch.equal(G(z, y, over=G.references(y, z)), G(z, y))
    grey = torch.zeros(1, *G.ref_images.shape[1:])  # one picture for the whole batch
    assert torch.equal(G(z, y, over=grey), G(z, y, over=grey.expand(3, -1, -1, -1)))
    assert not torch.equal(G(z, y, over=grey), G(z, y))
    with pytest.raises(ValueError, match=r"over must be \(B or 1, 3, 16, 16\)"):
        G(z, y, over=torch.zeros(2, 3, 16, 16))
    plain = Trainer(*prepare(text_config(captioned, 1)), torch.device("cpu"), None).G.eval()
    with pytest.raises(ValueError, match="only a G that retrieves one reference"):
        plain(z, y, over=grey)
    from ganstudio.models.lightweight import LightweightGenerator

    side = LightweightGenerator(
        LightweightConfig(**TINY, resolution=16, text_dim=3, retrieve=True, retrieve_pictures=2)
    )
    assert not side.draws_over  # side by side references: no one picture to replace


def test_a_caption_several_pictures_share_draws_each_seed_over_one_of_them(named):
    """Measured (benchmarks/text_README.md, session 22): on a folder of class-like captions, seeds that each draw over
    one crisp picture of their caption differ (variety 0.08), while the blend of its pictures G trains over gives
    every seed the same picture (0.003); the noise must keep breaking such ties when sampling."""
    cfg, ds = prepare(text_config(named, 1, retrieve=True, retrieve_temperature=0.02, retrieve_variety=0.025))
    G = Trainer(cfg, ds, torch.device("cpu"), None).G
    keys, rows, images = G.ref_keys.clone(), G.ref_rows.clone(), G.ref_images.clone()
    keys[rows >= 4] = keys[rows == 4][:1]  # pictures 4-7 now share one caption ("a drawing of animals")
    G.set_references(keys, rows, images)
    y = keys[rows == 4][:1].expand(32, -1)  # that caption, 32 seeds
    z = torch.randn(32, 8, generator=torch.Generator().manual_seed(0))
    G.train()  # training: the blend of its other pictures, the same for every seed
    assert torch.equal(G.references(y, z), G.references(y, z[:1].expand(32, -1)))
    G.eval()
    refs = G.references(y, z)
    pictures = images[4:].float() / 127.5 - 1  # (4, C, h, w): each seed's reference is mostly one of them
    nearest = (refs[:, None] - pictures[None]).abs().mean((2, 3, 4)).argmin(1)
    assert len(set(nearest.tolist())) >= 2
    assert (refs[:, None] - pictures[None]).abs().mean((2, 3, 4)).min(1).values.max() < 0.5 * (
        pictures[:, None] - pictures[None]
    ).abs().mean((2, 3, 4)).max()
