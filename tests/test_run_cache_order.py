"""The shipped training runs (lrcourse/runs) are found whatever cells of a chapter ran before: the cache key
depends on the code that runs and its arguments only (issue 23, R23b: a loop's leftover `inputs` changed it)."""

from __future__ import annotations

import nbformat
import pytest

from lrcourse.build import execute, source_notebooks

from support.notebooks import read
from support.paths import ROOT

SOURCES = source_notebooks(ROOT)


def errors(notebook) -> dict[str, str]:
    return {
        cell.get("id"): f"{o.ename}: {o.evalue}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.output_type == "error"
    }


# Cells run in an order other than top to bottom, each ending on a probe that reads shipped runs: the runs' cache
# key depends on the code that runs and its arguments only, not on which other cells left which variables behind
# (a loop's `inputs` once changed it: issue 23, R23b). Chapter 5: no seed article's loop, no accumulation cells.
OTHER_ORDERS = {
    "05_training": (
        [
            "setup",
            "data",
            "run",
            'run("constant", lr=0.003, seed=0)',
            "compare",
            "slider",
            "for _position in panel_positions()[::40]:\n    panel_run(*_position)",
        ]
    ),
    "06_choosing_the_rate": [
        "setup",
        "data",
        "train",
        "train_at(0.003)",
        "train_at(0.001, 4)",
        "SEEDS = range(5)",
        "train-constant",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("chapter", sorted(OTHER_ORDERS))
def test_shipped_runs_are_found_whatever_ran_before(chapter, tmp_path):
    path = next(p for p in SOURCES if p.parent.name == chapter)
    by_id = {cell.get("id"): cell for cell in read(path).cells}
    notebook = read(path)
    notebook.cells = [
        by_id[step] if step in by_id else nbformat.v4.new_code_cell(step) for step in OTHER_ORDERS[chapter]
    ]
    execute(notebook, cwd=path.parent, env={"LRCOURSE_RUN_CACHE": str(tmp_path)})
    assert errors(notebook) == {}
    assert list(tmp_path.iterdir()) == [], "a run trained: its cache key depends on what ran before"
