"""pix2pix's networks: U-Net generator and PatchGAN discriminator shapes, dropout noise, and
Pix2PixConfig's validation."""

import pytest
import torch

from ganstudio.errors import UserError
from ganstudio.models.pix2pix import PatchDiscriminator, Pix2PixConfig, UNetGenerator


@pytest.mark.parametrize("res, height, cin, cout", [(8, None, 1, 3), (16, None, 3, 3), (12, None, 1, 1), (16, 8, 1, 3)])
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
