"""The cgroups the grader makes (root only): a group of one controller, in cgroup v1, hybrid or v2, with its limits.

`bwrap.Sandbox` makes a memory, a pids and a cpu group for each sandbox, `lrcourse.grading.worker_memory` a memory
group for each grading worker; each name holds the process id of the worker that made it, so `leftovers` removes
the groups of a process that is gone.
"""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def hierarchies(controller: str) -> list[Path]:
    """Where a group of `controller` may be, in the order tried: v1's own hierarchy, a hybrid's unified one, v2."""
    return [CGROUP_ROOT / controller, CGROUP_ROOT / "unified", CGROUP_ROOT]


def memory_settings(limit: int) -> list[tuple[str, int]]:
    """A memory limit of `limit` bytes with no escape into swap: v1's files (memsw counts memory and swap together
    and may not be below the memory limit, so it is written after it), then v2's (which counts swap apart: none)."""
    return [
        ("memory.limit_in_bytes", limit),
        ("memory.memsw.limit_in_bytes", limit),
        ("memory.max", limit),
        ("memory.swap.max", 0),
    ]


def make_cgroup(controller: str, name: str, settings: list[tuple[str, int | str]]) -> Path | None:
    """The cgroup `name` of `controller` in the first hierarchy that has it, with each (file, value) of `settings`
    whose file exists there written (v1 and v2 name them differently). None when none can be made (not root, no
    such controller, none of the files, a write refused): a group left without its limits is removed."""
    for base in hierarchies(controller):
        if not (base / "cgroup.procs").exists():
            continue
        group = base / name
        try:
            group.mkdir(exist_ok=True)
            present = [(file, value) for file, value in settings if (group / file).exists()]
            for file, value in present:
                (group / file).write_text(str(value))
            if present:
                return group
            group.rmdir()
        except OSError:
            try:
                group.rmdir()
            except OSError:
                pass
    return None
