"""What a grader killed outright leaves behind, cleared by the next run: its workers' sandbox folders,
socket folders and cgroups (the sandboxes' and the workers' own memory cap), each named after the worker's
process id, removed once that process is gone. Trust: they are found by name in folders every account may write in
(/tmp, /var/tmp, /dev/shm), so a name proves nothing: only a folder of this user's (lstat: no link) is touched, and
unmounted without following a link (r20ad W2: a student's link `/var/tmp/lrc-999999-x` had root's grade detach the
mount it named; W1: her folder of 1,500 nested ones, or a kernel's, stopped the run at its start with
RecursionError, now removed by `remove_tree`)."""

from __future__ import annotations

import glob
import os
import re
import stat
import tempfile

from lrcourse.grading.sandbox.cgroups import all_hierarchies, group_name, group_owner, remove
from lrcourse.grading.sandbox.namespaces import unmount
from lrcourse.grading.sandbox.tree_removal import remove_tree


def remove_stale() -> None:
    """What a grader killed outright leaves behind (its workers' sandbox folders, socket folders and
    cgroups, named after the worker's process id): removed once that process is gone."""
    candidates = [
        *glob.glob(os.path.join(tempfile.gettempdir(), "lrcourse-sandbox-*")),
        *glob.glob(os.path.join(tempfile.gettempdir(), "lrcourse-zygote-*")),
        *glob.glob("/var/tmp/lrc-*"),
        *glob.glob("/dev/shm/lrc-*"),
    ]
    remove_dead(candidates, r"(?:lrcourse-(?:sandbox|zygote)|lrc)-(\d+)-")
    for base in all_hierarchies():
        for group in base.glob(group_name("*", "*")):
            owner = group_owner(group.name)  # a sandbox's, a worker's own
            if owner is not None and not process_running(owner):
                remove(group)  # one that still has members is left alone


def remove_dead(paths: list[str], pattern: str) -> None:
    """Each of `paths` (found by name where every account may write) whose name holds, as `pattern`'s group, the id
    of a process now gone, and that is a folder of this user's: unmounted (a socket folder's tmpfs, if any; never
    through a link) and removed, however deep."""
    for path in paths:
        found = re.search(pattern, os.path.basename(path))
        if found and made_by_this_user(path) and not process_running(int(found.group(1))):
            unmount(path)
            remove_tree(path)


def made_by_this_user(path: str) -> bool:
    """Whether `path` is a folder (not a link) of this user's: what a worker of the grader's made."""
    try:
        seen = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(seen.st_mode) and seen.st_uid == os.geteuid()


def process_running(pid: int) -> bool:
    """Whether process `pid` exists (one of another user's counts: signalling it is refused, not unknown). A number
    no process can have is not running (r20af 1: `lrc-99999999999-x` raised OverflowError out of every run's start)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    return True
