"""The cells appended to chapter 5 to visit every position of its training panel (`panel_positions()` in its
`slider` cell): scripts/panel_runs.py trains the runs they read into lrcourse/runs, tests/test_notebooks.py checks
that none trains, and that three of them trained again agree with the shipped ones (`RETRAIN`). A slice of
positions per cell: a cell may take at most lrcourse.build.SECONDS_PER_CELL."""

from __future__ import annotations

from nbformat.v4 import new_code_cell

SLICE = 60
POSITIONS = 480  # len(panel_positions()), which the last cell prints: a changed panel shows here


# Three shipped runs trained again by the chapter's code: the same rates, and losses within what another CPU changes
# in float32 training (lrcourse/tolerances.py; best epochs are not compared: two epochs may nearly tie)
RETRAIN = """from lrcourse.tolerances import LOSS_ATOL, LOSS_RTOL, RATE_ATOL, RATE_RTOL, close
for _schedule, _value, _lr, _seed in panel_positions()[::STRIDE]:
    _shipped, _trained = panel_run(_schedule, _value, _lr, _seed), run.__wrapped__(_schedule, _value, lr=_lr, seed=_seed)
    assert all(close(a, b, RATE_RTOL, RATE_ATOL) for a, b in zip(_trained["lr"], _shipped["lr"], strict=True))
    for _key in ("train_loss", "val_loss"):
        assert all(close(a, b, LOSS_RTOL, LOSS_ATOL) for a, b in zip(_trained[_key], _shipped[_key], strict=True)), _key
""".replace("STRIDE", str(POSITIONS // 3))


def visit_cells() -> list:
    """Cells calling `panel_run` at each of the panel's positions; the last prints how many there are."""
    sources = [
        f"for _position in panel_positions()[{start}:{start + SLICE}]:\n    panel_run(*_position)"
        for start in range(0, POSITIONS, SLICE)
    ]
    return [new_code_cell(source) for source in [*sources, RETRAIN, "print(len(panel_positions()))"]]


def positions_visited(notebook) -> int:
    """How many positions the last visiting cell counted (run the notebook with `visit_cells()` appended)."""
    return int("".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream"))
