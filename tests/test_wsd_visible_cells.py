"""Chapter 7's visible test cells, as released (no hidden tests), run in this process: what each "passed" message says
is what that cell checked (issue 24, R24z's M1 and N1). The edges cell's message names one-step phases, no stable
phase and start_factor=1, so its visible cases hold each of them, and it fails a slip at start_factor=1 (R24z: "no
warm-up when start_factor is 1" passed the visible cell, and so printed that start_factor=1 was right, then lost the
hidden edges point)."""

from __future__ import annotations

import ast
import math

import nbformat
import numpy as np
import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from lrcourse.build import ROOT
from lrcourse.checking import CheckFailed, expected

from catalogue.wsd import WSD_REFERENCE, wsd_variant

TESTS = ("test_wsd_warmup", "test_wsd_decay", "test_wsd_edges", "test_wsd_resume")
# R24z: start_factor=1 taken for no warm-up; right wherever start_factor < 1
NO_WARMUP_AT_ONE = wsd_variant(
    "    total = warmup_steps + stable_steps + decay_steps\n",
    "    if start_factor == 1:\n        warmup_steps = 0\n    total = warmup_steps + stable_steps + decay_steps\n",
)


def released_cells() -> dict[str, str]:
    cells = nbformat.read(ROOT / "notebooks/07_practice/practice.ipynb", 4).cells
    return {cell.get("id"): cell.source for cell in cells if cell.get("id") in TESTS}


def run_cell(source: str, answer: str) -> None:
    """The cell, run after `answer`'s cell and what the chapter's setup imports (its message goes to stdout)."""
    namespace = {"math": math, "np": np, "torch": torch, "nn": nn, "lr_scheduler": lr_scheduler}
    exec(answer, namespace)
    exec(source, namespace)


def passed_message(source: str) -> str:
    [call] = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "passed"
    ]
    return ast.literal_eval(call.args[0])


def visible_edge_cases(source: str) -> list[tuple]:
    [call] = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "check_wsd_edges"
    ]
    return ast.literal_eval(call.args[1])


@pytest.mark.parametrize("cell", TESTS)
def test_each_passed_message_speaks_of_the_schedules_its_cell_checks(cell):
    source = released_cells()[cell]
    assert "### BEGIN HIDDEN TESTS" not in source
    assert "in each schedule checked here" in passed_message(source)


def test_the_visible_edges_cases_hold_every_edge_the_message_names():
    source = released_cells()["test_wsd_edges"]
    message, cases = passed_message(source), visible_edge_cases(source)
    named = {
        "one-step phases": lambda warmup, stable, decay, start: warmup == 1 and decay == 1,
        "no stable phase": lambda warmup, stable, decay, start: stable == 0,
        "start_factor=1": lambda warmup, stable, decay, start: start == 1,
    }
    for words, holds in named.items():
        assert words in message and any(holds(*case) for case in cases), (words, cases)


def test_the_visible_edges_cell_passes_the_reference_and_fails_start_factor_1_taken_for_no_warm_up(capsys, monkeypatch):
    """As in a student's kernel: grader/references.py is not there, so each visible case's rates are read from
    lrcourse/expected_visible.json (a case missing there fails every answer, the reference too)."""
    monkeypatch.setattr(expected, "grader_references", lambda: None)
    source = released_cells()["test_wsd_edges"]
    run_cell(source, WSD_REFERENCE)
    assert passed_message(source) in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"start_factor=1\.0\)\): at step 1, the warm-up's step 2 of 4"):
        run_cell(source, NO_WARMUP_AT_ONE)
    assert passed_message(source) not in capsys.readouterr().out
