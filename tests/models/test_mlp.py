"""The mlp family (the seed's model): layer sizes and parameter counts, logits out of D, Keras's
initialisation, class conditioning, and the family registry."""

import pytest
import torch
from torch import nn

from ganstudio.errors import UserError
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
