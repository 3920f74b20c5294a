"""Write lrcourse/expected_visible.json: the expected values of the training exercises' *visible* cases.

    python grader/make_expected.py

The visible test cells of chapters 5 and 6 compare a student's loop with the reference loops in
grader/references.py, which are the exercises' answers and so are not in the `lrcourse` package. In a
student's kernel those checks read the expected values of their few fixed cases from this table. It is
made by running, in this process, each chapter's context cells, its solution cells and the visible part of
its test cells (never the hidden part: hidden cases stay the grader's), recording every case the checks
ask the references for. Run it again whenever a visible test cell or a reference loop changes;
tests/test_checking.py fails until then.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("05_training", "06_choosing_the_rate")


def exercise_cells(chapter: str) -> tuple[list[str], list[str], list[str]]:
    """The context cells, the solution cells and the visible part of the test cells of a source notebook."""
    import nbformat

    from lrcourse import cells

    [path] = sorted((ROOT / "source" / chapter).glob("*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    context, answers, tests = [], [], []
    for cell in notebook.cells:
        if cells.is_context(cell):
            context.append(cell.source)
        elif cells.is_answer(cell):
            answers.append(cell.source)
        elif cells.is_test(cell):
            tests.append(cells.visible_part(cell.source))
    return context, answers, tests


def run_visible_checks(chapter: str) -> None:
    """Run the chapter's visible checks against its own solution, in this process; raise if one fails."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    namespace = {"__name__": "__main__", "get_ipython": lambda: None}
    context, answers, tests = exercise_cells(chapter)
    for source in [*context, *answers, *tests]:
        exec(compile(transform(source), f"<{chapter}>", "exec"), namespace)


def record() -> dict:
    """Every case the visible checks ask the references for, with its expected values."""
    from lrcourse.checking.expected import Recorder, recording

    with recording(Recorder()) as recorder:
        for chapter in CHAPTERS:
            run_visible_checks(chapter)
    return recorder.table


def main() -> None:
    from lrcourse.checking import EXPECTED_VISIBLE

    table = record()
    EXPECTED_VISIBLE.write_text(json.dumps(table, sort_keys=True, indent=0) + "\n")
    cases = sum(len(entries) for entries in table.values())
    print(f"{EXPECTED_VISIBLE.relative_to(ROOT)}: {cases} visible cases", file=sys.stderr)


if __name__ == "__main__":
    main()
