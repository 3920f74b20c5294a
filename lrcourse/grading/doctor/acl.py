"""Who a folder's POSIX access ACL lets in beyond its mode bits, for the doctor's course folder check (R20o M1).

`setfacl -m u:<student>:rx <course>` (or `g:users:rx`, to let teaching assistants in) adds named entries that the
mode bits do not show: with an ACL, the group bits `stat` reports are its mask, not the owning group's. The kernel
keeps the ACL in the `system.posix_acl_access` extended attribute: a 4-byte version (2), then 8-byte entries, each
a tag (u16), its permissions (u16: r 4, w 2, x 1) and an id (u32, for a named user or group), little-endian. A
folder without one (or on a file system without ACLs) is judged by its mode alone. The default ACL
(`system.posix_acl_default`) lets no one into the folder itself: it is what new files and folders in it get.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

ACCESS = "system.posix_acl_access"
VERSION = 2
USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 1, 2, 4, 8, 16, 32
ENTRY = struct.Struct("<HHI")


@dataclass
class Acl:
    """A folder's access ACL: the owning group's permissions, the mask, the named users' and groups' (id to
    permissions)."""

    group: int = 0
    mask: int = 0o7
    users: dict[int, int] = field(default_factory=dict)
    groups: dict[int, int] = field(default_factory=dict)

    def group_allows(self, bits: int) -> bool:
        """Whether the owning group's entry, masked, grants any of `bits` (0o1 enter, 0o5 read or enter)."""
        return bool(self.group & self.mask & bits)

    def named_users(self, bits: int) -> set[int]:
        """The uids whose named entry, masked, grants any of `bits`."""
        return {uid for uid, perm in self.users.items() if perm & self.mask & bits}

    def named_groups(self, bits: int) -> set[int]:
        """The gids whose named entry, masked, grants any of `bits`."""
        return {gid for gid, perm in self.groups.items() if perm & self.mask & bits}


def read_acl(folder: Path | str) -> Acl | None:
    """The folder's access ACL (through a link, as `os.stat` reads its mode); None when it has none (or its file
    system keeps none). An extended attribute that is not an ACL of version 2 raises ValueError."""
    try:
        raw = os.getxattr(folder, ACCESS)
    except OSError as error:
        if error.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        raise
    return parse_acl(raw)


def parse_acl(raw: bytes) -> Acl:
    """An access ACL from its extended attribute's bytes (the format above)."""
    if len(raw) < 4 or (len(raw) - 4) % ENTRY.size or struct.unpack_from("<I", raw)[0] != VERSION:
        raise ValueError(f"not a version {VERSION} POSIX ACL ({len(raw)} bytes)")
    acl = Acl()  # no mask entry (a minimal ACL, the mode bits alone): nothing is masked
    for tag, perm, ident in ENTRY.iter_unpack(raw[4:]):
        if tag == GROUP_OBJ:
            acl.group = perm
        elif tag == MASK:
            acl.mask = perm
        elif tag == USER:
            acl.users[ident] = perm
        elif tag == GROUP:
            acl.groups[ident] = perm
    return acl
