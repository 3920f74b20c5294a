"""The class report (reports/<chapter>.html) of the README's example class, held to the gradebook.

The class is graded once per test session by `lrcourse grade`, shared with test_export (classresults.py).
The page is read twice: as HTML here (tables by id, images, nothing fetched from anywhere), and in headless
Chromium (the browser test reads the numbers a reader sees and takes a screenshot into
test-artifacts/class-report/).
A trusted-verdicts file (the shape the trusted checker writes) shows the "overridden" rows.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from lrcourse.grading.reports.class_report import distribution, item_stats, write_chapter_report
from lrcourse.grading.reports.results import (
    PENDING,
    AssignmentGrades,
    Item,
    frequent_failures,
    read_gradebook,
    short_message,
    student_failures,
)

from support.classresults import EXAMPLE, gradebook_cells, graded_class_copy
from support.paths import ARTIFACTS

SHOTS = ARTIFACTS / "class-report"


# --------------------------------------------------------------------------------------------
# Fast: the numbers
# --------------------------------------------------------------------------------------------
def test_distribution_has_a_bin_per_point_and_the_last_includes_the_maximum():
    bins = distribution([0, 0, 4, 7, 6.5], 7)
    assert [(b.low, b.count) for b in bins] == [(0, 2), (1, 0), (2, 0), (3, 0), (4, 1), (5, 0), (6, 1), (7, 1)]
    wide = distribution([0, 49, 50, 100], 100)
    assert len(wide) == 10 and [b.count for b in wide] == [1, 0, 0, 0, 1, 1, 0, 0, 0, 1]


def test_item_statistics_leave_pending_grades_out():
    grades = AssignmentGrades(
        "a",
        5,
        [Item("a", "nb", "t", 3, "code"), Item("a", "nb", "w", 2, "markdown")],
        scores={"x": {("nb", "t"): 3.0, ("nb", "w"): PENDING}, "y": {("nb", "t"): 0.0, ("nb", "w"): 2.0}},
        totals={"x": 3.0, "y": 2.0},
    )
    test, written = item_stats(grades)
    assert (test.mean, test.full_share, test.graded, test.pending) == (1.5, 0.5, 2, 0)
    assert (written.mean, written.full_share, written.graded, written.pending) == (2.0, 1.0, 1, 1)


def test_failure_messages_are_shortened_and_grouped_but_for_numbers():
    assert short_message("\x1b[31mAssertionError\x1b[0m: step 3 failed\nmore") == "AssertionError: step 3 failed"
    assert (
        short_message("CheckFailed: MyStepLR(...) on 2 groups:\nafter step 2, lr is 0.1")
        == "CheckFailed: MyStepLR(...) on 2 groups: after step 2, lr is 0.1"
    )
    assert len(short_message("x" * 500)) == 160
    grouped = frequent_failures({"a": {"t": "E: step 2"}, "b": {"t": "E: step 3"}, "c": {"t": "Other"}})
    assert grouped["t"] == [("E: step 2", 2, ["a", "b"]), ("Other", 1, ["c"])]
    # long messages group on the whole line: numbers of other widths must not cut them at other words
    long = {
        "a": {"t": "E: " + "x" * 150 + " lr is 0.1, PyTorch's is 0.05"},
        "b": {"t": "E: " + "x" * 150 + " lr is 0.25, PyTorch's is 0.125"},
    }
    ((example, count, who),) = frequent_failures(long)["t"]
    assert (count, who, len(example)) == (2, ["a", "b"], 160)


# --------------------------------------------------------------------------------------------
# Slow: the example class's page
# --------------------------------------------------------------------------------------------
class Tables(HTMLParser):
    """Every table's rows as {cell class: text}, by table id; every <img>'s attributes; every src/href."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.links = {}, [], []
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("src", "href") if k in attrs]
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "td" and self._row is not None:
            self._cell = attrs.get("class", "").split()[0]
            self._row[self._cell] = ""
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "tr" and self._row:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._row[self._cell] += data


def parse(path) -> Tables:
    tables = Tables()
    tables.feed(path.read_text(encoding="utf-8"))
    return tables


def expected_items(cells: dict) -> dict[str, tuple[str, str]]:
    """grade_id -> (mean, share of full marks) as the page shows them, from nbgrader's per-cell scores."""
    names = {name for student in cells.values() for name in student}
    result = {}
    for name in names:
        scores = [(s, m) for student in cells.values() for n, (s, m, _) in student.items() if n == name]
        mean = sum(s for s, _ in scores) / len(scores)
        result[name] = (f"{mean:.2f}", f"{100 * sum(s >= m for s, m in scores) / len(scores):.0f}%")
    return result


def expected_distribution(cells: dict) -> dict[str, str]:
    totals = [sum(s for s, _, _ in student.values()) for student in cells.values()]
    top = round(sum(maximum for _, maximum, _ in next(iter(cells.values())).values()))  # the chapter's points
    return {str(k): str(sum(k <= t < k + 1 or (k == top and t == top) for t in totals)) for k in range(top + 1)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course, run = graded_class_copy(tmp_path_factory, "report-class")
    return SimpleNamespace(
        path=course, run=run, cells=gradebook_cells(course)[EXAMPLE], report=course / "reports" / f"{EXAMPLE}.html"
    )


@pytest.mark.slow
def test_report_tables_match_the_gradebook(graded):
    assert f"class report: {graded.report}" in graded.run.stdout
    assert f"outcomes: {graded.path / 'reports' / (EXAMPLE + '.csv')}" in graded.run.stdout  # not a second "report"
    page = parse(graded.report)
    assert {row["range"]: row["count"] for row in page.tables["distribution"]} == expected_distribution(graded.cells)
    shown = {row["item"]: (row["mean"], row["full-share"]) for row in page.tables["items"]}
    assert shown == expected_items(graded.cells)
    assert list(shown) == [
        "test_my_step_lr_one_group",
        "test_my_step_lr_groups",
        "test_my_step_lr_hand_edit",
        "test_my_step_lr_get_last_lr",
        "test_my_step_lr_last_epoch",
        "test_inferred_step_size",
        "test_inferred_gamma",
        "test_inferred_hand_set_rate",
        "written_closed_form",
        "written_initial_lr",
    ], "items in the notebook's order"
    shares = {item: float(share.rstrip("%")) for item, (_, share) in shown.items() if item.startswith("test_")}
    weakest = min(shares, key=shares.get)  # the first in the notebook's order among the lowest
    assert f"Re-teach first: <strong>{weakest}</strong>" in graded.report.read_text()  # never a written answer
    attention = {(row["student"], row["kind"]): row["reason"] for row in page.tables["attention"]}
    assert set(attention) == {("carol", "below half marks"), ("dave", "below half marks"), ("erin", "failed to grade")}
    assert "not valid JSON" in attention["erin", "failed to grade"]
    assert "did not finish" in attention["dave", "below half marks"]
    failures = [(row["item"], row["count"], row["students"]) for row in page.tables["failures"]]
    assert ("test_my_step_lr_one_group", "1", "carol") in failures
    assert any(item == "test_my_step_lr_hand_edit" and who == "bob" for item, _, who in failures)
    assert any(item == "test_inferred_hand_set_rate" and who == "bob" for item, _, who in failures)
    assert not any(who == "alice" for _, _, who in failures)


@pytest.mark.slow
def test_each_test_reports_the_error_of_the_answer_cell_it_uses(graded):
    """carol's MyStepLR has a syntax error and her (ungraded) prediction is unanswered: in the verdicts the report
    reads, the MyStepLR tests report the syntax error, not the first error of any answer cell (the prediction's
    NotImplementedError)."""
    from lrcourse.grading.reports.results import read_verdicts

    cells = read_verdicts(graded.path, "carol", EXAMPLE)["cells"]
    step_tests = [name for name in cells if name.startswith("test_my_step_lr")]
    assert step_tests and all("raised SyntaxError" in cells[name]["detail"] for name in step_tests), cells
    assert not any("NotImplementedError" in cells[name]["detail"] for name in step_tests), cells
    # and her feedback's MyStepLR tests say that the cell failed, with its error, not that nothing was written
    (page,) = (graded.path / "feedback" / "carol" / EXAMPLE).glob("*.html")
    text = page.read_text()
    assert "answer cell failed (exercise MyStepLR)" in text and "not answered yet (exercise MyStepLR)" not in text
    assert "raised SyntaxError" in text


@pytest.mark.slow
def test_report_is_self_contained_with_alt_text(graded):
    page = parse(graded.report)
    assert len(page.images) == 2
    assert all(image["src"].startswith("data:image/png;base64,") and len(image["alt"]) > 40 for image in page.images)
    assert all(link.startswith("data:") for link in page.links), "nothing may be fetched from elsewhere"
    assert "for 4 graded students" in page.images[0]["alt"]


@pytest.mark.slow
def test_overridden_verdicts_are_listed_with_their_cells(graded, tmp_path):
    """With the trusted checker's verdicts file, its messages are the failures and overrides are listed."""
    verdicts = graded.path / "autograded" / "bob" / EXAMPLE / ".lrcourse-verdicts.json"
    written = verdicts.read_text() if verdicts.exists() else None  # the grading run's own, put back after
    verdicts.write_text(
        json.dumps(
            {
                "cells": {
                    "test_my_step_lr_one_group": {
                        "points": 3.0,
                        "trusted_score": 0.0,
                        "in_kernel_score": 3.0,
                        "message": "step() changed torch's own scheduler state\nmore",
                    },
                    "test_my_step_lr_groups": {
                        "points": 2.0,
                        "trusted_score": 0.0,
                        "in_kernel_score": 0.0,
                        "message": "param_groups[1] is 0.01, PyTorch's is 0.005",
                    },
                    "test_my_step_lr_last_epoch": {
                        "points": 1.0,
                        "trusted_score": 1.0,
                        "in_kernel_score": 1.0,
                        "message": "",
                    },
                },
                "overridden": ["test_my_step_lr_one_group"],
            }
        )
    )
    try:
        assert student_failures(graded.path, "bob", EXAMPLE) == {
            "test_my_step_lr_one_group": "step() changed torch's own scheduler state",
            "test_my_step_lr_groups": "param_groups[1] is 0.01, PyTorch's is 0.005",
        }
        book = read_gradebook(graded.path, f"sqlite:///{graded.path / 'gradebook.db'}", [EXAMPLE])  # as export reads it
        path = write_chapter_report(graded.path, book.assignment(EXAMPLE), tmp_path / "overridden.html")
    finally:
        verdicts.write_text(written) if written is not None else verdicts.unlink()
    page = parse(path)
    rows = {(row["student"], row["kind"]): row["reason"] for row in page.tables["attention"]}
    reason = rows["bob", "in-kernel result overridden"]
    assert re.search(r"test_my_step_lr_one_group \(in kernel 3, trusted 0\): step\(\) changed", reason), reason
    assert ("test_my_step_lr_one_group", "1", "bob") in [
        (r["item"], r["count"], r["students"]) for r in page.tables["failures"]
    ]


@pytest.mark.slow
@pytest.mark.browser
def test_report_in_headless_chromium_shows_the_gradebooks_numbers(graded, browser):
    """Open the file (no server), read the distribution and per-item table as a reader sees them."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1100, "height": 900}, offline=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(request.url))
    page.goto(graded.report.as_uri())
    page.wait_for_load_state("load")
    bins = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#distribution tbody tr')]
        .map(r => [r.querySelector('.range').innerText, r.querySelector('.count').innerText]))""")
    items = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#items tbody tr')]
        .map(r => [r.querySelector('.item').innerText,
                   [r.querySelector('.mean').innerText, r.querySelector('.full-share').innerText]]))""")
    images = page.evaluate("""() => [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth,
        shown: i.getBoundingClientRect().height}))""")
    graded_count = page.locator("#graded-count").inner_text()
    page.screenshot(path=str(SHOTS / f"{EXAMPLE}.png"), full_page=True)
    assert bins == expected_distribution(graded.cells)
    assert {name: tuple(values) for name, values in items.items()} == expected_items(graded.cells)
    assert graded_count == str(len(graded.cells))
    assert len(images) == 2 and all(i["width"] > 100 and i["shown"] > 100 and i["alt"] for i in images), images
    assert not errors, errors


def test_a_student_nbgrader_wrote_no_graded_notebook_for_is_listed_to_look_at(tmp_path):
    """F6: when nbgrader's autograde cannot write a graded notebook back, the student has scores but formgrader
    answers 500 for the submission and there is no feedback: the report lists them (not a failed student twice)."""
    from lrcourse.grading.reports.class_report import attention_list

    grades = AssignmentGrades("ch", 2.0, [Item("ch", "nb", "test_a", 2, "code")])
    for student in ("alice", "bob", "erin"):
        grades.totals[student] = 2.0
        grades.scores[student] = {("nb", "test_a"): 2.0}
    (tmp_path / "autograded" / "alice" / "ch").mkdir(parents=True)
    (tmp_path / "autograded" / "alice" / "ch" / "nb.ipynb").write_text("{}")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "ch.csv").write_text(
        '"student","status","score","max_score","reason","overridden"\n"erin","failed","","","not valid JSON",""\n'
    )
    rows = {(row.student, row.kind) for row in attention_list(tmp_path, grades, {})}
    assert rows == {("bob", "no graded notebook"), ("erin", "failed to grade")}
