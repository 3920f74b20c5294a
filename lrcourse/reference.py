"""PyTorch's own schedulers, run in a separate fresh Python process.

The exercises' tests compare a student's scheduler with PyTorch's. The reference runs in its own
interpreter (`python -I`, so no student file shadows a module), started once per kernel and reused:
nothing a student's cell does to `torch` in the notebook's kernel (a monkeypatch, an alias, a
replaced class) can change what the reference says.

Protocol: one JSON list of cases per line on stdin, one JSON list of trajectories per line on stdout.
"""
from __future__ import annotations

import atexit
import json
import math
import subprocess
import sys
import threading

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
    import warnings

    import torch

    warnings.simplefilter("ignore")  # the reference process's warnings reach nobody
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in case["lrs"]]
    optimizer = torch.optim.SGD(params)
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


def serve() -> None:
    import torch  # noqa: F401  (imported before the first request arrives)

    for line in sys.stdin:
        cases = json.loads(line)
        print(json.dumps([trajectory(case) for case in cases]), flush=True)


class ReferenceProcess:
    """A long-lived `python -I -m lrcourse.reference` answering batches of cases."""

    def __init__(self):
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-I", "-m", "lrcourse.reference"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait(timeout=10)
            self._process.stdout.close()
            self._process.stderr.close()
        self._process = None

    def run(self, cases: list[dict]) -> list[dict]:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            self._process.stdin.write(json.dumps(cases) + "\n")
            self._process.stdin.flush()
            answer = self._process.stdout.readline()
            if not answer:
                error = self._process.stderr.read()
                self._process = None
                raise RuntimeError(f"the PyTorch reference process stopped:\n{error}")
            return json.loads(answer)


_REFERENCE = ReferenceProcess()
atexit.register(_REFERENCE.close)


def start_in_background() -> None:
    """Start the reference process now (it imports torch, ~2 s) so it is ready when a test needs it."""
    with _REFERENCE._lock:
        if _REFERENCE._process is None:
            _REFERENCE._process = _REFERENCE._start()


def reference_trajectories(cases: list[dict]) -> list[dict]:
    """What PyTorch's own scheduler does for each case, computed outside this process."""
    return _REFERENCE.run(cases)


if __name__ == "__main__":
    serve()
