"""The one parser of a folder's POSIX access ACL attribute (lrcourse/grading/exchange/access_acl.py) and what its
callers make of an attribute that is no ACL: a student's folder's attribute is hostile input, bounded in size,
its version checked, and what fails is an "unreadable POSIX ACL" that release and collect refuse and the doctor
says, never an exception that stops them. Before it, the exchange's two copies read past the version and a partial
entry (`root.acl_with_mask`, `other_account.posix_acl`)."""

from __future__ import annotations

import errno
import os
import stat
import struct
from pathlib import Path

import pytest

from lrcourse.grading.exchange import access_acl as acl
from lrcourse.grading.exchange.access_acl import Acl, Unreadable, parse_acl

NOBODY = 0xFFFFFFFF
ENTRIES = [(acl.USER_OBJ, 7, NOBODY), (acl.USER, 5, 1001), (acl.GROUP_OBJ, 5, NOBODY), (acl.GROUP, 4, 100)]


def attribute(entries, version: int = acl.VERSION) -> bytes:
    return struct.pack("<I", version) + b"".join(acl.ENTRY.pack(*entry) for entry in entries)


def test_an_acls_named_entries_count_as_far_as_its_mask_lets_them():
    """The attribute's entries read as the kernel applies them: a named entry's permissions under the mask; without
    a mask entry (a minimal ACL) nothing is masked, and the exchange's checks (`mask_entry` None) take the mode."""
    parsed = parse_acl(attribute([*ENTRIES, (acl.MASK, 1, NOBODY)]))
    assert isinstance(parsed, Acl) and parsed.mask_entry == 1 and parsed.named
    assert (parsed.named_users(0o1), parsed.named_users(0o4), parsed.named_groups(0o5)) == ({1001}, set(), set())
    assert parsed.group_allows(0o1) and not parsed.group_allows(0o4)
    unmasked = parse_acl(attribute(ENTRIES))
    assert unmasked.mask_entry is None and unmasked.mask == 0o7 and unmasked.named_groups(0o4) == {100}
    minimal = parse_acl(attribute([(acl.USER_OBJ, 7, NOBODY), (acl.GROUP_OBJ, 5, NOBODY), (acl.OTHER, 5, NOBODY)]))
    assert not minimal.named and minimal.users == {} and minimal.group == 5


@pytest.mark.parametrize(
    "raw, said",
    [
        (b"", "0 bytes, not a 4-byte version and 8-byte entries"),
        (b"\x02\x00", "2 bytes, not a 4-byte version and 8-byte entries"),
        (attribute(ENTRIES)[:-3], "33 bytes, not a 4-byte version and 8-byte entries"),  # a partial entry
        (attribute(ENTRIES, version=1), "version 1, not 2"),
        (attribute(ENTRIES, version=0x02000000), "version 33554432, not 2"),  # big-endian's 2
        (attribute([(acl.USER, 7, uid) for uid in range(8192)]), "65540 bytes, more than the 65532 an ACL can take"),
    ],
)
def test_an_attribute_that_is_no_acl_is_unreadable_said_in_words_not_raised(raw, said):
    found = parse_acl(raw)
    assert found == Unreadable(said) and str(found) == f"unreadable POSIX ACL ({said})"


def test_the_largest_acl_the_kernel_keeps_is_read():
    raw = attribute([(acl.USER, 7, uid) for uid in range(8191)])
    assert len(raw) == acl.MAX_BYTES and len(parse_acl(raw).users) == 8191


def test_a_folder_without_an_acl_has_none(tmp_path):
    assert acl.read_acl(tmp_path) is None and acl.read_acl(tmp_path, follow_symlinks=False) is None


@pytest.fixture
def hostile(tmp_path, monkeypatch) -> Path:
    """A folder whose access ACL attribute is version 1 bytes naming uid 54321 (what a file system that does not check
    what it stores, as a FUSE mount, hands back): every read of it is answered with them."""
    raw = attribute([*ENTRIES[:1], (acl.USER, 7, 54321), *ENTRIES[2:], (acl.MASK, 7, NOBODY)], version=1)
    real_get, real_list = os.getxattr, os.listxattr

    def getxattr(path, name, *, follow_symlinks=True):
        if Path(path) == tmp_path and name == acl.ACCESS:
            return raw
        return real_get(path, name, follow_symlinks=follow_symlinks)

    def listxattr(path=None, *, follow_symlinks=True):
        extra = [acl.ACCESS] if Path(path) == tmp_path else []
        return real_list(path, follow_symlinks=follow_symlinks) + extra

    monkeypatch.setattr(os, "getxattr", getxattr)
    monkeypatch.setattr(os, "listxattr", listxattr)
    return tmp_path


def test_release_and_collect_refuse_a_folder_whose_acl_is_unreadable_in_words(hostile):
    """`other_account.posix_acl`, the rule of release, release_feedback, Unrelease and collect (`folder_writers`) and
    of root's grade and export: an unreadable one is refused as one naming users would be (the copy read its tags
    past the version)."""
    from lrcourse.grading.exchange.folder_writers import shared_write
    from lrcourse.grading.exchange.other_account import posix_acl

    said = "an unreadable POSIX ACL (version 1, not 2)"
    assert posix_acl(str(hostile)) == said and posix_acl(str(hostile), default=False) == said
    hostile.chmod(0o775)  # with an ACL, the group bits are its mask
    os.chown(hostile, -1, 0 if os.geteuid() == 0 else -1)  # as root, a group but root's is refused whatever its ACL
    problem, mend = shared_write(os.lstat(hostile), hostile)
    assert problem.startswith(f"{hostile} (mode 0775) is writable by other users ({said}"), problem
    assert mend == f"`setfacl -b {hostile}` or `chmod go-w {hostile}`", mend


def test_the_exchange_root_and_the_doctor_say_an_unreadable_acl(hostile, monkeypatch):
    """`root.acl_shuts_out` (collect's and the doctor's "you cannot enter"): an unreadable ACL named with
    `setfacl -b`, not entries read from past its version; `acl_entries` names no lister; the doctor's course folder
    check says "not checked" with the reason (`accounts` raises it as ValueError, as before)."""
    from lrcourse.grading.doctor.accounts import Accounts
    from lrcourse.grading.exchange.root import acl_entries, acl_shuts_out

    monkeypatch.setattr(os, "geteuid", lambda: 54321)  # not the folder's owner
    seen = os.stat(hostile)
    assert acl_shuts_out(hostile, seen) == (
        "its unreadable POSIX ACL (version 1, not 2) may shut you out whatever its mode",
        "`setfacl -b {}` (it removes the ACL)",
    )
    assert acl_entries(hostile, 4) == []
    hostile.chmod(stat.S_IRWXU)
    with pytest.raises(ValueError, match=r"unreadable POSIX ACL \(version 1, not 2\)"):
        Accounts(seen.st_uid).granted(hostile, 0o005)


def test_an_unreadable_error_but_none_there_is_the_callers(monkeypatch, tmp_path):
    def denied(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", str(tmp_path))

    monkeypatch.setattr(os, "getxattr", denied)
    with pytest.raises(OSError):
        acl.read_acl(tmp_path)


def test_the_doctors_members_kept_out_of_a_folder_whose_acl_went_are_not_a_traceback(tmp_path):
    """`entry.kept_out` reads the ACL again after `acl_shut_out` named its groups: gone by then (or no ACL), it says
    so (its copy took the attribute as there and raised AttributeError on None)."""
    from lrcourse.grading.doctor.entry import kept_out

    said = kept_out(tmp_path, os.stat(tmp_path), 100, 0o1)
    assert said == "its POSIX ACL changed as it was read: `getfacl` shows it now"
