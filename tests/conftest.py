"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(Path(__file__).resolve().parent))


# The units of work that take minutes, longest first (measured with `--durations`). `make test` hands out whole
# files and test classes (`--dist loadscope --no-loadscope-reorder`) in collection order: a long unit started
# last would keep one worker busy after the others have finished.
LONGEST_FIRST = (
    "tests/test_grading_fidelity.py::TestAdaptiveSchedules",
    "tests/test_grading_fidelity.py::TestOrderedSchedules",
    "tests/test_class_grading.py::test_",
    "tests/test_export.py",
    "tests/test_notebooks.py",
    "tests/test_browser.py",
    "tests/test_class_grading.py::TestPlainNbgrader",
    "tests/test_grading_fidelity.py::TestTraining",
    "tests/test_grading_fidelity.py::TestChoosingTheRate",
    "tests/test_instructor_browser.py",
    "tests/test_hostile.py",
    "tests/test_learner_lab.py",
    "tests/test_grading_fidelity.py::TestLearningRate",
    "tests/test_sandbox.py",
    "tests/test_collect.py",
    "tests/test_manual_grades.py",
    "tests/test_grading_fidelity.py::TestCustomSchedules",
)


def pytest_collection_modifyitems(items):
    """The long units first, the rest in their usual order."""

    def rank(item) -> int:
        return next((i for i, unit in enumerate(LONGEST_FIRST) if item.nodeid.startswith(unit)), len(LONGEST_FIRST))

    items.sort(key=rank)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_and_markdown(notebook) -> list[tuple[str, str, str]]:
    return [
        (cell.get("id"), cell.cell_type, cell.source)
        for cell in notebook.cells
        if cell.cell_type in ("code", "markdown")
    ]


def nbgrader_meta(cell) -> dict:
    meta = dict(cell.metadata.get("nbgrader", {}))
    meta.pop("checksum", None)  # depends on the nbgrader run, not on the content we compare
    return meta


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test file (tests/support/chromium.py)."""
    from support.chromium import launched

    with launched() as chromium:
        yield chromium
