"""The training exercises' answers (the grader's reference loops) are not in the package students install;
the visible checks work without them, from a table of their own cases that matches the references."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from lrcourse import checking

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "grader"))
import make_expected  # noqa: E402


def test_no_reference_solution_lives_in_the_package():
    assert importlib.util.find_spec("lrcourse.grading.references") is None
    for path in (ROOT / "lrcourse").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"def reference_(fit_steps|range_test)\(payload", text), path  # the loops themselves
    assert checking.GRADER_REFERENCES.is_relative_to(ROOT / "grader")


@pytest.mark.slow
def test_the_table_holds_what_the_grader_references_compute():
    table = json.loads(checking.EXPECTED_VISIBLE.read_text())
    grader = checking.expected.grader_references()
    assert grader is not None and table, "run `python grader/make_expected.py`"
    for kind, cases in table.items():
        for key, expected in cases.items():
            computed = json.loads(json.dumps(getattr(grader, f"reference_{kind}")(json.loads(key))))
            assert computed == expected, f"{kind} {key}: run `python grader/make_expected.py`"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", make_expected.CHAPTERS)
def test_the_visible_checks_pass_with_the_table_alone(chapter, monkeypatch):
    """As in a student's installation: no grader/references.py, every visible case from the table."""
    monkeypatch.setattr(checking.expected, "grader_references", lambda: None)
    make_expected.run_visible_checks(chapter)


def test_a_case_outside_the_table_says_it_is_the_graders(monkeypatch):
    monkeypatch.setattr(checking.expected, "grader_references", lambda: None)
    with pytest.raises(AssertionError, match="only on the grader's side"):
        checking.expected.ExpectedValues().reference_range_test({"seed": -1})
