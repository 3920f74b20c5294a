"""PyTorch's own schedulers, run in a separate fresh Python process.

The exercises' tests compare a student's scheduler with PyTorch's. The reference runs in its own
interpreter (`python -I`, so no student file shadows a module), started once per kernel and reused:
nothing a student's cell does to `torch` in the notebook's kernel (a monkeypatch, an alias, a
replaced class) can change what the reference says.

When many notebooks are graded one after another, each kernel would pay again for a reference process
(importing torch and, with the first optimizer, torch._dynamo: about 2 s of CPU). A grader therefore
starts one shared reference (`python -I -m lrcourse.reference --listen SOCKET`) and names its Unix
socket in the environment variable `LRCOURSE_REFERENCE` of the kernels it starts; they use it, and start
a private process only if it cannot be reached.

Protocol: one JSON list of cases per line in, one JSON list of trajectories per line out.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SHARED = "LRCOURSE_REFERENCE"  # environment variable: the Unix socket of a shared reference

ATTRIBUTES = {
    "StepLR": ("last_epoch",),
    "ReduceLROnPlateau": ("best", "num_bad_epochs", "cooldown_counter"),
}


def trajectory(case: dict) -> dict:
    """Run one case in this process: the rates and attributes after construction and each step.

    A case is {"scheduler": name, "lrs": [...], "kwargs": {...}, "steps": n} or, for
    ReduceLROnPlateau, {"metrics": [...]} instead of "steps". A constructor that raises gives
    {"error": exception class name, "message": text}.
    """
    from lrcourse.schedules import make_optimizer

    optimizer = make_optimizer(case["lrs"])
    try:
        scheduler = _build(optimizer, case["scheduler"], case["kwargs"])
    except Exception as error:  # the student's class must raise the same
        return {"error": type(error).__name__, "message": str(error)}
    names = ATTRIBUTES.get(case["scheduler"], ())

    def snapshot():
        return {
            "lrs": [float(group["lr"]) for group in optimizer.param_groups],
            **{name: float(getattr(scheduler, name)) for name in names},
        }

    states = [snapshot()]
    metrics = case.get("metrics")
    ambiguous = []
    for step in range(case["steps"] if metrics is None else len(metrics)):
        if metrics is not None and _on_a_boundary(scheduler, optimizer, metrics[step]):
            ambiguous.append(step + 1)
        optimizer.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[step])
        states.append(snapshot())
    return {"states": states, "ambiguous_steps": ambiguous}


def _build(optimizer, name: str, kwargs: dict):
    """PyTorch's scheduler `name`, or the course's composite "WarmupCosine": a LinearLR warm-up from
    1/warmup to 1 over `warmup` epochs, then CosineAnnealingLR down to floor * lr at `total`."""
    import torch.optim.lr_scheduler as schedulers

    if name != "WarmupCosine":
        return getattr(schedulers, name)(optimizer, **kwargs)
    warmup, total, floor = kwargs["warmup"], kwargs["total"], kwargs["floor"]
    lr = optimizer.param_groups[0]["lr"]
    phases = [schedulers.LinearLR(optimizer, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1),
              schedulers.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=floor * lr)]
    return schedulers.SequentialLR(optimizer, phases, milestones=[warmup])


def _on_a_boundary(scheduler, optimizer, metric: float) -> bool:
    """Whether this step's decision depends on floating-point rounding.

    Equivalent correct formulas (`a < best - t` and `best - a > t`, `old - new > eps` and
    `new < old - eps`) can round differently when a value lies on the boundary to within a few
    ulps; a test case that puts a metric or a reduction there could misgrade a correct answer.
    """
    best, t = scheduler.best, scheduler.threshold
    if math.isfinite(best) and t != 0:
        if scheduler.threshold_mode == "rel":
            boundary = best * (1 - t) if scheduler.mode == "min" else best * (1 + t)
        else:
            boundary = best - t if scheduler.mode == "min" else best + t
        if abs(metric - boundary) <= 1e-9 * max(1.0, abs(boundary)):
            return True
    for group, min_lr in zip(optimizer.param_groups, scheduler.min_lrs):
        old = float(group["lr"])
        reduction = old - max(old * scheduler.factor, min_lr)
        if scheduler.eps > 0 and abs(reduction - scheduler.eps) <= 1e-9 * max(old, scheduler.eps):
            return True
    return False


_ANSWERS: dict[str, dict] = {}  # a shared reference sees the same hidden cases for every student


def answer(cases: list[dict]) -> list[dict]:
    """The trajectories of `cases`, each computed once per process."""
    keys = [json.dumps(case, sort_keys=True) for case in cases]
    for key, case in zip(keys, cases):
        if key not in _ANSWERS:
            _ANSWERS[key] = trajectory(case)
    return [_ANSWERS[key] for key in keys]


def _warm_up() -> None:
    """Import torch and build a first optimizer (which imports torch._dynamo) before any request."""
    import warnings

    warnings.simplefilter("ignore")  # the reference process's warnings reach nobody
    trajectory({"scheduler": "StepLR", "lrs": [0.1], "kwargs": {"step_size": 1}, "steps": 1})


def serve() -> None:
    """A private reference: requests on stdin, answers on stdout, until stdin closes."""
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)


class _Connection(socketserver.StreamRequestHandler):
    """One kernel's connection to a shared reference."""

    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write((json.dumps(answer(json.loads(line))) + "\n").encode())


def listen(path: str) -> None:
    """Serve every kernel that connects to the Unix socket `path` until stdin closes, which it does when
    the grader that started this process stops it or dies; then remove the socket and its folder."""
    with socketserver.ThreadingUnixStreamServer(path, _Connection) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print("ready", flush=True)
        sys.stdin.read()
        server.shutdown()
    shutil.rmtree(Path(path).parent, ignore_errors=True)


class SharedReference:
    """One reference process for all the kernels a grader starts.

    `start()` returns the environment variables under which kernels use it (`os.environ.update` them
    before starting kernels); `stop()` ends it, as does the grader's exit.
    """

    def __init__(self):
        self._process: subprocess.Popen | None = None

    def start(self) -> dict[str, str]:
        path = os.path.join(tempfile.mkdtemp(prefix="lrcourse-reference-"), "socket")
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-m", "lrcourse.reference", "--listen", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        if self._process.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError("the shared PyTorch reference did not start")
        return {SHARED: path}

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.stdin.close()  # it stops serving, cleans up and exits
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
        self._process = None

    def __enter__(self) -> dict[str, str]:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Channel:
    """Lines to and from a reference: a private process's pipes or a shared reference's socket."""

    def __init__(self, writer, reader, stop, process: subprocess.Popen | None = None):
        self.writer, self.reader, self.stop, self.process = writer, reader, stop, process

    @classmethod
    def shared(cls, path: str) -> "_Channel":
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(path)
        stream = connection.makefile("rw", encoding="utf-8", newline="\n")
        return cls(stream, stream, lambda: (stream.close(), connection.close()))

    @classmethod
    def private(cls) -> "_Channel":
        # A session of its own: at shutdown ipykernel signals the children in its process group and then
        # polls for seconds while the dead child, which it never reaps, still shows as a zombie. This
        # process ends on its own when its stdin closes, even if the kernel is killed.
        process = subprocess.Popen(
            [sys.executable, "-I", "-m", "lrcourse.reference"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )

        def stop():  # at once: the process keeps no state, and a clean exit of torch takes a while
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                stream.close()

        return cls(process.stdin, process.stdout, stop, process)

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    def why_stopped(self) -> str:
        return self.process.stderr.read()


class ReferenceProcess:
    """The kernel's way to PyTorch's reference: the grader's shared one if there is one, else its own
    long-lived `python -I -m lrcourse.reference`."""

    def __init__(self):
        self._channel: _Channel | None = None
        self._lock = threading.Lock()

    def _open(self) -> _Channel:
        path = os.environ.get(SHARED)
        if path:
            try:
                return _Channel.shared(path)
            except OSError:
                pass  # the grader's reference is gone: a private one gives the same answers
        return _Channel.private()

    def start(self) -> None:
        with self._lock:
            if self._channel is None or not self._channel.alive():
                self._channel = self._open()

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.stop()
            self._channel = None

    def run(self, cases: list[dict]) -> list[dict]:
        self.start()
        with self._lock:
            try:
                self._channel.writer.write(json.dumps(cases) + "\n")
                self._channel.writer.flush()
                reply = self._channel.reader.readline()
            except OSError:
                reply = ""
            if reply:
                return json.loads(reply)
            channel, self._channel = self._channel, None
        if channel.process is None:  # the shared reference went away: go on with a private one
            os.environ.pop(SHARED, None)
            return self.run(cases)
        raise RuntimeError(f"the PyTorch reference process stopped:\n{channel.why_stopped()}")


_REFERENCE = ReferenceProcess()
atexit.register(_REFERENCE.close)


def start_in_background() -> None:
    """Start (or connect to) the reference now, so it has imported torch by the time a test needs it."""
    _REFERENCE.start()


def reference_trajectories(cases: list[dict]) -> list[dict]:
    """What PyTorch's own scheduler does for each case, computed outside this process."""
    return _REFERENCE.run(cases)


def main(argv: list[str]) -> None:
    _warm_up()
    if argv[:1] == ["--listen"]:
        listen(argv[1])
    else:
        serve()


if __name__ == "__main__":
    main(sys.argv[1:])
