"""The GAN losses against their definitions."""

import pytest
import torch

from ganstudio.losses import LOSSES, d_bce, g_minimax, g_nonsaturating


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
