"""Chapter 7's ban on PyTorch's schedulers holds where `lrcourse grade` decides the scores: the answer process runs
without them (`no_lr_scheduler`, module and file), so the five dodges of a profile hook (tests/catalogue/wsd_dodges.py)
read nothing off them. Here, where PyTorch's schedulers exist, each dodge's table is the schedule (so what costs it
its marks is the ban, not a wrong table); in the trusted verdicts' sandbox each loses every test cell, saying why,
while the same table computed by hand, the same ways, and the instructor's solution keep full marks. The whole
grading of these answers, through nbgrader, is tests/test_grading_fidelity.py::TestPractice."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from lrcourse.checking import wsd_observer
from lrcourse.grading.autograde import verdicts
from lrcourse.grading.exercise import load_exercise
from lrcourse.grading.sandbox.limits import Limits

from catalogue.wsd_dodges import WSD_CONTROLS, WSD_FORBIDDEN
from support.course import make_course, solution_answers

CHAPTER = "07_practice"
# How each dodge fails in the answer process: the stub's ForbiddenUse, reported as such; a thread's never reaches
# the observer, so its table is empty.
REASONS = {a.name: "used PyTorch's schedulers: torch.optim.lr_scheduler is not available" for a in WSD_FORBIDDEN}
REASONS["table_read_in_a_thread"] = "raised IndexError"


def closed_form(step: int, warmup: int, stable: int, decay: int, start: float) -> float:
    if step < warmup:
        return start + (1 - start) * step / warmup
    return 1.0 if step < warmup + stable else max(0.0, (warmup + stable + decay - step) / decay) ** 2


@pytest.mark.parametrize("answer", WSD_FORBIDDEN + WSD_CONTROLS, ids=lambda a: a.name)
def test_where_pytorch_s_schedulers_exist_each_table_is_the_schedule(answer, monkeypatch):
    monkeypatch.setattr(
        wsd_observer.SchedulerUse, "profile", wsd_observer.SchedulerUse.profile
    )  # put back after the patching dodge
    namespace = {"math": math, "np": np, "torch": torch, "nn": nn, "lr_scheduler": lr_scheduler}
    exec(answer.source, namespace)
    for case in [(5, 10, 5, 0.1), (1, 0, 1, 0.5), (4, 0, 3, 1.0), (27, 189, 54, 1 / 27)]:
        factor = namespace["wsd_factor"](*case)
        total = sum(case[:3])
        got = [factor(step) for step in range(2 * total + 1)]
        assert np.allclose(got, [closed_form(step, *case) for step in range(2 * total + 1)], rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def chapter7(tmp_path_factory):
    """Chapter 7's exercise as the grader loads it, and a judge whose answer processes run in the sandbox."""
    from lrcourse.gradebook_db import gradebook

    course = make_course(tmp_path_factory.mktemp("wsd-ban"), [CHAPTER])
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        exercise = load_exercise(course, CHAPTER, book)
    judge = verdicts.Judge(Limits())
    yield judge, exercise
    judge.close()


def decide(chapter7, source: str | None = None) -> dict:
    judge, exercise = chapter7
    answers = solution_answers(CHAPTER) | ({"wsd_factor": source} if source is not None else {})
    cells = judge.decide(exercise, list(answers.items())).cells
    return {name: cell for name, cell in cells.items() if name.startswith("test_wsd")}


@pytest.mark.slow
def test_the_answer_process_has_no_pytorch_schedulers_and_the_solution_keeps_full_marks(chapter7):
    _, exercise = chapter7
    assert not exercise.allows_schedulers  # the zygote with the stub in sys.modules and in place of the file
    cells = decide(chapter7)
    assert len(cells) == 4 and all(cell.trusted_score == cell.points for cell in cells.values()), cells


@pytest.mark.slow
@pytest.mark.parametrize("answer", WSD_FORBIDDEN, ids=lambda a: a.name)
def test_each_dodge_loses_every_cell_in_the_trusted_verdicts(chapter7, answer):
    cells = decide(chapter7, answer.source)
    assert len(cells) == 4
    for name, cell in cells.items():
        assert cell.trusted_score == 0, (name, cell)
        assert REASONS[answer.name] in cell.detail, (name, cell.detail)


@pytest.mark.slow
@pytest.mark.parametrize("answer", WSD_CONTROLS, ids=lambda a: a.name)
def test_the_same_table_computed_by_hand_keeps_full_marks(chapter7, answer):
    cells = decide(chapter7, answer.source)
    assert len(cells) == 4 and all(cell.trusted_score == cell.points for cell in cells.values()), cells
