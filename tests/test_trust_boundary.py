"""The pieces at the trust boundary, directly (fast): what crosses it, the stub scheduler module, the sandbox's
preconditions and settings. The end-to-end proofs are test_hostile.py and test_sandbox.py."""

import math

import pytest
import torch

from lrcourse import wire
from lrcourse.grading.sandbox import bwrap as sandbox, no_lr_scheduler


def test_values_cross_as_plain_data_and_come_back_as_stand_ins():
    value = {"lrs": [0.1, float("nan"), float("inf")], "t": torch.tensor([0.5]), "n": 3, "x": (1.0, None)}
    back = wire.decode(wire.encode(value))
    assert back["lrs"][0] == 0.1 and math.isnan(back["lrs"][1]) and back["lrs"][2] == math.inf
    assert isinstance(back["t"], torch.Tensor) and back["t"].item() == 0.5
    assert back["n"] == 3 and back["x"] == (1.0, None)


def test_a_students_object_crosses_only_as_its_name_and_text_and_equals_nothing():
    class Sneaky:
        def __eq__(self, other):
            return True

        def __float__(self):
            return 0.1

    back = wire.decode(wire.encode(Sneaky()))
    assert isinstance(back, wire.Opaque) and back != 0.1 and back != back


@pytest.mark.parametrize(
    "data",
    [
        {"plain": {"nested": 1}},
        {"int": "9" * 500},
        {"float": "0.1"},
        {"list": "abc"},
        {"tensor": [1.0]},
        {"code": "import os"},
        [1, 2],
        {"float": True},
        {"dict": [5]},
        {"dict": [[{"str": "a"}, {"int": "1"}, {"int": "2"}]]},
    ],
)
def test_malformed_observations_are_rejected(data):
    with pytest.raises(wire.Malformed):
        wire.decode(data)


def test_deeply_nested_values_are_rejected_not_recursed():
    data = {"plain": None}
    for _ in range(wire.MAX_DEPTH + 5):
        data = {"list": [data]}
    with pytest.raises(wire.Malformed):
        wire.decode(data)


def test_values_costly_to_decode_are_refused_before_any_arithmetic():
    """A tensor whose shape lists huge integers made decode multiply them for minutes; now it is refused at once."""
    import time

    huge_shape = wire.loads(wire.dumps({"value": {"tensor": [], "shape": [10**19] * 100_000}}))["value"]
    start = time.perf_counter()
    with pytest.raises(wire.Malformed, match="not a tensor shape"):
        wire.decode(huge_shape)
    assert time.perf_counter() - start < 10  # refused at once: decoding it took minutes
    for shape in ([wire.MAX_ITEMS + 1], [2] * (wire.MAX_DIMS + 1), [-1], [True], [2.0]):
        with pytest.raises(wire.Malformed, match="not a tensor shape"):
            wire.decode({"tensor": [1.0, 2.0], "shape": shape})
    with pytest.raises(wire.Malformed, match="with 0 values"):
        wire.decode({"tensor": [], "shape": [wire.MAX_ITEMS] * wire.MAX_DIMS})
    with pytest.raises(wire.Malformed):
        wire.decode({"int": "9" * (wire.MAX_DIGITS + 1)})


@pytest.mark.parametrize(
    "message, why",
    [
        (b'{"value": {"float": ' + b"9" * 4000 + b"}}", "more than 20 digits"),
        (b'{"v": [' + b",".join([b"[0, 0, 0, 0]"] * 100_001) + b"]}", "more than 100000 values"),
        (b'{"v": [' + b",".join([b"[" + b",".join([b"0"] * 100_000) + b"]"] * 4) + b"]}", "more than 400000 values"),
        (b'{"v": ' + b"[" * 64 + b"]" * 64 + b"}", "more than 64 levels"),
        (b'{"v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not JSON"),
        (b'{"v": "' + b"x" * wire.MAX_MESSAGE + b'"}', "over 8 MB"),
    ],
    ids=["long-integer", "long-list", "many-values", "deep", "very-deep", "large"],
)
def test_a_message_beyond_the_wire_bounds_is_refused_with_the_reason(message, why):
    with pytest.raises(wire.Malformed, match=why):
        wire.loads(message)


def test_every_value_the_encoder_sends_is_within_the_wire_bounds():
    """The deepest value, the longest list, the largest tensor and the longest integer an honest answer can
    return cross; what exceeds them crosses as an opaque stand-in, never as a refused message."""
    deep: object = 1.0
    for _ in range(100):
        deep = {"k": [deep]}
    values = [deep, list(range(wire.MAX_ITEMS)), torch.ones(wire.MAX_ITEMS), 10**19, -(10**19)]
    for value in values:
        reply = {"ok": True, "observation": {"states": [wire.encode(value)]}}
        back = wire.decode(wire.loads(wire.dumps(reply))["observation"]["states"][0])
        assert back is not None
    assert wire.decode(wire.encode(10**19)) == 10**19
    assert isinstance(wire.decode(wire.encode(torch.ones(wire.MAX_ITEMS + 1))), wire.Opaque)
    assert isinstance(wire.decode(wire.encode(torch.ones([1] * (wire.MAX_DIMS + 1)))), wire.Opaque)
    assert wire.decode(wire.encode(torch.ones(2, 3))).shape == (2, 3)
    assert wire.decode(wire.encode(10**40)) == float(10**40)


def test_an_exception_crosses_as_its_builtin_kind_only():
    error = wire.decode_error({"name": "ValueError", "bases": ["ValueError", "Exception"], "message": "bad"})
    assert isinstance(error, ValueError) and str(error) == "bad"
    escape = wire.decode_error({"name": "StudentTimeout", "bases": ["SystemExit", "KeyboardInterrupt"], "message": ""})
    assert type(escape).__mro__[1] is Exception  # never a BaseException that would stop the grader
    odd = wire.decode_error({"name": "not a name; import os", "bases": [], "message": "x"})
    assert type(odd).__name__ == "Exception"


def test_a_lone_surrogate_in_a_message_arrives_as_the_replacement_character():
    """JSON's `\\udcff` escape decodes to text no UTF-8 file can hold (F5: it emptied the class report): every
    string of a message, keys too, comes out whole; a pair (an emoji escaped) stays the character it encodes."""
    message = wire.loads(b'{"error": {"message": "x\\udcff", "k\\ud800": ["\\ud83d\\ude00"]}}')
    assert message == {"error": {"message": "x\ufffd", "k\ufffd": ["\U0001f600"]}}
    error = wire.decode_error(message["error"])
    assert str(error).encode("utf-8") == "x\ufffd".encode()


def test_the_stub_scheduler_module_has_every_public_name_and_forbids_them_all():
    import ast
    import importlib.util
    from pathlib import Path

    source = Path(importlib.util.find_spec("torch").origin).parent / "optim" / "lr_scheduler.py"
    real = next(
        node
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    )
    assert {elt.value for elt in real.value.elts} <= set(no_lr_scheduler.__all__)
    with pytest.raises(no_lr_scheduler.ForbiddenUse):
        no_lr_scheduler.StepLR(None, 1)
    with pytest.raises(no_lr_scheduler.ForbiddenUse):
        type("Mine", (no_lr_scheduler.ReduceLROnPlateau,), {"__module__": "__main__"})


def test_without_bubblewrap_grading_says_what_to_install(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.check_available()


def test_limits_come_from_nbgrader_config():
    from traitlets.config import Config

    config = Config()
    config.Sandbox.memory_mb = 1024
    config.Sandbox.wall_seconds = 60
    limits = sandbox.Limits.from_config(config)
    assert (limits.memory_mb, limits.wall_seconds, limits.processes) == (1024, 60, sandbox.Limits().processes)


def test_the_courses_nbgrader_config_sets_every_limit_at_its_default():
    """What an instructor reads in nbgrader_config.py is what applies when they change nothing: every limit is
    there (the output caps included), each at `Limits`' default."""
    import re
    from dataclasses import asdict

    from support.paths import ROOT

    text = (ROOT / "nbgrader_config.py").read_text()
    written = {name: int(value) for name, value in re.findall(r"^c\.Sandbox\.(\w+) = (\d+)", text, re.MULTILINE)}
    assert written == asdict(sandbox.Limits()), written


@pytest.mark.parametrize("value", [1.5, True, "lots", "600", 0, -3, None, float("nan"), float("inf")])
def test_a_limit_that_is_not_a_whole_number_of_at_least_one_is_refused_by_name(value):
    from traitlets.config import Config

    config = Config()
    config.Sandbox.cpus = value
    with pytest.raises(ValueError) as refused:
        sandbox.Limits.from_config(config)
    assert str(refused.value) == f"c.Sandbox.cpus must be a whole number of at least 1, not {value!r}"


def test_a_setting_that_is_not_a_limit_is_refused_by_name():
    from traitlets.config import Config

    config = Config()
    config.Sandbox.memory_mb, config.Sandbox.memmory_mb = 1024, 512
    with pytest.raises(ValueError) as refused:
        sandbox.Limits.from_config(config)
    assert str(refused.value).startswith("c.Sandbox.memmory_mb is not a limit; the limits are: memory_mb, cpus, ")


def test_the_answers_processes_get_the_configured_tmp_size():
    """c.Sandbox.tmp_mb reaches the answers' zygote (its children's private /tmp), as it reaches the kernels'."""
    from lrcourse.grading.sandbox import answer_zygote, answers

    handle = answers.AnswerZygoteHandle(limits=sandbox.Limits(tmp_mb=77))
    assert answer_zygote.options(["--control", "3", *handle.options()])["tmp_mb"] == 77
    assert "--tmp-mb" not in answers.AnswerZygoteHandle(limits=None).options()  # no sandbox: no private /tmp


def test_a_limit_written_as_a_whole_float_is_that_number():
    from traitlets.config import Config

    config = Config()
    config.Sandbox.cpu_seconds, config.Sandbox.cpus = 600.0, 2
    limits = sandbox.Limits.from_config(config)
    assert (limits.cpu_seconds, limits.cpus) == (600, 2) and type(limits.cpu_seconds) is int


def test_a_bad_limit_in_the_courses_config_stops_grading_before_any_worker_starts(tmp_path):
    from lrcourse.grading.autograde.grade import grade_class

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Sandbox.memory_mb = 'lots'\n")
    with pytest.raises(ValueError, match="c.Sandbox.memory_mb must be a whole number of at least 1, not 'lots'"):
        grade_class(tmp_path, "ch1", progress=False)


def test_the_sandbox_command_isolates_and_drops_privileges():
    box = sandbox.Sandbox(sandbox.Limits())
    try:
        command = box.command(["python", "-c", "pass"])
    finally:
        box.close()
    for flag in ("--unshare-pid", "--unshare-net", "--die-with-parent", "--clearenv", "--new-session"):
        assert flag in command
    assert "/" not in [command[i + 1] for i, arg in enumerate(command) if arg in ("--bind", "--ro-bind")]
    if box.root:
        assert "--no-new-privs" in command and f"--reuid={box.uid}" in command and box.uid != 0


def test_a_sandboxs_cgroups_hold_its_limits_without_swap_and_go_with_it():
    box = sandbox.Sandbox(sandbox.Limits(memory_mb=300, processes=20))
    groups = dict(box.cgroups)
    try:
        if not box.root:
            pytest.skip("cgroups of its own need root")
        memory = groups["memory"]
        v1 = (memory / "memory.limit_in_bytes").exists()
        limit, swap = (
            ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes") if v1 else ("memory.max", "memory.swap.max")
        )
        assert int((memory / limit).read_text()) == 300 << 20
        if (memory / swap).exists():  # where the kernel counts swap: memory and swap together (v1), swap apart (v2)
            assert int((memory / swap).read_text()) == (300 << 20 if v1 else 0)
        assert (groups["pids"] / "pids.max").read_text().strip() == "20"
    finally:
        box.close()
    assert not any(group.exists() for group in groups.values())


def test_the_students_process_computes_with_the_graders_cpu_kernels(monkeypatch):
    """The variables that choose float32 kernels reach the sandbox (a student's answer and the grader's reference
    compute alike, lrcourse/tolerances.py); nothing else of the grader's environment does."""
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.setenv("LRCOURSE_SECRET", "not for students")
    box = sandbox.Sandbox(sandbox.Limits())
    try:
        command = box.command(["python", "-c", "pass"])
    finally:
        box.close()
    settings = {command[i + 1]: command[i + 2] for i, arg in enumerate(command) if arg == "--setenv"}
    assert settings["ATEN_CPU_CAPABILITY"] == "default"
    fixed = {"PATH", "HOME", "LANG", "MPLBACKEND", "MPLCONFIGDIR", "PYTHONDONTWRITEBYTECODE"}
    assert set(settings) <= fixed | set(sandbox.ARITHMETIC_VARIABLES)


@pytest.mark.parametrize(
    "handle, fault",
    [
        ("answers.AnswerZygoteHandle", "the process that runs students' answers did not start: "),
        ("kernels.KernelZygoteHandle", "the kernel zygote did not start: "),
    ],
)
def test_a_zygote_that_does_not_start_says_what_it_printed_and_leaves_nothing_running(handle, fault):
    """Both zygotes' handles (`zygote.Handle`): no "ready", so the handle stops it and raises what it said."""
    import importlib

    module, name = handle.split(".")
    zygote = getattr(importlib.import_module(f"lrcourse.grading.sandbox.{module}"), name)(limits=None)
    zygote.module = "lrcourse.no_such_module"
    try:
        with pytest.raises(RuntimeError) as failed:
            zygote.start()
        assert str(failed.value).startswith(fault) and "No module named lrcourse.no_such_module" in str(failed.value)
        assert (zygote.process, zygote.control, zygote.alive()) == (None, None, False)
    finally:
        getattr(zygote, "close", zygote.stop)()


def test_an_answer_sent_a_byte_at_a_time_is_cut_at_the_requests_deadline():
    """Each wait for the answer's process is within the request's deadline as a whole: a process that sends a
    byte just inside each wait cannot hold the grader longer than one deadline."""
    import socket
    import threading
    import time

    from lrcourse.grading.sandbox.answers import AnswerProcess
    from lrcourse.grading.sandbox.zygote import Silence

    class ZygoteHandleStandIn:
        killed = []

        def kill(self, pid):
            self.killed.append(pid)

    grader, student = socket.socketpair()
    stop = threading.Event()

    def trickle():
        student.recv(65536)  # the request
        while not stop.wait(0.2):
            student.sendall(b"[")

    threading.Thread(target=trickle, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(Silence):
        AnswerProcess(ZygoteHandleStandIn(), grader, pid=12345).request({"call": "x"}, seconds=1.0)
    stop.set()
    assert time.monotonic() - start < 10 and ZygoteHandleStandIn.killed == [12345]  # not a byte per wait, indefinitely
    student.close()


def test_each_answers_name_reports_its_own_cells_error_not_the_first_one():
    """carol's case: an unanswered prediction (the stub) above a class with a syntax error. The class's tests
    report the syntax error, the prediction's test the stub: each name its own answer cell's error (the answers'
    process runs here, in-process, its requests straight to its handler)."""
    import socket

    from lrcourse import checking
    from lrcourse.grading.autograde.remote import Session
    from lrcourse.grading.sandbox.answer_zygote import Child

    class InProcess:
        dead = False

        def __init__(self, channel):
            self.child = Child(channel)

        def request(self, message, seconds):
            try:
                return self.child.handle(message)
            except BaseException as error:  # as Child.run answers
                return {"ok": False, "error": wire.encode_error(error)}

        def close(self):
            pass

    ours, theirs = socket.socketpair()
    handle = type("ZygoteHandleStandIn", (), {"fork": lambda self: InProcess(theirs)})()
    answers = [
        ("predicted_rate_after_edit", "# YOUR CODE HERE\nraise NotImplementedError()"),
        ("my_step_lr", "class MyStepLR:\n    def __init__(self, optimizer)\n        pass\n"),
        ("other", "x = 1"),
    ]
    defines = {"predicted_rate_after_edit": ["predicted_rate_after_edit"], "my_step_lr": ["MyStepLR"], "other": ["x"]}
    session = Session(handle, [], answers, defines=defines)
    try:
        with pytest.raises(checking.CheckFailed, match="your answer cell raised SyntaxError") as failure:
            session.resolve("MyStepLR").observe("scheduler", {})
        assert "NotImplementedError" not in str(failure.value)
        with pytest.raises(checking.CheckFailed, match="your answer cell raised NotImplementedError"):
            float(session.resolve("predicted_rate_after_edit"))
        assert session.resolve("x") == 1
    finally:
        ours.close()
        theirs.close()
