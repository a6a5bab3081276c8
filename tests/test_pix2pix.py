"""pix2pix: paired data (sketch, grayscale, folders), U-Net/PatchGAN, the pix2pix schedule through the one
loop (resume bit-exact, L1-only baseline), translation of any-size inputs, and the paired metrics."""
import dataclasses
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ganstudio import runs
from ganstudio.data import DataConfig, ImageDataset, load_dataset
from ganstudio.data import pairs as P
from ganstudio.errors import UserError
from ganstudio.evaluation.paired import evaluate_pairs, l1, psnr, ssim
from ganstudio.models.pix2pix import PatchDiscriminator, Pix2PixConfig, UNetGenerator
from ganstudio.training import RunConfig, TrainConfig, Trainer, prepare, train
from ganstudio.translate import load_translator, translate_folder


def tiny_p2p(steps: int = 20, model: dict | None = None, pairs: str = "sketch", **tr) -> RunConfig:
    t = dict(steps=steps, batch_size=16, schedule="pix2pix", threads=1, device="cpu", seed=3, log_every=5,
             checkpoint_every=10, lr_g=2e-4, lr_d=2e-4, beta1=0.5)
    t.update(tr)
    return RunConfig(model="pix2pix", model_config=Pix2PixConfig(g_channels=8, d_channels=8, **(model or {})),
                     data=DataConfig(name="digits", resolution=8, pairs=pairs, limit=96), train=TrainConfig(**t))


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside conftest's per-test cache isolation
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, cache_env):
    """40 steps in one go, and 25 + resume to 40 (with EMA and paired flips switched on)."""
    root = tmp_path_factory.mktemp("p2p-resume")

    def cfg(steps):
        c = tiny_p2p(steps, ema_beta=0.9)
        return dataclasses.replace(c, data=dataclasses.replace(c.data, flip=True))

    one_go = train(cfg(40), out=root / "a", progress=False)
    split = train(cfg(25), out=root / "b", progress=False)
    train(resume=split, overrides={"steps": 40}, progress=False)
    return one_go, runs.find_checkpoint(one_go), runs.find_checkpoint(split)


# ---- paired data ------------------------------------------------------------------------------

def _boxes(n: int, side: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 1, side, side): a bright filled rectangle on black per image."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 1, side, side), np.uint8)
    for i in range(n):
        y0, x0 = rng.integers(3, side // 3, 2)
        y1, x1 = rng.integers(2 * side // 3, side - 3, 2)
        out[i, 0, y0:y1, x0:x1] = rng.integers(150, 256)
    return torch.from_numpy(out)


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


def test_sketch_is_binary_strokes_on_white_with_the_nominal_width():
    imgs = _boxes(64)
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


# ---- models ------------------------------------------------------------------------------------

@pytest.mark.parametrize("res, height, cin, cout", [(8, None, 1, 3), (16, None, 3, 3), (12, None, 1, 1),
                                                   (16, 8, 1, 3)])
def test_unet_and_patchgan_shapes(res, height, cin, cout):
    cfg = Pix2PixConfig(resolution=res, height=height, in_channels=cin, channels=cout, g_channels=4, d_channels=4)
    G, D = UNetGenerator(cfg), PatchDiscriminator(cfg)
    h = height or res
    x = torch.rand(3, cin, h, res) * 2 - 1
    y = G(x)
    assert y.shape == (3, cout, h, res) and y.abs().max() <= 1
    logits = D(x, y)
    assert logits.ndim == 4 and logits.shape[:2] == (3, 1) and logits.shape[2] >= 1 and logits.shape[3] >= 1
    # dropout masks come from the generator given: same state, same output; eval mode is deterministic
    G.train()
    a, b = G(x, noise=torch.Generator().manual_seed(1)), G(x, noise=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    G.eval()
    assert torch.equal(G(x), G(x))
    with pytest.raises(UserError, match="translate"):
        G(torch.randn(3, 0))  # generate-style latents: a clear message, not a shape error


def test_pix2pix_config_validation():
    with pytest.raises(UserError, match="z_dim"):
        Pix2PixConfig(z_dim=10)
    with pytest.raises(UserError, match="adv_weight"):
        Pix2PixConfig(adv_weight=0, l1_weight=0)
    with pytest.raises(UserError, match="d_layers"):
        Pix2PixConfig(resolution=16, d_layers=3)


# ---- training ----------------------------------------------------------------------------------

def test_one_step_preview_and_wrong_schedule(cache_env):
    cfg, ds = prepare(tiny_p2p(1))
    assert ds.inputs is not None and cfg.model_config.in_channels == 1
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    g0 = [p.detach().clone() for p in t.g_params]
    out = t.train_step()
    assert {"d_loss", "g_loss", "l1", "d_real", "d_fake"} <= out.keys()
    assert all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(g0, t.g_params))
    preview = t.preview()
    grid = preview.images
    assert grid.shape == (24, 1, 8, 8) and grid.dtype == torch.uint8 and preview.nrow == 8
    fixed = torch.randperm(len(ds.images), generator=torch.Generator().manual_seed(1234))[:8]
    assert torch.equal(grid[16:], ds.images[fixed]) and torch.equal(grid[:8], ds.inputs[fixed])
    with pytest.raises(UserError, match="schedule 'simultaneous' trains noise-to-image models"):
        Trainer(cfg.replace_train(schedule="simultaneous"), ds, torch.device("cpu"), None)


def test_l1_only_baseline_never_touches_d(cache_env):
    cfg, ds = prepare(tiny_p2p(3, model={"adv_weight": 0}))
    t = Trainer(cfg, ds, torch.device("cpu"), None)
    d0 = {k: v.clone() for k, v in t.D.state_dict().items()}
    for _ in range(3):
        out = t.train_step()
    assert float(out["d_loss"]) == 0.0 and "d_real" not in out
    assert all(torch.equal(d0[k], v) for k, v in t.D.state_dict().items())  # weights and BN statistics
    assert not t.opt_d.state and t.d_steps == 0


def test_resume_equals_uninterrupted_pix2pix_training(resumed):
    _, a, b = resumed
    assert a.step == b.step == 40
    cfg, ds = prepare(tiny_p2p(1, ema_beta=0.9))
    components = list(Trainer(cfg, ds, torch.device("cpu"), None).stateful)
    assert {"G", "D", "opt_g", "opt_d", "rng_noise", "sampler", "G_ema"} <= set(components)
    for comp in components:
        if comp in ("G", "D", "G_ema"):
            ta, tb = a.tensors(comp), b.tensors(comp)
        else:
            ta = {k: v for k, v in a.tensors("train_state").items() if k.startswith(comp + ".")}
            tb = {k: v for k, v in b.tensors("train_state").items() if k.startswith(comp + ".")}
        assert ta.keys() == tb.keys(), comp
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{comp}.{k} differs after resume"
        assert a.state.get(comp) == b.state.get(comp), comp


# ---- translation --------------------------------------------------------------------------------

def test_translate_odd_size_restores_aspect_and_folder_cli(resumed, tmp_path):
    run = resumed[0]
    tr = load_translator(run)
    assert (tr.resolution, tr.line_width, tr.input_kind) == (8, 1, "sketch")
    im = Image.new("RGBA", (37, 23), (0, 0, 0, 0))  # a transparent canvas with one stroke
    ImageDraw.Draw(im).line([(3, 3), (30, 18)], fill=(0, 0, 0, 255), width=3)
    out = tr(im)
    assert out.size == (37, 23) and out.mode == "L"
    small = tr(im, size="model")
    assert small.size == (8, 5)  # 37x23 fitted inside 8x8 keeps its aspect
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    im.save(src / "a.png")
    Image.new("RGB", (9, 40), "white").save(src / "sub" / "b.jpg")
    (src / "broken.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match="broken.png"):
        paths = translate_folder(run, src, tmp_path / "out", progress=False)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths) == ["a.png", "sub/b.png"]
    assert Image.open(tmp_path / "out" / "sub" / "b.png").size == (9, 40)
    from ganstudio.cli import main

    assert main(["translate", str(run), str(src / "a.png"), "--out", str(tmp_path / "one.png"), "--quiet"]) == 0
    assert Image.open(tmp_path / "one.png").size == (37, 23)


def test_evaluate_pairs_writes_metrics(resumed):
    run = resumed[0]
    res = evaluate_pairs(run, n=24, features="folder-rcf", log=lambda s: None)
    assert res["split"] == "test" and res["n"] == 24 and res["input_kind"] == "sketch"
    assert 0 <= res["l1"]["mean"] <= 1 and -1 <= res["ssim"]["mean"] <= 1 and np.isfinite(res["fid"])
    assert os.path.isfile(res["path"]) and os.path.isfile(res["grid"])


# ---- metrics -------------------------------------------------------------------------------------

@pytest.mark.numerics
def test_psnr_ssim_l1_known_values():
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim(x, x), torch.ones(3, dtype=torch.float64))
    assert torch.isinf(psnr(x, x)).all() and torch.equal(l1(x, x), torch.zeros(3, dtype=torch.float64))
    a, b = torch.zeros(2, 1, 8, 8), torch.full((2, 1, 8, 8), 0.1)
    assert torch.allclose(psnr(a, b), torch.full((2,), 20.0, dtype=torch.float64))  # MSE 0.01 -> 20 dB
    assert torch.allclose(l1(a, b), torch.full((2,), 0.1, dtype=torch.float64))
    assert ssim(x, torch.rand_like(x)).max() < 0.2  # unrelated noise: near 0


@pytest.mark.numerics
def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(1)
    for c in (1, 3):
        a = torch.rand(2, c, 28, 28, generator=g)
        b = (a + 0.2 * torch.randn(2, c, 28, 28, generator=g)).clamp(0, 1)
        ours = ssim(a, b)
        for i in range(2):
            ref = metrics.structural_similarity(a[i].numpy().astype(np.float64), b[i].numpy().astype(np.float64),
                                                channel_axis=0, gaussian_weights=True, sigma=1.5,
                                                use_sample_covariance=False, data_range=1.0)
            assert abs(float(ours[i]) - ref) < 1e-6


def test_evaluate_pairs_on_a_held_out_folder(resumed, tmp_path, capsys):
    """Folders have no test split: --data scores the model on another folder through the run's own transform."""
    run = resumed[0]
    held = tmp_path / "held-out"
    held.mkdir()
    for i, img in enumerate(_boxes(6, side=24, seed=5)):
        Image.fromarray(img[0].numpy()).convert("RGB").save(held / f"{i}.png")  # RGB: the run converts
    res = evaluate_pairs(run, n=24, features="folder-rcf", data=str(held), write=False, log=lambda s: None)
    assert res["n"] == 6 and res["note"] == f"held-out pairs from {held}"  # every image of the folder, no more
    assert 0 <= res["l1"]["mean"] <= 1 and np.isfinite(res["fid"])
    from ganstudio.cli import main

    assert main(["translate-eval", str(run), "--data", str(held), "--n", "6", "--features", "folder-rcf",
                 "--no-write", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 6
    assert main(["translate-eval", str(run), "--data", str(tmp_path / "missing")]) == 2
    assert "no such folder or dataset" in capsys.readouterr().err
