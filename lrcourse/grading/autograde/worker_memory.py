"""A grading worker's own memory cap: what ZeroMQ assembles whole in the worker cannot grow past it.

A Jupyter message of many frames is held whole in the worker before anyone can read it: ZeroMQ's MAXMSGSIZE
bounds each frame and its high-water mark counts whole messages, and libzmq assembles a multipart message in the
receiving socket (a kernel's 300 frames of 1 MB arrive as one 300 MB message), so no reading loop can refuse it.
Each grading worker (never the grading command itself) therefore runs under a memory cap
(`Limits.worker_memory_mb`, `c.Sandbox.worker_memory_mb`), well above an honest worker's peak: a memory cgroup of
its own, `lrcourse-<pid>-worker`, when the grader may create one (root, as the sandboxes' cgroups), else
RLIMIT_DATA (soft: the sandboxes it starts set their own). Past it, in a cgroup, the kernel's OOM killer ends
that worker only: the grading command reads the cgroup's OOM count (`went_past`) to record the student as failed
with the reason; its sandboxes die with it, and the cgroup is removed with the other leftovers of gone processes.
Under RLIMIT_DATA (no root), libzmq's allocation fails: a few large frames were dropped with their connection
in a raw trial (600 of 1 MB against 300 MB: the process lived), but a flood of small frames makes its alloc_assert
abort the worker (`FATAL ERROR: OUT OF MEMORY (src/yqueue.hpp:92)`, SIGABRT; a review reproduced it
with 6,000,000 empty frames, about 12 MB on the wire, under 200 MB). The grading command charges that death to the
student the worker was running only (`watchdog.Watchdog.death`): retried once, it fails with how its worker died
(killed by SIGABRT), and every other student is graded in a new pool. The suite runs that path with a stand-in
worker that aborts (`tests/test_grade_watchdog.py`), not with ZeroMQ under RLIMIT_DATA (its hostile class runs as
root, in a cgroup). RLIMIT_DATA bounds VmData, thread stacks included: `one_blas_thread`.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

from lrcourse.grading.sandbox.cgroups import group_name, hierarchies, make_cgroup, memory_settings, oom_kills


def one_blas_thread() -> None:
    """OpenBLAS in this worker starts no threads of its own, if set before numpy loads: RLIMIT_DATA counts each
    thread's stack (about 8.5 MB; OpenBLAS starts one per core but one), and the worker computes nothing large.
    Only OPENBLAS_NUM_THREADS: the sandboxes never receive it (`bwrap.ARITHMETIC_VARIABLES`), whereas OMP's and
    MKL's variables are passed on to the student's process and must stay as the grader was started with."""
    os.environ["OPENBLAS_NUM_THREADS"] = "1"


def cap_this_process(memory_mb: int) -> str:
    """Put this process under `memory_mb`: how ("a cgroup", "RLIMIT_DATA")."""
    group = make_cgroup("memory", group_name(os.getpid(), "worker"), memory_settings(memory_mb << 20))
    if group is not None:
        (group / "cgroup.procs").write_text(str(os.getpid()))
        return "a cgroup"
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    soft = memory_mb << 20 if hard == resource.RLIM_INFINITY else min(memory_mb << 20, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
    return "RLIMIT_DATA"


def group_of(pid: int) -> Path | None:
    """The memory cgroup of worker `pid`, if it has one."""
    groups = (base / group_name(pid, "worker") for base in hierarchies("memory"))
    return next((group for group in groups if group.is_dir()), None)


def went_past(pid: int) -> bool:
    """Whether the kernel's OOM killer ended a process of worker `pid`'s cgroup (the worker: none other is in it)."""
    return oom_kills(group_of(pid)) > 0
