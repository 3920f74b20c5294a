"""The cgroups the grader makes (root only): its groups in cgroup v1, hybrid or v2, with their limits.

`bwrap.Sandbox` makes a memory, a pids and a cpu group for each sandbox, `lrcourse.grading.autograde.worker_memory` a memory
group for each grading worker; each name (`group_name`) holds the process id of the worker that made it, so
`leftovers` removes the groups of a process that is gone (`group_owner`). In v1 each controller has a hierarchy
of its own; in v2 (and a hybrid's unified one) the controllers share one folder, so a group is made once per
distinct folder and holds the settings of every controller there.
"""

from __future__ import annotations

import re
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu")  # those the grader limits
_NAME = re.compile(r"lrcourse-(\d+)-(?:\d+|worker)")  # a sandbox's (its number), a worker's own


def group_name(pid: int | str, suffix: int | str) -> str:
    """The name of a group of worker `pid`: `suffix` is a sandbox's number or "worker" (its own memory cap).
    Given "*" for both, a glob pattern for every such name."""
    return f"lrcourse-{pid}-{suffix}"


def group_owner(name: str) -> int | None:
    """The process id in a group's name (`group_name`), or None when it is not one of the grader's groups."""
    found = _NAME.fullmatch(name)
    return int(found.group(1)) if found else None


def hierarchies(controller: str) -> list[Path]:
    """Where a group of `controller` may be, in the order tried: v1's own hierarchy, a hybrid's unified one, v2."""
    return [CGROUP_ROOT / controller, CGROUP_ROOT / "unified", CGROUP_ROOT]


def all_hierarchies() -> list[Path]:
    """Every folder a group of the grader's controllers may be in, each once."""
    return list(dict.fromkeys(base for controller in CONTROLLERS for base in hierarchies(controller)))


def memory_settings(limit: int) -> list[tuple[str, int]]:
    """A memory limit of `limit` bytes with no escape into swap: v1's files (memsw counts memory and swap together
    and may not be below the memory limit, so it is written after it), then v2's (which counts swap apart: none)."""
    return [
        ("memory.limit_in_bytes", limit),
        ("memory.memsw.limit_in_bytes", limit),
        ("memory.max", limit),
        ("memory.swap.max", 0),
    ]


def make_cgroups(name: str, settings: dict[str, list[tuple[str, int | str]]]) -> dict[str, Path]:
    """The cgroup `name` of each controller of `settings`, in the first hierarchy that has it, with each (file,
    value) whose file exists there written (v1 and v2 name them differently). Controllers sharing a hierarchy
    (v2) share the group. A controller is left out when its group cannot be made (not root, no such controller,
    none of its files, a write refused); a group this call made that no controller kept is removed."""
    made: dict[str, Path] = {}
    created: list[Path] = []
    for controller, files in settings.items():
        for base in hierarchies(controller):
            if (base / "cgroup.procs").exists() and _limit(base / name, files, created):
                made[controller] = base / name
                break
    for group in created:
        if group not in made.values():
            remove(group)
    return made


def make_cgroup(controller: str, name: str, settings: list[tuple[str, int | str]]) -> Path | None:
    """The cgroup `name` of one controller (`make_cgroups`), or None."""
    return make_cgroups(name, {controller: settings}).get(controller)


def _limit(group: Path, settings: list[tuple[str, int | str]], created: list[Path]) -> bool:
    """Write the settings whose file `group` has (made first if missing, and added to `created`): whether any."""
    try:
        if not group.is_dir():
            group.mkdir()
            created.append(group)
        present = [(file, value) for file, value in settings if (group / file).exists()]
        for file, value in present:
            (group / file).write_text(str(value))
    except OSError:
        return False
    return bool(present)


def distinct(groups: dict[str, Path]) -> list[Path]:
    """Each group folder of `groups` once (in v2 the controllers share one)."""
    return list(dict.fromkeys(groups.values()))


def remove(group: Path, tries: int = 1) -> bool:
    """Remove a group, trying `tries` times 20 ms apart while its members exit: whether it is gone."""
    import time

    for attempt in range(tries):
        try:
            group.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:  # members still exiting
            if attempt + 1 < tries:
                time.sleep(0.02)
    return False


def oom_kills(group: Path | None) -> int:
    """How many processes of a memory group the kernel's OOM killer has ended: v1's memory.oom_control, v2's
    memory.events (0 without a group or a readable count)."""
    if group is None:
        return 0
    for file in ("memory.oom_control", "memory.events"):
        try:
            text = (group / file).read_text()
        except OSError:
            continue
        try:
            return sum(int(line.split()[1]) for line in text.splitlines() if line.split()[:1] == ["oom_kill"])
        except (ValueError, IndexError):
            return 0
    return 0


class MemoryPeak:
    """The most memory a memory group's processes held at once since `reset`, in bytes (what its cap counts, page
    cache included): v1's memory.max_usage_in_bytes, reset by writing 0; v2's memory.peak, reset by a write for
    the reads through that same open file (Linux 6.12 on), which is kept open here; on an older v2 kernel, the
    peak since the group was made. `read` is None without a group or either file (`scripts/bench.py sizing`)."""

    V1, V2 = "memory.max_usage_in_bytes", "memory.peak"

    def __init__(self, group: Path | None):
        self.group = group
        self.file = None  # v2's memory.peak, open: its reset holds for this file only

    def reset(self) -> None:
        if self.group is None:
            return
        try:
            if (self.group / self.V1).exists():
                (self.group / self.V1).write_text("0")
                return
            if self.file is None:
                self.file = open(self.group / self.V2, "r+")  # noqa: SIM115 - kept open on purpose (see above)
            self.file.write("reset\n")
            self.file.flush()
        except OSError:
            pass

    def read(self) -> int | None:
        if self.group is None:
            return None
        try:
            if self.file is not None:
                self.file.seek(0)
                return int(self.file.read())
            for name in (self.V1, self.V2):
                if (self.group / name).exists():
                    return int((self.group / name).read_text())
        except (OSError, ValueError):
            pass
        return None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
