"""nbgrader's own autograde refuses this course unless the instructor opts in, before it touches anything, and a
grading worker of `lrcourse grade` runs it with the kernel's scores withheld (issue 20). One tiny course: alice and
bob submit the solutions, a worker grades bob, then bob resubmits a notebook whose first cell leaves a marker if it
ever runs. (The opt-in's autograde, nbgrader's own: tests/test_class_grading.py's TestPlainNbgrader.)"""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from nbgrader.apps import NbGraderAPI

from lrcourse.build import tool_environment
from lrcourse.gradebook_db import gradebook
from lrcourse.grading.autograde.withheld_scores import in_kernel_scores
from lrcourse.grading.course import course_config

from support.course import NOTEBOOK, autograde, make_course, solution_answers, submit
from support.paths import ROOT

CHAPTER = "01_learning_rate"
NOTEBOOK_ID = NOTEBOOK[CHAPTER].removesuffix(".ipynb")
REFUSED = "autograde through `lrcourse grade CHAPTER`: sandboxed, trusted verdicts"
SHOWN = "c.Lrcourse.feedback_shows_hidden_tests = "

# What `Worker.open` and the start of `Worker.grade` do, in a process of its own (a worker patches nbgrader's
# execute step for its whole process): nbgrader's autograde of one student, and no trusted verdicts after it.
# It prints what the worker's configuration keeps of autograde's settings, and the result.
WORKER_AUTOGRADE = """
import json, sys
from pathlib import Path
from lrcourse.grading.autograde.worker import Worker

course, db_url, chapter, student = sys.argv[1:]
worker = Worker.open(Path(course), db_url)
autograde = worker.api.config.Autograde
kept = {
    "hidden_in_kernel": worker.hidden_in_kernel,
    "exporter_class": str(autograde.get("exporter_class")),
    "sanitize": [step if isinstance(step, str) else step.__name__ for step in autograde.sanitize_preprocessors],
}
try:
    result = worker.api.autograde(chapter, student, force=True, create=True)
finally:
    worker.close()
print(result.get("error") or result.get("log"))
print(json.dumps(kept))
sys.exit(0 if result.get("success") else 1)
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("plain") / "course", [CHAPTER])
    # With True the worker runs the course's sanitizing steps as they stand, the refusal among them (with False it
    # replaces them with its own): the worker below must lift exactly the refusal there.
    config = course / "nbgrader_config.py"
    assert SHOWN + "False" in config.read_text()
    config.write_text(config.read_text().replace(SHOWN + "False", SHOWN + "True"))
    for student in ("alice", "bob"):  # the instructor's solutions: every test cell passes in the kernel
        submit(course, student, CHAPTER, solution_answers(CHAPTER))
    return course


@pytest.fixture(scope="module")
def worker_run(course):
    """A worker opened as `lrcourse grade` opens it (the refusal lifted, the sandbox on) runs autograde for bob;
    the run is taken as stopped right after it. (the process, what its configuration kept of autograde's)"""
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    run = subprocess.run(
        [sys.executable, "-c", WORKER_AUTOGRADE, str(course), db_url, CHAPTER, "bob"],
        cwd=course,
        env=tool_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return run, json.loads(run.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def resubmitted(course, worker_run):
    """bob, graded (his autograded folder and gradebook rows exist), resubmits a notebook whose first cell leaves
    a marker when it runs: the marker's path."""
    marker = course.parent / "bob-ran-after-the-refusal"
    path = submit(course, "bob", CHAPTER, solution_answers(CHAPTER))
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').close()"))
    nbformat.write(notebook, path)
    return marker


def kernel_set_scores(course, student) -> dict:
    """{test cell: auto_score} in the gradebook, for the cells whose score nbgrader takes from the kernel."""
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        submission = book.find_submission_notebook(NOTEBOOK_ID, CHAPTER, student)
        return {grade.name: grade.auto_score for grade in submission.grades if grade.name.startswith("test_")}


def snapshot(course) -> dict:
    """Every folder and file under autograded/ (bob's graded notebook among them), and the gradebook, byte for
    byte."""
    found = {
        str(path.relative_to(course)): path.is_file() and path.read_bytes()
        for path in (course / "autograded").rglob("*")
    }
    assert found.get(f"autograded/bob/{CHAPTER}/{NOTEBOOK[CHAPTER]}"), "bob's graded notebook must be there"
    return {**found, "gradebook.db": (course / "gradebook.db").read_bytes()}


def test_nbgrader_autograde_refuses_before_touching_anything(course, resubmitted):
    """`nbgrader autograde CHAPTER --force` over the class: refused, bob's graded folder and every gradebook row
    as they were, and his new notebook never ran."""
    before = snapshot(course)
    result = autograde(course, CHAPTER, opt_in=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert REFUSED in output and "Traceback" not in output, output[-3000:]
    assert snapshot(course) == before
    assert not resubmitted.exists()


def test_formgraders_autograde_button_refuses_before_touching_anything(course, resubmitted):
    """What formgrader's Autograde button calls, with the course's configuration: its error dialog shows the log."""
    api = NbGraderAPI(config=course_config(course, f"sqlite:///{course / 'gradebook.db'}"))
    before = snapshot(course)
    result = api.autograde(CHAPTER, "bob", force=True, create=True)
    assert not result["success"] and REFUSED in result["log"], result
    assert snapshot(course) == before
    assert not resubmitted.exists()


def test_a_real_worker_lifts_exactly_the_refusal_and_withholds_the_kernels_scores(course, worker_run):
    """The kernel passed every test cell, the gradebook holds no score; the course's other sanitizing steps all
    stay (nbgrader's own, in order)."""
    kept = worker_run[1]
    assert kept["hidden_in_kernel"] and kept["exporter_class"] == "None", kept
    steps = ["ClearOutput", "DeduplicateIds", "OverwriteKernelspec", "OverwriteCells", "CheckCellMetadata"]
    assert [step.rsplit(".", 1)[-1] for step in kept["sanitize"]] == steps, kept
    graded = course / "autograded" / "bob" / CHAPTER / NOTEBOOK[CHAPTER]
    in_kernel = in_kernel_scores(graded)
    assert in_kernel and all(score > 0 for score in in_kernel.values()), in_kernel  # what the kernel would give
    assert nbformat.read(graded, as_version=4).cells  # autograde wrote its notebook: the kernel ran
    scores = kernel_set_scores(course, "bob")
    assert set(in_kernel) <= set(scores)
    assert all(scores[name] is None for name in in_kernel), scores


def test_allow_in_worker_lifts_the_two_refusals_and_nothing_else():
    """On the course's own configuration: before, nbgrader's Autograde converter cannot create its exporter; after,
    it can, and the configuration differs only by the two refusals."""
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    from lrcourse.grading.autograde.plain_autograde import EXPORTER, NAME, UnsandboxedAutogradeRefused, allow_in_worker

    def exporter(config):
        converter = Autograde(coursedir=CourseDirectory(config=config), config=config)
        return converter.exporter_class(parent=converter, config=converter.config)

    course = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    lifted = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    allow_in_worker(lifted)
    with pytest.raises(UnsandboxedAutogradeRefused):
        exporter(course)
    assert type(exporter(lifted)).__name__ == "NotebookExporter"
    assert course.Autograde.pop("exporter_class") == EXPORTER
    assert course.Autograde.sanitize_preprocessors[0] == NAME
    course.Autograde.sanitize_preprocessors = course.Autograde.sanitize_preprocessors[1:]
    assert lifted == course


def opened_by(wall: str, value) -> bool:
    """Whether the wall lets nbgrader's autograde through with `c.Lrcourse.allow_unsandboxed_autograde = value`."""
    from traitlets.config import Config

    from lrcourse.grading.autograde.plain_autograde import (
        RefuseUnsandboxed,
        RefusingExporter,
        UnsandboxedAutogradeRefused,
    )

    config = Config({"Lrcourse": {"allow_unsandboxed_autograde": value}})
    try:
        if wall == "exporter":
            return type(RefusingExporter(config=config)).__name__ == "RefusingExporter"
        return RefuseUnsandboxed(config=config).preprocess("notebook", {}) == ("notebook", {})
    except UnsandboxedAutogradeRefused:
        return False


@pytest.mark.parametrize("wall", ["exporter", "sanitizing step"])
@pytest.mark.parametrize(
    "value, allowed", [(True, True), ("True", True), ("yes", True), (False, False), ("False", False), ("0", False)]
)
def test_the_opt_in_is_read_as_a_yes_or_no(wall, value, allowed):
    """`--Lrcourse.allow_unsandboxed_autograde=False` arrives as the string "False": it must not open the door."""
    assert opened_by(wall, value) == allowed


@pytest.mark.parametrize("wall", ["exporter", "sanitizing step"])
@pytest.mark.parametrize("value", ["maybe", 2, None])
def test_an_opt_in_that_is_neither_yes_nor_no_is_refused(wall, value):
    with pytest.raises(ValueError, match="c.Lrcourse.allow_unsandboxed_autograde must be True or False"):
        opened_by(wall, value)


def test_a_course_folder_configured_without_the_refusal_is_refused_by_the_environments_configuration(
    course, resubmitted, tmp_path
):
    """A course folder whose own nbgrader_config.py says nothing of autograde (one written by hand for a hub, say):
    nbgrader run from this environment still refuses, by the environment's own configuration (scripts/setup_lab.py)."""
    import shutil

    other = tmp_path / "course"
    shutil.copytree(course, other)
    config = "\n".join(
        line
        for line in (course / "nbgrader_config.py").read_text().splitlines()
        if line.startswith("c.CourseDirectory.")
    )
    assert "Autograde" not in config and "lrcourse" not in config
    (other / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n" + config + "\n")
    before = snapshot(other)
    result = autograde(other, CHAPTER, opt_in=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and REFUSED in output, output[-3000:]
    assert snapshot(other) == before
    assert not resubmitted.exists()


def test_where_lrcourse_cannot_be_imported_the_courses_configuration_still_refuses_plain_autograde(tmp_path):
    """The course's nbgrader_config.py names the refusal's exporter and first sanitizing step as strings, not through
    `plain_autograde.refuse_plain_autograde` (as the environment's configuration does): a course folder copied to a
    machine where lrcourse cannot be imported still refuses `nbgrader autograde`, before touching anything, with the
    environment's configuration left out (JUPYTER_NO_CONFIG)."""

    course = make_course(tmp_path / "course", [CHAPTER])
    marker = tmp_path / "ran-without-lrcourse"
    path = submit(course, "carol", CHAPTER, solution_answers(CHAPTER))
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').close()"))
    nbformat.write(notebook, path)
    shadow = tmp_path / "shadow" / "lrcourse"  # first on the path: `import lrcourse` raises ImportError
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('lrcourse cannot be imported here')\n")
    env = {**tool_environment(), "PYTHONPATH": str(shadow.parent), "JUPYTER_NO_CONFIG": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", "import lrcourse"], cwd=course, env=env, capture_output=True, text=True
    )
    assert "lrcourse cannot be imported here" in probe.stderr, probe.stderr[-2000:]
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", CHAPTER, "--force"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "could not be imported" in output, output[-3000:]
    assert not marker.exists() and not (course / "autograded").exists(), output[-3000:]
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        assert [s.student_id for s in book.assignment_submissions(CHAPTER)] == [], output[-3000:]
