"""A folder's POSIX access ACL, read from its `system.posix_acl_access` extended attribute: the one parser of it, for
release, release_feedback, Unrelease and collect (`other_account.posix_acl`, `root`), root's grade and export
(`other_account.not_roots_throughout`) and `lrcourse doctor` (`doctor.accounts`, `doctor.entry`, `doctor.exchange`).

`setfacl -m u:<student>:rx <folder>` (or `g:users:rx`) adds named entries that the mode bits do not show: with an ACL,
the group bits `stat` reports are its mask, not the owning group's. The kernel keeps the ACL as a 4-byte version (2),
then 8-byte entries, each a tag (u16), its permissions (u16: r 4, w 2, x 1) and an id (u32, for a named user or
group), little-endian. A folder without one (or on a file system without ACLs) is judged by its mode alone. The
default ACL (`system.posix_acl_default`) lets no one into the folder itself: it is what new files and folders in it
get, and only whether it is there is read (`other_account.posix_acl`).

Who trusts whom: the attribute of a folder a student may own or a student's account may have set (a course folder in
the exchange, a folder on the course's path, a file system that does not check what it stores, as a FUSE mount) is
hostile input. So its size is bounded (`MAX_BYTES`, the kernel's own cap on an attribute), its version checked, its
length whole entries; whatever fails is an `Unreadable` value, said in words, which each caller turns into its own
outcome (release and collect refuse the folder, the doctor says "not checked"), never an exception that stops
release or collect. Errors reading it (but none there, or no ACLs on its file system) are the callers', as before.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass
from pathlib import Path

ACCESS = "system.posix_acl_access"
VERSION = 2
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
ENTRY = struct.Struct("<HHI")
HEADER = struct.Struct("<I")
MAX_BYTES = HEADER.size + ENTRY.size * ((65536 - HEADER.size) // ENTRY.size)  # XATTR_SIZE_MAX, whole entries


@dataclass(frozen=True)
class Acl:
    """A folder's access ACL: its (tag, permissions, id) entries as stored, and what the callers ask of them."""

    entries: tuple[tuple[int, int, int], ...]

    @property
    def mask_entry(self) -> int | None:
        """The mask's permissions; None without a mask entry (a minimal ACL: the mode bits alone)."""
        return next((perm for tag, perm, _ in self.entries if tag == MASK), None)

    @property
    def mask(self) -> int:
        """The mask as it applies: without a mask entry nothing is masked."""
        found = self.mask_entry
        return 0o7 if found is None else found

    @property
    def group(self) -> int:
        """The owning group's (`group::`) permissions, unmasked; 0 without that entry."""
        return next((perm for tag, perm, _ in reversed(self.entries) if tag == GROUP_OBJ), 0)

    @property
    def users(self) -> dict[int, int]:
        """The named users' permissions (uid to permissions), unmasked."""
        return {ident: perm for tag, perm, ident in self.entries if tag == USER}

    @property
    def groups(self) -> dict[int, int]:
        """The named groups' permissions (gid to permissions), unmasked."""
        return {ident: perm for tag, perm, ident in self.entries if tag == GROUP}

    @property
    def named(self) -> bool:
        """Whether it names users or groups: then its mask, the mode's group bits, lets them in too."""
        return any(tag in (USER, GROUP) for tag, _, _ in self.entries)

    def group_allows(self, bits: int) -> bool:
        """Whether the owning group's entry, masked, grants any of `bits` (0o1 enter, 0o5 read or enter)."""
        return bool(self.group & self.mask & bits)

    def named_users(self, bits: int) -> set[int]:
        """The uids whose named entry, masked, grants any of `bits`."""
        return {uid for uid, perm in self.users.items() if perm & self.mask & bits}

    def named_groups(self, bits: int) -> set[int]:
        """The gids whose named entry, masked, grants any of `bits`."""
        return {gid for gid, perm in self.groups.items() if perm & self.mask & bits}


@dataclass(frozen=True)
class Unreadable:
    """An attribute that is not a POSIX ACL this parser takes: why, in words ("unreadable POSIX ACL (...)")."""

    reason: str

    def __str__(self) -> str:
        return f"unreadable POSIX ACL ({self.reason})"


def read_acl(path: Path | str, follow_symlinks: bool = True) -> Acl | Unreadable | None:
    """`path`'s access ACL (through a link unless `follow_symlinks` is False); None when it has none or its file
    system keeps none; `Unreadable` when the attribute is no ACL (`parse_acl`). Any other OSError is raised."""
    try:
        raw = os.getxattr(path, ACCESS, follow_symlinks=follow_symlinks)
    except OSError as error:
        if error.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        raise
    return parse_acl(raw)


def parse_acl(raw: bytes) -> Acl | Unreadable:
    """An access ACL from its attribute's bytes (the format above); `Unreadable` when they are over `MAX_BYTES`, not
    a header and whole entries, or not of version 2."""
    if len(raw) > MAX_BYTES:
        return Unreadable(f"{len(raw)} bytes, more than the {MAX_BYTES} an ACL can take")
    if len(raw) < HEADER.size or (len(raw) - HEADER.size) % ENTRY.size:
        return Unreadable(f"{len(raw)} bytes, not a {HEADER.size}-byte version and {ENTRY.size}-byte entries")
    version = HEADER.unpack_from(raw)[0]
    if version != VERSION:
        return Unreadable(f"version {version}, not {VERSION}")
    return Acl(tuple(ENTRY.iter_unpack(raw[HEADER.size :])))
