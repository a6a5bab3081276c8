"""The convolutional model families (dcgan, resnet): shapes, conditioning, D extras, gradients."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.config import RunConfig, from_dict, to_dict
from ganstudio.errors import UserError
from ganstudio.models import FAMILIES, build, count_params
from ganstudio.models.layers import MinibatchStdDev, base_grid, has_spectral_norm

CONV_FAMILIES = ["dcgan", "resnet", "lightweight"]
TINY = {"g_channels": 8, "d_channels": 4, "max_channels": 16}


def tiny(family: str, **fields):
    return FAMILIES[family].config_cls(**{"z_dim": 16, **TINY, **fields})


def one_hot(labels: list[int], k: int) -> torch.Tensor:
    return torch.eye(k)[labels]


def sn_layers(m: nn.Module) -> list[bool]:
    return [has_spectral_norm(c) for c in m.modules() if isinstance(c, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("family", CONV_FAMILIES)
@pytest.mark.parametrize("resolution", [8, 16, 28, 32, 64])
def test_shapes_range_and_logits(family, resolution):
    torch.manual_seed(0)
    cfg = tiny(family, resolution=resolution, channels=3)
    G, D = build(family, cfg)
    assert (G.z_dim, G.num_classes, G.out_shape) == (16, 0, (3, resolution, resolution))
    x = G(torch.randn(5, 16))
    assert x.shape == (5, 3, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    out = D(x)
    assert out.shape == (5,) and out.dtype == torch.float32
    f = D.features(x)
    assert f.shape == (5, D.feature_dim)
    G.eval()  # sampling uses BatchNorm running statistics
    with torch.no_grad():
        assert torch.isfinite(G(torch.randn(2, 16))).all()


@pytest.mark.parametrize("family", CONV_FAMILIES)
def test_non_square_64x48(family):
    cfg = tiny(family, resolution=64, height=48, channels=1)
    assert cfg.image_shape == (1, 48, 64)
    G, D = build(family, cfg)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, 1, 48, 64)
    assert D(x).shape == (3,)
    with pytest.raises(ValueError, match="expected images of shape"):
        D(torch.zeros(3, 1, 64, 48))  # transposed: refused, not silently mis-shaped


def test_base_grid_geometry():
    assert base_grid(64, 64) == (4, 4, 4)
    assert base_grid(28, 28) == (2, 7, 7)
    assert base_grid(32, 32) == (3, 4, 4)
    assert base_grid(64, 48) == (4, 3, 4)  # (stages, base height, base width)
    assert base_grid(128, 128) == (5, 4, 4)
    for bad in (27, 5, 100):  # odd; too small; 25 x 2^2 needs a 25-pixel base
        with pytest.raises(UserError, match="cannot be built by doubling"):
            base_grid(bad, bad)


@pytest.mark.parametrize("family", CONV_FAMILIES)
def test_config_validation_and_json_round_trip(family):
    cls = FAMILIES[family].config_cls
    cfg = tiny(family, resolution=32, height=16, num_classes=4, conditioning="acgan", mbstd=True)
    assert from_dict(cls, to_dict(cfg)) == cfg
    assert RunConfig.from_dict({"model": family, "model_config": to_dict(cfg)}).model_config == cfg
    for bad, msg in (
        ({"conditioning": "nope"}, "model.conditioning must be one of"),
        ({"resolution": 27}, "cannot be built by doubling"),
        ({"channels": 2}, "model.channels"),
        ({"num_classes": -1}, "num_classes"),
    ):
        with pytest.raises(UserError, match=msg):
            tiny(family, **bad)
    if family == "dcgan":
        with pytest.raises(UserError, match="d_norm"):
            tiny(family, d_norm="spectral")
        with pytest.raises(UserError, match="g_upsample"):
            tiny(family, g_upsample="bicubic")


@pytest.mark.parametrize("family", CONV_FAMILIES)
@pytest.mark.parametrize("class_input", [False, True])
def test_conditional_g_responds_to_class_weights_and_blends(family, class_input):
    torch.manual_seed(1)
    G, _ = build(family, tiny(family, resolution=16, num_classes=3, class_input=class_input))
    assert G.project.in_features == 16 + 3 * class_input  # y joins z at the input only when asked
    G.eval()  # running stats: each sample's output depends on its own (z, y) only
    z = torch.randn(1, 16).repeat(3, 1)
    y = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0.5, 0.5, 0]])
    with torch.no_grad():
        a, b, blend = G(z, y)
    assert not torch.allclose(a, b)
    assert not torch.allclose(blend, a) and not torch.allclose(blend, b)
    with pytest.raises(ValueError, match="class-conditional"):
        G(z)
    with pytest.raises(ValueError, match="y must have shape"):
        G(z, torch.ones(3, 4))


@pytest.mark.numerics
@pytest.mark.parametrize("family", CONV_FAMILIES)
def test_projection_d_depends_on_y_and_has_no_aux(family):
    torch.manual_seed(2)
    _, D = build(family, tiny(family, resolution=16, num_classes=3))
    D.eval()  # spectral norm's power iteration only runs in training mode; eval makes D a pure function
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        l0, l1 = D(x, one_hot([0] * 4, 3)), D(x, one_hot([1] * 4, 3))
        soft = D(x, torch.full((4, 3), 1 / 3))
        logits, aux = D(x, one_hot([0] * 4, 3), return_aux=True)
    assert not torch.allclose(l0, l1)
    # Linear in y: a uniform soft vector gives the mean of the pure-class logits.
    l2 = D(x, one_hot([2] * 4, 3)).detach()
    assert torch.allclose(soft, (l0 + l1 + l2) / 3, rtol=1e-4, atol=1e-5)
    assert D.has_aux is False and aux is None
    assert torch.equal(logits, l0)


@pytest.mark.parametrize("family", CONV_FAMILIES)
@pytest.mark.parametrize("conditioning", ["acgan", "both"])
def test_acgan_aux_logits(family, conditioning):
    torch.manual_seed(3)
    _, D = build(family, tiny(family, resolution=16, num_classes=5, conditioning=conditioning))
    D.eval()
    x = torch.randn(6, 3, 16, 16)
    with torch.no_grad():
        logits, aux = D(x, one_hot([0, 1, 2, 3, 4, 0], 5), return_aux=True)
        other = D(x, one_hot([1] * 6, 5))
    assert D.has_aux and logits.shape == (6,) and aux.shape == (6, 5)
    # ACGAN alone: the adversarial logit ignores y (the class is D's *output*); "both" also projects.
    assert torch.allclose(logits, other) == (conditioning == "acgan")


def test_spectral_norm_where_configured():
    _, D = build("resnet", tiny("resnet", resolution=16, num_classes=3, conditioning="both"))
    assert all(sn_layers(D)) and len(sn_layers(D)) >= 8  # default on: every conv, the head, embed, aux
    G, D = build("resnet", tiny("resnet", resolution=16, spectral_norm=False))
    assert not any(sn_layers(D)) and not any(sn_layers(G))
    G, D = build("dcgan", tiny("dcgan", resolution=16))
    assert not any(sn_layers(D)) and not any(sn_layers(G))  # DCGAN default: off
    G, D = build("dcgan", tiny("dcgan", resolution=16, spectral_norm=True, d_norm="none"))
    assert all(sn_layers(D)) and not any(sn_layers(G))


@pytest.mark.parametrize("family", CONV_FAMILIES)
def test_minibatch_stddev_sees_the_rest_of_the_batch(family):
    torch.manual_seed(4)
    x = torch.randn(4, 3, 16, 16)
    x2 = x.clone()
    x2[1:] = x[0] + 0.01 * torch.randn(3, 3, 16, 16)  # sample 0 unchanged, its batch now near-identical
    outputs = {}
    for mbstd in (False, True):
        extra = {"d_norm": "none"} if family == "dcgan" else {}  # BatchNorm in D would also mix the batch
        _, D = build(family, tiny(family, resolution=16, mbstd=mbstd, **extra))
        D.eval()
        with torch.no_grad():
            outputs[mbstd] = (D(x)[0], D(x2)[0], D.feature_dim)
    assert torch.allclose(outputs[False][0], outputs[False][1])
    assert not torch.allclose(outputs[True][0], outputs[True][1])


@pytest.mark.numerics
def test_minibatch_stddev_layer():
    x = torch.randn(6, 2, 3, 3)  # 6 is not divisible by the group of 4: falls back to groups of 3
    out = MinibatchStdDev(4)(x)
    assert out.shape == (6, 3, 3, 3)
    assert torch.equal(out[:, :2], x)
    # Strided groups: samples {0, 2, 4} and {1, 3, 5}.
    expect = [x[i::2].std(0, unbiased=False).mean() for i in (0, 1)]
    for i in range(6):
        assert torch.allclose(out[i, 2], torch.full((3, 3), expect[i % 2].item()), rtol=1e-4, atol=1e-4)
    assert MinibatchStdDev(4)(torch.randn(1, 2, 3, 3)).shape == (1, 3, 3, 3)  # a batch of one still works


@pytest.mark.parametrize(
    "family,extra", [("dcgan", {"spectral_norm": True}), ("dcgan", {"g_upsample": "nearest"}), ("resnet", {})]
)
def test_gradients_reach_every_parameter_and_a_step_lowers_the_loss(family, extra):
    torch.manual_seed(5)
    cfg = tiny(family, resolution=16, num_classes=3, conditioning="both", mbstd=True, **extra)
    G, D = build(family, cfg)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    y = one_hot(labels.tolist(), 3)
    z, real = torch.randn(8, 16), torch.rand(8, 3, 16, 16) * 2 - 1

    def loss() -> torch.Tensor:
        lr, ar = D(real, y, return_aux=True)
        lf, af = D(G(z, y), y, return_aux=True)
        return (
            F.softplus(-lr).mean() + F.softplus(lf).mean() + F.cross_entropy(ar, labels) + F.cross_entropy(af, labels)
        )

    before = loss()
    before.backward()
    for name, p in [*G.named_parameters(prefix="G"), *D.named_parameters(prefix="D")]:
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name
    with torch.no_grad():  # plain SGD by hand (torch.optim's first use costs seconds of imports)
        for p in [*G.parameters(), *D.parameters()]:
            p -= 0.01 * p.grad
        assert loss() < before.detach()


@pytest.mark.parametrize("family", CONV_FAMILIES)
def test_feature_matching_features_and_copies(family, tmp_path):
    """features() is differentiable w.r.t. G (feature matching), and Ds survive deepcopy (EMA,
    snapshots) and a safetensors round trip (checkpoints) with spectral norm buffers."""
    from safetensors.torch import load_file, save_file

    torch.manual_seed(6)
    G, D = build(family, tiny(family, resolution=16, spectral_norm=True, mbstd=True))
    f = D.features(G(torch.randn(4, 16)))
    f.mean().backward()
    assert all(p.grad is not None for p in G.parameters())
    D.eval()
    x = torch.randn(4, 3, 16, 16)
    D2 = copy.deepcopy(D)
    assert torch.equal(D2(x), D(x))
    _, D3 = build(family, tiny(family, resolution=16, spectral_norm=True, mbstd=True))
    path = str(tmp_path / "D.safetensors")
    save_file({k: v.contiguous() for k, v in D.state_dict().items()}, path)
    D3.load_state_dict(load_file(path))
    D3.eval()
    assert torch.equal(D3(x), D(x))


def test_first_training_batch_seeds_g_batchnorm_statistics():
    """With DCGAN's N(0, 0.02) init, eval-mode samples used to be near-constant for ~100 steps (BN's
    running var still ~1 while the real one is ~1e-3): previews and the divergence guard saw a
    'collapse'. The first training batch now seeds the running statistics; loaded ones are kept."""
    torch.manual_seed(7)
    cfg = tiny("dcgan", resolution=16)
    G, _ = build("dcgan", cfg)
    z = torch.randn(32, 16)
    with torch.no_grad():
        trained = G(z)  # one training-mode forward
        G.eval()
        assert torch.allclose(G(z), trained, atol=0.02)  # eval mode now draws the same images
        assert G(z).std() > 0.5 * trained.std()
    G2, _ = build("dcgan", cfg)
    G2.load_state_dict(G.state_dict())
    before = G2.norm0.bn.running_var.clone()
    with torch.no_grad():
        G2(torch.randn(32, 16) * 3)  # resumed: an ordinary momentum update, not a re-seed
    after = G2.norm0.bn.running_var
    assert not torch.allclose(after, before) and torch.all(after < 2 * before)


def test_initialisation_schemes():
    G, D = build("dcgan", FAMILIES["dcgan"].config_cls(resolution=32))
    convs = [m for m in [*G.modules(), *D.modules()] if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    for m in convs:
        assert abs(m.weight.std().item() - 0.02) < 0.004  # DCGAN's N(0, 0.02)
    G, _ = build("resnet", FAMILIES["resnet"].config_cls(resolution=32))
    c = G.blocks[0].c1
    fan_in, fan_out = c.in_channels * 9, c.out_channels * 9
    xavier_std = (2 / (fan_in + fan_out)) ** 0.5 * 2**0.5  # Xavier with the ReLU gain sqrt(2)
    assert abs(c.weight.std().item() / xavier_std - 1) < 0.05


# Parameter counts at the default widths (docs/models.md's table rounds these): a change to a family's
# architecture must show up here, and in the docs, on purpose.
PARAMS = {
    ("dcgan", 32): (1_068_931, 663_361),
    ("dcgan", 64): (3_576_707, 2_765_633),
    ("dcgan", 128): (7_772_035, 6_960_961),
    ("resnet", 32): (3_547_587, 2_367_425),
    ("resnet", 64): (8_530_371, 9_578_689),
    ("resnet", 128): (13_513_155, 14_560_961),
}


@pytest.mark.parametrize("family, res", sorted(PARAMS))
def test_parameter_counts_at_default_widths(family, res):
    G, D = build(family, dataclasses.replace(FAMILIES[family].config_cls(), resolution=res))
    assert (count_params(G), count_params(D)) == PARAMS[family, res]


@pytest.mark.numerics
@pytest.mark.parametrize("family", CONV_FAMILIES)
def test_class_input_is_linear_in_y_at_the_first_layer(family):
    """The class vector enters G's first layer linearly: a 50/50 blend of classes gives the mean of
    the two classes' pre-activations (so blends for breeding and prompts mean what they say)."""
    torch.manual_seed(2)
    G, _ = build(family, tiny(family, resolution=16, num_classes=3, class_input=True))
    z = torch.randn(1, 16)
    pre = lambda y: G.project(torch.cat([z, y], 1))
    a, b, mix = pre(one_hot([0], 3)), pre(one_hot([1], 3)), pre(torch.tensor([[0.5, 0.5, 0.0]]))
    assert not torch.allclose(a, b)
    torch.testing.assert_close(mix, (a + b) / 2)
    unconditional, _ = build(family, tiny(family, resolution=16, class_input=True))  # no classes: no-op
    assert unconditional.project.in_features == 16
