"""Every notebook is valid, runs headless, and the generated folders match what source/ produces."""
from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest

from lrcourse.build import execute, generate_release, source_notebooks, tool_environment

from conftest import ROOT, code_and_markdown, nbgrader_meta, read

SOURCES = source_notebooks(ROOT)
IDS = [path.parent.name for path in SOURCES]


def released(path):
    return ROOT / "notebooks" / path.parent.name / path.name


def solution(path):
    return ROOT / "solutions" / path.parent.name / path.name


def all_notebooks():
    return [p for folder in ("source", "notebooks", "solutions") for p in sorted((ROOT / folder).glob("*/*.ipynb"))]


def test_there_are_six_chapters():
    assert IDS == ["01_learning_rate", "02_ordered_schedules", "03_adaptive_schedules",
                   "04_custom_schedules", "05_training", "06_choosing_the_rate"]


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


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """notebooks/ as `nbgrader generate_assignment` makes it from source/ now, in a scratch course."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", course / "source")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    generate_release(course)
    return course / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_released_notebook_equals_a_fresh_generation(path, fresh_release):
    committed, fresh = read(released(path)), read(fresh_release / path.parent.name / path.name)
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


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_nbgrader_validate_passes_on_source(path):
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], cwd=ROOT,
                            env=tool_environment(), capture_output=True, text=True, timeout=600)
    assert "Success! Your notebook passes all the tests." in result.stdout, result.stdout + result.stderr


def errors(notebook) -> dict[str, str]:
    return {cell.id: f"{o.ename}: {o.evalue}" for cell in notebook.cells if cell.cell_type == "code"
            for o in cell.outputs if o.output_type == "error"}


def text_outputs(notebook) -> dict[str, str]:
    """Each cell's printed text, joined: how prints are split into output records depends on timing."""
    return {cell.id: "".join(o.text for o in cell.outputs if o.output_type == "stream")
            for cell in notebook.cells if cell.cell_type == "code"}


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_source_runs_headless_and_reproduces_the_solutions(path):
    """Source and solutions hold the same code, so one run checks both: it must succeed, and with fixed
    seeds it must print exactly what the committed solutions show."""
    notebook = execute(read(path), cwd=path.parent)
    assert errors(notebook) == {}
    committed = read(solution(path))
    assert errors(committed) == {}
    assert text_outputs(notebook) == text_outputs(committed), "outputs differ: unseeded randomness, or run `make solutions`"
    assert any("image/png" in o.get("data", {}) for c in committed.cells if c.cell_type == "code" for o in c.outputs), \
        "solutions must show their plots on a code host"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_student_notebook_runs_headless_failing_only_in_exercise_tests(path):
    """An untouched student notebook runs top to bottom; the only errors are the exercises' own test
    cells (their answers are still `raise NotImplementedError()`)."""
    notebook = execute(read(released(path)), cwd=released(path).parent, allow_errors=True)
    grade_cells = {c.id for c in notebook.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    # a prediction's answer cell is only an assignment: unanswered, it raises NotImplementedError itself
    predictions = {c.id for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")
                   and "raises-exception" in c.metadata.get("tags", [])}
    failing = errors(notebook)
    assert all(failing.pop(cell).startswith("NotImplementedError") for cell in predictions & set(failing))
    assert set(failing) <= grade_cells, {k: v for k, v in failing.items() if k not in grade_cells}
    assert set(failing) == grade_cells, "every exercise's tests should fail before it is answered"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_every_cell_that_fails_in_the_student_version_may_raise(path):
    """In the student version the answer cells raise NotImplementedError and the test cells fail; JupyterLab's
    Run All stops at the first failing cell not tagged `raises-exception`, so every graded test cell and every
    prediction cell carries the tag (a student's Run All reaches every slider)."""
    untagged = [cell.get("id") for cell in read(path).cells if cell.cell_type == "code"
                and cell.metadata.get("nbgrader", {}).get("grade") and "raises-exception" not in cell.metadata.get("tags", [])
                and (not cell.metadata["nbgrader"].get("solution") or "NotImplementedError" in cell.source
                     or "raise NotImplementedError" in cell.source)]
    assert untagged == [], f"tag these cells raises-exception: {untagged}"
