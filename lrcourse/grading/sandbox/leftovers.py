"""What a grader killed outright leaves behind, cleared by the next run: its workers' sandbox folders,
socket folders and cgroups (the sandboxes' and the workers' own memory cap), each named after the worker's
process id, removed once that process is gone."""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile

from lrcourse.grading.sandbox.cgroups import CGROUP_ROOT
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
        if found and not _running(int(found.group(1))):
            unmount(path)  # a socket folder's tmpfs, if any
            shutil.rmtree(path, ignore_errors=True)
    for group in [*CGROUP_ROOT.glob("*/lrcourse-*-*"), *CGROUP_ROOT.glob("lrcourse-*-*")]:
        found = re.fullmatch(r"lrcourse-(\d+)-(?:\d+|worker)", group.name)  # a sandbox's, a worker's own
        if found and not _running(int(found.group(1))):
            try:
                group.rmdir()
            except OSError:  # still has members: left alone
                pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
