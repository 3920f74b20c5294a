"""The student's side of a trusted verdict: a process that runs one student's answer cells and answers
the grader's requests about them. Nothing here decides anything: it only reports what the code did.

A *zygote* (`python -I -m lrcourse.grading.sandbox.answer_zygote ...`) imports torch and the course's helpers
once, then forks a fresh child for each student notebook the grader asks it to (milliseconds, instead of
the seconds a new interpreter needs). The grader hands the child one end of a socket pair; over it the
child receives the chapter's context cells and the student's answer cells, runs them, and then answers
requests one line of JSON at a time (`lrcourse.wire`):

    {"op": "observe", "observer": "scheduler", "target": "MyStepLR", "payload": {...}}  -> an observation
    {"op": "call", "target": "largest_stable_lr", "args": [...], "kwargs": {...}}       -> the value returned
    {"op": "value", "target": "predicted_epochs"}                  -> the plain data a name holds, if not callable
    {"op": "factor", "target": "wsd_factor", "do": "call", ...}      -> one request of chapter 7's resume

Everything the child sends is an observation that the grader compares with PyTorch in its own process;
the expected values never come here. For the scheduler exercises the zygote runs without PyTorch's
schedulers (`no_lr_scheduler`).
"""

from __future__ import annotations

import builtins
import os
import resource
import signal
import socket
import sys

from lrcourse.grading.sandbox import namespaces, zygote
from lrcourse.grading.sandbox.limits import Limits
from lrcourse.grading.sandbox.zygote import COURSE_MODULES

CPU_SECONDS = 120  # a backstop: the grader's own deadlines stop a child long before
# What an answer may import when it is first called, imported here so that its first case does not pay for it: SciPy's
# root finders (exercise 1.2 solved numerically, `from scipy.optimize import brentq` in the function). Imported under
# the guard's profiler that took 1.0 s on a quiet machine (0.3 s without), and more than the 3 s a case has on a loaded
# one, where a correct brentq answer lost its test cell (CI of stop 59).
ANSWER_LIBRARIES = ("scipy.optimize",)


# --------------------------------------------------------------------------------------------
# The zygote
# --------------------------------------------------------------------------------------------
def preload(allow_schedulers: bool, modules: list[str] = ()) -> None:
    """Import what every answer's chapter needs, and `modules` (what the chapter's context imports), once, before
    any fork. A module that does not import here is left to the child, which meets the error as it always did."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    if not allow_schedulers:
        from lrcourse.grading.sandbox import no_lr_scheduler

        sys.modules["torch.optim.lr_scheduler"] = no_lr_scheduler
    import warnings

    warnings.simplefilter("ignore")
    import importlib

    import numpy  # noqa: F401
    import torch

    for name in (*COURSE_MODULES, *ANSWER_LIBRARIES):
        importlib.import_module(name)
    from lrcourse.schedules import make_optimizer

    make_optimizer([0.1]).step()  # the first optimizer step imports torch._dynamo: pay it here, once
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the child imports it again and meets what it raises
            pass
    torch.set_num_threads(1)


def serve_forks(control: socket.socket, isolate: bool = False, tmp_mb: int = Limits.tmp_mb) -> None:
    """Fork a child for each socket the grader sends; kill a child when asked; stop when the grader does.

    `isolate` (in a sandbox of its own, where every other process is a student's): each child runs in
    namespaces of its own with a /tmp of `tmp_mb`, and killing a child also kills whatever else runs in the
    sandbox and empties /tmp (the sweep), so nothing of one student meets the next.
    """

    def kill(rest: str) -> bytes | None:
        words = rest.split()
        if len(words) != 1:
            return None
        pid = int(words[0])
        namespaces.kill_quietly(pid, group=True)  # its session's process group, then the child itself
        namespaces.kill_quietly(pid)
        if isolate:
            namespaces.sweep_sandbox()
        return b"killed\n"

    zygote.serve(control, lambda fd, _: _child(fd, isolate, tmp_mb), {"kill": kill})


# --------------------------------------------------------------------------------------------
# A child: one student's answers
# --------------------------------------------------------------------------------------------
def _child(fd: int, isolate: bool, tmp_mb: int) -> None:
    """Run in the forked child: never returns."""
    status = 0
    try:
        os.setsid()  # its own process group: the zygote can kill whatever it starts
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if isolate:
            _own_pid_namespace(tmp_mb)
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
        _silence()
        channel = socket.socket(fileno=fd)
        Child(channel).run()
    except BaseException:
        status = 1
    os._exit(status)


def _own_pid_namespace(tmp_mb: int) -> None:
    """Continue as the first process of new user, PID, IPC and mount namespaces (`namespaces.py`, no
    privilege needed) with a /tmp of its own: the student's code then cannot see or signal the zygote,
    whatever it starts dies with it, and nothing it leaves in IPC objects or /tmp meets the next student.
    The process in between waits and exits with it."""
    namespaces.enter_own_namespaces()
    pid = os.fork()
    if pid != 0:
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    namespaces.private_tmp(tmp_mb)


def _silence() -> None:
    """The student's printing goes nowhere: it must neither cost marks nor reach the protocol."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdin = open(os.devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")


class _Shell:
    """`get_ipython()` for answer cells that use a magic: every magic does nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class Child:
    def __init__(self, channel: socket.socket):
        self.channel = channel
        self.reader = channel.makefile("rb")
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": _Shell}
        self.factor_servers: dict = {}

    def send(self, message: dict) -> None:
        from lrcourse import wire

        try:
            data = wire.dumps(message)
        except (TypeError, ValueError) as error:  # an observer's record that is not plain data
            data = wire.dumps({"ok": False, "error": wire.encode_error(error)})
        self.channel.sendall(data)

    def run(self) -> None:
        from lrcourse import wire

        for line in self.reader:
            request = wire.loads(line)
            try:
                reply = self.handle(request)
            except BaseException as error:  # whatever the student's code raised: an observation
                reply = {"ok": False, "error": wire.encode_error(error)}
            self.send(reply)

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        if op == "load":
            return self.load(request)
        target = self.namespace.get(str(request.get("target")), _UNDEFINED)
        if target is _UNDEFINED:
            raise NameError(f"name {request.get('target')!r} is not defined by your answer cell")
        if op == "observe":
            from lrcourse.checking.observe import OBSERVERS

            return {"ok": True, "observation": OBSERVERS[request["observer"]](target, request["payload"])}
        if op == "call":
            return self.call(target, request)
        if op == "factor":  # chapter 7's resume, run by the grader: one call of the answer's factor, or its state
            return self.factor_server(str(request["target"]), target).serve(request)
        if op == "value":  # a name bound to plain data (a prediction), or something to drive by calls
            from lrcourse import wire

            return wire.value_reply(target)
        raise ValueError(f"unknown request {op!r}")

    def factor_server(self, name: str, factory):
        """The factors `name` built in this process, served by handle (`lrcourse.checking.factor_server`)."""
        from lrcourse.checking.factor_server import FactorServer

        if name not in self.factor_servers:
            self.factor_servers[name] = FactorServer(factory)
        return self.factor_servers[name]

    def load(self, request: dict) -> dict:
        """Run the chapter's context cells (the instructor's), then the student's answer cells, as a notebook would."""
        from lrcourse import wire

        for source in request["context"]:
            exec(compile(_python(source), "<context cell>", "exec"), self.namespace)
        errors = []  # each answer cell's own error (or None): the tests that use its names report it
        for number, source in enumerate(request["answers"]):  # each cell on its own, as nbgrader runs them:
            try:  # an unanswered prediction costs only its own test
                exec(compile(_python(source), f"<answer cell {number + 1}>", "exec"), self.namespace)
            except BaseException as error:
                errors.append(wire.encode_error(error))
            else:
                errors.append(None)
        return {"ok": True, "errors": errors}

    def call(self, function, request: dict) -> dict:
        """Call a function answer with the grader's arguments; report its value, and the optimizers' rates
        after the call (an answer may change them in place)."""
        from lrcourse import wire
        from lrcourse.checking.guard import SECONDS_PER_CASE, Guard

        optimizers = []
        args = [_argument(wire.decode(a), optimizers) for a in request.get("args", [])]
        kwargs = {str(k): _argument(wire.decode(v), optimizers) for k, v in request.get("kwargs", {}).items()}
        reply = wire.call_reply()
        Guard(float(request.get("seconds", SECONDS_PER_CASE))).record(reply, function, *args, **kwargs)
        reply["optimizers"] = [wire.encode([group["lr"] for group in o.param_groups]) for o in optimizers]
        return reply


_UNDEFINED = object()


def _python(source: str) -> str:
    """A cell's source as plain Python (IPython magics become calls of `get_ipython()`)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _argument(value, optimizers: list):
    """The grader sends an optimizer as {"optimizer": class name, "lrs": [...]}: build a real one."""
    if isinstance(value, dict) and set(value) == {"optimizer", "lrs"}:
        import torch

        kind = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}.get(value["optimizer"])
        groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": float(lr)} for lr in value["lrs"]]
        optimizer = kind(groups)
        optimizers.append(optimizer)
        return optimizer
    return value


def options(argv: list[str]) -> dict:
    """`--control FD [--allow-schedulers] [--isolate] [--tmp-mb N] [--preload A,B]`: FD is the grader's control socket;
    A and B modules imported before any fork (`preload`)."""
    tmp_mb = int(argv[argv.index("--tmp-mb") + 1]) if "--tmp-mb" in argv else Limits.tmp_mb
    modules = [name for name in argv[argv.index("--preload") + 1].split(",") if name] if "--preload" in argv else []
    control_fd = int(argv[argv.index(zygote.CONTROL) + 1])
    schedulers, isolate = "--allow-schedulers" in argv, zygote.ISOLATE in argv
    return {
        "control_fd": control_fd,
        "allow_schedulers": schedulers,
        "isolate": isolate,
        "tmp_mb": tmp_mb,
        "modules": modules,
    }


def main(argv: list[str]) -> None:
    given = options(argv)
    control = socket.socket(fileno=given["control_fd"])
    preload(allow_schedulers=given["allow_schedulers"], modules=given["modules"])
    namespaces.not_dumpable()
    control.sendall(b"ready\n")
    serve_forks(control, isolate=given["isolate"], tmp_mb=given["tmp_mb"])


if __name__ == "__main__":
    main(sys.argv[1:])
