"""Who else may write in one of the exchange's folders (the course's folder, outbound, feedback): the rule release,
release_feedback, Unrelease (`nbgrader_release`, `nbgrader_list`), collect (`root.root_problem`, the course's folder)
and `lrcourse doctor` share. Others may not (a student could put her own folder or a link in it after its check); as
root, no group but root's (a TA, R20d2 W1); and, as any user, no POSIX ACL naming users or groups while the group bits
(then its mask) allow writing, nor a default POSIX ACL, which what is made in the folder inherits (R20e2 W2, R20f2 W1
and W2: a non-root grader's too; collect, which makes nothing there, leaves that one to release: R20a M2). The inbound
folder (2733/3733, every student's by design) is its callers' exemption.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from lrcourse.grading.exchange.kept_folders import aside_mend, inbound_shape, kept_line
from lrcourse.grading.exchange.other_account import posix_acl


def shared_write_problem(seen: os.stat_result, path: Path, remade_by: str = "") -> str:
    """Why the exchange folder `path` (`seen`, its lstat) may not be trusted by release, release_feedback, Unrelease
    or collect, with the mend, as one line; "" if it may (`shared_write`)."""
    problem, mend = shared_write(seen, path, remade_by=remade_by)
    return f"{problem} ({mend}; see the README's instructor set-up)" if problem else ""


def shared_write(seen: os.stat_result, path: Path, inherited: bool = True, remade_by: str = "") -> tuple[str, str]:
    """Why the exchange folder `path` (`seen`, its lstat) may not be trusted, and its mend; ("", "") if it may: the
    module's rule (`other_account.posix_acl` reads the ACL). With `inherited` False, only who may write in the folder
    itself counts, not a default ACL, which lets no one in: collect's rule, which makes nothing there (R20a M2).
    `remade_by`: the nbgrader command that makes the folder again (outbound's release, feedback's release_feedback):
    its mend is then to remove it, not `chmod` or `setfacl`, which keep what others put in it (r20h W1), unless it
    has the inbound's shape (`kept_folders`: the class's inbound, moved there, r20i W1): then moved, never removed; a
    default ACL alone let no one else write in it: `setfacl -k` (r20i N2)."""
    problem, mend = others_write(seen, path, inherited)
    if problem and remade_by and (shape := inbound_shape(path, seen)):
        kept, mend = kept_line(path, shape)
        problem = f"{kept}; {problem}"
    elif problem and remade_by and inherited and not others_write(seen, path, inherited=False)[0]:
        mend = f"`setfacl -k {shlex.quote(str(path))}` (as its owner or root: a default ACL alone let no one else write in it)"
    elif problem and remade_by:
        mend = (  # moved aside, never removed (r20j W1: the class's inbound may have been moved into it)
            f"{aside_mend([path], path.parent.parent)[:-1]}; a folder others could write in may hold what they put there, which `chmod` or "
            f"`setfacl` would keep for students to fetch; nbgrader's {remade_by} makes it again, yours)"
        )
    return problem, mend


def others_write(seen: os.stat_result, path: Path, inherited: bool) -> tuple[str, str]:
    """`shared_write`'s rule, with the mend that keeps the folder."""
    mode, group_write = stat.S_IMODE(seen.st_mode), seen.st_mode & stat.S_IWGRP
    acl = posix_acl(str(path), default=inherited)
    as_root = ", as root" if os.geteuid() == 0 else ""
    if as_root and group_write and seen.st_gid != 0:
        by, mend = f" (its group, gid {seen.st_gid}, as root)", f"`chmod go-w {path}`"
    elif acl.startswith("a default"):  # the folder itself may be 0755: what is made in it is exposed (R20g2 N1)
        return (
            f"{path} (mode {mode:04o}) carries {acl}{as_root}: what the release makes in it would be writable by the "
            "users it names",
            f"`setfacl -b {path}`",
        )
    elif acl and group_write:  # any user: R20f2 W2
        by, mend = f" ({acl}{as_root})", f"`setfacl -b {path}` or `chmod go-w {path}`"
    elif seen.st_mode & stat.S_IWOTH:
        by, mend = "", f"`chmod o-w {path}`"
    else:
        return "", ""
    return (
        f"{path} (mode {mode:04o}) is writable by other users{by}: a student could put her own folder or a link in it",
        mend,
    )
