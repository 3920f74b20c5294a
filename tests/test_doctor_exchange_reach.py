"""`lrcourse doctor`'s lines on whether students can reach and write in the exchange's root (lrcourse/grading/doctor/
entry.py, `closed_folders`), checked against nbgrader's own test (`check_directory(root, write=True, execute=True)`,
which its fetch, list and submit run first, `Exchange.ensure_root`) run as a student's uid: a root the students may
enter but not write in (R20c W1), a folder above the root closed to them (R20c M1), the `chgrp` mend naming the user
who collects (R20c M2), a root and course folder kept to different groups (R20c N3), a group an ACL keeps out
whose member another entry lets in (r20g N3), a member whose own entry shuts them out (r20h N1), an ACL whose
mask is empty (r20h N2)."""

from __future__ import annotations

import os
import struct

import pytest
from nbgrader.utils import check_directory

import lrcourse.grading.exchange.nbgrader_release  # noqa: F401 (imported here: a child as another uid may not)
from lrcourse.grading.doctor.exchange import exchange_root

from support.doctor_exchange import GRADER, STUDENT, course_in, listing, scratch_folder, student_may_use
from support.other_uid import as_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.fixture
def scratch():
    """A folder every uid may enter, removed afterwards, with the README's course folders in `scratch/exchange`
    (`course_in`)."""
    with scratch_folder() as folder:
        yield folder


@pytest.mark.parametrize("mode, gid", [(0o1750, STUDENT), (0o1775, 0), (0o0755, 0)])
def test_a_root_students_may_enter_but_not_write_in_is_warned_of(scratch, monkeypatch, mode, gid):
    """R20c W1: a root 1750 in the students' group got "only members of that group ... can fetch and submit", and
    1775 or 0755 of root's a plain ok; nbgrader's fetch, list and submit said "Unwritable directory" to each student.
    The doctor needs w+x for the students, as nbgrader does."""
    course = course_in(monkeypatch, scratch, mode, owner=0)  # root's set-up: root's doctor may enter any root
    os.chown(course.parent, 0, gid)
    listing(monkeypatch, {STUDENT: ["alice", "bob"]})
    assert not student_may_use(course.parent)
    said = exchange_root(scratch)
    assert said.warning and said.name == "the nbgrader exchange's root", said
    assert "can fetch and submit" not in said.problem and "keeps the course's folder in place" not in said.name
    verb = "written in" if mode & 0o001 else "entered nor written in"
    if mode == 0o1775:  # its group root writes, in which only root is listed
        assert "(mode 1775) can be written in by its group root only, in which no one but its owner" in said.problem
    else:
        assert f"{course.parent} (mode {mode:04o}) cannot be {verb} by other users" in said.problem, said
    assert 'stop with "Unwritable directory"' in said.problem and f"`chmod 1777 {course.parent}`" in said.fix, said
    if mode == 0o1750:
        assert f"(its group gid {STUDENT} may enter, not write): students cannot fetch nor submit" in said.problem
    course.parent.chmod(mode | 0o020)  # group write: its members may; said so, kept to its group
    said = exchange_root(scratch)
    if gid == STUDENT:
        assert student_may_use(course.parent)
        assert (
            "by its group gid 54321 only: only members of that group (members listed here: alice, bob)" in said.problem
        )
        assert said.warning and " and submit: check that every student of the course is in it" in said.problem, said
    course.parent.chmod(0o1777)  # the README's
    assert student_may_use(course.parent)
    said = exchange_root(scratch)
    assert not said.warning and not said.problem and "(sticky bit)" in said.name, said


@pytest.mark.parametrize("listed", [False, True])
def test_a_folder_above_the_root_closed_to_students_is_warned_of(scratch, monkeypatch, listed):
    """R20c M1: the root 1777 under a folder 0750 in a group of the grader's: plain ok, and every student command
    said "Unwritable directory". Warned of under the root's label, naming that folder; its `chgrp` mend names the
    user who collects (it enters the folder through that group)."""
    above = scratch / "srv"
    above.mkdir()
    course = course_in(monkeypatch, above, 0o1777)
    os.chown(above, 0, GRADER)
    above.chmod(0o750)
    listing(monkeypatch, {GRADER: ["grader", "ta"]} if listed else {})
    assert not student_may_use(course.parent)
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert 'name="the nbgrader exchange\'s root"' in said and "warning=True" in said, said
    assert f"{above} (mode 0750) can be entered by its group gid {GRADER} only" in said, said
    if listed:
        assert "(members listed here: grader, ta) can fetch and submit: check that every student" in said, said
        assert f"`chgrp` {above} to a group every student of the course and you (the user who collects: " in said
    else:
        assert "students cannot fetch nor submit: nbgrader" in said and "list and submit first check that the" in said
        assert "`chgrp` it to a group of the course's students, with you (the user who collects) in it too" in said
    assert f"`chmod o+x {above}` (as its owner)" in said, said
    above.chmod(0o751)  # others may enter it: ok
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert "warning=False" in said and "problem=''" in said, said


def test_the_chgrp_mend_for_a_root_kept_to_a_group_names_the_user_who_collects(scratch, monkeypatch):
    """R20c M2: a root 1770 in a group of staff: the mend "`chgrp` it to a group every student of the course is in",
    followed, left the grader out of that group and collect could not open inbound/. It says the user who collects
    must be in it too; the course's folder, the grader's own, needs no such words. In a groupshared course: in any
    other, nbgrader's release, not the root's owner, stops at a root not x777 (`release_chmod`, r20d W1)."""
    course = course_in(monkeypatch, scratch, 0o1770, groupshared=True)
    os.chown(course.parent, 0, GRADER)
    listing(monkeypatch, {GRADER: ["grader", "ta"]})
    said = as_user(GRADER, lambda: exchange_root(scratch))
    mend = f"`chgrp` {course.parent} to a group every student of the course and you (the user who collects: lrcourse"
    assert mend in said and "collect must enter it too) are in (as root), or `chmod 1777" in said, said
    course.parent.chmod(0o1777)
    os.chown(course, GRADER, GRADER)
    course.chmod(0o750)
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert f"`chgrp` {course} to a group every student of the course is in (as root)" in said, said


def test_a_root_and_course_folder_kept_to_different_groups_are_the_roots_line_for_fetch_and_submit(
    scratch, monkeypatch
):
    """R20c N3: the root 1770 in the staff's group, the course's folder 0750 in the students': said under the course
    folder's label, "only students in both can fetch"; both are needed to submit too. Groupshared, as above."""
    course = course_in(monkeypatch, scratch, 0o1770, groupshared=True)
    os.chown(course.parent, 0, GRADER)
    os.chown(course, GRADER, STUDENT)
    course.chmod(0o750)
    listing(monkeypatch, {GRADER: ["grader", "ta"], STUDENT: ["alice", "bob"]})
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert 'name="the nbgrader exchange\'s root"' in said and "warning=True" in said, said
    assert f"{course.parent} can be entered by group gid {GRADER} only; {course} can be entered by group" in said
    assert "only students in both can fetch and submit" in said, said
    assert "`chgrp` them to one group every student of the course and you (the user who collects) are in" in said
    os.chown(course.parent, 0, 0)
    course.parent.chmod(0o1777)  # the course's folder and outbound differ: fetch needs both, submit only the first
    os.chown(course / "outbound", GRADER, GRADER)
    (course / "outbound").chmod(0o750)
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert 'name="the nbgrader exchange\'s course folder"' in said and "in both can fetch'" in said, said


def test_a_group_an_acl_keeps_out_is_said_without_its_members_another_entry_lets_in(scratch, monkeypatch):
    """r20g N3: `setfacl -m g:<class>:r-x,g:<ext>:rwx` on the root warned that every listed member of the class
    "cannot fetch nor submit", though one also in <ext> could (the kernel grants through any of a user's groups).
    Such a member is said apart."""
    from support.posix_acl import set_acl

    course = course_in(monkeypatch, scratch, 0o1777, owner=0)
    ext = STUDENT + 10
    entries = [(0x01, 7, -1), (0x04, 5, -1), (0x08, 5, STUDENT), (0x08, 7, ext), (0x10, 7, -1), (0x20, 7, -1)]
    raw = b"".join(struct.pack("<HHI", tag, perm, id & 0xFFFFFFFF) for tag, perm, id in entries)
    set_acl(course.parent, "system.posix_acl_access", struct.pack("<I", 2) + raw)
    listing(monkeypatch, {STUDENT: ["alice", "bob"], ext: ["alice"]})
    as_alice = as_user(STUDENT, lambda: check_directory(str(course.parent), write=True, execute=True), (ext,))
    assert as_alice == "True" and not student_may_use(course.parent)  # bob: the class group alone
    said = exchange_root(scratch)
    assert (
        said.warning and f"(group gid {STUDENT}: members listed here: bob; alice may, through another" in said.problem
    )


def root_acl(root, entries) -> None:
    """`root`'s POSIX access ACL set to `entries` ((tag, perm, id), -1 for none), its mode's group bits the mask."""
    from support.posix_acl import set_acl

    raw = b"".join(struct.pack("<HHI", tag, perm, id & 0xFFFFFFFF) for tag, perm, id in entries)
    set_acl(root, "system.posix_acl_access", struct.pack("<I", 2) + raw)


def test_a_member_whose_own_entry_shuts_them_out_is_not_said_to_be_let_in_through_another(scratch, monkeypatch):
    """r20h N1: with `u:<alice>:---` besides `g:<class>:r-x,g:<ext>:rwx`, alice (in both groups) was said to get in
    "through another entry"; her own entry decides alone, and she cannot fetch nor submit."""
    course = course_in(monkeypatch, scratch, 0o1777, owner=0)
    ext, alice = STUDENT + 10, 65534  # alice: `nobody`, a uid this machine names
    entries = [(0x01, 7, -1), (0x02, 0, alice), (0x04, 5, -1), (0x08, 5, STUDENT), (0x08, 7, ext), (0x10, 7, -1)]
    root_acl(course.parent, [*entries, (0x20, 7, -1)])
    listing(monkeypatch, {STUDENT: ["nobody", "bob"], ext: ["nobody"]})
    as_alice = as_user(alice, lambda: check_directory(str(course.parent), write=True, execute=True), (STUDENT, ext))
    assert as_alice == "False", as_alice
    said = exchange_root(scratch)
    assert f"(group gid {STUDENT}: members listed here: nobody, bob)" in said.problem, said.problem
    assert "through another" not in said.problem, said.problem


def test_an_acl_whose_mask_is_empty_shuts_no_one_out(scratch, monkeypatch):
    """r20h N2: `setfacl -m g:<class>:---,u:<student>:---` on a root 1707 (the mask ---) was warned to keep them out,
    though the kernel skips an ACL whose mask (the mode's group bits) is empty: the others' bits let them in."""
    course = course_in(monkeypatch, scratch, 0o1777, owner=0)
    entries = [(0x01, 7, -1), (0x02, 0, STUDENT), (0x04, 0, -1), (0x08, 0, STUDENT), (0x10, 0, -1), (0x20, 7, -1)]
    root_acl(course.parent, entries)
    course.parent.chmod(0o1707)
    listing(monkeypatch, {STUDENT: ["alice"]})
    assert student_may_use(course.parent)
    said = exchange_root(scratch)
    assert not said.problem and "(note" not in said.name and "ACL keeps" not in said.name, said
