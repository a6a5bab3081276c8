"""``ganstudio robustness report RUN`` / ``report.build_robustness_report``: one self-contained HTML page that
gathers what has been measured about a run (detector verdicts on its samples, the near-copy check, FID
fragility, attack results), says how to measure what is missing, and refuses bad input before writing."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ganstudio import evaluation
from ganstudio.browser import chromium_path, launch_chromium
from ganstudio.cli import main
from ganstudio.errors import UserError
from ganstudio.report import build_robustness_report, result_kind, robustness_results
from ganstudio.robustness import detector as D

N = 24


pytestmark = pytest.mark.usefixtures("fast_eval")  # fewer KID subsets, the module's own cache (tests/conftest.py)


@pytest.fixture(scope="module")
def measured(run, fast_eval, tmp_path_factory):
    """The tiny run with an evaluation (+ fragility column), a fragility file, a detector and an attack on it."""
    ev = evaluation.evaluate(run, n=32, features="folder-rcf", fragility=4 / 255, fragility_steps=1, log=lambda s: None)
    frag = ["robustness", "fragility", str(run), "--features", "folder-rcf", "--n", "16", "--steps", "1"]
    assert main([*frag, "--eps", "2/255", "--modes", "random,up"]) == 0
    det_dir = tmp_path_factory.mktemp("det") / "detector"
    real = D.shape_pictures(D.pictures_from("digits", 96, seed=0), 1, (8, 8))
    fake = D.pictures_from(str(run), 96, seed=0)
    cfg = D.DetectorConfig(resolution=8, width=4, epochs=2, batch_size=32, p_blur=0, p_jpeg=0)
    D.train_detector(real, fake, cfg, {"trained_on": {"real": "digits", "fake": [str(run)], "n": 96}}).save(det_dir)
    attack = ["robustness", "attack", "--judge", f"detector:{det_dir}", "--data", "digits", "--run", str(run)]
    assert main([*attack, "--n", "16", "--eps", "0,0.1", "--steps", "2"]) == 0
    return run, ev, det_dir


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag == "section":
            self.sections.append(a.get("id") or "")


def _parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text())
    return p


def test_the_page_gathers_every_measurement(measured, capsys):
    run, ev, det_dir = measured
    assert main(["robustness", "report", str(run), "--detector", str(det_dir), "--n", str(N)]) == 0
    path = run / "robustness.html"
    assert f"robustness report: {path}" in capsys.readouterr().out
    page, doc = path.read_text(), _parse(path)
    # self-contained: no scripts, no stylesheets to fetch, every picture inline
    assert "script" not in doc.tags and "link" not in doc.tags and "http" not in page
    assert doc.urls and all(u.startswith("data:image/png;base64,") for u in doc.urls)
    assert doc.sections == ["provenance", "originality", "fragility", "attacks"]
    # the detector's verdicts: the count on the page is the detector's own on the same samples
    det = D.load_detector(det_dir)
    probs = det.probability(D.pictures_from(str(run), N, seed=1_000_000))
    called = int((probs > det.threshold).sum())
    assert f"<b>{called} of {N}</b> samples of this run" in page
    assert det.config.simulate == 0 and "It saw one generator family only (no --simulate)" in page
    for cond in ("clean", "jpeg75", "jpeg50"):
        assert f"<td>{cond}</td>" in page
    assert page.count('class="pic"') == 8 and f"{float(probs[0]):.3f}" in page
    # the near-copy check of the latest evaluation, with the real pictures' false-alarm rate
    gen, real = ev["originality"]["generated"], ev["originality"]["real"]
    assert f"<td>{100 * gen['copy_fraction']:.1f} %</td>" in page
    assert "real, held out (false alarms)" in page and f"<td>{100 * real['copy_fraction']:.1f} %</td>" in page
    assert f"moved by up to {gen['invariance']['max_shift']} px" in page
    assert 'alt="originality panel"' in page
    # FID fragility: the evaluation's column and the fragility file
    assert f"FID {ev['fragility']['clean_fid']:.3f}" in page and "fragility-folder-rcf.json" in page
    frag = json.loads((run / "eval" / "fragility-folder-rcf.json").read_text())
    assert f"<td>{frag['rows'][-1]['fid']:.3f}</td>" in page
    # the attack written by default into RUN/robustness/
    attack = json.loads((run / "robustness" / "attack-detector-pgd-linf.json").read_text())
    assert "pgd-linf against the detector judge" in page
    assert f"clean accuracy {100 * attack['clean_accuracy']:.1f} %" in page
    assert "Not measured yet" not in page  # every section has something
    for explanation in ("coin toss", "false-alarm rate", "invisible to a viewer", "adaptive: BPDA + EOT"):
        assert explanation in page


def test_what_is_missing_says_how_to_measure_it(tiny_config, tmp_path):
    import ganstudio

    bare = ganstudio.train(tiny_config(steps=10), out=tmp_path, progress=False)
    out = build_robustness_report(bare, out=tmp_path / "page.html")
    page = out.read_text()
    assert page.count("Not measured yet") == 4
    for cmd in ("--detector DIR", f"ganstudio evaluate {bare}", "--fragility 2/255", "robustness attack"):
        assert cmd in page
    assert not (bare / "robustness.html").exists()  # --out was honoured


def test_result_kinds_of_real_results(measured):
    run, _, _ = measured
    kinds = {p.name: k for k, p, _ in robustness_results(run)}
    assert kinds == {"attack-detector-pgd-linf.json": "attack", "fragility-folder-rcf.json": "fragility"}
    assert result_kind({"rows": {"generated": {}}}) is None and result_kind([1, 2]) is None


def test_bad_input_is_refused_before_anything_is_written(measured, tmp_path, capsys):
    run, _, det_dir = measured
    out = tmp_path / "r.html"
    with pytest.raises(UserError, match="is not a detector folder"):
        build_robustness_report(run, out=out, detector=tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        build_robustness_report(run, out=out, results=[tmp_path / "nope.json"])
    other = tmp_path / "config.json"
    other.write_text(json.dumps({"model": "mlp"}))
    with pytest.raises(UserError, match="is not a robustness result"):
        build_robustness_report(run, out=out, results=[other])
    with pytest.raises(UserError, match=r"an \.html file"):
        build_robustness_report(run, out=tmp_path / "r.txt")
    with pytest.raises(UserError, match="--n must be at least 2"):
        build_robustness_report(run, out=out, detector=det_dir, n=1)
    assert not out.exists()
    assert main(["robustness", "report", str(run), "--out", str(out), "--results", str(other)]) == 2
    err = capsys.readouterr().err
    assert "is not a robustness result" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["robustness", "report", str(tmp_path / "no-run")]) == 2
    assert re.search(r"no-run", capsys.readouterr().err)


def test_extra_results_are_read_once(measured, tmp_path):
    run, _, _ = measured
    attack = run / "robustness" / "attack-detector-pgd-linf.json"
    copy = tmp_path / "elsewhere.json"
    copy.write_text(attack.read_text())
    found = robustness_results(run, [attack, copy])
    assert [p.name for _, p, _ in found].count("attack-detector-pgd-linf.json") == 1
    assert found[-1][1] == copy
    page = build_robustness_report(run, out=tmp_path / "p.html", results=[copy]).read_text()
    assert "elsewhere.json" in page


AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed (make browser)")
@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm install --prefix tests/js)")
def test_the_page_in_a_real_browser_fetches_nothing_and_passes_axe(measured, tmp_path):
    """Opened from disk in headless Chromium: no request leaves the page (every picture decodes from its data:
    URI), and axe-core finds no serious or critical accessibility violation."""
    sync_api = pytest.importorskip("playwright.sync_api")
    run, _, det_dir = measured
    path = build_robustness_report(run, out=tmp_path / "page.html", detector=det_dir, n=N)
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)"
            )
        finally:
            browser.close()
    assert len(sizes) == 9 and all(done and w > 0 for done, w in sizes)  # 8 samples + the originality panel
    assert [u for u in requests if not u.startswith(("data:", path.as_uri()))] == []
    assert violations == []


def test_the_page_says_when_the_detector_saw_simulated_generators(measured, tmp_path):
    run, _, _ = measured
    real = D.shape_pictures(D.pictures_from("digits", 64, seed=0), 1, (8, 8))
    fake = D.pictures_from(str(run), 64, seed=0)
    cfg = D.DetectorConfig(
        resolution=8, width=4, epochs=1, batch_size=32, p_blur=0, p_jpeg=0, simulate=2, simulate_steps=2
    )
    det_dir = tmp_path / "sim-detector"
    D.train_detector(real, fake, cfg, {"trained_on": {"real": "digits", "fake": [str(run)], "n": 64}}).save(det_dir)
    page = build_robustness_report(run, out=tmp_path / "page.html", detector=det_dir, n=N).read_text()
    assert "real pictures passed through 2 simulated generator decoders (--simulate)" in page
    assert "no --simulate" not in page
