"""What a grader killed outright leaves behind, cleared by the next run: its workers' sandbox folders,
socket folders and cgroups (the sandboxes' and the workers' own memory cap), each named after the worker's
process id, removed once that process is gone."""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile

from lrcourse.grading.sandbox.cgroups import all_hierarchies, group_name, group_owner, remove
from lrcourse.grading.sandbox.namespaces import unmount


def remove_stale() -> None:
    """What a grader killed outright leaves behind (its workers' sandbox folders, socket folders and
    cgroups, named after the worker's process id): removed once that process is gone."""
    candidates = [
        *glob.glob(os.path.join(tempfile.gettempdir(), "lrcourse-sandbox-*")),
        *glob.glob(os.path.join(tempfile.gettempdir(), "lrcourse-zygote-*")),
        *glob.glob("/var/tmp/lrc-*"),
        *glob.glob("/dev/shm/lrc-*"),
    ]
    for path in candidates:
        found = re.search(r"(?:lrcourse-(?:sandbox|zygote)|lrc)-(\d+)-", os.path.basename(path))
        if found and not process_running(int(found.group(1))):
            unmount(path)  # a socket folder's tmpfs, if any
            shutil.rmtree(path, ignore_errors=True)
    for base in all_hierarchies():
        for group in base.glob(group_name("*", "*")):
            owner = group_owner(group.name)  # a sandbox's, a worker's own
            if owner is not None and not process_running(owner):
                remove(group)  # one that still has members is left alone


def process_running(pid: int) -> bool:
    """Whether process `pid` exists (one of another user's counts: signalling it is refused, not unknown)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
