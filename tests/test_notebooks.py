"""Every notebook is valid, runs headless, and the generated folders match what source/ produces."""

from __future__ import annotations

import ast
import math
import re

import nbformat
import pytest

from lrcourse import cells
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


PLAIN_ANSWERS = ("predicted_", "inferred_", "diagnosed_")  # answer cells that bind plain data, not code


def prediction_answers(notebook) -> dict[str, object]:
    """Each plain-data answer (a prediction, chapter 3's reading of a run), as its source notebook's solution
    computes it: {variable name: value}."""
    answers = {}
    for cell in notebook.cells:
        name = cells.nbgrader_id(cell) or ""
        if cell.cell_type == "code" and name.startswith(PLAIN_ANSWERS):
            solution_text = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            scope: dict = {}
            exec(solution_text, {"__builtins__": {}}, scope)
            answers[name] = scope[name]
    return answers


def prediction_tests(notebook, name: str) -> list:
    """The test cells that grade the prediction `name` with points (none: the prediction is not graded; a test
    cell of 0 points only records it, for `lrcourse check`)."""
    return [
        cell
        for cell in notebook.cells
        if cells.is_test(cell) and name in cell.source and cells.nbgrader_metadata(cell).get("points", 0) > 0
    ]


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_an_ungraded_prediction_says_so_and_a_graded_one_has_its_test(path):
    """A prediction either carries points (a test cell grades it, and its heading names them) or says it is not
    graded: its heading never promises points that no test gives."""
    notebook = read(path)
    for name in [name for name in prediction_answers(notebook) if name.startswith("predicted_")]:
        index = next(i for i, cell in enumerate(notebook.cells) if cells.nbgrader_id(cell) == name)
        heading = next(c.source for c in reversed(notebook.cells[:index]) if c.cell_type == "markdown")
        if prediction_tests(notebook, name):
            assert re.search(r"Predict first \(\d+ points?\)", heading), f"{name}: {heading[:80]!r}"
        else:
            assert "Predict first (not graded)" in heading, f"{name}: {heading[:80]!r}"


def constant_values(code: str) -> list:
    """Every value a cell's code spells out: each literal, and each expression made of literals and arithmetic
    alone (0.64 written as (1 - 0.45 * 4) ** 2 is still the answer)."""
    literal_nodes = (
        ast.Constant,
        ast.BinOp,
        ast.UnaryOp,
        ast.Tuple,
        ast.List,
        ast.Dict,
        ast.operator,
        ast.unaryop,
        ast.Load,
    )
    values = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.expr) and all(isinstance(inner, literal_nodes) for inner in ast.walk(node)):
            try:
                values.append(eval(compile(ast.Expression(node), "<cell>", "eval"), {"__builtins__": {}}))
            except Exception:  # 1 / 0 and the like: not an answer
                continue
    return values


def same_answer(value, answer) -> bool:
    numbers = (int, float)
    if isinstance(answer, numbers) and isinstance(value, numbers) and not isinstance(value, bool):
        return math.isclose(value, answer, rel_tol=1e-6, abs_tol=1e-12)
    if isinstance(answer, (list, tuple)) and isinstance(value, (list, tuple)):
        return list(value) == list(answer)
    return type(value) is type(answer) and value == answer


def test_the_leak_finder_finds_an_answer_spelled_any_way():
    assert any(same_answer(v, 0.64) for v in constant_values("expect_close(x, (1 - 0.45 * 4) ** 2, 'w')"))
    assert any(same_answer(v, [4, 7]) for v in constant_values("expect_equal(list(x), [4, 7], 'd')"))
    assert any(same_answer(v, "a") for v in constant_values("expect_equal(x, 'a', 'y')"))
    assert not any(same_answer(v, "a") for v in constant_values("expect(x in ('b', 'c'), 'y')"))
    assert not any(same_answer(v, 150) for v in constant_values("expect(isinstance(x, int), 'x must be an int')"))
    assert any(same_answer(v, {"A": "correct"}) for v in constant_values("check(x, {'A': 'correct'}, {})"))


OPTION = re.compile(r"^\s*[-*]\s*\*\*([a-z])\*\*:\s*(.+)$", re.MULTILINE)
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])")


def option_phrases(notebook, answer) -> tuple[list[str], str | None]:
    """A multiple-choice answer's distinctive wording: the chosen option's phrases of two words or more (split at
    commas and semicolons), and the id of the question cell that lists the options (where they belong)."""
    for cell in notebook.cells:
        options = dict(OPTION.findall(cell.source)) if cell.cell_type == "markdown" else {}
        if isinstance(answer, str) and answer in options:
            phrases = [p.strip(" .;*").lower() for p in re.split(r"[,;]", options[answer])]
            return [p for p in phrases if len(p.split()) >= 2], cell.id
    return [], None


def text_leaks(cell, answer, phrases, question_id) -> list:
    """What a released cell's text (code or markdown, strings and comments included) gives away of an answer:
    a number equal to a numeric answer, or the chosen option's wording outside the question."""
    numbers = [float(n) for n in NUMBER.findall(cell.source)] if isinstance(answer, (int, float)) else []
    found = [n for n in numbers if same_answer(n, answer)]
    if cell.id != question_id:
        found += [p for p in phrases if p in " ".join(cell.source.lower().split())]
    return found


def answer_leaks(source, release) -> list[str]:
    """Every place the released notebook spells out one of the source's prediction answers."""
    leaks = []
    for name, answer in prediction_answers(source).items():
        phrases, question_id = option_phrases(source, answer)
        if isinstance(answer, str):
            assert phrases, f"{name}: the option {answer!r}'s wording was not found"
        for cell in release.cells:
            graded = cell.cell_type == "code" and (
                cells.nbgrader_id(cell) == name or (nbgrader_meta(cell).get("grade") and name in cell.source)
            )
            found = [v for v in constant_values(cell.source) if same_answer(v, answer)] if graded else []
            found += text_leaks(cell, answer, phrases, question_id)
            leaks += [f"cell {cell.id} gives away {name} = {answer!r}: {value!r}" for value in found]
    return leaks


def test_the_text_scan_finds_an_answer_in_prose_and_strings():
    source = nbformat.v4.new_notebook()
    source.cells = [
        nbformat.v4.new_markdown_cell("- **a**: still rising, at about a third of its peak;\n- **b**: close to zero;"),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\npredicted_x = 'a'\n### END SOLUTION"),
    ]
    source.cells[1].metadata["nbgrader"] = {"grade_id": "predicted_x"}
    release = nbformat.v4.new_notebook()
    release.cells = [nbformat.v4.new_code_cell('print(f"{r:.0%} of its peak, still rising")', id="said")]
    assert any("still rising" in leak for leak in answer_leaks(source, release))
    release.cells = [nbformat.v4.new_code_cell('print(f"{r:.0%} of its peak")', id="quiet")]
    assert not answer_leaks(source, release)
    assert text_leaks(nbformat.v4.new_markdown_cell("50 x 3 = 150", id="md"), 150, [], None) == [150.0]
    assert not text_leaks(nbformat.v4.new_markdown_cell("1500 or 150.5 or x150", id="md"), 150, [], None)


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_no_prediction_s_answer_stands_in_the_release(path):
    """A prediction is worth a point only if the release does not hand out its answer: no cell of the released
    notebook, code or markdown, may spell the answer out (a number in its text, a literal in a graded cell, or a
    multiple-choice option's wording outside the question); its explanation belongs in the hidden tests, which the
    student sees in the feedback, and in the output of cells the student runs after answering."""
    source, release = read(path), read(released(path))
    answers = prediction_answers(source)
    if path.parent.name in ("01_learning_rate", "05_training", "06_choosing_the_rate", "07_practice"):
        assert answers, "the chapter's prediction was not found"
    if path.parent.name == "02_ordered_schedules":  # the prediction and Exercise 2 (b)'s reading of a log
        assert {"predicted_rate_after_edit", "inferred_step_lr"} <= set(answers)
    if path.parent.name == "03_adaptive_schedules":  # the prediction and both answers of Exercise 3.4
        assert {"predicted_drop_steps", "inferred_plateau_arguments", "diagnosed_loops"} <= set(answers)
    for name in answers:
        graded = [
            cell
            for cell in release.cells
            if cell.cell_type == "code"
            and (cells.nbgrader_id(cell) == name or (nbgrader_meta(cell).get("grade") and name in cell.source))
        ]
        expected = 1 + len(prediction_tests(source, name))  # an ungraded prediction has its answer cell alone
        assert len(graded) >= expected, f"{name}: its answer cell and test cells were not found in the release"
    leaks = answer_leaks(source, release)
    assert not leaks, f"{path.parent.name}: " + "; ".join(leaks)
