"""Attacks: the sanity checks (eps 0 = clean, monotone in eps, eval mode, range and budget) on a tiny CNN."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.errors import UserError
from ganstudio.features.classifier import ClassifierConfig, SmallCNN
from ganstudio.robustness.attacks import (
    ATTACKS,
    AttackConfig,
    PictureJudge,
    accuracy_curve,
    attack,
    check_adversarial,
    judge_from_extractor,
    predict,
    typo_attack,
    typos,
)


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes of 8x8 grey pictures: a bright bar on the left, in the middle or on the right."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.3 * torch.rand(n, 1, 8, 8, generator=g)
    for k in range(3):
        x[y == k, :, :, 1 + 2 * k : 3 + 2 * k] += 0.6
    return x.clamp(0, 1), y


@pytest.fixture(scope="module")
def judge() -> PictureJudge:
    torch.manual_seed(0)
    net = SmallCNN(ClassifierConfig(in_channels=1, resolution=8, num_classes=3, widths=(4,), hidden=16, dropout=0.5))
    j = PictureJudge(net)
    x, y = _data(256, 0)
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(60):
        j.train()
        loss = F.cross_entropy(j(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    j.eval()
    return j


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    return _data(64, 1)


def test_tiny_judge_learnt(judge, batch):
    x, y = batch
    assert float((predict(judge, x) == y).float().mean()) > 0.9


@pytest.mark.parametrize("kind", list(ATTACKS))
def test_eps_zero_gives_clean_accuracy_exactly(judge, batch, kind):
    x, y = batch
    res = accuracy_curve(judge, x, y, AttackConfig(kind, 0.0, steps=3), [0.0])
    assert res["eps0_equals_clean"]
    assert torch.equal(attack(judge, x, y, AttackConfig(kind, 0.0, steps=3)), x)


@pytest.mark.parametrize("kind", ["pgd-linf", "pgd-l2"])
def test_accuracy_falls_monotonically_with_eps(judge, batch, kind):
    x, y = batch
    eps = [0.0, 0.05, 0.15, 0.3, 0.5] if kind == "pgd-linf" else [0.0, 0.5, 1.0, 2.0, 4.0]
    res = accuracy_curve(judge, x, y, AttackConfig(kind, 0.1, steps=10, seed=3), eps)
    raw = [r["accuracy_raw"] for r in res["rows"]]
    assert res["monotone"], raw
    assert all(a >= b for a, b in itertools.pairwise(raw))
    assert raw[-1] < raw[0] - 0.5  # the attack works: at the largest budget most pictures are fooled
    cum = [r["accuracy"] for r in res["rows"]]
    assert all(c <= r for c, r in zip(cum, raw, strict=True))


@pytest.mark.parametrize("kind", list(ATTACKS))
def test_adversarial_pictures_stay_in_range_and_budget(judge, batch, kind):
    x, y = batch
    cfg = AttackConfig(kind, 1.0 if kind == "pgd-l2" else 0.2, steps=5, seed=1)
    xa = attack(judge, x, y, cfg)
    chk = check_adversarial(x, xa, cfg)
    assert chk["in_range"] and chk["within_eps"], chk
    d = (xa - x).flatten(1)
    norms = d.norm(dim=1) if kind == "pgd-l2" else d.abs().amax(1)
    assert float(norms.max()) <= cfg.eps + chk["tolerance"]
    assert float(xa.min()) >= 0 and float(xa.max()) <= 1
    assert float(norms.max()) > 0.5 * cfg.eps  # the budget is used, not ignored


def test_square_attack_fools_without_gradients(judge, batch):
    x, y = batch
    clean = float((predict(judge, x) == y).float().mean())
    xa = attack(judge, x, y, AttackConfig("square-linf", 0.5, steps=100, seed=0))
    assert float((predict(judge, xa) == y).float().mean()) < clean - 0.3


def test_attack_runs_in_eval_mode_and_restores_modes(judge, batch):
    x, y = batch
    seen: list[bool] = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = judge

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            seen.append(self.training or any(m.training for m in self.inner.modules()))
            return self.inner(t)

    spy = Spy()
    spy.train()
    spy.inner.net.drop.eval()  # a mixed state must come back as it was
    before = [m.training for m in spy.modules()]
    attack(spy, x, y, AttackConfig("pgd-linf", 0.1, steps=2))
    assert seen and not any(seen)
    assert [m.training for m in spy.modules()] == before
    judge.eval()


def test_wrong_input_range_is_a_user_error(judge, batch):
    x, y = batch
    with pytest.raises(UserError, match="input range"):
        attack(judge, x * 255, y, AttackConfig("fgsm", 0.1))
    with pytest.raises(UserError, match="unknown attack"):
        AttackConfig("cw")
    with pytest.raises(UserError, match="eps"):
        AttackConfig("fgsm", -0.1)


def test_restarts_never_weaken_the_attack(judge, batch):
    x, y = batch
    one = accuracy_curve(judge, x, y, AttackConfig("pgd-linf", 0.1, steps=3, seed=5), [0.1])
    five = accuracy_curve(judge, x, y, AttackConfig("pgd-linf", 0.1, steps=3, restarts=5, seed=5), [0.1])
    # restart 1 is the same attack (same seed); later restarts only replace examples it failed on
    assert five["rows"][0]["accuracy_raw"] <= one["rows"][0]["accuracy_raw"]


def test_picture_judge_reads_zero_one_and_maps_to_the_network_range():
    torch.manual_seed(0)
    net = SmallCNN(ClassifierConfig(in_channels=1, resolution=8, num_classes=3, widths=(4,), hidden=8)).eval()
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(PictureJudge(net)(x), net(x * 2 - 1)[1])
    # a 16 px RGB picture is fitted (luma, resize) to the network's 8 px grey input, differentiably
    j = PictureJudge(net, channels=1, size=(8, 8))
    xr = torch.rand(2, 3, 16, 16, requires_grad=True)
    j(xr).sum().backward()
    assert xr.grad is not None and xr.grad.abs().sum() > 0


def test_judge_from_extractor_refuses_feature_only_extractors():
    from ganstudio.features.randconv import RandomConvExtractor

    with pytest.raises(UserError, match="no classifier network"):
        judge_from_extractor(RandomConvExtractor())


def test_typos_and_typo_attack():
    assert "caot" in typos("coat") and "cot" in typos("coat") and "coat" not in typos("coat")

    def brittle(s: str) -> int:
        return 4 if "coat" in s.split() else 0

    res = typo_attack(brittle, "a long red coat")
    assert res["flipped"] and res["class"] == 0 and res["adversarial"] != "a long red coat"
    assert res["adversarial"].split()[:3] == ["a", "long", "red"]
    sturdy = typo_attack(lambda s: 1, "a long red coat", max_queries=30)
    assert not sturdy["flipped"] and sturdy["queries"] == 30


def test_a_detector_is_a_two_class_judge_at_its_threshold(tmp_path):
    """``detector:PATH``: argmax of the judge == the detector's own decision, and PGD can flip it."""
    from ganstudio.robustness import detector as D
    from ganstudio.robustness.classifier import load_judge

    g = torch.Generator().manual_seed(0)
    real = (torch.rand(40, 1, 8, 8, generator=g) * 120).to(torch.uint8)
    fake = (torch.rand(40, 1, 8, 8, generator=g) * 120 + 130).to(torch.uint8)
    cfg = D.DetectorConfig(resolution=8, width=4, epochs=2, batch_size=16, p_blur=0, p_jpeg=0, val_fraction=0.25)
    det = D.train_detector(real, fake, cfg)
    det.save(tmp_path / "det")
    judge, desc = load_judge(f"detector:{tmp_path / 'det'}", "digits")
    x = torch.cat([real, fake])
    assert desc["binary"] and torch.equal(predict(judge, x.float() / 255).bool(), det.is_generated(x))
    y = torch.cat([torch.zeros(40), torch.ones(40)]).long()
    res = accuracy_curve(judge, x.float() / 255, y, AttackConfig("pgd-linf", 0.5, steps=10), [0.0, 0.6])
    assert res["eps0_equals_clean"] and res["rows"][-1]["accuracy"] < res["clean_accuracy"]
    with pytest.raises(UserError, match="detector:PATH"):
        load_judge("detector", "digits")
