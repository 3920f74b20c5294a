"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(Path(__file__).resolve().parent))


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


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory):
    """The whole course graded once by `lrcourse grade` (see gradedclass.py)."""
    from support.gradedclass import build_graded_course

    return build_graded_course(tmp_path_factory.mktemp("graded-course"))


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test file (tests/support/chromium.py)."""
    from support.chromium import launched

    with launched() as chromium:
        yield chromium
