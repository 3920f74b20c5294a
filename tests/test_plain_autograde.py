"""nbgrader's own autograde refuses this course unless the instructor opts in, and a grading worker of
`lrcourse grade` runs it with the kernel's scores withheld (issue 20). One tiny course, one student each."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from lrcourse.build import tool_environment
from lrcourse.grading.course import gradebook
from lrcourse.grading.withheld_scores import in_kernel_scores

from support.course import NOTEBOOK, autograde, make_course, solution_answers, submit

CHAPTER = "01_learning_rate"
NOTEBOOK_ID = NOTEBOOK[CHAPTER].removesuffix(".ipynb")

# What `Worker.open` and the start of `Worker.grade` do, in a process of its own (a worker patches nbgrader's
# execute step for its whole process): nbgrader's autograde of one student, and no trusted verdicts after it.
WORKER_AUTOGRADE = """
import sys
from pathlib import Path
from lrcourse.grading.worker import Worker

course, db_url, chapter, student = sys.argv[1:]
worker = Worker.open(Path(course), db_url)
try:
    result = worker.api.autograde(chapter, student, force=True, create=True)
finally:
    worker.close()
print(result.get("error") or result.get("log"))
sys.exit(0 if result.get("success") else 1)
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("plain") / "course", [CHAPTER])
    for student in ("alice", "bob"):  # the instructor's solutions: every test cell passes in the kernel
        submit(course, student, CHAPTER, solution_answers(CHAPTER))
    return course


def kernel_set_scores(course, student) -> dict:
    """{test cell: auto_score} in the gradebook, for the cells whose score nbgrader takes from the kernel."""
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        submission = book.find_submission_notebook(NOTEBOOK_ID, CHAPTER, student)
        return {grade.name: grade.auto_score for grade in submission.grades if grade.name.startswith("test_")}


def test_plain_nbgrader_autograde_refuses_without_the_opt_in(course):
    result = autograde(course, CHAPTER, "--student", "alice", opt_in=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "autograde through `lrcourse grade CHAPTER`: sandboxed, trusted verdicts" in output
    assert not (course / "autograded" / "alice" / CHAPTER / NOTEBOOK[CHAPTER]).exists()  # the kernel never ran
    scores = kernel_set_scores(course, "alice")
    assert scores and all(score is None for score in scores.values()), scores


def test_a_real_worker_withholds_the_kernels_scores(course):
    """A worker opened as `lrcourse grade` opens it (the refusal removed, the sandbox on) runs autograde; the
    run is taken as stopped right after it: the kernel passed every test cell, the gradebook holds no score."""
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
    graded = course / "autograded" / "bob" / CHAPTER / NOTEBOOK[CHAPTER]
    in_kernel = in_kernel_scores(graded)
    assert in_kernel and all(score > 0 for score in in_kernel.values()), in_kernel  # what the kernel would give
    assert nbformat.read(graded, as_version=4).cells  # autograde wrote its notebook: the kernel ran
    scores = kernel_set_scores(course, "bob")
    assert set(in_kernel) <= set(scores)
    assert all(scores[name] is None for name in in_kernel), scores


@pytest.mark.parametrize(
    "value, allowed", [(True, True), ("True", True), ("yes", True), (False, False), ("False", False), ("0", False)]
)
def test_the_opt_in_is_read_as_a_yes_or_no(value, allowed):
    """`--Lrcourse.allow_unsandboxed_autograde=False` arrives as the string "False": it must not open the door."""
    from traitlets.config import Config

    from lrcourse.grading.plain_autograde import RefuseUnsandboxed, UnsandboxedAutogradeRefused

    step = RefuseUnsandboxed(config=Config({"Lrcourse": {"allow_unsandboxed_autograde": value}}))
    if allowed:
        assert step.preprocess("notebook", {}) == ("notebook", {})
    else:
        with pytest.raises(UnsandboxedAutogradeRefused):
            step.preprocess("notebook", {})


@pytest.mark.parametrize("value", ["maybe", 2, None])
def test_an_opt_in_that_is_neither_yes_nor_no_is_refused(value):
    from traitlets.config import Config

    from lrcourse.grading.plain_autograde import RefuseUnsandboxed

    step = RefuseUnsandboxed(config=Config({"Lrcourse": {"allow_unsandboxed_autograde": value}}))
    with pytest.raises(ValueError, match="c.Lrcourse.allow_unsandboxed_autograde must be True or False"):
        step.preprocess("notebook", {})
