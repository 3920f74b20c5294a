"""Train the runs chapter 5's slider panel shows beyond the comparison's, into the shipped runs (or a cache).

python scripts/panel_runs.py [folder]     default: lrcourse/runs (the runs shipped with the package)

The panel's every position is prepared ahead (`panel_positions()` in the chapter's `slider` cell), so a move reads a
run and never trains. This runs the chapter's source in a kernel, as `make solutions` does, with cells appended that
call `panel_run` at every position (tests/support/panel_positions.py); `cached_run` writes each run it had to train
into `folder`. Run it after `make solutions` whenever lrcourse/runs is refreshed (README).
tests/test_notebooks.py checks that every position reads back without training.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lrcourse.build import execute  # noqa: E402

from support.panel_positions import POSITIONS, positions_visited, visit_cells  # noqa: E402

CHAPTER = ROOT / "source" / "05_training" / "training.ipynb"


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "lrcourse" / "runs").resolve()
    before = set(os.listdir(folder)) if folder.exists() else set()
    notebook = nbformat.read(CHAPTER, as_version=4)
    notebook.cells += visit_cells()
    execute(notebook, cwd=CHAPTER.parent, env={"LRCOURSE_RUN_CACHE": str(folder)})
    trained = len(set(os.listdir(folder)) - before)
    if positions_visited(notebook) != POSITIONS:
        raise SystemExit(
            f"the panel has {positions_visited(notebook)} positions: set POSITIONS in {visit_cells.__module__}"
        )
    print(f"{POSITIONS} panel positions; {trained} runs trained into {folder}")


if __name__ == "__main__":
    main()
