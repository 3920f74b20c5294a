"""Every notebook is valid, runs headless, and the generated folders match what source/ produces."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from lrcourse import cells, chapter_facts
from lrcourse.build import execute, source_notebooks

from support import printed
from support.course import make_course
from support.notebooks import code_and_markdown, nbgrader_meta, read
from support.panel_positions import POSITIONS, positions_visited, visit_cells
from support.paths import ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*m")

SOURCES = source_notebooks(ROOT)
IDS = [path.parent.name for path in SOURCES]


def released(path):
    return ROOT / "notebooks" / path.parent.name / path.name


def solution(path):
    return ROOT / "solutions" / path.parent.name / path.name


def all_notebooks():
    return [p for folder in ("source", "notebooks", "solutions") for p in sorted((ROOT / folder).glob("*/*.ipynb"))]


def test_there_are_seven_chapters():
    assert IDS == [
        "01_learning_rate",
        "02_ordered_schedules",
        "03_adaptive_schedules",
        "04_custom_schedules",
        "05_training",
        "06_choosing_the_rate",
        "07_practice",
    ]


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_valid_nbformat_4_with_a_kernelspec(path):
    notebook = read(path)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"  # no "Select Kernel" dialog for students


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_source_is_stored_without_outputs(path):
    for cell in read(path).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: cell {cell.id} has outputs"


def fresh_release(directory, chapter: str):
    """notebooks/ as `nbgrader generate_assignment` makes it from source/ now, in a scratch course of `chapter`: the
    release of the chapter the run's grading tests make too, made once for them all (support/course.py: make_course)."""
    return make_course(directory, [chapter]) / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_released_notebook_equals_a_fresh_generation(path, tmp_path):
    fresh = fresh_release(tmp_path / "course", path.parent.name) / path.parent.name / path.name
    committed, fresh = read(released(path)), read(fresh)
    assert code_and_markdown(committed) == code_and_markdown(fresh), "run `make notebooks`"
    assert [nbgrader_meta(c) for c in committed.cells] == [nbgrader_meta(c) for c in fresh.cells]


def test_the_chapters_facts_shipped_with_the_package_are_fresh():
    """lrcourse/chapters.json (the setup and context cells the saved-notebook check runs on a hub's wheel) is what
    source/ gives now, every chapter's."""
    assert chapter_facts.FACTS.read_text(encoding="utf-8") == chapter_facts.facts_text(ROOT), "run `make notebooks`"
    assert list(chapter_facts.shipped()) == [path.parent.name for path in SOURCES]
    for path in SOURCES:  # each notebook says which release of its context cells it is of (R23z M1)
        digest = chapter_facts.context_digest(chapter_facts.context_of(json.loads(path.read_text())["cells"]))
        assert chapter_facts.shipped()[path.parent.name]["digest"] == digest, "run `make notebooks`"
        for copy in (path, released(path), solution(path)):
            remake = "make notebooks solutions" if copy == solution(path) else "make notebooks"  # solutions/: executed
            assert chapter_facts.notebook_digest(json.loads(copy.read_text())) == digest, f"{copy}: `{remake}`"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_the_setup_cell_says_it_is_one(path):
    """R23z N3: each chapter's setup cell carries {"lrcourse": {"context": true}} (ARCHITECTURE.md), so a copy pasted
    anew (a new id) is still a setup cell to `cells.is_context` where no chapter is known (R23x M2)."""
    setup = [cell for cell in read(path).cells if cell.get("id") == "setup"]
    assert len(setup) == 1, f"{path}: no cell with the id setup"
    assert setup[0].metadata.get("lrcourse", {}).get("context") is True, f"{path}: the setup cell's metadata"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_released_notebook_has_no_solutions_or_hidden_tests(path):
    text = released(path).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_solutions_have_the_cells_of_source(path):
    assert code_and_markdown(read(solution(path))) == code_and_markdown(read(path)), "run `make solutions`"


# `nbgrader validate` on a source notebook only runs it and reports failing test cells: the test below runs each
# source once and requires no error in any cell, and tests/test_grading_fidelity.py grades each solution with
# nbgrader to full marks, so a separate validate run would execute every chapter a third time for nothing.


def error_outputs(notebook):
    """(cell id, error output) of every failed code cell."""
    return [
        (cell.id, o)
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.output_type == "error"
    ]


def errors(notebook) -> dict[str, str]:
    return {cell: f"{o.ename}: {o.evalue}" for cell, o in error_outputs(notebook)}


def tracebacks(notebook) -> dict[str, str]:
    """What each failed cell shows the learner (its error's traceback lines)."""
    return {cell: "\n".join(o.traceback) for cell, o in error_outputs(notebook)}


def text_outputs(notebook) -> dict[str, str]:
    """Each cell's printed text, joined: how prints are split into output records depends on timing."""
    return {
        cell.id: "".join(o.text for o in cell.outputs if o.output_type == "stream")
        for cell in notebook.cells
        if cell.cell_type == "code"
    }


# Chapters 1-4 compute in float64 (numpy, Python, PyTorch's schedulers), seeded, and printed the same to the
# last digit under every setting scripts/cpu_spread.py --notebooks tries (PyTorch's CPU kernels, threads, MKL);
# chapters 5-6 train in float32, so only they run again under another CPU's arithmetic. All six compare their
# printed numbers by tests/support/printed.py: a last-bit difference of float64 (a libm's cosine) still agrees.
TRAINED = [
    pytest.param(path, marks=pytest.mark.cpu_sensitive) if path.parent.name >= "05" else path for path in SOURCES
]


@pytest.mark.slow
@pytest.mark.parametrize("path", TRAINED, ids=IDS)
def test_source_runs_headless_and_reproduces_the_solutions(path, tmp_path):
    """Source and solutions hold the same code, so one run checks both: it must succeed, and with fixed seeds
    it must print what the committed solutions show: the same words and integers, and decimals within what
    another CPU changes in float32 training (tests/support/printed.py), so a run on any machine passes. Chapters 5-6
    read every training run from the runs shipped in lrcourse/runs: none trains (nothing lands in an empty
    cache), so every machine shows the same trained numbers, and no suggested rate moved to another run. Chapter 5's
    panel reads every position's run too (tests/support/panel_positions.py): a move there never trains."""
    notebook = read(path)
    visits = visit_cells() if path.parent.name == "05_training" else []
    notebook.cells += visits
    execute(notebook, cwd=path.parent, env={"LRCOURSE_RUN_CACHE": str(tmp_path)})
    assert errors(notebook) == {}
    assert list(tmp_path.iterdir()) == [], "a run trained: refresh lrcourse/runs (README), or an input moved"
    if visits:
        assert positions_visited(notebook) == POSITIONS, "the panel's positions changed: run scripts/panel_runs.py"
        del notebook.cells[-len(visits) :]
    committed = read(solution(path))
    assert errors(committed) == {}
    mine, theirs = text_outputs(notebook), text_outputs(committed)
    assert mine.keys() == theirs.keys(), "run `make solutions`"
    changed = {cell: found for cell in mine if (found := printed.differences(mine[cell], theirs[cell]))}
    assert changed == {}, "outputs differ: unseeded randomness, a printed verdict that flips, or run `make solutions`"
    assert any("image/png" in o.get("data", {}) for c in committed.cells if c.cell_type == "code" for o in c.outputs), (
        "solutions must show their plots on a code host"
    )


def test_printed_numbers_agree_up_to_another_cpus_last_bits():
    assert (
        printed.differences(
            "highest smoothed loss 3.99 < 4 x the lowest (4.65): no stop",
            "highest smoothed loss 4.00 < 4 x the lowest (4.65): no stop",
        )
        == []
    )
    assert printed.differences("loss 2.2474615573883057", "loss 2.2474617958068848") == []
    assert printed.differences("lr 1.23e-05", "lr 1.24e-05") == []
    assert printed.differences("stopped at step 84", "stopped at step 85") == ["84 vs 85"]  # counts are exact
    assert printed.differences("accuracy 0.971", "accuracy 0.969") == ["0.971 vs 0.969"]
    assert printed.differences("no stop", "stopped") != []  # a flipped verdict
    assert printed.differences("ranks: cosine, step", "ranks: step, cosine") != []
    assert printed.differences("values 1.5 2.5", "values 1.5") != []
    assert printed.differences("loss 3.99.", "loss 4.00.") == []  # a sentence's end
    assert printed.differences("epochs 4", "epochs 4.0") == ["4 vs 4.0"]
    assert printed.differences("lr 0.0025", "lr 0.0027") == ["0.0025 vs 0.0027"]
    assert printed.differences("x2 = 0.50", "x3 = 0.50") != []  # names are words
    assert printed.differences("-0.00", "0.00") == []
    assert printed.differences("lr 0.5", "lr 0.55") == ["0.5 vs 0.55"]  # a :g print drops zeros: read at 0.01
    assert printed.differences("lr 1e-05", "lr 3e-05") == ["1e-05 vs 3e-05"]


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_student_notebook_runs_headless_failing_only_in_exercise_tests(path):
    """An untouched student notebook runs top to bottom; the only errors are the exercises' own test
    cells (their answers are still `raise NotImplementedError()`)."""
    notebook = execute(read(released(path)), cwd=released(path).parent, allow_errors=True)
    grade_cells = {c.id for c in notebook.cells if cells.is_code(c) and cells.is_graded(c)}
    # a prediction's answer cell is only an assignment: unanswered, it raises NotImplementedError itself
    predictions = {
        c.id for c in notebook.cells if cells.is_solution(c) and "raises-exception" in c.metadata.get("tags", [])
    }
    failing = errors(notebook)
    # an unanswered exercise says so in one line, where it is and in every test cell after it: no traceback
    shown = {cell: ANSI.sub("", text).strip() for cell, text in tracebacks(notebook).items()}
    wall = {cell: text for cell, text in shown.items() if not text.startswith("not answered yet") or "\n" in text}
    assert set(shown) == set(failing) and not wall, wall
    assert all(failing.pop(cell).startswith("NotImplementedError") for cell in predictions & set(failing))
    assert set(failing) <= grade_cells, {k: v for k, v in failing.items() if k not in grade_cells}
    assert set(failing) == grade_cells, "every exercise's tests should fail before it is answered"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_every_cell_that_fails_in_the_student_version_may_raise(path):
    """In the student version the answer cells raise NotImplementedError and the test cells fail; JupyterLab's
    Run All stops at the first failing cell not tagged `raises-exception`, so every graded test cell and every
    prediction cell carries the tag (a student's Run All reaches every slider)."""
    untagged = [
        cell.get("id")
        for cell in read(path).cells
        if cells.is_code(cell)
        and cells.is_graded(cell)
        and "raises-exception" not in cell.metadata.get("tags", [])
        and (
            not cells.is_solution(cell)
            or "NotImplementedError" in cell.source
            or "raise NotImplementedError" in cell.source
        )
    ]
    assert untagged == [], f"tag these cells raises-exception: {untagged}"
