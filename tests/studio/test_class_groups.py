"""The Create panel on a run of fine classes (emoji subgroups): the run lists its groups, a group asked for
by name draws its classes in turn, and the page offers the groups above the classes (real app, real browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from ganstudio.cli import main
from ganstudio.studio import create_app


@pytest.fixture
def subgroup_run(emoji_excerpt, tmp_path) -> Path:
    """A subgroup-conditioned emoji run (16 px, 1 step) in its own runs folder."""
    args = ["train", "--data", "emoji", "--model", "dcgan", "--resolution", "16", "--conditional"]
    args += ["--set", "data.label_by=subgroup", "--batch-size", "2", "--steps", "1", "--threads", "1"]
    assert main([*args, "--out", str(tmp_path / "runs"), "--quiet"]) == 0
    return next((tmp_path / "runs").iterdir())


def test_a_group_draws_its_classes_in_turn(subgroup_run):
    client = TestClient(create_app(subgroup_run.parent), base_url="http://127.0.0.1")
    info = next(r for r in client.get("/api/runs").json() if r["name"] == subgroup_run.name)
    classes = info["classes"]
    # the excerpt's training subgroups' groups, in the order their first subgroup comes among the classes
    group_of = {
        "face-smiling": "Smileys & Emotion",
        "hand-fingers-open": "People & Body",
        "animal-mammal": "Animals & Nature",
        "food-fruit": "Food & Drink",
        "food-vegetable": "Food & Drink",
    }
    assert info["class_groups"] == list(dict.fromkeys(group_of[c] for c in classes))
    assert "Food & Drink" in info["class_groups"] and len(info["class_groups"]) < len(classes)
    food = [i for i, c in enumerate(classes) if c.startswith("food-")]
    r = client.post("/api/generate", json={"run": subgroup_run.name, "n": 4, "seed": 3, "class": "Food & Drink"})
    assert r.status_code == 200, r.text
    asked = [int(np.argmax(p["latent"]["classes"])) for p in r.json()["images"]]
    assert asked == [food[i % len(food)] for i in range(4)]
    # a class by index or by its own name still means that class
    one = client.post("/api/generate", json={"run": subgroup_run.name, "n": 2, "seed": 3, "class": food[0]}).json()
    named = client.post("/api/generate", json={"run": subgroup_run.name, "n": 2, "seed": 3, "class": classes[food[0]]})
    assert [p["image"] for p in one["images"]] == [p["image"] for p in named.json()["images"]]
    bad = client.post("/api/generate", json={"run": subgroup_run.name, "n": 1, "class": "Travel & Places"})
    assert bad.status_code == 400 and "their groups: " in bad.json()["detail"]


def test_runs_of_plain_classes_have_no_groups():
    from ganstudio.studio.catalog import class_groups

    assert class_groups({"class_names": ["T-shirt", "Trouser"]}) == []
    assert class_groups({}) == []


def test_the_create_panel_offers_groups_above_the_classes(subgroup_run, serve, open_page):
    """In real headless Chromium: the class list holds a 'groups' and a 'classes' section; picking a group
    generates pictures of its subgroups (the latents the page receives say which)."""
    app = create_app(subgroup_run.parent)
    with serve(app) as url, open_page(url) as (page, errors):
        page.wait_for_selector("select[name=class] optgroup[label=groups]", state="attached")
        groups = page.eval_on_selector_all("optgroup[label=groups] option", "os => os.map(o => o.value)")
        classes = page.eval_on_selector_all("optgroup[label=classes] option", "os => os.map(o => o.textContent)")
        assert "Food & Drink" in groups and "food-fruit" in classes and "Food & Drink" not in classes
        page.select_option("select[name=class]", "Food & Drink")
        page.fill("input[name=seed]", "3")
        with page.expect_response("**/api/generate") as resp:
            page.click("#generate-btn")
        body = resp.value.json()
        picked = {classes[int(np.argmax(p["latent"]["classes"]))] for p in body["images"]}
        assert picked == {"food-fruit", "food-vegetable"}
        assert errors == []
