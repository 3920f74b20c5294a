"""Whether a path is reached only through folders and links no other account can change: the rule root's export,
grade and collect apply to a course's path (`other_account.not_roots_throughout`) and nbgrader's release applies to
the exchange's root (`nbgrader_release`, R20c2 W3: a student's link at a root not made yet in a folder everyone may
write in had root's release chmod a root-only folder to 1777). Each link on the path, lstat'ed and followed part by
part, is a trusted account's; each folder it passes is a trusted account's and writable by its owner only, or
sticky (as /tmp) with the next part a trusted account's."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

MOST_LINKS = 40  # links followed on one path before it is refused, as the kernel's limit (a loop never ends)


def walk_path(
    path: Path | str, trusted: tuple[int, ...] = (0,), missing_ok: bool = False
) -> tuple[str, str, os.stat_result | None]:
    """("", the path with its links followed, None) when `path` passes the rule for the accounts `trusted`; else
    (the reason, the folder or link at fault, its lstat; None when the mend is to give a path without so many links).
    A part missing raises FileNotFoundError, unless `missing_ok`: then it passes where the folder it would be made in
    is a trusted account's and no other account may write in it (so no one else can make it first)."""
    parts, where, hops = list(Path(os.getcwd(), path).parts[1:]), "/", 0
    while parts:
        part = parts.pop(0)
        if part in ("", ".", ".."):
            where = os.path.dirname(where) if part == ".." else where  # its folder was passed on the way down
            continue
        here = os.lstat(where)
        try:
            seen = os.lstat(os.path.join(where, part))
        except FileNotFoundError:
            if not missing_ok:
                raise
            seen = None
        if here.st_uid not in trusted:
            return f"the folder {where} on its path is {account(here.st_uid)}'s", where, here
        if here.st_mode & 0o022 and not (here.st_mode & stat.S_ISVTX and seen is not None and seen.st_uid in trusted):
            said = f"the folder {where} on its path is writable by others (mode {here.st_mode & 0o7777:o})"
            if here.st_mode & stat.S_ISVTX:
                said += f" and {part} in it is " + ("not made yet" if seen is None else f"{account(seen.st_uid)}'s")
            return said, where, here
        if seen is None:
            return "", os.path.join(where, part, *parts), None
        if stat.S_ISLNK(seen.st_mode):
            link = os.path.join(where, part)
            if seen.st_uid not in trusted:
                return f"{link} is a link of {account(seen.st_uid)}'s", link, seen
            if hops == MOST_LINKS:
                # r20aj N2: all links on the way are counted, as the kernel counts them, not a chain's alone
                return f"{link} is the {MOST_LINKS + 1}st link on the way (a loop of links, or too many)", link, None
            target, hops = os.readlink(link), hops + 1
            parts[:0] = Path(target).parts[1:] if os.path.isabs(target) else Path(target).parts
            where = "/" if os.path.isabs(target) else where
            continue
        where = os.path.join(where, part)
    return "", where, None


def account(uid: int) -> str:
    """An account by name, or `uid N` if it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
