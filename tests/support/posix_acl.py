"""POSIX ACLs written as raw xattrs, as the kernel takes them (no setfacl needed), for tests of the rules that refuse
folders and files others may write in through an ACL (tests/test_root_course_acl.py, the exchange's folders)."""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

import pytest


def acl_bytes(*named: tuple[int, int]) -> bytes:
    """A POSIX ACL xattr as the kernel takes it: owner rwx, the named (tag, id) entries rwx, group r-x, mask, other."""
    entries = [(0x01, 7, 0xFFFFFFFF), *((tag, 7, id) for tag, id in named), (0x04, 5, 0xFFFFFFFF)]
    entries += [(0x10, 7, 0xFFFFFFFF)] if named else []
    entries += [(0x20, 5, 0xFFFFFFFF)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in sorted(entries))  # by tag


def set_acl(path: Path, name: str, value: bytes) -> None:
    try:
        os.setxattr(path, name, value)
    except OSError as error:
        if error.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            pytest.skip(f"this filesystem takes no POSIX ACL xattrs ({error.strerror})")
        raise
