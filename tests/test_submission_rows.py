"""The queue's enqueuing command writes a submission in one transaction (`submission_rows`), fast: nbgrader's own
gradebook and saving step, no kernel. The rows are those nbgrader's SaveAutoGrades (test cells withheld) writes
through a gradebook of its own; an error anywhere in the block leaves none of the submission's rows; a commit
inside the block sends the changes (scores computed in SQL read again) without making them visible to others."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import MissingEntry
from nbgrader.utils import compute_checksum

from lrcourse.gradebook_db import gradebook
from lrcourse.grading.autograde.withheld_scores import WithholdAutoGrades, set_trusted_score
from lrcourse.grading.fleet.submission_rows import SubmissionRows, one_transaction

from support.small_gradebook import ANSWER, WRITTEN, small_gradebook

TEST = "test_a"


def graded_notebook():
    """A test cell that failed in the kernel, an answer cell unchanged from the release, a written answer."""
    test = nbformat.v4.new_code_cell("assert check()")
    test.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": TEST, "points": 3, "locked": True}
    answer = nbformat.v4.new_code_cell("x = 1")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": ANSWER, "points": 1}
    answer.metadata["nbgrader"]["checksum"] = compute_checksum(answer)  # as released: "No response."
    written = nbformat.v4.new_markdown_cell("my answer")
    written.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": WRITTEN, "points": 2}
    return nbformat.v4.new_notebook(cells=[test, answer, written])


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory) -> Path:
    """The small gradebook, nothing submitted: made once (alembic is slow)."""
    return small_gradebook(tmp_path_factory.mktemp("gradebook") / "gradebook.db", TEST, submitted=False)


@pytest.fixture
def db_url(empty_gradebook, tmp_path):
    shutil.copy(empty_gradebook, tmp_path / "gradebook.db")
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def rows(db_url) -> dict:
    with gradebook(db_url) as book:
        try:
            notebook = book.find_submission_notebook("nb", "ch", "mallory")
        except MissingEntry:
            return {}
        grades = {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in notebook.grades}
        return {**grades, **{f"comment {c.name}": c.auto_comment for c in notebook.comments}}


def test_the_rows_are_those_nbgraders_saving_step_writes(db_url, tmp_path):
    with gradebook(db_url) as book:
        book.add_submission("ch", "mallory")
    resources = {"nbgrader": {"notebook": "nb", "assignment": "ch", "student": "mallory", "db_url": db_url}}
    WithholdAutoGrades().preprocess(graded_notebook(), resources)
    saved_alone = rows(db_url)

    other = f"sqlite:///{tmp_path / 'other.db'}"
    shutil.copy(db_url.removeprefix("sqlite:///"), tmp_path / "other.db")
    with gradebook(other) as book:
        book.remove_submission("ch", "mallory")
        book.add_submission("ch", "mallory")
        with one_transaction(book):
            SubmissionRows(book, "ch", "mallory").save(graded_notebook(), "nb")
    assert rows(other) == saved_alone
    assert saved_alone[TEST] == (None, None, True) and saved_alone[f"comment {ANSWER}"] == "No response."


def test_an_error_in_the_block_leaves_none_of_the_submissions_rows(db_url):
    with gradebook(db_url) as book:
        with pytest.raises(RuntimeError), one_transaction(book):
            book.update_or_create_submission("ch", "mallory")  # nbgrader commits inside: only flushed here
            SubmissionRows(book, "ch", "mallory").save(graded_notebook(), "nb")
            assert rows(db_url) == {}  # another connection sees nothing yet
            raise RuntimeError("the result could not be written")
    assert rows(db_url) == {}


def test_a_commit_in_the_block_reads_the_scores_computed_in_sql_again(db_url):
    with gradebook(db_url) as book:
        with one_transaction(book):
            submission = book.update_or_create_submission("ch", "mallory")
            assert submission.score == 0.0
            found = SubmissionRows(book, "ch", "mallory")
            set_trusted_score(found.find_grade(TEST, "nb", "ch", "mallory"), 2.0)
            book.db.commit()
            assert book.find_submission("ch", "mallory").score == 2.0
    assert rows(db_url)[TEST] == (2.0, None, False)


def test_a_cell_the_submission_lacks_is_refused_as_nbgrader_refuses_it(db_url):
    with gradebook(db_url) as book, one_transaction(book):
        book.update_or_create_submission("ch", "mallory")
        found = SubmissionRows(book, "ch", "mallory")
        with pytest.raises(MissingEntry):
            found.find_grade("test_forged_by_the_worker", "nb", "ch", "mallory")
        with pytest.raises(MissingEntry):
            found.find_grade(TEST, "nb", "ch", "someone-else")
