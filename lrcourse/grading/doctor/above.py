"""The folders above the course folder that an account besides its owner and root can write (R20q W1): whoever can
write one renames the course folder away (a rename within a folder needs no right on what is renamed) and puts a
folder of hers in its place, whose nbgrader_config.py the instructor's next `lrcourse` command runs, as root when
root runs it. Every folder the kernel looks a name up in to reach the course is checked, the folders a link leads
through too (and the one holding the link): a folder others can write, or a group or a POSIX ACL's named entry
holding such an account, or one such an account owns (she may chmod it). A sticky folder (`chmod +t`, as /tmp) lets
only an entry's owner or its own rename the entry: one whose entry on the way is the course owner's or root's
passes. Only accounts that can reach the folder (enter it and every folder above it) count."""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from pathlib import Path

from lrcourse.grading.doctor.accounts import Accounts, both

MOST_LINKS = 40  # the kernel's own limit on links followed in one path (ELOOP)


def lookups(course: Path) -> list[tuple[Path, Path]]:
    """Each folder the kernel looks a name up in on its way to `course`, with the entry it finds there (a link
    itself, not what it leads to), in order: the folders are real paths, no link in them."""
    names, folder, seen, links = deque(course.absolute().parts[1:]), Path("/"), [], 0
    while names:
        name = names.popleft()
        if name in ("", "."):
            continue
        if name == "..":
            folder = folder.parent  # no link in `folder`: its parent is the kernel's
            continue
        entry = folder / name
        seen.append((folder, entry))
        if not entry.is_symlink():
            folder = entry
            continue
        links += 1
        if links > MOST_LINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", str(course))
        target = Path(os.readlink(entry))
        if target.is_absolute():
            folder = Path("/")
        names.extendleft(reversed(target.parts[1:] if target.is_absolute() else target.parts))
    return seen


def writable_above(course: Path, accounts: Accounts) -> tuple[list[str], list[str]]:
    """The folders on the way to `course` that accounts besides its owner and root can write, each named with its
    mode and who (`<folder> (mode 0777): every account`), and the mends (`chmod go-w <folder>`, `chown`)."""
    said, mends, done = [], [], set()
    for folder, entry in lookups(course):
        if folder in done:
            continue
        info, reach = os.stat(folder), accounts.reach(folder)
        if reach is not None and not accounts.besides_owner(reach):
            continue  # no one else gets to it
        ours = os.lstat(entry).st_uid in (accounts.owner, 0) and info.st_uid in (accounts.owner, 0)
        sticky = bool(info.st_mode & stat.S_ISVTX)
        writers = both(accounts.granted(folder, 0o002)[0], reach) if not (sticky and ours) else set()
        owner = info.st_uid not in (accounts.owner, 0)
        if writers is not None:  # her own folder's owner said once, as its owner
            writers = accounts.besides_owner(writers) - ({accounts.name_of(info.st_uid)} if owner else set())
        if writers == set() and not owner:
            continue
        done.add(folder)
        mode = f"{folder} (mode {stat.S_IMODE(info.st_mode):04o}"
        if owner:
            said.append(f"{mode}, owned by {accounts.name_of(info.st_uid)}, who may chmod it)")
            mends.append(f"`chown root {folder}` (or keep the course folder out of it)")
        if writers is None or writers:
            said.append(f"{mode}): {'every account' if writers is None else accounts.shown(writers)}")
            sticky_mend = f" (or `chmod +t {folder}`)" if ours else ""
            mends.append(f"`chmod go-w {folder}`{sticky_mend}")
    return said, mends
