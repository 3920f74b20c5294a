"""What the kernel's mount table (/proc/self/mountinfo) says about the exchange's inbound folder: whether change
times can be trusted on the file system it is on, and what is mounted below it.

`lrcourse collect` trusts a file's change time (ctime) as the submission time. On tmpfs and ramfs a write
through a shared writable memory mapping never moves it (there is no writeback to mark the page clean again),
so a student holding such a mapping of their submitted notebook could change it after the deadline and keep
the time of before; on disk file systems the next write after writeback (about 30 s: the kernel's dirty page
expiry) moves it. An overlay is what its upper layer is (every write lands there, and a mapping of an overlay
file maps the upper file): the table lists the overlay's own type, so its `upperdir=` is followed to the file
system that holds it. The upperdir is the path the overlay was mounted with, as seen by whoever mounted it: where
it is not an absolute path to a folder here (a container whose root's layers live on its host), the upper layer
cannot be established and the times are not trusted either. A folder mounted inside the inbound folder is not
the student's own writing in it.
"""

from __future__ import annotations

import os
import re
import stat
from typing import NamedTuple

MOUNT_TABLE = "/proc/self/mountinfo"
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})  # no writeback: mmap writes never move ctime
OVERLAY_DEPTH = 2  # the kernel stacks file systems at most this deep (FILESYSTEM_MAX_STACK_DEPTH)
_ESCAPE = re.compile(r"\\([0-7]{3})")  # mountinfo writes space, tab, newline and backslash (overlay: comma) as \ooo


class Mount(NamedTuple):
    device: str  # major:minor
    point: str
    kind: str  # the file system's type
    options: str  # its own (super block's) options, as the table writes them


def mount_table(text: str | None = None) -> list[Mount]:
    """Each mount, from the table's text (the kernel's if None; [] where there is none, as outside Linux)."""
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
            mounts.append(Mount(fields[2], _unescape(fields[4]), rest[0], rest[2] if len(rest) > 2 else ""))
    return mounts


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m[1], 8)), text)


def mount_of(device: int, mounts: list[Mount]) -> Mount | None:
    """The mount of `device` listed last (the one on top), or None if the table does not list it (btrfs subvolumes
    report devices of their own)."""
    number = f"{os.major(device)}:{os.minor(device)}"
    return next((mount for mount in reversed(mounts) if mount.device == number), None)


def filesystem_of(fd: int, mounts: list[Mount]) -> str | None:
    """The type of the file system the folder open at `fd` is on, as the table lists it (an overlay's own)."""
    mount = mount_of(os.fstat(fd).st_dev, mounts)
    return mount.kind if mount else None


def untrusted_times(fd: int, mounts: list[Mount]) -> tuple[str, bool] | None:
    """Where change times on the folder open at `fd` cannot be trusted: what its file system is (to follow "is on")
    and whether that is surely tmpfs or ramfs (False: it may be, an upper layer unknown); None where they can be."""
    device, over = os.fstat(fd).st_dev, ""  # over: the overlays followed so far, as words
    for _ in range(OVERLAY_DEPTH + 1):
        mount = mount_of(device, mounts)
        if mount is None or mount.kind not in MEMORY_FILESYSTEMS | {"overlay"}:
            return None
        if mount.kind in MEMORY_FILESYSTEMS:
            return over + mount.kind, True
        upper = option(mount.options, "upperdir")
        device = _folder_device(upper)
        if device is None:
            why = "it has none" if upper is None else f"upperdir={upper} is not a folder here"
            return f"{over}an overlay whose upper layer cannot be established ({why})", False
        over += f"an overlay whose upper layer ({upper}) is on "
    return f"{over}more overlays (deeper than the kernel stacks them): its upper layer cannot be established", False


def listed_on_overlay(fd: int, mounts: list[Mount]) -> set[int] | None:
    """The devices the table lists, if the folder open at `fd` is on an overlay (else None). An overlay whose layers
    are on other file systems (mounted without xino=on) reports its own device for folders and, for files, a device
    of its own per layer that no mount lists: a file on another device than its folder is mounted there only if
    the table lists that device."""
    mount = mount_of(os.fstat(fd).st_dev, mounts)
    if mount is None or mount.kind != "overlay":
        return None
    return {os.makedev(*map(int, mount.device.split(":"))) for mount in mounts}


def _folder_device(path: str | None) -> int | None:
    """The device of the folder at the absolute `path`, or None if there is none here."""
    try:
        seen = os.stat(path) if path and os.path.isabs(path) else None
    except OSError:
        return None
    return seen.st_dev if seen and stat.S_ISDIR(seen.st_mode) else None


def option(options: str, name: str) -> str | None:
    """The value of `name=` in a mount's options (commas and backslashes in a value are written escaped)."""
    for item in options.split(","):
        key, equals, value = item.partition("=")
        if equals and _unescape(key) == name:
            return _unescape(value)
    return None


def mounted_below(fd: int, mounts: list[Mount]) -> set[str]:
    """The names in the folder open at `fd` that are mount points or hold one (however deep)."""
    try:
        folder = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return set()
    prefix = folder.rstrip("/") + "/"
    return {mount.point[len(prefix) :].split("/")[0] for mount in mounts if mount.point.startswith(prefix)}
