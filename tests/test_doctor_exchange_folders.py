"""`lrcourse doctor`'s lines on the modes of the exchange's course folder and the folders in it
(lrcourse/grading/doctor/exchange.py, entry.py): one students cannot enter is warned of, one only its group may enter too;
an inbound folder listed through a POSIX ACL names it; a folder its group may write in warned of as a non-root grader,
noted where only the grader is listed in that group. Split from tests/test_doctor.py (its 400 lines)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.doctor.exchange import exchange_root

from support.exchange_apps import exchange_in
from support.other_uid import as_user


def readme_course(open_tmp: Path) -> Path:
    """The course folder of README's root set-up in a 1777 exchange: 0755, outbound/ 0755, inbound/ 3733."""
    course = exchange_in(open_tmp, 0o1777) / "lr-schedules"
    (course / "outbound").mkdir(parents=True)
    (course / "inbound").mkdir()
    course.chmod(0o755)
    (course / "outbound").chmod(0o755)
    (course / "inbound").chmod(0o3733)
    return course


@pytest.mark.parametrize("where", ["", "outbound"])
def test_the_doctor_warns_of_a_course_or_outbound_folder_students_cannot_enter(open_tmp: Path, where):
    """R20g2 W2: a course folder left 0700 by a refused release: the next release said "Released as", no student
    could fetch ("Assignment not found"), and the doctor said ok. It warns now, naming the folder and the mend."""
    course = readme_course(open_tmp)
    assert not exchange_root(open_tmp).warning
    folder = course / where
    folder.chmod(0o700)
    said = exchange_root(open_tmp)
    assert said.warning and not said.failed, said
    assert f"{folder} (mode 0700) cannot be entered by other users: students cannot fetch" in said.problem, said
    assert said.fix.startswith(f"`chmod o+rx {folder}`"), said.fix


@pytest.mark.parametrize("where", ["", "outbound"])
def test_a_course_or_outbound_folder_only_its_group_may_enter_is_warned_of_naming_who_is_in_it(
    open_tmp: Path, where, monkeypatch
):
    """R20h2 M1: a course folder 0750 kept to the course's group works (its students fetch and submit), yet the doctor
    warned "cannot be entered by other users: students cannot fetch nor submit" and its mend, `chmod o+rx`, opened the
    course to every user on the machine. It then said ok, with a note, also of a group of staff, and no student could
    fetch or submit (R20b M1). The doctor cannot know who the students are: it warns that only the group's members,
    named, can, `chgrp` its first mend. A group listing no one but the folder's owner (root's 0750 root:root) is said
    to leave students out."""
    from lrcourse.grading.doctor import entry

    course = readme_course(open_tmp)
    folder = course / where
    folder.chmod(0o750)
    group = grp.getgrgid(folder.stat().st_gid).gr_name
    owner = pwd.getpwuid(folder.stat().st_uid).pw_name
    monkeypatch.setattr(entry, "listed_members", lambda gid: sorted({owner, "alice"}))  # someone in the group
    said = exchange_root(open_tmp)
    assert said.warning and not said.failed, said
    can = "fetch and submit" if where == "" else "fetch"
    assert (
        f"{folder} (mode 0750) can be entered by its group {group} only: only members of that group (" in said.problem
    )
    assert "alice" in said.problem and f") can {can}: check that every student of the course is in it" in said.problem
    assert said.fix.startswith(f"`chgrp` {folder} to a group every student of the course is in (as root), or `chmod")
    monkeypatch.setattr(entry, "listed_members", lambda gid: [owner])  # no one but its owner listed
    said = exchange_root(open_tmp)
    assert said.warning and f"can be entered by its group {group} only, in which no one but its owner" in said.problem
    assert said.fix.startswith("`chgrp` it to a group of the course's students (as root), or `chmod o+rx"), said.fix
    folder.chmod(0o700)  # nor its group: students cannot fetch, warned with the mend
    said = exchange_root(open_tmp)
    assert said.warning and "cannot be entered by other users" in said.problem, said


def test_a_closed_folder_with_a_posix_acl_is_a_note_not_its_group(open_tmp: Path, monkeypatch):
    """R20i2 M2 (a, c): under a POSIX ACL the mode's group bits are its mask: a 0700 folder with u:<student>:rx was
    called "entered by its group only" (false, and ok), and 0750 root:root with g:<students>:rx was warned with an
    `o+rx` mend (false: they fetch). Now a note says its ACL decides who enters, `getfacl`, with no mend."""
    course = readme_course(open_tmp)
    course.chmod(0o750)
    monkeypatch.setattr("lrcourse.grading.exchange.root.acl_named", lambda path: path == str(course))
    said = exchange_root(open_tmp)
    assert not said.problem and not said.fix, said
    assert (
        f"{course} (mode 0750) carries a POSIX ACL, which decides who may enter it: check with `getfacl {course}`"
        in (said.name)
    ), said.name
    assert "group" not in said.name.split("(note:", 1)[1], said.name


def test_course_and_outbound_kept_to_different_groups_are_warned_of(open_tmp: Path, monkeypatch):
    """R20i2 M2 (b): the course folder 0750 for one group, outbound 0750 for another: the doctor noted only the first
    ("members of group r20is can fetch and submit"), and they could not fetch. Both are checked: warned of."""
    from lrcourse.grading.doctor import entry

    course = readme_course(open_tmp)
    course.chmod(0o750)
    (course / "outbound").chmod(0o750)
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["alice"])
    groups = iter(("students", "graders"))  # the course folder's group is looked up first, then outbound's
    monkeypatch.setattr("lrcourse.grading.exchange.root.group_name", lambda gid: next(groups, "other"))
    said = exchange_root(open_tmp)
    assert said.warning and "by group students only" in said.problem and "by group graders only" in said.problem
    assert "only students in both can fetch" in said.problem, said


def test_an_inbound_folder_listed_through_a_posix_acl_names_the_acl(open_tmp: Path):
    """R20g2 M3: inbound 3733 plus an access ACL u:54321:rx (mode 3773: the group bits are its mask): the doctor blamed
    only the group (root: "members listed here: root"), which reassures; it names the POSIX ACL's entries that list it
    (r20g N4) and `setfacl -b`."""
    from support.posix_acl import acl_bytes, set_acl

    course = exchange_in(open_tmp, 0o1777) / "lr-schedules"
    course.mkdir(mode=0o755)
    inbound = course / "inbound"
    inbound.mkdir()
    set_acl(inbound, "system.posix_acl_access", acl_bytes((0x02, 54321), (0x08, 54322)))
    inbound.chmod(0o3773)
    said = exchange_root(open_tmp)
    assert said.warning and "(through its POSIX ACL: `getfacl` shows it)" in said.problem, said
    # r20g N4: the class group a g:<class>:rwx entry lets list it is named, not only the folder's group (root)
    assert "listed by user 54321, its group root (members listed here: root), group gid 54322 (" in said.problem, said
    assert f"setfacl -b {inbound}" in said.fix, said.fix


def graders_course(scratch: Path) -> Path:
    """The exchange's course folder in `scratch` (made 0755: the grader may enter it) with outbound/ and feedback/,
    each 0755 and the non-root grader's (uid 54323, gid 54324)."""
    scratch.chmod(0o755)
    course = scratch / "lr-schedules"
    for folder in (course, course / "outbound", course / "feedback"):
        folder.mkdir(mode=0o755)
        os.chown(folder, 54323, 54324)
    return course


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
@pytest.mark.parametrize("where", ["", "outbound", "feedback"])
def test_the_doctor_warns_a_non_root_grader_of_a_group_writable_exchange_folder(open_tmp: Path, where):
    """R20g2 M2: a non-root groupshared grader's feedback/ 2771 (group 4244): a student in that group had its
    release_feedback write a feedback page over the source notebook through her link, and the doctor said ok. It warns
    now, naming the group's members; root is not warned here (it fails a group but root's: `shared_folders`)."""
    from lrcourse.grading.doctor.entry import group_writers

    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-doctor-"))  # the grader may enter it (pytest's open_tmp: 0700)
    try:
        course = graders_course(scratch)
        assert as_user(54323, lambda: group_writers(course)) == "None"
        (course / where).chmod(0o2775)
        said = as_user(54323, lambda: group_writers(course))
        assert f"{course / where} (mode 2775) is writable by its group gid 54324 (no members listed here)" in said
        assert "everyone in that group can have the grader's release write through a link: keep students out" in said
        assert group_writers(course) is None  # root: `shared_folders` fails it instead
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
def test_a_group_writable_exchange_folder_whose_group_lists_only_the_grader_is_a_note(open_tmp: Path, monkeypatch):
    """R20h2 N2: a non-root groupshared grader alone in its group was still warned "keep students out of it", so the
    honest groupshared set-up never got the doctor's ok. Where only the grader is listed, a note (mend None) says so
    and that a directory service's members are not listed; anyone else listed keeps the warning."""
    from lrcourse.grading.doctor import entry

    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-doctor-"))  # the grader may enter it (pytest's open_tmp: 0700)
    try:
        course = graders_course(scratch)
        (course / "outbound").chmod(0o2775)
        grader = pwd.struct_passwd(("grader", "x", 54323, 54324, "", "/", "/bin/sh"))
        monkeypatch.setattr(entry.pwd, "getpwuid", lambda uid: grader)  # no account made: 54323 is "grader"
        monkeypatch.setattr(entry, "listed_members", lambda gid: ["grader"])
        said = as_user(54323, lambda: entry.group_writers(course))
        assert said.endswith("only you are listed in it (members a directory service provides are not listed)', None)")
        assert f"{course / 'outbound'} (mode 2775) is writable by its group gid 54324: only you" in said, said
        monkeypatch.setattr(entry, "listed_members", lambda gid: ["grader", "mallory"])
        said = as_user(54323, lambda: entry.group_writers(course))
        assert "(members listed here: grader, mallory): everyone in that group" in said, said
        assert "take every student out of group `gid 54324`, or `chmod g-w" in said, said
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_the_course_folders_of_roots_are_found_once_for_the_problem_and_its_mend(open_tmp: Path, monkeypatch):
    """`course_owner.not_yours` named root's folders and then found them again for `chown_mend`: a folder made or
    chowned between the two looks could be in the mend and not the problem. Each owner is looked up once."""
    from lrcourse.grading.doctor import course_owner
    from lrcourse.grading.exchange.inbound_folder import Exchange

    exchange = Exchange(open_tmp, "lr-schedules")
    course = open_tmp / "lr-schedules"
    asked = []

    def theirs(exchange, owner=0):
        asked.append(owner)
        return [course, exchange.inbound] if owner == 0 else []

    monkeypatch.setattr(course_owner, "theirs", theirs)
    said = course_owner.not_yours(exchange)
    assert asked == [0], asked
    assert said.problem.startswith(f"{course} is root's, not yours") and f"{course} {exchange.inbound}`" in said.fix
