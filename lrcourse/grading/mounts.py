"""What the kernel's mount table (/proc/self/mountinfo) says about the exchange's inbound folder: the file
system it is on, and what is mounted below it.

`lrcourse collect` trusts a file's change time (ctime) as the submission time. On tmpfs and ramfs a write
through a shared writable memory mapping never moves it (there is no writeback to mark the page clean again),
so a student holding such a mapping of their submitted notebook could change it after the deadline and keep
the time of before; on disk file systems the next write after writeback (about 30 s: the kernel's dirty page
expiry) moves it. A folder mounted inside the inbound folder is not the student's own writing in it.
"""

from __future__ import annotations

import os
import re

MOUNT_TABLE = "/proc/self/mountinfo"
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})  # no writeback: mmap writes never move ctime
_ESCAPE = re.compile(r"\\([0-7]{3})")  # mountinfo writes space, tab, newline and backslash as \ooo


def mount_table(text: str | None = None) -> list[tuple[str, str, str]]:
    """(major:minor, mount point, file system type) of each mount, from the table's text (the kernel's if
    None; [] where there is none, as outside Linux)."""
    if text is None:
        try:
            with open(MOUNT_TABLE, encoding="utf-8", errors="surrogateescape") as table:
                text = table.read()
        except OSError:
            return []
    mounts = []
    for line in text.splitlines():
        fields, _, rest = line.partition(" - ")
        fields, rest = fields.split(" "), rest.split(" ")
        if len(fields) >= 5 and rest[0]:
            mounts.append((fields[2], _ESCAPE.sub(lambda m: chr(int(m[1], 8)), fields[4]), rest[0]))
    return mounts


def filesystem_of(fd: int, mounts: list[tuple[str, str, str]]) -> str | None:
    """The type of the file system the folder open at `fd` is on (the mount of its device listed last, the one on
    top), or None if the table does not list its device (btrfs subvolumes report devices of their own)."""
    st = os.fstat(fd)
    device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    kinds = [kind for number, _, kind in mounts if number == device]
    return kinds[-1] if kinds else None


def mounted_below(fd: int, mounts: list[tuple[str, str, str]]) -> set[str]:
    """The names in the folder open at `fd` that are mount points or hold one (however deep)."""
    try:
        folder = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return set()
    prefix = folder.rstrip("/") + "/"
    return {point[len(prefix) :].split("/")[0] for _, point, _ in mounts if point.startswith(prefix)}
