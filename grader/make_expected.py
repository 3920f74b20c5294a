"""Write lrcourse/expected_visible.json: the expected values of the *visible* cases of the exercises whose reference is
an answer (chapter 3's stalled run, the training loops of chapters 5 and 6, chapter 7's SequentialLR).

    python grader/make_expected.py

The visible test cells of chapters 3 and 5 to 7 compare a student's answer with the references in
grader/references.py, which are the exercises' answers and so are not in the `lrcourse` package. In a
student's kernel those checks read the expected values of their few fixed cases from this table. It is
made by running, in this process, each chapter's context cells, its solution cells and the visible part of
its test cells (never the hidden part: hidden cases stay the grader's), recording every case the checks
ask the references for. Run it again whenever a visible test cell or a reference loop changes;
tests/test_expected_values.py fails until then.

The table is written on one machine and read on every other, where float32 training differs in the last
bits. So neither the checks nor the tests ask for bit equality: each value is accepted within the tolerance
its check uses (lrcourse/tolerances.py), and a machine that computes slightly other losses is no reason to
write the table again. The stop and the suggestion of a range test are compared exactly; the tests check
that every case keeps far from flipping them (`flip_margins`).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("03_adaptive_schedules", "05_training", "06_choosing_the_rate", "07_practice")


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
    context, answers, tests = exercise_cells(chapter)
    run_cells(chapter, [*context, *answers, *tests])


def run_cells(chapter: str, sources: list[str]) -> None:
    """Run cells' sources one after the other in one namespace, in this process, as a notebook would."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    namespace = {"__name__": "__main__", "get_ipython": lambda: None}
    for source in sources:
        exec(compile(transform(source), f"<{chapter}>", "exec"), namespace)


def test_cells(chapter: str) -> list[str]:
    """The whole test cells of a source notebook, hidden tests included."""
    import nbformat

    from lrcourse import cells

    [path] = sorted((ROOT / "source" / chapter).glob("*.ipynb"))
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cells.is_test(cell)]


def every_case() -> dict[str, list[dict]]:
    """Every case the chapters' test cells ask the references for, hidden ones included (for
    scripts/cpu_spread.py and the tests that check no case sits where another CPU could flip it)."""
    from lrcourse.checking.expected import Recorder, recording

    with recording(Recorder()) as recorder:
        for chapter in CHAPTERS:
            context, answers, _ = exercise_cells(chapter)
            run_cells(chapter, [*context, *answers, *test_cells(chapter)])
    return {kind: [json.loads(key) for key in cases] for kind, cases in recorder.table.items()}


def flip_margins(payload: dict, result: dict) -> tuple[float, float]:
    """How far a range test's discrete outcomes stand from flipping, relative: its stop (every smoothed loss
    against `diverge` x the lowest so far) and its suggestion (the lowest loss against the next lowest)."""
    losses, diverge, best, stop = result["losses"], payload["diverge"], math.inf, math.inf
    for loss in losses:
        best = min(best, loss)
        if loss != best:
            stop = min(stop, abs(loss / best - diverge) / diverge)
    lowest, *others = sorted(losses)
    return stop, (min(others) - lowest) / lowest if others else math.inf


def record() -> dict:
    """Every case the visible checks ask the references for, with its expected values."""
    from lrcourse.checking.expected import Recorder, recording

    with recording(Recorder()) as recorder:
        for chapter in CHAPTERS:
            run_visible_checks(chapter)
    return recorder.table


def main() -> None:
    from lrcourse.checking.expected import EXPECTED_VISIBLE

    table = record()
    EXPECTED_VISIBLE.write_text(json.dumps(table, sort_keys=True, indent=0) + "\n")
    cases = sum(len(entries) for entries in table.values())
    print(f"{EXPECTED_VISIBLE.relative_to(ROOT)}: {cases} visible cases", file=sys.stderr)


if __name__ == "__main__":
    main()
