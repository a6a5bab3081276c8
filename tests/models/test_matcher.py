"""The text-image matching model's fit (``models.matcher``), shared by the benchmark's judge and G's guide."""

from __future__ import annotations

import torch

from ganstudio.models.matcher import MatchConfig, MatchModel, fit_matcher


def _coloured(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """n 16 px pictures of n colours (uint8) and one caption per picture: a one-hot 'embedding' of its colour."""
    colours = torch.tensor([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255],
                            [0, 0, 0], [128, 128, 128]], dtype=torch.uint8)[:n]  # fmt: skip
    images = colours[:, :, None, None].expand(n, 3, 16, 16).contiguous()
    return images, torch.eye(n, 16)


def test_fit_learns_which_caption_is_whose_and_is_deterministic():
    images, emb = _coloured()
    start, count = torch.arange(8), torch.ones(8, dtype=torch.int64)
    cfg = MatchConfig(widths=(8, 16), dim=16, epochs=60, batch_size=8, seed=3)
    model, losses, seconds = fit_matcher(images, emb, start, count, cfg)
    assert not model.training and seconds >= 0 and len(losses) == 60
    assert losses[-1] < 0.5 * losses[0]  # chance is log 8 = 2.08
    with torch.no_grad():
        a = model.image(images.float() / 127.5 - 1)
        b = model.embed_text(emb)
    assert torch.equal((a @ b.T).argmax(1), torch.arange(8))  # each picture nearest its own caption
    again, _, _ = fit_matcher(images, emb, start, count, cfg)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())


def test_image_tower_pools_larger_pictures_to_32_px_and_returns_unit_vectors():
    model = MatchModel(3, 16, MatchConfig(widths=(8, 16), dim=12))
    out = model.image(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert out.shape == (2, 12) and torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)
