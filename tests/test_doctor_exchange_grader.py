"""`lrcourse doctor`'s lines on what the user who collects needs of the exchange (lrcourse/grading/doctor/exchange.py,
lrcourse/grading/exchange/root.py), run as the grader's uid and compared with what collect and nbgrader's release do
as that uid: a root the grader may enter but not list (r20d W1), one nbgrader's release cannot chmod, a folder on
the root's path the grader cannot enter (r20d M2); and what students need, checked against nbgrader's own test run
as a student's uid: a closed folder behind a link on the root's path (r20d M1), one that holds the course folder
(r20d M3), a POSIX ACL that shuts a student out of a root its mode opens (r20d N2); and r20f's: a course folder of
root's (W1), an ACL entry shutting the grader out (M1), a group (N1), Unrelease's line (N2), release's (N3), a folder
the grader owns or is in the group of (N4, N5)."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

import lrcourse.grading.exchange.nbgrader_release  # noqa: F401 (imported here: a child as another uid may not)
from lrcourse.grading.exchange.inbound_folder import Exchange, open_inbound
from lrcourse.grading.exchange.root import root_path_problem

from support import debian
from support.doctor_exchange import (
    GRADER,
    OK,
    STUDENT,
    course_in,
    doctor,
    follow,
    grader_release_all,
    listing,
    moved_aside,
    student_may_use,
)
from support.exchange_apps import course_with_a_release, exchange_app
from support.other_uid import as_user
from support.posix_acl import set_acl

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


def grader_collects(root: Path) -> str:
    """What collect's opening of the inbound folder gives as the grader's uid: an fd's number, or the refusal."""
    return as_user(GRADER, lambda: open_inbound(Exchange(root, "lr-schedules")))


def grader_releases(root: Path, open_tmp: Path) -> str:
    """nbgrader's release's (the course's) check of the root, as the grader's uid: None, or why it stops."""
    course = course_with_a_release(Path(tempfile.mkdtemp(dir=open_tmp)))
    app = exchange_app("assignment", root, course)
    return as_user(GRADER, app.ensure_root)


@pytest.mark.parametrize("mode", [0o1733, 0o1333])
def test_a_root_the_grader_may_enter_but_not_list_is_said_so_not_blamed_on_the_course_folder(
    open_tmp, monkeypatch, mode
):
    """r20d W1: a root 1733 of root's was said to be a course folder collect refuses, with the mend to remove it
    (and every submission in it); collect and release went on failing after. The root's line names the root, the
    mend is `chmod 1777`, and a course folder the grader cannot list is never said to be removed."""
    course = course_in(monkeypatch, open_tmp, mode)
    assert "Permission denied" in grader_collects(course.parent)
    assert "Could not change permissions" in grader_releases(course.parent, open_tmp)
    said = doctor(open_tmp)
    assert said.startswith("the nbgrader exchange's root |") and "stops=collect" in said, said
    assert f"may enter the exchange's root {course.parent} (mode {mode:04o}, owner root, group root) but not" in said
    assert "remove it" not in said and f"fix: `chmod 1777 {course.parent}` (as root" in said, said
    course.parent.chmod(0o1777)  # the mend, as written
    assert grader_collects(course.parent).isdigit() and grader_releases(course.parent, open_tmp) == "None"
    said = doctor(open_tmp)
    assert OK in said and "keeps the course's folder in place (sticky bit)" in said, said
    os.chown(course, 0, 0)  # the course's folder root's, 0711: the grader cannot list it
    course.chmod(0o711)
    said = doctor(open_tmp)
    assert f"you cannot list {course} (mode 0711, owner root" in said and "remove it" not in said, said
    assert f"`chown {GRADER} {course}` (as root; the README's instructor set-up makes the course folder" in said, said
    os.chown(course, GRADER, 0)  # the mend, as written: it then lists it (0711, its owner's rwx)
    assert grader_collects(course.parent).isdigit() and OK in doctor(open_tmp)


@pytest.mark.parametrize("mode, groupshared", [(0o1707, False), (0o1770, False), (0o1770, True), (0o1755, False)])
def test_a_root_nbgraders_release_cannot_chmod_is_a_release_failure(open_tmp, monkeypatch, mode, groupshared):
    """r20d W1 (release): nbgrader's release makes a root not x777 0777, which only its owner or root may: a root
    1707 of root's got a plain ok and the release stopped ("Could not change permissions"); one kept to a group
    (1770) was told to be `chgrp`ed, after which the release stopped the same. In a groupshared course nbgrader
    leaves the root alone."""
    course = course_in(monkeypatch, open_tmp, mode, groupshared=groupshared)
    if mode == 0o1770:
        os.chown(course.parent, 0, GRADER)  # the grader enters it through its group
    said = doctor(open_tmp)
    if groupshared:
        assert "stops=release" not in said and "Could not change permissions" not in said, said
        return
    assert "Could not change permissions" in grader_releases(course.parent, open_tmp)
    assert said.startswith("the nbgrader exchange's root |") and "stops=release" in said, said
    group = f"gid {GRADER}" if mode == 0o1770 else "root"
    assert f"{course.parent} (mode {mode:04o}, owner root, group {group}) is not yours" in said, said
    assert "nbgrader's release refuses it" in said and f"fix: `chmod 1777 {course.parent}` (as root" in said, said
    course.parent.chmod(0o1777)
    assert grader_releases(course.parent, open_tmp) == "None"
    assert OK in doctor(open_tmp)


@pytest.mark.parametrize("mode, gid", [(0o700, 0), (0o750, 0), (0o710, STUDENT), (0o700, STUDENT)])
def test_a_folder_on_the_roots_path_the_grader_cannot_enter_is_named_with_its_mend(open_tmp, monkeypatch, mode, gid):
    """r20d M2: a folder above the root the grader cannot enter was said to be a path "another account could point
    ... anywhere", with the mend to choose another (this one already root's through and through). The line names the
    folder, its mode, owner and group, and the mends `chmod o+x` or the grader in its group (never group root)."""
    above = open_tmp / "srv"
    above.mkdir()
    course = course_in(monkeypatch, above, 0o1777)
    os.chown(above, 0, gid)
    above.chmod(mode)
    assert "Permission denied" in grader_collects(course.parent)
    said = doctor(open_tmp)
    assert "another account could point" not in said and "stops=collect" in said, said
    group = "root" if gid == 0 else f"gid {gid}"
    assert f"you cannot enter {above} (mode {mode:04o}, owner root, group {group}) on its path" in said, said
    bits = "go+x" if gid and not mode & 0o010 else "o+x"  # a group without x keeps its members out, students too
    assert f"`chmod {bits} {above}` (as its owner; every student must enter it too)" in said, said
    assert ("put yourself in its group" in said) == bool(gid), said
    assert (f"`chmod g+x {above}` and put yourself" in said) == (gid and not mode & 0o010), said
    unrelease = exchange_app("list", course.parent, open_tmp, inbound=True)  # r20f N2: Unrelease says it too
    said = as_user(GRADER, unrelease.start)
    assert f"lrcourse unrelease: the exchange's root {course.parent}: you cannot enter {above} (mode" in said, said
    above.chmod(mode | (0o011 if bits == "go+x" else 0o001))  # the first mend, as written
    assert grader_collects(course.parent).isdigit() and student_may_use(course.parent)
    assert OK in doctor(open_tmp)


def test_a_closed_folder_behind_a_link_on_the_roots_path_is_warned_of(open_tmp, monkeypatch):
    """r20d M1: a root reached through a root's link (`/srv/nbgrader -> /data/...`) whose target's folder students
    cannot enter got a plain ok: the folders above the root were those of the path as written."""
    closed = open_tmp / "closed"
    (closed / "inner").mkdir(parents=True)
    (open_tmp / "link").symlink_to(closed / "inner")
    course = course_in(monkeypatch, open_tmp / "link", 0o1777)
    os.chown(closed, 0, GRADER)
    closed.chmod(0o750)
    listing(monkeypatch, {GRADER: ["grader"]})
    assert not student_may_use(course.parent)
    said = doctor(open_tmp)
    assert said.startswith("the nbgrader exchange's root |") and "warning=True" in said, said
    assert f"{closed} (mode 0750) can be entered by its group gid {GRADER} only" in said, said
    assert f"`chmod o+x {closed}` (as its owner)" in said, said
    closed.chmod(0o751)
    assert student_may_use(course.parent)
    assert OK in doctor(open_tmp)


@pytest.mark.parametrize("mode, gid", [(0o700, GRADER), (0o750, GRADER), (0o710, STUDENT)])
def test_a_closed_folder_holding_the_course_folder_is_kept_closed_and_the_exchange_put_elsewhere(
    open_tmp, monkeypatch, mode, gid
):
    """r20d M3: the exchange in the grader's home (0700, as the README keeps it): the mend `chmod o+x` on the home let
    every student into a course folder `git clone` left 0755. The mend is an exchange elsewhere; `chgrp` is not
    offered either (it lets the group's students in just the same)."""
    home = open_tmp / "home"
    (home / "course").mkdir(parents=True)
    course_in(monkeypatch, home, 0o1777)
    os.chown(home, GRADER, gid)
    home.chmod(mode)
    listing(monkeypatch, {GRADER: ["grader"], STUDENT: ["alice", "bob"]})
    said = doctor(home / "course")
    assert said.startswith("the nbgrader exchange's root |") and "warning=True" in said, said
    assert f"keep {home} closed (it holds the course folder {home / 'course'}" in said, said
    assert "set c.Exchange.root to a folder outside it, as the README's instructor set-up's /srv/nbgrader/" in said
    assert "o+x" not in said and "chgrp" not in said, said
    said = doctor(open_tmp / "elsewhere")  # a course folder not in it: the old mends
    assert f"`chmod o+x {home}` (as its owner)" in said, said


def test_a_posix_acl_shutting_a_student_out_of_a_root_its_mode_opens_is_noted(open_tmp, monkeypatch):
    """r20d N2: `setfacl -m u:<student>:---` on a 1777 root got a plain ok while that student could not fetch nor
    submit. The ok line notes it, naming the student."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    entries = [(0x01, 7, 0xFFFFFFFF), (0x02, 0, STUDENT), (0x04, 7, 0xFFFFFFFF), (0x10, 7, 0xFFFFFFFF)]
    entries.append((0x20, 7, 0xFFFFFFFF))
    set_acl(
        course.parent,
        "system.posix_acl_access",
        struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries),
    )
    course.parent.chmod(0o1777)
    assert not student_may_use(course.parent)
    said = doctor(open_tmp)
    assert OK in said and "keeps the course's folder in place" in said, said
    assert (
        f"(note: {course.parent} (mode 1777) lets others in by its mode, but its POSIX ACL keeps uid {STUDENT}" in said
    )
    assert "out: they cannot fetch nor submit" in said, said


def test_a_course_folder_of_roots_is_not_said_to_be_the_graders_and_the_chown_mend_lets_release_work(
    open_tmp, monkeypatch
):
    """r20f W1: the README's `install -d` lines without `-o <grader>` leave the course's and inbound folders root's;
    the doctor's one mend, `chown` of inbound/, led to "ok ... is yours" while the grader's release still failed.
    Every folder of root's there is named, in the first mend and in a FAIL of its own, and the mend lets it release."""
    course = course_in(monkeypatch, open_tmp, 0o1777, owner=0)
    said = doctor(open_tmp)
    assert f"you cannot list {course / 'inbound'} (mode 3733, owner root" in said, said
    assert "refuses it, and nbgrader's release, which opens it too, stops" in said, said  # r20g N6
    assert f"cannot make or open {course / 'inbound'}: Perm" in grader_release_all(course.parent, open_tmp)
    assert f"`chown {GRADER} {course} {course / 'inbound'} {course / 'outbound'}` (as root" in said, said
    os.chown(course / "inbound", GRADER, 0)  # the inbound folder alone, as r20f followed the old mend
    said = grader_release_all(course.parent, open_tmp)  # r20f N3: in one line, not a traceback's PermissionError
    assert (
        said.startswith("ExchangeError")
        and f"cannot write {str(course / 'outbound' / 'ch1')!r}, in the exchange: Permission" in said
    ), said
    said = doctor(open_tmp)
    assert "is yours" not in said and said.startswith("the nbgrader exchange's course folder |"), said
    assert f"{course} is root's, not yours (the user who collects): nbgrader's release_feedback" in said, said
    assert f"{course / 'outbound'} is root's, not yours" in said and "stops=release" in said, said  # r20h M1: named
    assert f"fix: `chown {GRADER} {course} {course / 'outbound'}` (as root" in said and "in it (Perm" in said, said
    assert "course folder (0755) and inbound (3733) yours; your release makes outbound and feedback, yours)" in said
    os.chown(course, GRADER, 0)  # the mend, as written
    os.chown(course / "outbound", GRADER, 0)
    assert grader_release_all(course.parent, open_tmp) == "None"
    assert OK in doctor(open_tmp) and (course / "outbound" / "ch1").is_dir()


def shut_out(folder: Path, tag: int, id: int, perm: int = 0, group: int | None = None) -> None:
    """A POSIX access ACL on `folder` whose one named entry (`tag` 0x02 user, 0x08 group) gives `id` `perm` (nothing:
    setfacl -m u:<id>:---), `group::` `group` (None: the mode's), its mode kept (its group bits the mask)."""
    mode = folder.stat().st_mode
    perms = [mode >> 6 & 7, perm, mode >> 3 & 7 if group is None else group, 7, mode & 7]
    tags = [0x01, tag, 0x04, 0x10, 0x20]
    entries = sorted((t, p, id if t == tag else 0xFFFFFFFF) for t, p in zip(tags, perms, strict=True))  # by tag
    set_acl(
        folder, "system.posix_acl_access", struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    )
    folder.chmod(stat.S_IMODE(mode))


@pytest.mark.parametrize("where", ["above", "root"])
def test_a_posix_acl_entry_shutting_the_grader_out_is_named_with_setfacl_not_a_mode_it_has(
    open_tmp, monkeypatch, where
):
    """r20f M1: `setfacl -m u:<grader>:---` on a folder on the root's path (0755) or on the root (1777) got `chmod
    o+x` or `chmod 1777`, bits it already had; the same line came back after them. The entry is named, and the mend
    `setfacl -x` lets the grader collect."""
    above = open_tmp / "srv"
    above.mkdir()
    course = course_in(monkeypatch, above, 0o1777)
    folder = above if where == "above" else course.parent
    shut_out(folder, 0x02, GRADER)
    assert "Permission denied" in grader_collects(course.parent)
    said = doctor(open_tmp)
    assert (
        f"its POSIX ACL's entry u:{GRADER}:--- shuts you out whatever its mode" in said and "stops=collect" in said
    ), said
    assert f"`setfacl -x u:{GRADER} {folder}`" in said and "chmod" not in said, said
    if where == "above":
        shared = as_user(GRADER, lambda: root_path_problem(course.parent))  # collect's and release's line too
        assert f"Fix: `setfacl -x u:{GRADER} {folder}`" in shared, shared
    if where == "root":  # r20f N3: a root it may enter (-wx) but not list: release's reason in one line
        shut_out(folder, 0x02, GRADER, perm=3)
        said = grader_release_all(course.parent, open_tmp)
        assert said.startswith("ExchangeError") and f"cannot make or open {folder}: Permission denied" in said, said
        assert f"`setfacl -x u:{GRADER} {folder}` (as root: its POSIX ACL's entry u:{GRADER}:-wx" in doctor(open_tmp)
    os.removexattr(folder, "system.posix_acl_access")  # the mend, as written (the entry was its only named one)
    assert grader_collects(course.parent).isdigit() and OK in doctor(open_tmp)


@pytest.mark.parametrize("owner, gid, mode, bits", [(GRADER, 0, 0o644, "uo+x"), (0, GRADER, 0o705, "g+x")])
def test_a_folder_on_the_path_the_grader_owns_or_is_in_the_group_of_gets_its_own_class_bits(
    open_tmp, monkeypatch, owner, gid, mode, bits
):
    """r20f N4: a folder on the root's path the grader owns, 0644, got `chmod o+x`, which leaves its owner out; N5: one
    0705 in the grader's own group got "put yourself in its group". The mend is its own class's bits and the
    students', and, followed, lets the grader collect and the students in."""
    above = open_tmp / "srv"
    above.mkdir()
    course = course_in(monkeypatch, above, 0o1777)
    os.chown(above, owner, gid)
    above.chmod(mode)
    said = doctor(open_tmp)
    assert f"you cannot enter {above} (mode {mode:04o}" in said, said
    assert f"fix: `chmod {bits} {above}` (as its owner; every student must enter it too)" in said, said
    assert "put yourself in its group" not in said, said
    above.chmod(mode | 0o111)  # the mend, as written
    assert grader_collects(course.parent).isdigit() and student_may_use(course.parent)
    assert OK in doctor(open_tmp)


def test_a_posix_acl_shutting_a_whole_group_out_of_the_root_is_warned_of_naming_its_members(open_tmp, monkeypatch):
    """r20f N1: `setfacl -m g:<students>:r-x` on a 1777 root kept the class from fetching and submitting, and the line
    was an ok with a note naming no one. It warns, naming the group's members, with `setfacl -x` for the group."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    shut_out(course.parent, 0x08, STUDENT, perm=5)
    listing(monkeypatch, {STUDENT: ["alice", "bob"]})
    assert not student_may_use(course.parent)
    said = doctor(open_tmp)
    assert "warning=True" in said and f"its POSIX ACL keeps group gid {STUDENT} out" in said, said
    assert "(group gid 54321: members listed here: alice, bob)" in said, said
    assert f"`setfacl -x g:{STUDENT} {course.parent}` (as its owner) if a student of the course is in it" in said
    os.removexattr(course.parent, "system.posix_acl_access")  # the mend, as written (its only named entry)
    assert student_may_use(course.parent) and OK in doctor(open_tmp)


def test_an_outbound_folder_of_another_account_is_named_and_removed_not_chowned(open_tmp, monkeypatch):
    """r20g W1: an outbound/ of a student's (or a TA's) was said to be "root's", and its `chown` mend kept her link and
    planted notebook, which classmates then fetched. Its owner is named, the mend is `rm -r` as root, and, followed,
    the release makes it again, the grader's."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    outbound = course / "outbound"
    os.chown(outbound, STUDENT, STUDENT)
    (outbound / "ch2").symlink_to(open_tmp)
    said = doctor(open_tmp)
    assert "root's" not in said and f"{outbound} is owned by uid {STUDENT}, not by you" in said, said
    assert f"fix: `{moved_aside(outbound)} && echo" in said and "not `chown`" in said, said
    assert "stops=release" in said and grader_release_all(course.parent, open_tmp).startswith("ExchangeError")
    shutil.rmtree(follow(said))  # the mend, as written; then what it moved aside
    assert grader_release_all(course.parent, open_tmp) == "None" and OK in doctor(open_tmp)
    assert (outbound / "ch1").is_dir() and outbound.stat().st_uid == GRADER


@pytest.mark.parametrize("closed", ["release/ch1", "release/ch1/notebook.ipynb"])
def test_a_release_file_the_grader_cannot_read_is_said_so_not_blamed_on_the_exchange(open_tmp, monkeypatch, closed):
    """r20g W3: the course's own release folder, root's 0700, gave "cannot write ... (a folder in the exchange not
    yours ...)", and the doctor named nothing; N5: a file so gave a traceback. The line says read, and the course."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    said = grader_release_all(course.parent, open_tmp, closed)
    assert said.startswith("ExchangeError") and f"{closed}', in the course's own files (not the exchange)" in said, said
    assert "cannot read " in said and "Permission denied" in said and "exchange not yours" not in said, said
    assert not (course / "outbound" / "ch1").exists()  # N5: not left empty


def test_a_course_folder_of_roots_the_grader_writes_in_by_its_group_is_the_group_warning_not_a_fail(
    open_tmp, monkeypatch
):
    """r20g W2: a course folder root:staff 2775 (the grader and a TA in staff) got a FAIL "cannot make the chapter's
    folders in it (Permission denied)" though release and collect worked, and the warning that the group (the TA) may
    write there came only after the `chown`. The kernel's rule is the doctor's: the group warning, and release works."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, GRADER)
    course.chmod(0o2775)
    listing(monkeypatch, {GRADER: ["grader", "ta"]})
    said = doctor(open_tmp)
    assert "root's" not in said and "warning=True" in said, said
    assert f"{course} (mode 2775) is writable by its group gid {GRADER} (members listed here: grader, ta)" in said, said
    assert grader_release_all(course.parent, open_tmp) == "None" and grader_collects(course.parent).isdigit()


@pytest.mark.parametrize("case", ["mask", "root_mask", "group_obj"])
def test_an_acl_mask_or_group_entry_shutting_the_grader_out_gets_the_mend_that_lets_it_in(open_tmp, monkeypatch, case):
    """r20g M1: the grader's own entry r-x cut off by the mask (mode 0700) was said to shut it out "whatever its mode",
    with `setfacl -x`, removing the grant; M2: `group::---` in the grader's group (mode 0755, the mask) got `chmod g+x`
    for bits already set. The mask's mend is `chmod g+rx` (the root is listed too); group::'s `setfacl -m g::--x`;
    followed, the grader collects."""
    above = open_tmp / "srv"
    above.mkdir()
    course = course_in(monkeypatch, above, 0o1777)
    folder = course.parent if case == "root_mask" else above
    os.chown(folder, 0, GRADER if case == "group_obj" else 0)
    folder.chmod({"mask": 0o700, "root_mask": 0o1700, "group_obj": 0o755}[case])
    shut_out(folder, 0x02, STUDENT if case == "group_obj" else GRADER, perm=5, group=0)
    said = doctor(open_tmp)
    if case != "group_obj":
        assert f"mask (---: the mode's group bits) cuts off its entry u:{GRADER}:r-x, which grants you x" in said, said
        assert f"fix: `chmod g+rx {folder}` (with a POSIX ACL" in said and "setfacl -x" not in said, said
        folder.chmod(folder.stat().st_mode | 0o050)  # the mend, as written
    else:
        assert "its POSIX ACL's entry g::--- shuts you out whatever its mode" in said, said
        assert f"fix: `setfacl -m g::--x {above}` (as its owner" in said and "chmod" not in said, said
        debian.need_setfacl()
        subprocess.run(["setfacl", "-m", "g::--x", str(above)], check=True)
    assert grader_collects(course.parent).isdigit() and "stops=collect" not in doctor(open_tmp)
