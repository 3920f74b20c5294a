"""Root's collect and the grader account's in one course (F24 M1(b), W2): root's collect left `submitted/<id>/...` and
the collect record root's, which the grader account's next collect could not replace. Now root's collect gives what
it makes there to the course folder's owner (`give_to_course_owner`), as it does the secret ledger; what an earlier
one left is refused per student with the chown that mends it (`cannot_write`)."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path


def course_owner(course: Path) -> str:
    """The course folder's owner, by name (by uid if it has none)."""
    uid = os.stat(course).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def cannot_write(error: OSError, course: Path, then: str = "collect again") -> str:
    """`cannot be written: <error>`, and the mend, then `then` (what to run after it): where permission was refused
    on a folder or file another account made (the error's path, or the folder it is in, not this account's), as
    root, chown the course to its owner (its owner's collect and grade then write everything in it); where this
    account's own file, or the folder a new one goes in, lacks its owner's write bit, `chmod u+w` it (G21). Any other
    refusal (root's, an immutable file, a file of this account's on a read-only or root-squashed share) is said as
    it is: neither would mend it (R20n N3)."""
    reason = f"cannot be written: {error}"
    if not isinstance(error, PermissionError):
        return reason
    if _another_accounts(error):
        return (
            f"{reason}; made by another account (root's collect or grade?): as root, "
            f"`chown -R {course_owner(course)} {course}` (the course folder's owner), then {then}"
        )
    read_only = _read_only_of_this_account(error)
    return (
        f"{reason}; not writable by its owner, this account: `chmod u+w {read_only}`, then {then}"
        if read_only
        else reason
    )


def give_to_course_owner(made: Path, course: Path) -> None:
    """As root, in a course another account owns: `made` (a folder collect wrote, with everything in it, or a file)
    and each folder between it and the course that root owns (`submitted/`, `submitted/<id>`, `reports/`) given to
    the course folder's owner, never through a link. Nothing for any other user, or in root's own course."""
    owner = os.stat(course)
    if os.geteuid() != 0 or owner.st_uid == 0:
        return
    between = [course / part for part in reversed(made.relative_to(course).parents) if part != Path(".")]
    for folder in between:
        seen = os.lstat(folder)
        if stat.S_ISDIR(seen.st_mode) and seen.st_uid == 0:
            os.chown(folder, owner.st_uid, owner.st_gid, follow_symlinks=False)
    for path in [made, *(made.rglob("*") if stat.S_ISDIR(os.lstat(made).st_mode) else [])]:
        os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)


def give_if_there(path: Path, course: Path) -> None:
    """`give_to_course_owner` for a file or folder root's grading wrote (the grading lock, grades.csv, reports/, her
    done and verdict marks), if it is there: the owner's next `lrcourse grade` writes them again (R20p W2). A chown
    refused (root squashed) leaves it: the owner's run then says which file and the mend (`cannot_write`)."""
    try:
        if os.path.lexists(path):
            give_to_course_owner(path, course)
    except OSError:
        return


def _read_only_of_this_account(error: OSError) -> str:
    """The error's file (or, if it is not there, the folder it goes in), if it is this account's and lacks its owner's
    write bit (not root: root writes it all the same); else ""."""
    if os.geteuid() == 0 or not isinstance(error.filename, (str, bytes, os.PathLike)):
        return ""
    path = Path(os.fsdecode(error.filename))
    for where in (path, path.parent):
        try:
            seen = os.lstat(where)
        except OSError:
            continue
        mine = seen.st_uid == os.geteuid() and not stat.S_ISLNK(seen.st_mode)
        return str(where) if mine and not seen.st_mode & stat.S_IWUSR else ""
    return ""


def _another_accounts(error: OSError) -> bool:
    """Whether a path the error names, or the folder it is in, is another account's (this one is not root)."""
    if os.geteuid() == 0:
        return False
    for name in (error.filename, error.filename2):
        if not isinstance(name, (str, bytes, os.PathLike)):  # none, or a file descriptor
            continue
        for path in (Path(os.fsdecode(name)), Path(os.fsdecode(name)).parent):
            try:
                if os.lstat(path).st_uid != os.geteuid():
                    return True
            except OSError:
                continue
    return False
