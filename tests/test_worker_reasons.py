"""The reason a failed autograde gives the instructor names nbgrader's real error (R24k): a student who corrupts
a cell's nbgrader metadata read "Traceback (most recent call last):", the first line of the traceback nbgrader's
metadata check logs as an error before its message."""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import CheckCellMetadata
from nbgrader.utils import capture_log

from lrcourse.grading.autograde.worker import first_error


class Check:
    """What capture_log needs of an nbgrader app: a log and a start, here nbgrader's metadata check of `notebook`."""

    def __init__(self, notebook):
        self.step, self.notebook = CheckCellMetadata(), notebook
        self.log = self.step.log

    def start(self):
        self.step.preprocess(self.notebook, {})


def test_a_corrupted_metadata_failure_names_nbgraders_message_and_the_validators_reason():
    metadata = {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 100, "grade_id": "w"}}
    metadata["nbgrader"]["schema_version"] = 3
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("my answer", metadata=metadata)])
    result = capture_log(Check(notebook))
    assert not result["success"] and "[ERROR] Traceback" in result["log"]  # the line the reason used to be
    reason = first_error(result)
    assert reason.startswith("Notebook failed to validate; the nbgrader metadata may be corrupted."), reason
    assert "Markdown grade cell 'w' is not marked as a solution cell" in reason


def test_a_plain_error_line_is_the_reason_and_without_one_the_last_line():
    assert first_error({"log": "[INFO] x\n[ERROR] Please see the error log\n[ERROR] No such student: bob\n"}) == (
        "No such student: bob"
    )
    assert first_error({"error": "Traceback (most recent call last):\nValueError: bad"}) == "ValueError: bad"
