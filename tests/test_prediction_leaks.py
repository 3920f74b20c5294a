"""A prediction (and chapter 3's readings of a run) is worth writing only if the release does not hand out its
answer: the answers as the source's solutions compute them, and every place a released notebook could spell one
out (a literal in a graded cell, a list answer in any code cell, a number or an option's wording in any text)."""

from __future__ import annotations

import ast
import math
import re

import nbformat
import pytest

from lrcourse import cells
from lrcourse.build import source_notebooks

from support.notebooks import nbgrader_meta, read
from support.paths import ROOT

SOURCES = source_notebooks(ROOT)
IDS = [path.parent.name for path in SOURCES]


def released(path):
    return ROOT / "notebooks" / path.parent.name / path.name


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
    a number equal to a numeric answer, a list answer's numbers in a row ("steps 4 and 7"), or the chosen option's
    wording outside the question."""
    numbers = [float(n) for n in NUMBER.findall(cell.source)]
    found = [n for n in numbers if same_answer(n, answer)] if isinstance(answer, (int, float)) else []
    if isinstance(answer, (list, tuple)) and len(answer) > 1:
        runs = [numbers[i : i + len(answer)] for i in range(len(numbers) - len(answer) + 1)]
        found += [run for run in runs if same_answer(run, answer)]
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
            # a list is distinctive enough to look for in every code cell: an ungraded one's check spells it too
            scanned = graded or (cell.cell_type == "code" and isinstance(answer, (list, tuple)))
            found = [v for v in constant_values(cell.source) if same_answer(v, answer)] if scanned else []
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
    said = nbformat.v4.new_code_cell('print("the drops are at steps 4 and 7")', id="said")
    assert text_leaks(said, [4, 7], [], None) == [[4.0, 7.0]]
    assert not text_leaks(said, [7, 4], [], None)


def test_a_list_answer_is_found_in_an_ungraded_cell_s_code():
    source = nbformat.v4.new_notebook()
    source.cells = [nbformat.v4.new_code_cell("### BEGIN SOLUTION\npredicted_steps = [4, 7]\n### END SOLUTION")]
    source.cells[0].metadata["nbgrader"] = {"grade_id": "predicted_steps"}
    release = nbformat.v4.new_notebook()
    release.cells = [nbformat.v4.new_code_cell("assert drops(metrics)[0] == [4, 7]", id="check")]
    assert "cell check gives away predicted_steps = [4, 7]: [4, 7]" in answer_leaks(source, release)
    release.cells = [nbformat.v4.new_code_cell("assert drops(metrics)[0] == rule(metrics)", id="check")]
    assert not answer_leaks(source, release)


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
