"""`make lab` serves the learner's workspace (made from the student notebooks), with no first-run prompt and
nbgrader's Validate on (its instructor tools are off: tests/test_learner_lab.py)."""

import pytest

from support.labserver import free_port, get_json, running_lab
from support.paths import ARTIFACTS, ROOT

TOKEN = "lab-command-test"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    args = f"LAB_ARGS=--ServerApp.port={port} --IdentityProvider.token={TOKEN} --ServerApp.port_retries=0"
    workspace = f"WORKSPACE={tmp_path_factory.mktemp('learner') / 'workspace'}"  # not the repository's own
    with running_lab(
        ["make", "--no-print-directory", "lab", workspace, args], ROOT, TOKEN, port, ARTIFACTS / "make-lab.log"
    ) as base:
        yield base


@pytest.mark.slow
def test_make_lab_serves_the_student_notebooks(lab):
    listing = get_json(f"{lab}/api/contents?token={TOKEN}")
    served = {item["name"] for item in listing["content"]}
    chapters = {path.name for path in (ROOT / "notebooks").iterdir() if path.is_dir()}
    assert chapters and chapters <= served
    assert "source" not in served, "students must not be served the instructor notebooks"


@pytest.mark.slow
def test_make_lab_asks_no_news_question(lab):
    settings = get_json(f"{lab}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={TOKEN}")
    # overrides.json (written by the set-up) becomes the schema default; a user setting could still opt in
    assert settings["schema"]["properties"]["fetchNews"]["default"] == "false"
    assert settings["settings"].get("fetchNews", "false") == "false"


@pytest.mark.slow
def test_make_lab_has_nbgrader_extensions(lab):
    extensions = get_json(f"{lab}/lab/api/extensions?token={TOKEN}")
    nbgrader = [e for e in extensions if e["name"] == "jupyter-nbgrader"]
    assert nbgrader and nbgrader[0]["enabled"]
