"""A grading worker's own memory cap (`worker_memory`), in a forked process: past it, that process ends (a cgroup's
OOM kill, which the grading command reads back) or its allocation fails (RLIMIT_DATA, without cgroups)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lrcourse.grading.autograde import worker_memory
from lrcourse.grading.sandbox import cgroups
from lrcourse.grading.sandbox.leftovers import remove_stale

CAP_MB = 256


def _allocate_past_the_cap(without_cgroups: bool) -> None:
    if without_cgroups:
        cgroups.CGROUP_ROOT = Path("/nonexistent")  # this forked process only: as a grader that may not create cgroups
    how = worker_memory.cap_this_process(CAP_MB)
    try:
        held = bytearray(4 * CAP_MB << 20)  # touched: counted by a cgroup as by RLIMIT_DATA
        held[:: 1 << 12] = b"x" * len(held[:: 1 << 12])
    except MemoryError:
        os._exit(3 if how == "RLIMIT_DATA" else 4)
    os._exit(0)


def run_capped(without_cgroups: bool) -> multiprocessing.Process:
    process = multiprocessing.get_context("fork").Process(target=_allocate_past_the_cap, args=(without_cgroups,))
    process.start()
    process.join(120)
    return process


@pytest.mark.skipif(os.geteuid() != 0, reason="a cgroup of its own needs root, as the sandboxes' do")
def test_past_its_cgroup_cap_a_worker_is_killed_and_the_grader_can_tell():
    process = run_capped(without_cgroups=False)
    try:
        assert process.exitcode == -9, process.exitcode  # the OOM killer, in its cgroup only
        assert worker_memory.went_past(process.pid)
    finally:
        remove_stale()
    assert worker_memory.group_of(process.pid) is None  # removed with the leftovers of gone processes


def test_without_cgroups_its_allocation_fails_past_the_cap():
    process = run_capped(without_cgroups=True)
    assert process.exitcode == 3, process.exitcode
    assert not worker_memory.went_past(process.pid)


@pytest.mark.parametrize("one_thread", [False, True])
def test_with_one_blas_thread_numpy_starts_no_thread_in_the_worker(one_thread):
    """RLIMIT_DATA counts thread stacks: the worker's numpy starts OpenBLAS's threads only when not told not to."""
    program = (
        "import os, sys\n"
        "from lrcourse.grading.autograde import worker_memory\n"
        f"{'worker_memory.one_blas_thread()' if one_thread else ''}\n"
        "import numpy\n"
        "print(len(os.listdir('/proc/self/task')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "OMP_", "GOTO"))}
    threads = int(subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True).stdout)
    if one_thread:
        assert threads == 1, threads
    elif (os.cpu_count() or 1) > 1:
        assert threads > 1, threads  # the test can tell: OpenBLAS does start threads here unless told
