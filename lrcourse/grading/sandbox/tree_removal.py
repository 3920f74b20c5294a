"""Folders a student's code could write in, removed by the grader however deep they go.

Trust: what is below the folder is the student's (the sandbox's home, a kernel's private and socket folders, which
are bound into the sandbox); the folder itself is the grader's. Python 3.11's `shutil.rmtree` recurses once a level,
and `ignore_errors` swallows OSError only: 1,500 nested folders a kernel made in its socket folder raised
RecursionError out of the grader's clean-up, which ended the class's run with a traceback and no grades.csv, and
again at the next run's start (r20ad W1). GNU `rm -rf` walks any depth with a bounded number of descriptors (fts),
never follows a link, and `--one-file-system` keeps it off any mount left below; a folder the student closed
(mode 0500) is opened to its owner (`chmod -R u+rwx`, which follows no link it meets) and removed again. Nothing
here raises: what cannot be removed is left, and the caller learns whether it is gone."""

from __future__ import annotations

import os
import subprocess


def remove_tree(path: str | os.PathLike) -> bool:
    """Remove `path` (a link or file is unlinked, never followed) and all below it; whether it is gone."""
    path = os.fspath(path)
    try:
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
            os.unlink(path)
    except OSError:
        return False
    for attempt in range(2):
        if not os.path.lexists(path):
            return True
        if attempt:  # a folder closed by its student: opened to its owner, then removed again
            _quiet(["chmod", "-R", "u+rwx", "--", path])
        _quiet(["rm", "-rf", "--one-file-system", "--", path])
    return not os.path.lexists(path)


def _quiet(command: list[str]) -> None:
    try:
        subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600
        )
    except (OSError, subprocess.SubprocessError):
        pass
