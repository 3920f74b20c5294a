"""Exercise 1.2's test cells, hidden tests included, run in this process against every catalogued answer of
`rate_for_noise_floor` (issue 23, r58a W1): each answer loses exactly the cells the catalogue says. A correct bisection or
brentq lost the large-target point when the cells judged the floor at the rate, which near 2 / a moves up to 8e7 times
as much as the rate. test_grading_fidelity grades the same answers through the grader; this runs in seconds."""

from __future__ import annotations

import nbformat
import pytest

from lrcourse import cells
from lrcourse.checking import CheckFailed

import catalogue
from catalogue.answers import FLOOR_CELLS
from catalogue.noise_floor import NOISE_FLOOR_CORRECT, NOISE_FLOOR_WRONG
from support.paths import ROOT

CH1 = ROOT / "source" / "01_learning_rate" / "learning_rate.ipynb"
ANSWERS = [
    answer
    for answer in catalogue.CORRECT + catalogue.WRONG
    if answer.cell == "rate_for_noise_floor" and not answer.scratch
]


def cell_sources() -> dict[str, str]:
    """The setup cell and the exercise's test cells, whole (their hidden tests too), without the self-contained
    checks, which read the kernel's history of cells (tests/test_self_contained_chapter1.py holds them)."""
    notebook = nbformat.read(CH1, as_version=4)
    sources = {cell.get("id"): cell.source for cell in notebook.cells if cell.get("id") == "setup"}
    for cell in notebook.cells:
        if cells.nbgrader_id(cell) in FLOOR_CELLS:
            kept = [line for line in cell.source.splitlines() if not line.startswith("check_self_contained(")]
            sources[cells.nbgrader_id(cell)] = "\n".join(kept)
    return sources


def lost_cells(answer_source: str) -> set[str]:
    sources = cell_sources()
    namespace: dict = {}
    exec(sources["setup"], namespace)
    exec(answer_source, namespace)
    lost = set()
    for cell in FLOOR_CELLS:
        try:
            exec(sources[cell], dict(namespace))
        except (CheckFailed, ArithmeticError, TypeError, ValueError):
            lost.add(cell)
    return lost


def test_the_catalogue_holds_numerical_solves_and_float32_readings():
    assert {answer.name for answer in NOISE_FLOOR_CORRECT + NOISE_FLOOR_WRONG} <= {answer.name for answer in ANSWERS}
    assert len(ANSWERS) >= 16


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda answer: answer.name)
def test_each_answer_loses_exactly_the_cells_the_catalogue_says(answer):
    assert lost_cells(answer.source) in answer.failings


def test_the_large_target_cell_judges_the_rate_below_two_over_a():
    """A rate a hair below 2 / a on every curvature passes the large targets (the exact one is 1.25e-8 to 1e-6 below
    it; the floor there is anything); a rate at 2 / a fails, and so does one 1e-3 below."""
    [stable] = [name for name in FLOOR_CELLS if name.endswith("_stable")]
    source = cell_sources()[stable].replace(
        "rate_for_noise_floor(100.0, 0.1, mean_losses(0.1, 1.0, 1.0, 3.0))", "400 / 201"
    )

    def outcome(gap: float) -> bool:
        namespace: dict = {}
        exec(cell_sources()["setup"], namespace)
        curvature = {1.0: 0.5, 0.125: 4.0, 0.0125: 40.0}  # the hidden runs' rate 0.5 / a
        namespace["rate_for_noise_floor"] = lambda target, lr, losses: 2 / curvature[lr] * (1 - gap)
        try:
            exec(source, namespace)
        except CheckFailed:
            return False
        return True

    assert outcome(2e-8) and outcome(1e-5)
    assert not outcome(0.0) and not outcome(1e-3)
