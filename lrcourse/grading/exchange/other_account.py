"""Root's collect and the grader account's in one course (F24 M1(b), W2): root's collect left `submitted/<id>/...` and
the collect record root's, which the grader account's next collect could not replace. Now root's collect gives what
it makes there to the course folder's owner (`give_to_course_owner`), as it does the secret ledger; what an earlier
one left is refused per student with the chown that mends it (`cannot_write`)."""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import stat
from pathlib import Path

from lrcourse.grading.exchange.access_acl import ACCESS, Unreadable, read_acl
from lrcourse.grading.exchange.path_walk import account, walk_path


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


def give_to_course_owner(made: Path, course: Path) -> str:
    """As root, in a course another account owns: `made` (a folder collect or grade wrote, with everything in it, or
    a file) and each folder between it and the course that root owns (`submitted/`, `submitted/<id>`, `reports/`)
    given to the course folder's owner. Never through a link (R20q W2: the owner's `autograded -> /` had root's
    grade hand /etc over): each folder from the course down is opened by its descriptor, `O_NOFOLLOW`, and changed
    by it, a tree walked by `os.fwalk`; a part that is a link or not a folder, or a file with other names (hard
    links), is left as it is, and so is all below it: the note returned names it and why, else "". A refused
    chown (root squashed) raises. Nothing for any other user, or in root's own course."""
    if not giving(course):
        return ""
    with open_below(course, made.relative_to(course).parts[:-1]) as (where, note):
        if where is None:
            return note
        owner = os.fstat(where.course)
        return _give(where.fd, made, owner.st_uid, owner.st_gid)


def giving(course: Path) -> bool:
    """Whether this run hands what it makes in `course` to its owner: root's, in a course another account owns."""
    return os.geteuid() == 0 and os.stat(course).st_uid != 0


class Below:
    """A folder below the course opened by descriptor (`open_below`): `fd`, and the course folder's, `course`."""

    def __init__(self, fd: int, course: int):
        self.fd, self.course = fd, course


@contextlib.contextmanager
def open_below(course: Path, parts: tuple[str, ...], make: int | None = None, give: bool = True):
    """`(Below, "")` for the folder `course/<parts...>`, each part opened from the one above it, `O_NOFOLLOW` (and,
    if `make`, made where missing: the last mode `make`, those above it as `mkdir -p` makes them), each folder that
    root owns on the way given to the course folder's owner if `give` (as root in another account's course);
    `(None, note)` where a part is a link or not a folder (nothing made or changed below it), or `(None, "")` where
    one is missing. The descriptors are closed after."""
    opened = [os.open(course, os.O_RDONLY | os.O_DIRECTORY)]
    owner = os.fstat(opened[0])
    give = give and os.geteuid() == 0 and owner.st_uid != 0
    try:
        for index, part in enumerate(parts):
            if make is not None:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, make if index == len(parts) - 1 else 0o777, dir_fd=opened[-1])  # as mkdir -p
            try:
                opened.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=opened[-1]))
            except FileNotFoundError:
                yield None, ""
                return
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                yield None, _not_followed(course.joinpath(*parts[: index + 1]), opened[-1], part)
                return
            if give and os.fstat(opened[-1]).st_uid == 0:
                os.fchown(opened[-1], owner.st_uid, owner.st_gid)
        yield Below(opened[-1], opened[0]), ""
    finally:
        for fd in reversed(opened):
            os.close(fd)


def _give(where: int, made: Path, uid: int, gid: int) -> str:
    """`made` (in the folder open as `where`) and, if it is a folder, all in it, chowned by descriptor; a link or a file
    with other names is left, with a note."""
    try:
        info = os.stat(made.name, dir_fd=where, follow_symlinks=False)
    except FileNotFoundError:
        return ""
    if stat.S_ISLNK(info.st_mode) or (not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1):
        return _not_followed(made, where, made.name)
    if not stat.S_ISDIR(info.st_mode):
        os.chown(made.name, uid, gid, dir_fd=where, follow_symlinks=False)
        return ""
    top = os.open(made.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=where)
    notes = []
    try:
        os.fchown(top, uid, gid)
        for folder, folders, files, fd in os.fwalk(".", dir_fd=top):  # never into a link (follow_symlinks=False)
            for name in folders + files:
                try:
                    seen = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    if stat.S_ISREG(seen.st_mode) and seen.st_nlink > 1:
                        notes.append(_not_followed(made / folder / name, fd, name))
                    else:  # a link itself (never its target), a folder, a plain file
                        os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:  # gone meanwhile
                    continue
    finally:
        os.close(top)
    return "; ".join(notes)


def _not_followed(path: Path, fd: int, name: str) -> str:
    """Why root's hand-over stopped at `path` (`name` in the folder open as `fd`), for her reasons or the run's."""
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return ""
    what = (
        "a link"
        if stat.S_ISLNK(info.st_mode)
        else "a file with other names (hard links)"
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1
        else "not a folder"
    )
    return (
        f"{path} is {what}: root gave nothing there or below it to the course's owner (a link is never followed); "
        "remove the link (or replace it by a folder or file of the course's own), then grade or collect again"
    )


def give_if_there(path: Path, course: Path) -> str:
    """`give_to_course_owner` for a file or folder root's grading wrote (the grading lock, grades.csv, reports/, her
    done and verdict marks), if it is there: the owner's next `lrcourse grade` writes them again (R20p W2); the note
    if a link stopped it (R20q W2). A chown refused (root squashed) leaves it: the owner's run then says which file
    and the mend (`cannot_write`)."""
    try:
        return give_to_course_owner(path, course) if os.path.lexists(path) else ""
    except OSError:
        return ""


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


def not_roots_throughout(
    course: Path | str, walked: tuple[str, ...] | None = None, whole: bool = False, apart: str | None = None
) -> tuple[str, str]:
    """Why `course` (the path as given) is not root's through and through, and the mend; ("", "") when it is. Root's
    export runs only in such a course, and root's grade trusts only such a course (R20u W1, M1; R20v W1): each link on
    the path, lstat'ed and followed part by part, is root's; each folder it passes is root's and writable by root
    only, or sticky (as /tmp) with the next part root's; the course folder is root's, a folder, writable by root only;
    and everything in it that the command reads or writes (`walked`: READ_BY_EXPORT by default; `whole`: the whole
    course but `apart`, a folder in it, as root's grade and collect walk it, `roots_course`), walked without
    following a link, is root's, and no folder or file of it is writable by its group or others (`st_mode & 0o022`; a
    POSIX ACL's mask shows in the group bits): a root-owned `reports/` of mode 0777 let another account plant a link
    there that root's grade then wrote through (R20v W1); none carrying a POSIX ACL with named entries or a default
    one (`posix_acl`, R20w W2). No link in it either, root's own included: its target would need the whole rule
    again, its path and all below it (a root link to another account's folder led root's export there, R20v W1 4),
    and no command needs one; but a file in a student's submission (`_in_submitted`), which fails that student only,
    and one in the course's own `.venv/` (a clone's: its interpreter, which no command reads from the course)."""
    walked = READ_BY_EXPORT if walked is None else walked
    reason, where, seen = walk_path(course)
    if reason:
        return reason, _path_mend(course, where, seen) if seen is not None else "give the course's own path"
    top = os.lstat(where)
    if top.st_uid == 0 and not stat.S_ISDIR(top.st_mode):  # root's file: no folder's mend, which would loop (R20w N1)
        return f"{where} is not a folder", "give --course the course's folder"
    if top.st_uid != 0 or top.st_mode & 0o022:
        mode = f"{account(top.st_uid)}'s, mode {top.st_mode & 0o7777:o}"
        return f"the course folder {where} is {mode}", _as_owner(top) if top.st_uid != 0 else roots_mend(where)
    if acl := posix_acl(where):
        return f"the course folder {where} carries {acl}", roots_mend(where)
    for path in _whole(where, apart) if whole else _walked(where, walked):
        try:
            seen = os.lstat(path)
        except OSError:  # a submission's tree too deep to name (r20e N1): the intake fails that student alone
            if _in_submitted(where, path):
                continue
            raise
        if seen.st_uid != 0:
            what = f"{account(seen.st_uid)}'s"
        elif stat.S_ISLNK(seen.st_mode):  # its mode is always 777 and means nothing
            if _in_submitted(where, path) or _in_venv(where, path):
                continue
            what = f"a link (to {os.readlink(path)!r}), and root trusts no link in a course"
        elif seen.st_mode & 0o022:
            what = f"writable by others (mode {seen.st_mode & 0o7777:o})"
        elif acl := posix_acl(path):
            what = f"carrying {acl}"
        else:
            continue
        return f"{path} in it is {what}", roots_mend(where)
    return "", ""


# What root's export reads or writes in a course (`commands.export`): its configuration, the gradebook and sqlite's
# files beside it, source/ (the order of the cells), autograded/ (the verdicts and failures), reports/ and exports/.
# Nothing else: a student's file in submitted/ or feedback/ cannot make root's export refuse the class (test_hostile).
READ_BY_EXPORT = ("nbgrader_config.py", "gradebook.db", "gradebook.db-journal", "gradebook.db-wal", "gradebook.db-shm")
READ_BY_EXPORT += ("source", "autograded", "reports", "exports")


def _walked(course: str, names: tuple[str, ...]):
    """The paths of `course` named in `names` and all below them, never into a link."""
    for name in names:
        top = os.path.join(course, name)
        if not os.path.lexists(top):
            continue
        yield top
        if os.path.isdir(top) and not os.path.islink(top):
            for folder, folders, files in os.walk(top):  # never into a link (followlinks=False)
                yield from (os.path.join(folder, name) for name in folders + files)


def _whole(course: str, apart: str | None):
    """Every path in `course` but the folder `apart` (relative to it) and what is below it, never into a link."""
    skipped = os.path.join(course, apart) if apart else None
    for folder, folders, files in os.walk(course):  # never into a link (followlinks=False)
        folders[:] = [name for name in folders if os.path.join(folder, name) != skipped]
        yield from (os.path.join(folder, name) for name in folders + files)


def _in_venv(course: str, path: str) -> bool:
    """A link of the course's own `.venv/`, its interpreter's: below it, not `.venv` itself (R20y M2), and leading
    inside it (`lib64 -> lib`) or to a file of root's (`bin/python` -> the interpreter), not to a folder of another
    account's (R20z N1)."""
    parts = Path(os.path.relpath(path, course)).parts
    if parts[0] != ".venv" or len(parts) < 2:
        return False
    target, venv = os.path.realpath(path), os.path.realpath(os.path.join(course, ".venv"))
    if os.path.commonpath([target, venv]) == venv:
        return True
    try:
        seen = os.stat(target)
    except OSError:
        return False
    return seen.st_uid == 0 and stat.S_ISREG(seen.st_mode)


def _in_submitted(course: str, path: str) -> bool:
    """A path in a submission, submitted/<student>/<assignment>/...: a student's file as collected. A link there
    fails that student at grade's own check (`root_links`), and export and collect never follow it."""
    below = Path(os.path.relpath(path, os.path.join(course, "submitted"))).parts
    return len(below) >= 3 and below[0] != ".."


def posix_acl(path: str, default: bool = True) -> str:
    """What POSIX ACL `path` carries that lets others in, or "": an access ACL with named users or groups (the mode's
    group bits show only its mask), or any default ACL, which every file and folder made in the folder inherits whatever
    the umask (R20w W2: root's grade made `reports/` rwx for the TA that way, and `chmod -R go-w` kept it); with
    `default` False, the access ACL alone (who may use the folder itself). "" on a filesystem without xattrs. An access
    ACL that is no ACL (`access_acl.Unreadable`, a student's folder's attribute is hostile input) is said so: whom it
    lets in cannot be told, so it is refused as one naming users would be."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return ""
        raise
    if default and "system.posix_acl_default" in names:
        return "a default POSIX ACL (inherited by what is made in it)"
    if ACCESS in names:
        acl = read_acl(path, follow_symlinks=False)
        if isinstance(acl, Unreadable):  # whom it lets in cannot be told: refused as one that names them
            return f"an {acl}"
        if acl is not None and acl.named:
            return "a POSIX ACL naming users or groups"
    return ""


def roots_mend(course: Path | str) -> str:
    """How a course becomes root's through and through (`not_roots_throughout`)."""
    return (
        f"make it root's through and through (`chown -R root:root {course}`, `chmod -R go-w {course}`, `setfacl -R -b "
        f"{course}` (its POSIX ACLs), and each link in it replaced by the folder or file itself)"
    )


def _path_mend(course: Path | str, folder: str, seen: os.stat_result) -> str:
    """The mend where `folder` on the course's path (a folder, or a link) is another account's or others may write
    in it (R20v M1): run as that account only where it owns the course folder itself (root's course stays refused
    to it); else move the course, or close that one folder (never `chown -R` it: it may be /home or /srv)."""
    with contextlib.suppress(OSError):
        if seen.st_uid != 0 and os.stat(course).st_uid == seen.st_uid:
            return _as_owner(seen)
    if stat.S_ISLNK(seen.st_mode):
        return f"give the course's path without the link {folder} (its owner points it anywhere)"
    if seen.st_uid != 0:  # her folder (her home?): never `chown root` it, and `chmod +t` leaves it hers (R20w M2)
        return f"move the course out of {folder}"
    closed = f"`chmod go-w {folder}` or `chmod +t {folder}`"
    return f"move the course out of {folder}, or make it not writable by others: {closed}"


def _as_owner(seen: os.stat_result) -> str:
    """Export as the account that owns `seen`, by `runuser`, or by `setpriv` where it has no name (R20u N1)."""
    name = account(seen.st_uid)
    as_them = (
        f"runuser -u {name} --"
        if not name.startswith("uid ")
        else f"setpriv --reuid={seen.st_uid} --regid={seen.st_gid} --clear-groups"
    )
    return f"export as that account (`{as_them} lrcourse export ...`)"
