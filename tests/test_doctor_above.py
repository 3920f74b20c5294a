"""R20q W1: the doctor looked at the course folder's own write bits only. A student who can write a folder above it
(a 0777 parent, or a parent group-writable for co-instructors whose group holds her) renames the course folder away
and puts her own in its place: the instructor's next `lrcourse` command runs her nbgrader_config.py (as root, in
R20q's run). Now every folder on the way to the course (through a link too) that an account besides its owner and
root can write, or owns, is warned with its mend; a sticky one whose entry is the owner's or root's passes."""

from __future__ import annotations

import os
import pwd
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.doctor.above import lookups, writable_above
from lrcourse.grading.doctor.accounts import Accounts
from lrcourse.grading.doctor.diagnose import course_folder_closed
from lrcourse.grading.exchange import access_acl as acl

from support.students import Students, needs_root

ABOVE = "a folder above it can be written by accounts besides its owner and root"


@pytest.fixture
def scratch():
    """A folder in /tmp every account can enter (pytest's own base is 0700: no one else reaches anything in it)."""
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="lrcourse-above-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_parent_every_account_may_write_is_warned_a_sticky_one_not(scratch):
    parent, course = scratch / "courses", scratch / "courses" / "lr"
    course.mkdir(parents=True, mode=0o700)
    parent.chmod(0o777)
    said = course_folder_closed(course)
    assert said.warning and f"{ABOVE} ({parent} (mode 0777): every account)" in said.line(), said.line()
    assert "nbgrader_config.py" in said.problem and not said.problem.startswith("mode 0700"), said.problem
    assert said.fix == f"`chmod go-w {parent}` (or `chmod +t {parent}`)", said.fix
    parent.chmod(0o1777)  # as /tmp: only the course's owner (or root) may rename it
    assert not course_folder_closed(course).warning, course_folder_closed(course)
    parent.chmod(0o755)
    assert not course_folder_closed(course).warning, course_folder_closed(course)


def test_the_folder_holding_a_link_to_the_course_is_checked_and_so_are_those_the_link_leads_through(scratch):
    (scratch / "closed" / "lr").mkdir(parents=True, mode=0o700)
    links = scratch / "links"
    links.mkdir(mode=0o777)
    links.chmod(0o777)
    (links / "lr").symlink_to("../closed/lr")
    said = course_folder_closed(links / "lr")
    assert said.warning and f"({links} (mode 0777): every account)" in said.line(), said.line()
    assert said.fix == f"`chmod go-w {links}` (or `chmod +t {links}`)", said.fix
    links.chmod(0o755)
    assert not course_folder_closed(links / "lr").warning
    (scratch / "closed").chmod(0o777)  # the link's target's folder
    assert f"({scratch / 'closed'} (mode 0777): every account)" in course_folder_closed(links / "lr").line()
    looked_in = [*reversed(scratch.parents), scratch, links, scratch, scratch / "closed"]  # "..": from links
    assert [folder for folder, _ in lookups(links / "lr")] == looked_in


def test_the_root_and_tmp_pass_as_they_are():
    """/ (0755) and /tmp (1777, root's, its entries root's here) are no one else's to write."""
    accounts = Accounts(os.getuid())
    assert writable_above(Path("/tmp"), accounts) == ([], [])
    assert [folder for folder, _ in lookups(Path("/tmp"))] == [Path("/")]


def grant_write(folder: Path, uid: int) -> None:
    """What `setfacl -m u:<uid>:rwx` writes on a 0755 folder (no setfacl on every host: see `access_acl`)."""
    nobody = 0xFFFFFFFF
    entries = [(acl.USER_OBJ, 7, nobody), (acl.USER, 7, uid), (acl.GROUP_OBJ, 5, nobody), (acl.MASK, 7, nobody)]
    raw = b"".join(acl.ENTRY.pack(*entry) for entry in sorted([*entries, (acl.OTHER, 5, nobody)]))
    os.setxattr(folder, acl.ACCESS, struct.pack("<I", acl.VERSION) + raw)


@needs_root
def test_a_parent_a_students_group_or_acl_may_write_or_she_owns_is_warned_and_she_can_take_the_course(scratch):
    """R20q's realistic layout: a parent 2775 whose group (everyone's `users`) holds a student: she moves the course
    folder away. Its group the owner's alone, she cannot, and the doctor passes."""
    students = Students(scratch, ("mallory", "grader"))
    mallory, grader = students.name["mallory"], students.name["grader"]
    group = f"{grader}s"
    parent, course = scratch / "teach", scratch / "teach" / "lr"
    try:
        subprocess.run(["groupadd", group], check=True)
        for name in (mallory, grader):
            subprocess.run(["usermod", "-aG", group, name], check=True)
        course.mkdir(parents=True, mode=0o700)
        shutil.chown(course, grader, grader)
        shutil.chown(parent, "root", group)
        parent.chmod(0o2775)
        said = course_folder_closed(course)
        assert said.warning and f"{ABOVE} ({parent} (mode 2775): {mallory})" in said.line(), said.line()
        assert said.fix == f"`chmod go-w {parent}` (or `chmod +t {parent}`)", said.fix
        students.shell("mallory", 'mv "$1" "$1.moved" && mkdir "$1"', str(course))  # what the warning is about
        shutil.rmtree(course)
        (parent / "lr.moved").rename(course)
        shutil.chown(parent, "root", grader)  # its group the course owner's alone
        assert not course_folder_closed(course).warning, course_folder_closed(course)
        with pytest.raises(subprocess.CalledProcessError):
            students.shell("mallory", 'mv "$1" "$1.moved"', str(course))
        parent.chmod(0o755)
        grant_write(parent, pwd.getpwnam(mallory).pw_uid)  # an ACL's named entry, as the group's
        said = course_folder_closed(course)
        assert said.warning and f"({parent} (mode 0775): {mallory})" in said.line(), said.line()
        os.removexattr(parent, acl.ACCESS)
        parent.chmod(0o755)  # the mask was its group bits
        shutil.chown(parent, mallory)  # hers: she may chmod it
        said = course_folder_closed(course)
        assert said.warning and f"({parent} (mode 0755, owned by {mallory}, who may chmod it)" in said.line(), said
        assert said.fix == f"`chown root {parent}` (or keep the course folder out of it)", said.fix
    finally:
        students.remove()
        subprocess.run(["groupdel", group], capture_output=True)


def test_the_doctor_command_checks_the_path_given_not_its_link_s_target(scratch, monkeypatch):
    """`lrcourse doctor --course <link>` hands the checks the path as given (R20r W1: resolved, the folder holding the
    link, writable by every account, was never looked at, and root's next command through the link ran a swapped-in
    course's nbgrader_config.py)."""
    from lrcourse.commands import doctor
    from lrcourse.grading.doctor import diagnose

    (scratch / "closed" / "lr").mkdir(parents=True, mode=0o700)
    links = scratch / "links"
    links.mkdir(mode=0o777)
    links.chmod(0o777)
    (links / "lr").symlink_to("../closed/lr")
    given = []
    monkeypatch.setattr(
        diagnose, "diagnose", lambda course, say: [given.append(course) or course_folder_closed(course)]
    )
    assert doctor.command_doctor(type("Args", (), {"course": str(links / "lr")})()) == 0  # a warning: not a failure
    assert given == [links / "lr"], given
    assert course_folder_closed(given[0]).warning
