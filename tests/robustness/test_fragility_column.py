"""The evaluation table shows metric fragility next to FID: ``evaluate(..., fragility=eps)`` and
``ganstudio evaluate --fragility EPS`` measure how far FID moves under changes of at most eps per pixel,
keep it in the eval JSON, and the table and report.html show it right after FID."""

from __future__ import annotations

import json

import pytest
import torch

from ganstudio import evaluation
from ganstudio.cli import main
from ganstudio.errors import UserError
from ganstudio.evaluation import format_table, read_evals

N = 32
EPS = 4 / 255


pytestmark = pytest.mark.usefixtures("fast_eval")  # fewer KID subsets, the module's own cache (tests/conftest.py)


@pytest.fixture(scope="module")
def evaluated(run, fast_eval):
    res = evaluation.evaluate(run, n=N, features="folder-rcf", fragility=EPS, fragility_steps=2, log=lambda s: None)
    return run, res


def test_fragility_is_measured_and_stored(evaluated):
    run, res = evaluated
    f = res["fragility"]
    assert f["eps"] == EPS and f["eps_255"] == 4 and f["steps"] == 2
    # the clean FID of the fragility run is the table's FID (same features, same reference)
    assert f["clean_fid"] == pytest.approx(res["rows"]["generated"]["fid"], rel=1e-6)
    # pushing down lowers it, pushing up raises it: folder-rcf is a torch network, so both directions exist
    assert f["fid_down"] < f["clean_fid"] < f["fid_up"]
    for r in f["rows"]:
        assert r["max_change"] <= EPS + 1e-6
    on_disk = json.loads((run / "eval" / f"{res['step']:09d}.json").read_text())
    assert on_disk["fragility"]["fid_up"] == f["fid_up"]
    assert read_evals(run)[-1]["fragility"]["fid_down"] == f["fid_down"]


def test_table_and_report_show_the_column_next_to_fid(evaluated):
    run, res = evaluated
    f = res["fragility"]
    lines = format_table(res).splitlines()
    header = next(line for line in lines if line.lstrip().startswith("FID"))
    cols = header.split()
    assert cols[:2] == ["FID", "FID"] and cols[2] == "+-4/255"  # right after FID
    gen = next(line for line in lines if line.startswith("generated")).split()
    assert gen[2] == f"{f['fid_down']:.3f}..{f['fid_up']:.3f}"
    real = next(line for line in lines if line.startswith("real (data)")).split()
    assert real[3] == "-"  # "real (data)" takes two words; only the generated pictures are measured
    from ganstudio.report import build_report

    page = build_report(run).read_text()
    assert "<th>FID +-4/255</th>" in page and f"{f['fid_down']:.3f}..{f['fid_up']:.3f}" in page


def test_without_fragility_there_is_no_column(run):
    res = evaluation.evaluate(run, n=N, features="folder-rcf", write=False, log=lambda s: None)
    assert "fragility" not in res and "+-" not in format_table(res)


def test_bad_fragility_is_refused_before_anything_is_written(run, tmp_path):
    before = sorted(p.name for p in (run / "eval").glob("*"))
    with pytest.raises(UserError, match="--fragility"):
        evaluation.evaluate(run, n=N, features="folder-rcf", fragility=0.0)
    with pytest.raises(UserError, match="--fragility-steps"):
        evaluation.evaluate(run, n=N, features="folder-rcf", fragility=EPS, fragility_steps=0)
    assert sorted(p.name for p in (run / "eval").glob("*")) == before


def test_cli_evaluate_fragility(run, capsys):
    argv = ["evaluate", str(run), "--n", str(N), "--features", "folder-rcf"]
    assert main([*argv, "--fragility", "2/255", "--fragility-steps", "1"]) == 0
    out = capsys.readouterr().out
    assert "FID +-2/255" in out and "gradient steps down and up" in out
    with pytest.raises(SystemExit) as e:
        main([*argv, "--fragility", "3/0"])
    assert e.value.code == 2
    assert "not a number or fraction" in capsys.readouterr().err
    assert main([*argv, "--fragility", "0"]) == 2
    err = capsys.readouterr().err
    assert "--fragility must be an eps in (0, 1]" in err and len(err.strip().splitlines()) == 1


def test_a_fragility_file_in_eval_does_not_break_the_report(run):
    """``ganstudio robustness fragility`` writes eval/fragility-*.json; evaluations and the report skip it."""
    n_before = len(read_evals(run))
    torch.manual_seed(0)
    assert main(["robustness", "fragility", str(run), "--features", "folder-rcf", "--n", "16", "--steps", "1"]) == 0
    assert (run / "eval" / "fragility-folder-rcf.json").is_file()
    assert len(read_evals(run)) == n_before
    assert main(["report", str(run)]) == 0
