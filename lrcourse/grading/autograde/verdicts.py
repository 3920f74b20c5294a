"""Trusted verdicts: every autograded test cell's score decided in the grader's process.

nbgrader runs a student's whole notebook in one kernel, test cells included, and scores a test cell by
whether it raised. Everything in that kernel is the student's to change: the checker, the reference, the
exception handling of the cells that follow. So `lrcourse grade` decides the scores again, here:

1. the student's answer cells are read from the submitted notebook file (by nbgrader grade_id);
2. a fresh process of the student's own (`answer_zygote`, forked from a zygote) runs the chapter's context
   cells (`lrcourse.cells`), from the instructor's `source/`, then those answer cells, and nothing else of the student's;
3. every autograded test cell, with its hidden tests as nbgrader's gradebook stores them, runs in this
   process, with each name an answer cell defines standing for the student's object over there
   (`RemoteAnswer`). The checkers' observers run over there, their judges here: PyTorch's expected
   values are computed here and never sent (`lrcourse.checking`);
4. a test cell that raises scores 0, one that completes scores its points; the scores go into nbgrader's
   gradebook in place of the kernel's, and every cell where the kernel said otherwise is reported as
   "in-kernel result overridden".

The student's process can answer with anything, or not at all: an answer is an observation to compare,
a silence past the deadline is a timeout, and neither can reach the comparison.

This module only decides; it writes nothing (the worker saves the verdicts with `verdict_files`).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from dataclasses import asdict, dataclass, field

from lrcourse import checking
from lrcourse.checking.guard import StudentTimeout
from lrcourse.checking.saved_answer import TRUSTED_TESTS
from lrcourse.grading.autograde.remote import Session, Undefined
from lrcourse.grading.exercise import Exercise
from lrcourse.grading.sandbox.answers import AnswerZygoteHandle
from lrcourse.grading.sandbox.zygote import ZygoteFault


@dataclass
class Verdict:
    points: float
    trusted_score: float
    in_kernel_score: float | None = None
    message: str = ""  # the first line of why the cell failed ("" if it passed)
    detail: str = ""  # all of it, as the student's feedback shows it
    visible_score: float | None = None  # the trusted score of the visible part alone (what the kernel ran)


@dataclass
class Verdicts:
    cells: dict[str, Verdict] = field(default_factory=dict)
    out_of_time: list[str] = field(default_factory=list)  # cells the student's time budget cut short (score 0)

    @property
    def overridden(self) -> list[str]:
        """Cells where the kernel's result differs from the trusted one for the same tests: something in the
        kernel changed what its test cells reported (not cells the student's time budget left unchecked)."""
        return [
            name
            for name, v in self.cells.items()
            if v.in_kernel_score is not None
            and name not in self.out_of_time
            and v.in_kernel_score != (v.trusted_score if v.visible_score is None else v.visible_score)
        ]

    @property
    def corrected(self) -> list[str]:
        """Cells whose trusted score differs from the kernel's (overridden, or failed in hidden tests only)."""
        return [
            name
            for name, v in self.cells.items()
            if v.in_kernel_score is not None and v.in_kernel_score != v.trusted_score
        ]

    @property
    def score(self) -> float:
        return sum(v.trusted_score for v in self.cells.values())

    def to_json(self) -> str:
        return json.dumps(
            {
                "cells": {name: asdict(v) for name, v in self.cells.items()},
                "overridden": self.overridden,
                "corrected": self.corrected,
                "out_of_time": self.out_of_time,
            },
            indent=1,
        )


class Judge:
    """Decides test cells in this process; one per grading worker (it keeps its zygotes and each chapter's context)."""

    def __init__(self, limits=None, env: dict[str, str] | None = None):
        """`limits`: run the students' answers in sandboxes with these limits (None: unsandboxed). `env`: the answers'
        processes' whole environment (None: this process's; the saved-notebook check gives the sandbox's)."""
        self.handles = {flag: AnswerZygoteHandle(flag, limits, env) for flag in (False, True)}
        self._contexts: dict[tuple, dict] = {}

    def close(self) -> None:
        for handle in self.handles.values():
            handle.stop()

    def ready(self, exercise: Exercise) -> None:
        """The exercise's zygote started (outside any student's time budget), with what its context imports already
        imported, so each student's child does not import it again (scikit-learn: about 1 CPU-s a student of
        chapters 5 and 6). A zygote already running keeps what it has: a child imports the rest, as before."""
        handle = self.handles[exercise.allows_schedulers]
        handle.modules = exercise.context_modules
        handle.ready()

    def decide(
        self,
        exercise: Exercise,
        answers: list[tuple[str, str]],
        deadline: float | None = None,
        budget: str = "time budget",
    ) -> Verdicts:
        """Every test cell's trusted verdict, from the answer cells as (grade_id, source); past `deadline`
        (time.monotonic()) the rest fail with `budget`."""
        handle = self.handles[exercise.allows_schedulers]
        session = Session(handle, exercise.context, answers, deadline, budget, defines=exercise.answers)
        verdicts = Verdicts()
        try:
            for test in exercise.tests:
                detail = self._run_test(exercise, test.source, test.name, session)
                if detail and session.out_of_time:
                    verdicts.out_of_time.append(test.name)
                verdict = Verdict(
                    test.points,
                    0.0 if detail else test.points,
                    message=detail.splitlines()[0] if detail else "",
                    detail=detail,
                )
                visible = test.visible_source
                if visible != test.source:
                    verdict.visible_score = (
                        test.points if not self._run_test(exercise, visible, test.name, session) else 0.0
                    )
                verdicts.cells[test.name] = verdict
        finally:
            session.close()
        return verdicts

    def _run_test(self, exercise: Exercise, source: str, name: str, session: Session) -> str:
        """'' if the test cell completes, else why not."""
        namespace = dict(self._context(exercise))
        try:
            for names in exercise.answers.values():
                namespace.update({name: session.resolve(name) for name in names})
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(source, f"<test cell {name}>", "exec"), namespace)
        except ZygoteFault:
            raise
        except (Exception, StudentTimeout) as error:
            return _explain(_cause(error, source, namespace))
        return ""

    def _context(self, exercise: Exercise) -> dict:
        """The chapter's context cells run once here, in the grader's process (the instructor's code)."""
        key = tuple(exercise.context)
        if key not in self._contexts:
            namespace = {"__name__": TRUSTED_TESTS}  # checks called from it read no notebook
            with contextlib.redirect_stdout(io.StringIO()):
                for source in exercise.context:
                    exec(compile(source, "<context cell>", "exec"), namespace)
            self._contexts[key] = namespace
        return self._contexts[key]


def _cause(error: BaseException, source: str, namespace: dict) -> BaseException:
    """Why a test cell failed: if it reads an answer's name the student's cells do not define, that reason (an
    unanswered prediction's test says its cell raised NotImplementedError, not that `isinstance` found no
    number), else the error it raised."""
    try:
        read = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    except SyntaxError:
        return error
    undefined = [namespace[name] for name in sorted(read) if isinstance(namespace.get(name), Undefined)]
    return undefined[0].failure() if undefined else error


def _explain(error: BaseException) -> str:
    """`<name>: <message>`: a failed check by its own name (as the student's kernel shows it), any other
    assertion (a plain `assert`, the time budget) as AssertionError, else the error's name."""
    checked = isinstance(error, checking.CheckFailed)
    name = type(error).__name__ if checked or not isinstance(error, AssertionError) else "AssertionError"
    return f"{name}: {str(error).strip()}"[:3000]
