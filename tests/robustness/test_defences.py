"""Defences: projection onto G, BPDA+EOT (exact when the projection is the identity), adversarial
training that resumes bit for bit, and the robust classifier's files."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ganstudio.errors import UserError
from ganstudio.features.classifier import ClassifierConfig, SmallCNN
from ganstudio.robustness.attacks import AttackConfig, PictureJudge, attack, check_adversarial
from ganstudio.robustness.classifier import RobustConfig, load_judge, load_robust, train_robust
from ganstudio.robustness.defences import ProjectionConfig, Projector, bpda_eot_attack, evaluate_purification


class TinyG(nn.Module):
    """(z (B, 4), classes or None) -> (B, 1, 8, 8) in [-1, 1]: a smooth 4-dimensional family of pictures."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 64)
        self.z_dim = 4

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(self.lin(z)).view(-1, 1, 8, 8)


class IdentityProjector(Projector):
    def __call__(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        return x.clone()


def _judge() -> PictureJudge:
    torch.manual_seed(1)
    return PictureJudge(SmallCNN(ClassifierConfig(1, 8, 3, widths=(4,), hidden=8))).eval()


def test_projection_recovers_pictures_in_the_generators_range():
    G = TinyG()
    proj = Projector(G, 4, 0, ProjectionConfig(steps=80, restarts=2, lr=0.1))
    with torch.no_grad():
        inside = (G(torch.randn(6, 4, generator=torch.Generator().manual_seed(3))) + 1) / 2
    outside = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    err_in = (proj(inside) - inside).pow(2).flatten(1).sum(1)
    err_out = (proj(outside) - outside).pow(2).flatten(1).sum(1)
    assert float(err_in.max()) < 0.05 * float(err_out.min())
    assert torch.equal(proj(inside, seed=2), proj(inside, seed=2))  # seeded restarts


def test_bpda_through_the_identity_is_plain_pgd():
    """With an identity projection the straight-through gradient is the true one: BPDA (EOT 1) must
    reproduce PGD bit for bit (same seed, same random start)."""
    judge = _judge()
    x = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(10) % 3
    cfg = AttackConfig("pgd-linf", 0.1, steps=4, seed=7)
    ident = IdentityProjector(TinyG(), 4, 0, ProjectionConfig())
    assert torch.equal(bpda_eot_attack(judge, ident, x, y, cfg, eot=1), attack(judge, x, y, cfg))
    assert torch.equal(bpda_eot_attack(judge, ident, x, y, AttackConfig("pgd-linf", 0.0), eot=2), x)


def test_purification_report_is_in_budget_and_complete():
    judge = _judge()
    proj = Projector(TinyG(), 4, 0, ProjectionConfig(steps=5, restarts=2))
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(6) % 3
    cfg = AttackConfig("pgd-linf", 0.1, steps=2, seed=0)
    xa = bpda_eot_attack(judge, proj, x, y, cfg, eot=2)
    chk = check_adversarial(x, xa, cfg)
    assert chk["in_range"] and chk["within_eps"]
    res = evaluate_purification(judge, proj, x, y, cfg, eot=2, batch_size=4)
    assert set(res["accuracy"]) == {
        "classifier_clean",
        "classifier_pgd",
        "purified_clean",
        "purified_naive",
        "purified_bpda_eot",
    }
    assert all(0 <= v <= 1 for v in res["accuracy"].values()) and res["n"] == 6


def test_adversarial_training_resumes_bit_for_bit(tmp_path, monkeypatch):
    cfg = RobustConfig(data="digits", epochs=1, batch_size=32, train_steps=1, limit=96, widths=(4,), hidden=8)
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "a"))
    whole = train_robust(cfg, eval_n=20, log=lambda s: None)
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "b"))
    assert train_robust(cfg, minutes=0, eval_n=20, log=lambda s: None) is None  # stops after one step
    partial = list((tmp_path / "b" / "features").glob("*.partial"))
    assert len(partial) == 1 and json.loads((partial[0] / "state.json").read_text())["step"] == 1
    resumed = train_robust(cfg, eval_n=20, log=lambda s: None)
    assert whole is not None and resumed is not None and whole.name == resumed.name
    wa, wb = load_file(str(whole / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not partial[0].exists()
    judge, meta = load_robust(resumed)
    assert meta["robust_accuracy"]["steps"] == 20 and meta["input_range"] == [0.0, 1.0]
    side = meta["config"]["resolution"]
    assert 0 <= meta["accuracy"] <= 1 and judge(torch.rand(2, 1, side, side)).shape == (2, 10)
    # the folder has the evaluation classifier's layout: the robust net is usable as features too
    from ganstudio.features.classifier import load_classifier

    assert load_classifier(path=resumed).num_classes == 10


def test_adversarial_training_lowers_adversarial_loss_on_its_batch():
    """One Madry step: training on PGD pictures must lower the loss on those pictures."""
    torch.manual_seed(0)
    judge = PictureJudge(SmallCNN(ClassifierConfig(1, 8, 3, widths=(4,), hidden=8, dropout=0.0)))
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(32) % 3
    opt = torch.optim.SGD(judge.parameters(), lr=0.05)
    xa = attack(judge, x, y, AttackConfig("pgd-linf", 0.05, steps=3))
    judge.eval()
    with torch.no_grad():
        before = float(F.cross_entropy(judge(xa), y))
    for _ in range(5):
        judge.train()
        loss = F.cross_entropy(judge(xa), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    judge.eval()
    with torch.no_grad():
        assert float(F.cross_entropy(judge(xa), y)) < before


def test_bad_judges_and_configs_are_user_errors():
    with pytest.raises(UserError, match="unknown judge"):
        load_judge("inception", "fashion-mnist")
    with pytest.raises(UserError, match="eps"):
        RobustConfig(eps=0)
    with pytest.raises(UserError, match="not a classifier folder"):
        load_robust("/nonexistent/robust")


def test_cli_attack_and_train_robust(tmp_path, monkeypatch, capsys):
    from ganstudio.cli import main

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    folder = train_robust(
        RobustConfig(epochs=1, batch_size=32, train_steps=1, limit=64, widths=(4,), hidden=8),
        eval_n=10,
        log=lambda s: None,
    )
    out = tmp_path / "attack.json"
    argv = ["robustness", "attack", "--judge", f"robust:{folder}", "--n", "16", "--steps", "2"]
    assert main([*argv, "--eps", "0,1/255,0.1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["eps0_equals_clean"] and [r["eps"] for r in res["rows"]] == [0.0, 1 / 255, 0.1]
    assert "| eps | x/255 |" in out.with_suffix(".md").read_text()
    assert main([*argv, "--attack", "cw", "--out", str(out)]) == 2
    assert "unknown attack 'cw'" in capsys.readouterr().err
    assert main(["robustness", "attack", "--judge", "robust:/nonexistent", "--out", str(out)]) == 2
    assert "not a classifier folder" in capsys.readouterr().err


def test_cli_purify_on_a_run(run, tmp_path, monkeypatch, capsys):
    from ganstudio.cli import main

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    folder = train_robust(
        RobustConfig(data="digits", epochs=1, batch_size=32, train_steps=1, limit=64, widths=(4,), hidden=8),
        eval_n=10,
        log=lambda s: None,
    )
    out = tmp_path / "purify.json"
    argv = ["robustness", "purify", str(run), "--judge", f"robust:{folder}", "--n", "6", "--steps", "1", "--eot", "2"]
    assert main([*argv, "--projection-steps", "3", "--restarts", "2", "--eps", "8/255", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["n"] == 6 and res["attack"]["eot"] == 2 and res["attack"]["eps"] == pytest.approx(8 / 255)
    table = out.with_suffix(".md").read_text()
    assert "naive attack" in table and "BPDA + EOT" in table
    assert main(["robustness", "purify", str(tmp_path / "norun"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line
