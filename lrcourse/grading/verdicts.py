"""Trusted verdicts: every autograded test cell's score decided in the grader's process.

nbgrader runs a student's whole notebook in one kernel, test cells included, and scores a test cell by
whether it raised. Everything in that kernel is the student's to change: the checker, the reference, the
exception handling of the cells that follow. So `lrcourse grade` decides the scores again, here:

1. the student's answer cells are read from the submitted notebook file (by nbgrader grade_id);
2. a fresh process of the student's own (`student_process`, forked from a zygote) runs the chapter's setup
   cell, from the instructor's `source/`, then those answer cells, and nothing else of the student's;
3. every autograded test cell, with its hidden tests as nbgrader's gradebook stores them, runs in this
   process, with each name an answer cell defines standing for the student's object over there
   (`RemoteAnswer`). The checkers' observers run over there, their judges here: PyTorch's expected
   values are computed here and never sent (`lrcourse.checking`);
4. a test cell that raises scores 0, one that completes scores its points; the scores go into nbgrader's
   gradebook in place of the kernel's, and every cell where the kernel said otherwise is reported as
   "in-kernel result overridden".

The student's process can answer with anything, or not at all: an answer is an observation to compare,
a silence past the deadline is a timeout, and neither can reach the comparison.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lrcourse import checking
from lrcourse import wire

VERDICTS = ".lrcourse-verdicts.json"
LOAD_SECONDS = 30.0     # the setup and answer cells, like nbgrader's per-cell timeout
MARGIN_SECONDS = 5.0    # beyond an observer's own budget, before the student's process is killed
START_SECONDS = 120.0   # a zygote importing torch on a busy machine
# Answers that receive a PyTorch scheduler from the test (a training loop) keep torch.optim.lr_scheduler in
# their process: those named here, and answer cells whose metadata says {"lrcourse": {"uses_schedulers": true}}.
# Every other answer's process has none to use.
USES_SCHEDULERS = {"fit_per_step"}


class AnswerTimeout(Exception):
    pass


class GraderFault(Exception):
    """The grader's side failed (its student-process zygote did not fork): no verdict, try again."""


# --------------------------------------------------------------------------------------------
# The processes on the student's side
# --------------------------------------------------------------------------------------------
class Zygote:
    """A process that has imported torch once and forks a fresh child per student notebook.

    With `limits` it runs in a sandbox of its own (`lrcourse.grading.sandbox`) where, unless
    `allow_schedulers` (see USES_SCHEDULERS), even the file of torch.optim.lr_scheduler is the stub.
    """

    def __init__(self, allow_schedulers: bool = False, limits=None):
        self.allow_schedulers = allow_schedulers
        self.limits = limits
        self.sandbox = None
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-I", "-m", "lrcourse.grading.student_process", "--zygote", str(theirs.fileno()),
                   *(["--allow-schedulers"] if self.allow_schedulers else [])]
        if self.limits is not None:
            from lrcourse.grading.sandbox import Sandbox, stub_for_lr_scheduler

            hide = {} if self.allow_schedulers else stub_for_lr_scheduler()
            self.sandbox = Sandbox(self.limits, hide=hide)
            command = self.sandbox.command([*command, "--sweep"])
        self.process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        theirs.close()
        self.control = ours
        ours.settimeout(START_SECONDS)
        try:
            ready = _read_line(ours)
        except (OSError, EOFError, AnswerTimeout):
            ready = b""
        if ready != b"ready":
            why = self._stop_and_explain()
            raise RuntimeError(f"the process that runs students' answers did not start: {why}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def fork(self) -> "StudentProcess":
        ours, theirs = socket.socketpair()
        try:
            if not self.alive():
                self.start()
            self.control.settimeout(30)
            socket.send_fds(self.control, [b"fork"], [theirs.fileno()])
            pid = int(_read_line(self.control))
        except (OSError, ValueError, EOFError, AnswerTimeout, RuntimeError) as error:
            self.stop()  # a zygote that does not answer is replaced on the next fork
            ours.close()
            raise GraderFault(f"could not start a process for the answer: {error}") from error
        finally:
            theirs.close()
        return StudentProcess(self, ours, pid)

    def kill(self, pid: int) -> None:
        if self.alive():
            try:
                self.control.sendall(f"kill {pid}\n".encode())
                _read_line(self.control)
            except (OSError, AnswerTimeout):
                self.stop()

    def stop(self) -> None:
        if self.process is None:
            return
        self.control.close()
        _kill_group(self.process.pid)
        self.process.kill()
        self.process.wait()
        self.process.stderr.close()
        self.process = None
        self._close_sandbox()

    def _stop_and_explain(self) -> str:
        self.control.close()
        self.process.kill()
        _, err = self.process.communicate()
        self.process = None
        self._close_sandbox()
        return (err or b"").decode(errors="replace").strip()[-2000:] or "no message"

    def _close_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


def _kill_group(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_line(sock: socket.socket, limit: int = wire.MAX_MESSAGE) -> bytes:
    """One line from the socket (without its newline), within the socket's timeout and `limit` bytes."""
    chunks, size = [], 0
    while True:
        try:
            chunk = sock.recv(65536, socket.MSG_PEEK)
        except socket.timeout:
            raise AnswerTimeout() from None
        if not chunk:
            raise EOFError("the process closed the connection")
        end = chunk.find(b"\n")
        take = sock.recv(end + 1 if end >= 0 else len(chunk))
        chunks.append(take)
        size += len(take)
        if end >= 0:
            return b"".join(chunks)[:-1]
        if size > limit:
            raise wire.Malformed("answer too large")


class StudentProcess:
    """One forked child running one student's answers; every request has a deadline."""

    def __init__(self, zygote: Zygote, sock: socket.socket, pid: int):
        self.zygote, self.sock, self.pid = zygote, sock, pid
        self.dead = False

    def request(self, message: dict, seconds: float) -> dict:
        if self.dead:
            raise EOFError("the process running your answer has stopped")
        try:
            self.sock.settimeout(seconds)
            self.sock.sendall(wire.dumps(message))
            return wire.loads(_read_line(self.sock))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if not self.dead:
            self.dead = True
            self.sock.close()
            self.zygote.kill(self.pid)


# --------------------------------------------------------------------------------------------
# The student's answers, as names in the grader's process
# --------------------------------------------------------------------------------------------
class Session:
    """A student's answer cells loaded in a child; a new child if the last one died or timed out."""

    def __init__(self, zygote: Zygote, context: list[str], answers: list[str]):
        self.zygote, self.context, self.answers = zygote, context, answers
        self.process: StudentProcess | None = None
        self.load_error: BaseException | None = None
        self.unloadable: str | None = None
        self.resolved: dict = {}

    def request(self, message: dict, seconds: float) -> dict:
        if self.unloadable:
            raise AssertionError(self.unloadable)
        if self.process is None or self.process.dead:
            self._load()
        return self.process.request(message, seconds)

    def resolve(self, name: str):
        """What a test cell sees for `name` (see RemoteAnswer.resolved), asked once per loaded process."""
        if self.process is None or self.process.dead:
            self.resolved = {}
        if name not in self.resolved:
            self.resolved[name] = RemoteAnswer(self, name).resolved()
        return self.resolved[name]

    def _load(self) -> None:
        self.resolved = {}
        self.process = self.zygote.fork()
        try:
            reply = self.process.request({"op": "load", "context": self.context, "answers": self.answers},
                                         LOAD_SECONDS)
        except AnswerTimeout:
            self.unloadable = f"your answer cells did not finish running within {LOAD_SECONDS:.0f} s"
        except (EOFError, OSError, wire.Malformed) as error:
            self.unloadable = f"running your answer cells stopped the process ({error})"
        else:
            if not reply.get("ok"):
                self.unloadable = f"the chapter's setup failed: {wire.decode_error(reply.get('error'))}"
            elif reply.get("error") is not None:
                self.load_error = wire.decode_error(reply["error"])
        if self.unloadable:
            raise AssertionError(self.unloadable)

    def close(self) -> None:
        if self.process is not None:
            self.process.close()


class RemoteAnswer(checking.RemoteTarget):
    """A name one of the student's answer cells defines, living in the student's process."""

    def __init__(self, session: Session, name: str):
        self.session, self.name = session, name

    def __repr__(self) -> str:
        return self.name

    def _ask(self, message: dict, seconds: float) -> dict:
        try:
            reply = self.session.request({**message, "target": self.name}, seconds + MARGIN_SECONDS)
        except (EOFError, OSError) as error:
            raise AssertionError(f"{self.name}: the process running your answer stopped ({error})") from None
        if not reply.get("ok"):
            error = wire.decode_error(reply.get("error"))
            if isinstance(error, NameError) and self.session.load_error is not None:
                load = self.session.load_error
                raise AssertionError(f"{error} (your answer cell raised {type(load).__name__}: {load})")
            raise error
        return reply

    def resolved(self):
        """What the test cell sees: the plain data the name holds (a prediction), or this stand-in to call."""
        try:
            reply = self._ask({"op": "value"}, checking.SECONDS_PER_CASE)
        except GraderFault:
            raise
        except (Exception, checking.StudentTimeout) as error:
            return Undefined(self.name, error)  # undefined, broken or unresponsive: any use says why
        return self if reply.get("callable", True) else wire.decode(reply.get("value"))


    def observe(self, observer: str, payload: dict) -> dict:
        seconds = _observer_seconds(observer, payload)
        try:
            reply = self._ask({"op": "observe", "observer": observer, "payload": payload}, seconds)
        except AnswerTimeout:
            return {"timeout": True, "states": [], "error": None, "seconds": seconds, "calls": [], "value": None,
                    "forbidden": None, "wrapped": None, "last_epoch": None, "order_warning": False}
        return checking.decode_observation(reply.get("observation"))

    def __call__(self, *args, **kwargs):
        optimizers: list = []
        message = {"op": "call", "args": [_encode_argument(a, optimizers) for a in args],
                   "kwargs": {k: _encode_argument(v, optimizers) for k, v in kwargs.items()},
                   "seconds": checking.SECONDS_PER_CASE}
        try:
            reply = self._ask(message, checking.SECONDS_PER_CASE)
        except AnswerTimeout:
            raise AssertionError(f"{self.name}(...) did not finish within {checking.SECONDS_PER_CASE:.0f} s") from None
        for optimizer, rates in zip(optimizers, reply.get("optimizers", [])):
            rates = wire.decode(rates)
            for group, rate in zip(optimizer.param_groups, rates if isinstance(rates, list) else []):
                group["lr"] = rate
        if reply.get("timeout"):
            raise AssertionError(f"{self.name}(...) did not finish within {checking.SECONDS_PER_CASE:.0f} s")
        if reply.get("error") is not None:
            raise wire.decode_error(reply["error"])
        return wire.decode(reply.get("value"))


class Undefined(checking.RemoteTarget):
    """A name the student's answer cells do not define (or whose process did not answer): every use of it in
    a test cell fails with the reason, as a NameError would in the notebook."""

    def __init__(self, name: str, why: BaseException):
        self.name, self.why = name, why

    def _fail(self, *args, **kwargs):
        raise AssertionError(str(self.why) if isinstance(self.why, AssertionError) else
                             f"{self.name}: {type(self.why).__name__}: {self.why}")

    def __repr__(self) -> str:
        return f"<not defined: {self.why}>"

    observe = __call__ = __iter__ = __len__ = __getitem__ = __float__ = __int__ = __bool__ = __eq__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = __contains__ = __index__ = _fail
    __hash__ = object.__hash__


def _encode_argument(value, optimizers: list):
    import torch

    if isinstance(value, torch.optim.Optimizer):
        optimizers.append(value)
        return wire.encode({"optimizer": type(value).__name__, "lrs": [g["lr"] for g in value.param_groups]})
    return wire.encode(value)


def _observer_seconds(observer: str, payload: dict) -> float:
    if observer == "scheduler":
        return checking.case_seconds(payload["case"])
    if observer in ("fit_steps", "range_test"):
        return 30.0
    return checking.SECONDS_PER_CASE


# --------------------------------------------------------------------------------------------
# An assignment's exercises, from the instructor's side
# --------------------------------------------------------------------------------------------
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def visible_part(source: str) -> str:
    """A test cell as the student saw it: without its hidden tests (what the kernel runs)."""
    kept, hiding = [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN[0]:
            hiding = True
        elif line.strip() == HIDDEN[1]:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "\n".join(kept)


@dataclass
class TestCell:
    name: str
    source: str
    points: float

    @property
    def visible_source(self) -> str:
        return visible_part(self.source)


@dataclass
class Exercise:
    """What the grader needs of one chapter: setup, answer cells (and the names they define), tests."""

    notebook: str
    context: list[str]
    answers: dict[str, list[str]]   # answer cell grade_id -> names it defines
    tests: list[TestCell]
    allows_schedulers: bool = False


def load_exercise(course: Path, assignment: str, gradebook) -> Exercise:
    """The context and answer cells from source/, the test cells and points from nbgrader's gradebook.

    The context is what an answer may use besides itself: the cell with id "setup" and any code cell whose
    metadata says {"lrcourse": {"context": true}} (definitions the chapter shows, such as its model), run in
    notebook order before the answer cells, in the student's process and in the grader's. Keep them cheap.
    """
    import nbformat

    [path] = sorted((course / "source" / assignment).glob("*.ipynb"))
    notebook = nbformat.read(path, as_version=4)
    context = [cell.source for cell in notebook.cells if cell.cell_type == "code" and (
        cell.get("id") == "setup" or cell.metadata.get("lrcourse", {}).get("context"))]
    answers, allows_schedulers = {}, False
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            answers[meta["grade_id"]] = _defined_names(cell.source)
            allows_schedulers |= meta["grade_id"] in USES_SCHEDULERS or bool(
                cell.metadata.get("lrcourse", {}).get("uses_schedulers"))
    stored = gradebook.find_notebook(path.stem, assignment)
    solutions = {cell.name for cell in stored.solution_cells}
    sources = {cell.name: cell.source for cell in stored.source_cells}
    tests = [TestCell(cell.name, sources[cell.name], float(cell.max_score)) for cell in stored.grade_cells
             if cell.cell_type == "code" and cell.name not in solutions]
    order = {cell.metadata.get("nbgrader", {}).get("grade_id"): i for i, cell in enumerate(notebook.cells)}
    tests.sort(key=lambda test: order.get(test.name, len(order)))
    return Exercise(path.stem, context, answers, tests, allows_schedulers)


def _defined_names(source: str) -> list[str]:
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return names


def submitted_answers(path: Path, answer_ids) -> list[str]:
    """The student's answer cells, in notebook order, found by their nbgrader grade_id (or cell id)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    sources = []
    for cell in raw.get("cells", []) if isinstance(raw, dict) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        if nbgrader.get("grade_id", cell.get("id")) in answer_ids:
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


# --------------------------------------------------------------------------------------------
# Deciding
# --------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    points: float
    trusted_score: float
    in_kernel_score: float | None = None
    message: str = ""   # the first line of why the cell failed ("" if it passed)
    detail: str = ""    # all of it, as the student's feedback shows it
    visible_score: float | None = None  # the trusted score of the visible part alone (what the kernel ran)


@dataclass
class Verdicts:
    cells: dict[str, Verdict] = field(default_factory=dict)

    @property
    def overridden(self) -> list[str]:
        """Cells where the kernel's result differs from the trusted one for the same tests: something in the
        kernel changed what its test cells reported."""
        return [name for name, v in self.cells.items() if v.in_kernel_score is not None
                and v.in_kernel_score != (v.trusted_score if v.visible_score is None else v.visible_score)]

    @property
    def corrected(self) -> list[str]:
        """Cells whose trusted score differs from the kernel's (overridden, or failed in hidden tests only)."""
        return [name for name, v in self.cells.items()
                if v.in_kernel_score is not None and v.in_kernel_score != v.trusted_score]

    @property
    def score(self) -> float:
        return sum(v.trusted_score for v in self.cells.values())

    def to_json(self) -> str:
        return json.dumps({"cells": {name: asdict(v) for name, v in self.cells.items()},
                           "overridden": self.overridden, "corrected": self.corrected}, indent=1)


class Judge:
    """Decides test cells in this process; one per grading worker (it keeps its zygotes and setups)."""

    def __init__(self, limits=None):
        """`limits`: run the students' answers in sandboxes with these limits (None: unsandboxed)."""
        self.zygotes = {flag: Zygote(flag, limits) for flag in (False, True)}
        self._setups: dict[tuple, dict] = {}

    def close(self) -> None:
        for zygote in self.zygotes.values():
            zygote.stop()

    def decide(self, exercise: Exercise, answers: list[str]) -> Verdicts:
        session = Session(self.zygotes[exercise.allows_schedulers], exercise.context, answers)
        verdicts = Verdicts()
        try:
            for test in exercise.tests:
                detail = self._run_test(exercise, test.source, test.name, session)
                verdict = Verdict(test.points, 0.0 if detail else test.points,
                                  message=detail.splitlines()[0] if detail else "", detail=detail)
                visible = test.visible_source
                if visible != test.source:
                    verdict.visible_score = test.points if not self._run_test(
                        exercise, visible, test.name, session) else 0.0
                verdicts.cells[test.name] = verdict
        finally:
            session.close()
        return verdicts

    def _run_test(self, exercise: Exercise, source: str, name: str, session: Session) -> str:
        """'' if the test cell completes, else why not."""
        namespace = dict(self._setup(exercise))
        try:
            for names in exercise.answers.values():
                namespace.update({name: session.resolve(name) for name in names})
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                exec(compile(source, f"<test cell {name}>", "exec"), namespace)
        except GraderFault:
            raise
        except (Exception, checking.StudentTimeout) as error:
            return _explain(error)
        return ""

    def _setup(self, exercise: Exercise) -> dict:
        """The chapter's setup cell run once here, in the grader's process (the instructor's code)."""
        key = tuple(exercise.context)
        if key not in self._setups:
            namespace = {"__name__": "__lrcourse_tests__"}
            with contextlib.redirect_stdout(io.StringIO()):
                for source in exercise.context:
                    exec(compile(source, "<setup cell>", "exec"), namespace)
            self._setups[key] = namespace
        return self._setups[key]


def _explain(error: BaseException) -> str:
    name = "AssertionError" if isinstance(error, AssertionError) else type(error).__name__
    return f"{name}: {str(error).strip()}"[:3000]


def annotate(path: Path, verdicts: Verdicts) -> None:
    """Where the trusted verdict differs from the kernel's, say so in the graded notebook's test cell (its
    feedback shows it): the kernel's outputs are replaced by the grader's own result."""
    import nbformat

    if not verdicts.corrected or not path.exists():
        return
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name in verdicts.corrected:
            verdict = verdicts.cells[name]
            note = ("The grader checked this cell again outside your notebook, and that result stands: "
                    + ("passed." if not verdict.message else "failed.") + "\n")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=note)]
            if verdict.message:
                ename, _, evalue = verdict.detail.partition(": ")
                cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                                           traceback=verdict.detail.splitlines()))
    nbformat.write(notebook, path)


def write(folder: Path, verdicts: Verdicts) -> Path:
    path = folder / VERDICTS
    path.write_text(verdicts.to_json())
    return path


__all__ = ["annotate", "Exercise", "Judge", "Verdict", "Verdicts", "Zygote", "load_exercise", "submitted_answers", "write",
           "VERDICTS", "os"]
