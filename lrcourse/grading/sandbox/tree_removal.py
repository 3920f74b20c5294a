"""Folders a student's code could write in, removed by the grader however deep they go.

Trust: what is below the folder is the student's (a kernel's socket folder, bound into the sandbox; a killed run's
leftovers); the folder itself is the grader's. Python 3.11's `shutil.rmtree` recurses once a level, and
`ignore_errors` swallows OSError only: 1,500 nested folders a kernel made in its socket folder raised RecursionError
out of the grader's clean-up, which ended the class's run with a traceback and no grades.csv, and again at the next
run's start (r20ad W1). GNU `rm -rf` walks any depth with a bounded number of descriptors (fts), never follows a link,
and `--one-file-system` keeps it off any mount left below. Where the grader is not root, the student's code runs as
its uid and may close a folder (mode 0500): it is opened to its owner (`chmod -R u+rwx`) and removed again; as root
`rm` needs no such step, and none is taken (r20ai 6: coreutils before 9.5 could follow a link swapped in during
`chmod -R`). Nothing here raises: what cannot be removed is left, and the caller learns whether it is gone."""

from __future__ import annotations

import os
import subprocess

# find's arguments removing every entry of a folder, as many per `rm` as its command line holds
EACH_ENTRY_REMOVED = ["-mindepth", "1", "-maxdepth", "1", "-exec", "rm", "-rf", "--one-file-system", "--", "{}", "+"]


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
        if attempt and os.geteuid() != 0:  # a folder closed by its student: opened to its owner, removed again
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


def empty_folder(folder: str | os.PathLike) -> None:
    """Remove what the folder `folder` (the grader's own, bound into a sandbox) holds, keeping the folder: set back to
    0700 first where the grader is not root, whose uid a student's code runs as and may have closed it (r20af 2: a
    kernel's chmod 0500 of its socket folder made every later kernel of the worker fail), then one `rm` for all its
    entries however many (r20af 3: an `rm` per entry made 20,000 empty folders cost the worker 39 s), again after
    opening what they hold if anything is left."""
    folder = os.fspath(folder)
    if os.geteuid() != 0:  # the student's code runs as this uid; as root it cannot change root's folder
        try:
            os.chmod(folder, 0o700)  # as mkdtemp made it
        except OSError:
            return
    for attempt in range(3):
        try:
            if is_empty(folder):  # most often empty already (emptied after the last notebook): no process
                return
        except OSError:
            return
        if attempt == 2:
            return
        if attempt and os.geteuid() != 0:
            _quiet(["chmod", "-R", "u+rwx", "--", folder])
        _quiet(["find", folder, *EACH_ENTRY_REMOVED])


def is_empty(folder: str) -> bool:
    """Whether `folder` holds nothing, read up to its first entry only (r20al 6: listing it whole held every name a
    student's code left there in the grader's memory, 90 MB for 300,000 long names)."""
    with os.scandir(folder) as listing:
        return next(listing, None) is None
