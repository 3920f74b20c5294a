"""What one sandbox may use: the limits `Sandbox` enforces, read from nbgrader_config.py as `c.Sandbox.<name>`;
and (`worker_*`) what a grading worker itself may use, enforced outside the sandbox: `worker_memory_mb` by
`lrcourse.grading.autograde.worker_memory`, `worker_grace_seconds` by `lrcourse.grading.autograde.watchdog.Watchdog`."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields


@dataclass
class Limits:
    """What one sandbox may use, and (worker_*) a grading worker itself. Sized for this course on a 2-core, 24 GB
    machine with two workers."""

    memory_mb: int = 3072  # the whole sandbox (cgroup); per process (address space) without cgroups
    cpus: int = 1  # cores the whole sandbox may keep busy (cgroup): a classmate graded
    # alongside keeps the others
    processes: int = 64  # the whole sandbox (cgroup); per user without cgroups
    file_size_mb: int = 64  # any one file written
    cpu_seconds: int = 600  # per process
    open_files: int = 256
    tmp_mb: int = 256  # the private /tmp
    wall_seconds: int = 300  # a notebook's whole run, from kernel start to shutdown
    student_seconds: int = 420  # one student's notebook run and trusted verdicts together (the grader's
    # own start-up is not counted): a student who reaches it is graded as far as they got
    cell_output_kb: int = 1024  # output kept from one cell of a notebook run (output_caps)
    notebook_output_kb: int = 8192  # output kept from the whole notebook run
    # Outputs kept, however small (output_caps): within the byte caps a notebook could hold 80,000 empty outputs,
    # each validated and deep-copied by every page formgrader renders. The solutions hold at most 4 in a cell and
    # 45 in a notebook: 50 and over 20 times that. The notebook's is half of what a page shows (2,000), so the
    # cells' notes and the grader's verdicts stay in sight on the feedback page.
    cell_outputs: int = 200
    notebook_outputs: int = 1000
    worker_memory_mb: int = 2048  # a grading worker itself (not its sandboxes): above an honest worker's peak,
    # so what ZeroMQ assembles whole (a message of many frames) ends that worker only (worker_memory)
    worker_grace_seconds: int = 300  # beyond student_seconds, for the worker's own steps (restarting its zygotes,
    # nbgrader's files and gradebook): a worker still on one student after both is killed by the grading command

    @classmethod
    def from_config(cls, config) -> Limits:
        section = config.get("Sandbox", {}) if config is not None else {}
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(section) - set(known))
        if unknown:  # a misspelt limit would otherwise be silently left at its default
            raise ValueError(f"c.Sandbox.{unknown[0]} is not a limit; the limits are: {', '.join(known)}")
        return cls(**{name: whole_number(name, section[name]) for name in known if name in section})


def whole_number(name: str, value) -> int:
    """`c.Sandbox.<name>` as a limit: a whole number of at least 1 (`600` or `600.0`). Anything else (1.5, True,
    "lots", 0) is refused rather than rounded or read as 1: a limit the instructor did not mean is not enforced."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or value < 1:
        raise ValueError(f"c.Sandbox.{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def budget_text(limits: Limits) -> str:
    """The student's time budget, as the run's outcomes and the feedback name it."""
    return f"time budget ({limits.student_seconds} s per student, the notebook and the grader's checks together)"
