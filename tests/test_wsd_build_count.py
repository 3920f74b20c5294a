"""How many times chapter 7's cells build and run the student's `wsd_factor`, against what ex-md tells the student of
the notebook's 420 s (issue 24, R24u: "about two dozen runs" understated it). A counting factor is run through the
cells in this process: in the kernel, the ex-try cell and the test cells without their hidden tests (the worker keeps
those out of the kernel, `keep_hidden_tests_out_of_the_kernel`); under the grader, every test cell with its hidden
tests, each observation asked once per student (`observe.OBSERVED_ONCE`) and each resume three factors (the run, the
steps out of order, the resumed run: `wsd_resume._legs`)."""

from __future__ import annotations

import ast
import json
import re

import nbformat

from lrcourse.build import ROOT
from lrcourse.checking import wsd as judges
from lrcourse.checking.observe import OBSERVED_ONCE

TESTS = ("test_wsd_warmup", "test_wsd_decay", "test_wsd_edges", "test_wsd_resume")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n", re.S)


def counting_factor(builds: list):
    def wsd_factor(warmup, stable, decay, start):
        builds.append((warmup, stable, decay, start))
        total = warmup + stable + decay

        def factor(step):
            if step < warmup:
                return start + (1 - start) * step / warmup
            return 1.0 if step < warmup + stable else max(0.0, (total - step) / decay) ** 2

        return factor

    return wsd_factor


def definitions(cells) -> dict:
    """The setup cell and the functions the ex-try cell calls (dry_run, sequential_wsd), from the cells that define
    them."""
    namespace = {}
    exec(next(cell.source for cell in cells if cell.get("id") == "setup"), namespace)
    for cell in cells:
        if cell.cell_type == "code" and ("def dry_run" in cell.source or "def sequential_wsd" in cell.source):
            tree = ast.parse(cell.source)
            tree.body = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))]
            exec(compile(tree, cell.id, "exec"), namespace)
    return namespace


def test_ex_md_states_how_many_times_the_cells_run_the_factor(monkeypatch):
    cells = nbformat.read(ROOT / "source/07_practice/practice.ipynb", 4).cells
    source = {cell.get("id"): cell.source for cell in cells}
    builds, observed = [], []
    observe, resume_run = judges.observe, judges.resume_run
    monkeypatch.setattr(judges, "observe", lambda *a: observed.append(json.dumps(a[2], sort_keys=True)) or observe(*a))
    monkeypatch.setattr(judges, "resume_run", lambda *a: observed.append("resume") or resume_run(*a))
    namespace = definitions(cells) | {"wsd_factor": counting_factor(builds)}

    for cell in ("ex-try", *TESTS):
        exec(HIDDEN.sub("", source[cell]), namespace)
    in_kernel = len(builds)
    del observed[:]
    for cell in TESTS:
        exec(source[cell], namespace)
    assert "wsd" in OBSERVED_ONCE
    resumes = observed.count("resume")
    by_grader = len(set(observed) - {"resume"}) + 3 * resumes

    text = re.sub(r"\s+", " ", source["ex-md"])
    total = in_kernel + by_grader
    assert (in_kernel, by_grader, total) == (11, 30, 41)
    assert (
        f"your factor runs {total} times, each from a new `wsd_factor(...)` ({in_kernel} as the notebook's own cells "
        f"run, {by_grader} as the grader runs every test" in text
    )
    # 41 waits of 9 s are 369 s, and the notebook's other cells take more than the 51 s left (R24u, graded for real:
    # 8 s a run, 435 s on the clock in all, 115 s of it not the waits)
    seconds = re.search(r"c\.Sandbox\.student_seconds = (\d+)", (ROOT / "nbgrader_config.py").read_text())[1]
    assert (
        f"{seconds} s on the clock, in which" in text and f"waits {(int(seconds) - 20) // total} s on every run" in text
    )
