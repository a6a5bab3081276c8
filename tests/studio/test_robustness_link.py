"""The Runs panel links a run's report pages: "Robustness report" once ``ganstudio robustness report RUN`` wrote
RUN/robustness.html, served from the run's own folder only, under a policy that runs no script and loads nothing
(a sandbox: the page is its own origin and cannot reach the studio)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from fastapi.testclient import TestClient

from ganstudio.cli import main
from ganstudio.studio import create_app
from ganstudio.studio.catalog import REPORTS
from ganstudio.training import train

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_config) -> Iterator[tuple[TestClient, str]]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANSTUDIO_CACHE", str(tmp_path_factory.mktemp("robustness-link-cache")))
        root = tmp_path_factory.mktemp("studio-report-runs")
        run = train(tiny_config(steps=2, threads=1), out=root, progress=False).name
        yield TestClient(create_app(root), base_url=BASE), run
    torch.set_num_threads(before)


def listed(c: TestClient, run: str) -> list[dict]:
    return next(r for r in c.get("/api/runs").json() if r["name"] == run)["reports"]


def test_the_robustness_report_is_linked_once_written_and_served_safely(studio, capsys):
    from ganstudio.report import ROBUSTNESS_PAGE

    c, run = studio
    run_dir = _runs_root(c) / run
    assert REPORTS["robustness"][0] == ROBUSTNESS_PAGE  # the studio looks where the command writes
    assert listed(c, run) == []
    missing = c.get(f"/api/runs/{run}/reports/robustness")
    assert missing.status_code == 404 and "ganstudio robustness report" in missing.json()["detail"]
    # the real command writes the page (no detector: it says how to measure what is missing)
    assert main(["robustness", "report", str(run_dir)]) == 0
    page = run_dir / ROBUSTNESS_PAGE
    assert page.is_file()
    links = listed(c, run)
    assert links == [{"kind": "robustness", "title": "Robustness report", "url": f"/api/runs/{run}/reports/robustness"}]
    assert c.get(f"/api/runs/{run}").json()["reports"] == links  # the run's own detail (the Runs panel reads it)
    r = c.get(links[0]["url"])
    assert r.status_code == 200 and r.content == page.read_bytes()
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    # the evaluation report is linked the same way when `ganstudio report` wrote it
    (run_dir / "report.html").write_text("<!doctype html><title>eval</title>")
    assert [x["title"] for x in listed(c, run)] == ["Evaluation report", "Robustness report"]
    assert c.get(f"/api/runs/{run}/reports/evaluation").text.endswith("<title>eval</title>")
    (run_dir / "report.html").unlink()


def test_only_the_runs_own_pages_are_served(studio, tmp_path):
    c, run = studio
    run_dir = _runs_root(c) / run
    assert (run_dir / "config.json").is_file()  # a file of the run that is no report
    for path in ("config", "..%2Fconfig.json", "robustness.html", "%2E%2E%2Frobustness", "evaluation%00", "REPORT"):
        r = c.get(f"/api/runs/{run}/reports/{path}")
        assert r.status_code in (404, 422), (path, r.status_code)
        assert "config" not in r.text or "no report" in r.text
    assert c.get("/api/runs/..%2F..%2Fetc/reports/robustness").status_code in (404, 422)
    assert c.get("/api/runs/99999-nothing/reports/robustness").status_code == 404
    # a report that is a link leading out of the run's folder is neither listed nor served
    secret = tmp_path / "secret.html"
    secret.write_text("<p>not the run's</p>")
    page = run_dir / "robustness.html"
    kept = page.read_bytes() if page.exists() else None
    page.unlink(missing_ok=True)
    page.symlink_to(secret)
    try:
        assert "robustness" not in [x["kind"] for x in listed(c, run)]
        r = c.get(f"/api/runs/{run}/reports/robustness")
        assert r.status_code == 404 and "not the run's" not in r.text
    finally:
        page.unlink()
        if kept is not None:
            page.write_bytes(kept)


def _runs_root(c: TestClient):
    """The runs folder the studio serves."""
    return c.app.state.studio.runs_dir


def test_the_runs_panel_shows_the_link_in_a_browser(studio, serve, open_page):
    """In real headless Chromium: the Runs panel links "Robustness report"; following it opens the page in a
    sandbox (an opaque origin: it cannot read the studio's cookie or call its API)."""
    c, run = studio
    run_dir = _runs_root(c) / run
    if not (run_dir / "robustness.html").is_file():
        assert main(["robustness", "report", str(run_dir)]) == 0
    with serve(c.app) as url, open_page(url) as (page, errors):
        page.select_option("#run-select", run)
        page.click("#tab-runs")
        link = page.locator("#run-reports a", has_text="Robustness report")
        link.wait_for()
        assert link.get_attribute("href") == f"/api/runs/{run}/reports/robustness"
        assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener"
        with page.context.expect_page() as opened:
            link.click()
        report = opened.value
        report.wait_for_load_state()
        assert report.title() == f"{run}: robustness and originality"
        assert "Was it made by a GAN?" in report.text_content("body")
        assert report.evaluate("() => self.origin") == "null"  # sandboxed: not the studio's origin
        assert errors == []
