import pytest
import torch
from torch import nn

from ganstudio.errors import UserError
from ganstudio.losses import LOSSES, d_bce, g_minimax, g_nonsaturating
from ganstudio.models import FAMILIES, build, count_params, get_family
from ganstudio.models.mlp import MLPConfig


def test_seed_mlp_shapes_and_parameter_counts():
    G, D = build("mlp", MLPConfig())
    # Keras summary of the seed: G 100->256->512->1024->784, D 784->1024->512->256->1.
    assert count_params(G) == (100 * 256 + 256) + (256 * 512 + 512) + (512 * 1024 + 1024) + (1024 * 784 + 784)
    assert count_params(G) == 1_486_352
    assert count_params(D) == 1_460_225
    z = torch.randn(5, 100)
    x = G(z)
    assert x.shape == (5, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert D(x).shape == (5,)
    widths = [m.out_features for m in G.modules() if isinstance(m, nn.Linear)]
    assert widths == [256, 512, 1024, 784]
    assert [m.out_features for m in D.modules() if isinstance(m, nn.Linear)] == [1024, 512, 256, 1]
    slopes = {m.negative_slope for m in list(G.modules()) + list(D.modules()) if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}


def test_discriminator_outputs_logits_not_probabilities():
    """The seed's bug: sigmoid output fed to a from_logits loss. D must end in a plain Linear."""
    _, D = build("mlp", MLPConfig())
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules())
    with torch.no_grad():
        D.head.bias.fill_(5.0)  # logits can leave [0, 1]; probabilities could not
        out = D(torch.zeros(3, 1, 28, 28))
    assert (out > 1).all()


def test_keras_default_initialisation():
    G, D = build("mlp", MLPConfig())
    for m in list(G.modules()) + list(D.modules()):
        if isinstance(m, nn.Linear):
            limit = (6 / (m.in_features + m.out_features)) ** 0.5
            assert m.weight.abs().max() <= limit + 1e-7
            assert m.weight.abs().max() > 0.9 * limit  # uniform over the full Glorot range
            assert torch.all(m.bias == 0)


def test_conditional_mlp_uses_class_input():
    G, D = build("mlp", MLPConfig(num_classes=10, resolution=8))
    z = torch.randn(4, 100)
    y1, y2 = torch.eye(10)[[0, 0, 0, 0]], torch.eye(10)[[5, 5, 5, 5]]
    assert not torch.allclose(G(z, y1), G(z, y2))
    assert D(G(z, y1), y1).shape == (4,)


def test_registry_and_unknown_model():
    assert "mlp" in FAMILIES
    with pytest.raises(UserError, match="unknown model 'nope'"):
        get_family("nope")


@pytest.mark.numerics
def test_losses_match_definitions():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    expect_d = -(torch.log(sig(real))).mean() - torch.log(1 - sig(fake)).mean()
    assert torch.allclose(d_bce(real, fake), expect_d, atol=1e-6)
    assert torch.allclose(g_nonsaturating(fake), -torch.log(sig(fake)).mean(), atol=1e-6)
    assert torch.allclose(g_minimax(fake), torch.log(1 - sig(fake)).mean(), atol=1e-6)
    # One-sided smoothing changes only the real term.
    assert d_bce(real, fake, 0.1) > d_bce(real, fake) - 1.0
    assert not torch.allclose(d_bce(real, fake, 0.1), d_bce(real, fake))
    for name, loss in LOSSES.items():
        assert loss.d(real, fake).ndim == 0 and loss.g(fake).ndim == 0, name


def test_torchvision_is_not_imported():
    import subprocess
    import sys

    code = ("import sys, ganstudio, ganstudio.cli, ganstudio.training, ganstudio.pipeline, ganstudio.media, "
            "ganstudio.data; assert 'torchvision' not in sys.modules, 'torchvision imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
