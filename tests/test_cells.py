"""Which cell is what (`lrcourse.cells`), on small hand-made cells (fast): the rule, its names, hostile
metadata, and the readers that must keep nbgrader's own grade_id (results, the start page, annotations)."""

from __future__ import annotations

import json

import nbformat
import pytest

from lrcourse import cells
from lrcourse.checking import StepLRCase
from lrcourse.checking.guard import SECONDS_PER_CASE, TRAINING_SECONDS, case_seconds
from lrcourse.checking.observe import BUDGETS, OBSERVERS, observer_seconds
from lrcourse.grading.autograde.verdict_files import annotate
from lrcourse.grading.autograde.verdicts import Verdict, Verdicts
from lrcourse.grading.exercise import submitted_answers
from lrcourse.grading.reports.results import notebook_failures, source_order

import catalogue
from support.paths import ROOT


def load(answer, name):
    namespace = {}
    exec(compile(answer.source, answer.name, "exec"), namespace)
    return namespace[name]


def code(name: str, text: str = "x = 1", cell_id: str | None = None, **nbgrader) -> dict:
    metadata = {"nbgrader": {"grade_id": name, **nbgrader}} if nbgrader else {}
    return nbformat.v4.new_code_cell(text, id=cell_id or name, metadata=metadata)


def written(cell_id: str) -> dict:
    metadata = {"nbgrader": {"grade_id": cell_id, "grade": True, "solution": True, "points": 2}}
    return nbformat.v4.new_markdown_cell("my words", id=cell_id, metadata=metadata)


SETUP = nbformat.v4.new_code_cell("import torch", id="setup")
MODEL = nbformat.v4.new_code_cell("model = 1", id="model", metadata={"lrcourse": {"context": True}})
ANSWER = code("my_answer", "def f():\n    return 1", solution=True, grade=False)
TEST = code("test_f", "assert f() == 1", grade=True, solution=False, points=1)
WRITTEN = written("written_why")
PLAIN = nbformat.v4.new_code_cell("print(1)", id="scratch")
NOTES = nbformat.v4.new_markdown_cell("# Notes", id="notes")
BAD_NAME = {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": ["my_answer"], "solution": True}}, "id": {}}
# (a malformed cell as a submitted notebook's JSON may hold it, its kinds, its grade_id)
HOSTILE = [
    (None, set(), None),
    ("a cell", set(), None),
    (["cell_type", "code"], set(), None),
    ({"cell_type": "code"}, set(), None),
    ({"cell_type": "code", "metadata": ["nbgrader"], "id": "a"}, set(), "a"),
    ({"cell_type": "code", "metadata": {"nbgrader": "solution", "lrcourse": 1}, "id": 3}, set(), None),
    (BAD_NAME, {"answer", "solution"}, None),
    (
        {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": 7, "grade": 1}}, "source": 12},
        {"test", "graded"},
        None,
    ),
    (
        {"cell_type": ["markdown"], "metadata": {"nbgrader": {"grade": True, "solution": True}}},
        {"graded", "solution"},
        None,
    ),
]
KINDS = {
    "context": cells.is_context,
    "answer": cells.is_answer,
    "test": cells.is_test,
    "written": cells.is_written_answer,
    "graded": cells.is_graded,
    "solution": cells.is_solution,
}


def kinds(cell) -> set[str]:
    return {name for name, rule in KINDS.items() if rule(cell)}


def test_each_kind_of_cell_is_what_the_rule_says():
    assert kinds(SETUP) == kinds(MODEL) == {"context"}
    assert kinds(ANSWER) == {"answer", "solution"}
    assert kinds(TEST) == {"test", "graded"}
    assert kinds(WRITTEN) == {"written", "graded", "solution"}
    assert kinds(PLAIN) == kinds(NOTES) == set()
    loop = code("loop", solution=True)
    loop.metadata["lrcourse"] = {"uses_schedulers": True}
    assert cells.uses_schedulers(loop) and not cells.uses_schedulers(ANSWER)


def test_a_cell_is_named_by_nbgrader_and_only_grade_id_falls_back_to_its_id():
    renamed = code("my_answer", solution=True)
    renamed["id"] = "cell-1234"
    assert cells.grade_id(renamed) == cells.nbgrader_id(renamed) == "my_answer"
    assert cells.grade_id(PLAIN) == "scratch" and cells.nbgrader_id(PLAIN) is None
    notebook = [SETUP, ANSWER, NOTES, TEST, PLAIN, WRITTEN]
    assert cells.grade_ids(notebook) == ["my_answer", "test_f", "written_why"]


@pytest.mark.parametrize("cell, expected, name", HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_malformed_metadata_gives_no_name_and_raises_nothing(cell, expected, name):
    assert kinds(cell) == expected and not cells.uses_schedulers(cell)
    assert cells.nbgrader_id(cell) is None and cells.grade_id(cell) == name
    assert isinstance(cells.source(cell), str)
    assert cells.grade_ids([cell, ANSWER]) == ["my_answer"]


def test_a_context_cells_imported_modules_are_its_top_level_imports_in_order():
    source = "import numpy as np, torch.nn\nfrom sklearn.datasets import load_digits\nfrom . import x\n"
    source += "def f():\n    import json\nif True:\n    import csv\n"
    assert cells.imported_modules(source) == ["numpy", "torch.nn", "sklearn.datasets"]
    assert cells.imported_modules("import (") == []


def test_the_visible_part_drops_the_hidden_block_and_keeps_what_follows():
    text = "check(a)\n### BEGIN HIDDEN TESTS\ncheck(b)\n### END HIDDEN TESTS\npassed('f')"
    assert cells.visible_part(text) == "check(a)\npassed('f')"


def notebook_file(path, notebook_cells) -> str:
    nbformat.write(nbformat.v4.new_notebook(cells=notebook_cells), path)
    return path


def test_a_submission_s_answers_are_found_by_name_even_under_hostile_metadata(tmp_path):
    """A hostile grade_id (a list: unhashable) neither crashes the look-up nor names an answer; a cell
    whose nbgrader metadata was lost is still found by its id."""
    lost = nbformat.v4.new_code_cell("def g():\n    return 2", id="other_answer")
    hostile = dict(BAD_NAME, id="bad", source="def f():\n    return 0")
    path = tmp_path / "submitted.ipynb"
    path.write_text(json.dumps({"cells": [hostile, ANSWER, TEST, lost], "nbformat": 4, "nbformat_minor": 5}))
    assert submitted_answers(path, {"my_answer": ["f"], "other_answer": ["g"]}) == [
        ("my_answer", ANSWER.source),
        ("other_answer", lost.source),
    ]


def test_orders_and_messages_read_nbgrader_s_names_only(tmp_path):
    """A student's own cell whose id is a test's name is neither ordered nor reported as that test."""
    (tmp_path / "source" / "ch").mkdir(parents=True)
    notebook_file(tmp_path / "source" / "ch" / "ch.ipynb", [SETUP, ANSWER, WRITTEN, TEST])
    assert source_order(tmp_path / "source", "ch") == {"ch": ["my_answer", "written_why", "test_f"]}

    error = nbformat.v4.new_output("error", ename="AssertionError", evalue="wrong", traceback=[])
    impostor = nbformat.v4.new_code_cell("1/0", id="test_f", outputs=[error])
    impostor.metadata["nbgrader"] = "grade_id"  # malformed: no name at all
    failing = code("test_f", cell_id="cell-9", grade=True)
    failing.outputs = [error]
    autograded = tmp_path / "autograded" / "ann" / "ch"
    autograded.mkdir(parents=True)
    notebook_file(autograded / "ch.ipynb", [impostor, ANSWER, failing])
    assert notebook_failures(tmp_path, "ann", "ch") == {"test_f": "AssertionError: wrong"}

    corrected = Verdicts({"test_f": Verdict(points=1, trusted_score=0, in_kernel_score=1, message="wrong")})
    notes = tmp_path / "graded.ipynb"
    notebook_file(notes, [impostor, failing])
    annotate(notes, corrected)
    student_cell, test_cell = nbformat.read(notes, as_version=4).cells
    assert student_cell.outputs == [error] and "The grader checked this cell again" in test_cell.outputs[0].text


def test_the_start_page_counts_every_cell_the_learner_writes_in():
    notebook = nbformat.v4.new_notebook(cells=[SETUP, ANSWER, TEST, WRITTEN, PLAIN])
    assert cells.answer_sources(notebook.cells) == {"my_answer": ANSWER.source, "written_why": "my words"}


def test_only_the_training_loop_and_the_range_test_keep_pytorch_s_schedulers():
    """The cell metadata is the one list of answers whose process keeps torch.optim.lr_scheduler: chapter 5's
    loop is given a scheduler, and chapter 6's range test may grow its rate with one (the exercise allows it; its
    kernel has them, so the grader's process must too: issue 23, R23r). Every scheduler exercise's process must have
    none, chapter 7's factor included: its
    observer runs it in the course's own LambdaLR (lrcourse/checking/lambda_lr.py), so no profile hook, which a
    thread or sys.setprofile(None) escapes, is what keeps PyTorch's schedulers out of its answer."""
    marked = {
        (path.parent.name, cells.grade_id(cell), cells.is_answer(cell))
        for path in sorted((ROOT / "source").glob("*/*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
        if cells.uses_schedulers(cell)
    }
    assert marked == {("05_training", "fit_per_step", True), ("06_choosing_the_rate", "lr_range_test", True)}


def test_each_observer_declares_the_seconds_the_grader_waits_for():
    assert set(BUDGETS) == set(OBSERVERS)  # every observer registered has its budget
    case = StepLRCase([0.1], 2, steps=300).request()
    assert observer_seconds("scheduler", {"case": case}) == case_seconds(case) > SECONDS_PER_CASE
    assert observer_seconds("fit_steps", {}) == observer_seconds("range_test", {}) == TRAINING_SECONDS
    assert observer_seconds("construction", {"case": case}) == observer_seconds("unknown", {}) == SECONDS_PER_CASE
    shorter = {"case": case, "seconds_per_case": 0.5}  # a check's own budget per call, carried by the payload
    assert observer_seconds("scheduler", shorter) == case_seconds(case, 0.5) < case_seconds(case)
    assert observer_seconds("construction", shorter) == 0.5
    assert observer_seconds("unknown", {"seconds_per_case": 0.5}) == 0.5


def test_an_observer_s_guard_has_the_budget_it_declares():
    student = load(catalogue.STEP_CORRECT[0], "MyStepLR")
    for case in (StepLRCase([0.1], 2, steps=5).request(), StepLRCase([0.1], 2, steps=400).request()):
        for budget in ({}, {"seconds_per_case": 0.5}):
            scheduler = OBSERVERS["scheduler"](student, {"case": case, "record": ["lrs"], **budget})
            construction = OBSERVERS["construction"](student, {"case": case, **budget})
            assert scheduler["seconds"] == observer_seconds("scheduler", {"case": case, **budget})
            assert construction["seconds"] == observer_seconds("construction", {"case": case, **budget})
