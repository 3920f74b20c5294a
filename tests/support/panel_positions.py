"""The cells appended to chapter 5 to visit every position of its training panel (`panel_positions()` in its
`slider` cell): scripts/panel_runs.py trains the runs they read into lrcourse/runs, tests/test_notebooks.py checks
that none trains. A slice of positions per cell: a cell may take at most lrcourse.build.SECONDS_PER_CELL."""

from __future__ import annotations

from nbformat.v4 import new_code_cell

SLICE = 60
POSITIONS = 480  # len(panel_positions()), which the last cell prints: a changed panel shows here


def visit_cells() -> list:
    """Cells calling `panel_run` at each of the panel's positions; the last prints how many there are."""
    sources = [
        f"for _position in panel_positions()[{start}:{start + SLICE}]:\n    panel_run(*_position)"
        for start in range(0, POSITIONS, SLICE)
    ]
    return [new_code_cell(source) for source in [*sources, "print(len(panel_positions()))"]]


def positions_visited(notebook) -> int:
    """How many positions the last visiting cell counted (run the notebook with `visit_cells()` appended)."""
    return int("".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream"))
