"""`lrcourse doctor`'s lines on who may reach the exchange's course folder (lrcourse/grading/doctor/exchange.py), as
reader R20a found them on a real hub: a root the grader cannot enter is said so, not "does not exist yet" (W1); a
grader's course folder closed to its group root, which holds no student, is warned of (M1); outbound that students may
enter but not list is warned of (N2); a group-writable folder whose group lists only root is a note (N4); a default ACL
on the course's folder fails release, not collect, and a course folder's problem carries its own label (M2, N1). As
reader R20b found them: who else may enter a root the grader cannot is said, not "students cannot" (W5); a root or
course folder kept to a group of staff is warned of, naming its members (M1, M2); no "sticky bit" of a root without
one (N1); outbound others may enter is "listed by its group only" (N2)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import lrcourse.grading.exchange.nbgrader_release  # noqa: F401 (imported here: a child as another uid may not)
from lrcourse.grading.doctor.exchange import exchange_root

from support.exchange_apps import exchange_in
from support.other_uid import as_user

GRADER = 54323  # a uid of no account: the grader, as on a hub
STUDENT = 54321

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.fixture
def scratch(monkeypatch):
    """A folder every uid may enter (pytest's open_tmp is 0700), removed afterwards; its exchange found without
    reading nbgrader's configuration, whose search reaches root's own folders (the grader may not read them)."""
    from lrcourse.grading.exchange import inbound_folder

    folder = Path(tempfile.mkdtemp(prefix="lrcourse-doctor-"))
    folder.chmod(0o755)
    exchange = inbound_folder.Exchange(folder / "exchange", "lr-schedules")
    monkeypatch.setattr(inbound_folder, "exchange_of", lambda course: exchange)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def graders_course(scratch: Path, root_mode: int = 0o1777) -> Path:
    """The README's hub set-up in `scratch`: the root root's, the course's folder 0755 and inbound/ 3733 the grader's,
    their group left root's (as `install -d -o <grader>` leaves it), outbound/ 0755."""
    course = exchange_in(scratch, root_mode) / "lr-schedules"
    for folder, mode in ((course, 0o755), (course / "inbound", 0o3733), (course / "outbound", 0o755)):
        folder.mkdir()
        os.chown(folder, GRADER, 0)
        folder.chmod(mode)
    return course


@needs_root
def test_a_root_the_grader_cannot_enter_is_said_so_not_called_missing(scratch, monkeypatch):
    """R20a W1: the root 1770 root:root, the grader not in group root: the doctor said the course's folder "does not
    exist yet" (os.path.lexists is False on EACCES) and to mkdir it, which fails. It says the root cannot be entered,
    by the grader nor by students, that collect cannot open inbound/, and the mend."""
    from lrcourse.grading.doctor import entry

    course = graders_course(scratch, 0o1770)
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["root"])  # group root, as on the reader's hub
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert "does not exist yet" not in said, said
    assert f"cannot look at {course}: Permission denied: you cannot enter the exchange's root {course.parent}" in said
    assert "(mode 1770, owner root): only root and members of group root (members listed here: root) may: " in said
    assert "students cannot fetch nor submit, unless a directory service puts them in that group" in said, said
    assert "lrcourse collect cannot open the inbound folder" in said and "stops='collect'" in said, said
    assert f"chmod 1777 {course.parent}" in said, said
    course.parent.chmod(0o1777)
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert "problem=''" in said, said


@needs_root
def test_a_graders_course_folder_closed_to_its_group_root_is_warned_of(scratch, monkeypatch):
    """R20a M1: the README's `install -d -m 0755 -o <grader>` leaves the course's folder in group root; closed to its
    group (0750), no student could fetch or submit, and the doctor said ok with a note (root is listed in group root,
    and root is not the folder's owner). Only root, the owner or the user running it listed: warned, `chgrp` first."""
    from lrcourse.grading.doctor import entry

    course = graders_course(scratch)
    course.chmod(0o750)
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["root"])  # group root, as on the reader's hub
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert "warning=True" in said and "in which no one but its owner, you or root is listed" in said, said
    assert "students cannot fetch nor submit" in said and "`chgrp` it to a group of the course's students" in said
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["alice", "root"])  # someone in it: said who (R20b M1)
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert "warning=True" in said and "by its group root only: only members of that group (members listed" in said
    assert "alice, root) can fetch and submit: check that every student of the course is in it" in said, said


@pytest.mark.parametrize("group", [False, True])
def test_an_outbound_folder_students_may_enter_but_not_list_is_warned_of(open_tmp: Path, group, monkeypatch):
    """R20a N2: outbound 0711 got ok, and 0710 for a group a note that its members "can fetch": nbgrader list (the
    Assignments tab) lists outbound/, and showed no chapter. The read bit is checked too."""
    from lrcourse.grading.doctor import entry

    course = exchange_in(open_tmp, 0o1777) / "lr-schedules"
    (course / "outbound").mkdir(parents=True)
    (course / "inbound").mkdir(mode=0o3733)
    (course / "inbound").chmod(0o3733)
    course.chmod(0o755)
    outbound = course / "outbound"
    outbound.chmod(0o710 if group else 0o711)
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["alice", "root"])
    said = exchange_root(open_tmp)
    mode = 0o710 if group else 0o711
    assert (
        said.warning and f"{outbound} (mode {mode:04o}) cannot be listed by other users: nbgrader list" in said.problem
    )
    outbound.chmod(0o750 if group else 0o755)
    said = exchange_root(open_tmp)  # kept to its group: who is in it said, warned of (R20b M1)
    assert bool(said.problem) == group and ("(mode 0750) can be entered by its group" in said.problem) == group, said


@needs_root
def test_a_group_writable_folder_whose_group_lists_only_root_is_a_note(scratch):
    """R20a N4: outbound 0775 in group root (only root listed) warned a non-root grader "keep every student out of
    the group root". Root writes anywhere: a note says only root is listed; other members keep the warning."""
    from lrcourse.grading.doctor.entry import group_writers, listed_members

    if set(listed_members(0)) != {"root"}:
        pytest.skip("this machine lists others in group root")
    course = graders_course(scratch)
    (course / "outbound").chmod(0o775)
    said = as_user(GRADER, lambda: group_writers(course))
    assert "writable by its group root: only root is listed in it" in said and said.endswith(", None)"), said


@needs_root
@pytest.mark.parametrize("kind", ["default", "access"])
def test_a_course_folders_acl_is_labelled_as_the_course_folders_and_a_default_one_stops_release(scratch, kind):
    """R20a M2, N1: a default ACL on the course's folder (no one may write in it) was a collect FAIL under the root's
    label; it stops release (as release and Unrelease refuse it), not collect. An access ACL letting a student write
    stops collect, labelled as the course folder's."""
    from support.posix_acl import acl_bytes, set_acl

    course = graders_course(scratch)
    set_acl(course, f"system.posix_acl_{kind}", acl_bytes((0x02, STUDENT)))
    course.chmod(0o775 if kind == "access" else 0o755)
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert 'name="the nbgrader exchange\'s course folder"' in said and "warning=False" in said, said
    assert f"stops='{'release' if kind == 'default' else 'collect'}'" in said and f"setfacl -b {course}" in said


@needs_root
def test_a_root_kept_to_a_group_the_grader_is_not_in_is_not_said_to_stop_students(scratch, monkeypatch):
    """R20b W5: the root 1770 in a group holding the students, the grader not in it: the doctor failed it (right:
    collect cannot open inbound/) saying "students cannot fetch nor submit", while they did. It says who may enter,
    as far as this machine lists them; "students cannot" only where its group lists no one else, or it has none."""
    from lrcourse.grading.doctor import entry

    course = graders_course(scratch, 0o1770)
    os.chown(course.parent, 0, 54330)  # a group of the students, the grader (gid 54323) not in it
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["alice", "bob"] if gid == 54330 else [])
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert (
        "(mode 1770, owner root): only root and members of group gid 54330 (members listed here: alice, bob) may;"
        in said
    )
    assert "students cannot" not in said and "nor can other users" not in said and "stops='collect'" in said, said
    course.parent.chmod(0o1700)  # no group may enter either
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert "(mode 1700, owner root): only root may: students cannot fetch nor submit;" in said, said


@needs_root
@pytest.mark.parametrize("where", ["root", "course"])
def test_a_root_or_course_folder_kept_to_the_graders_group_is_warned_of(scratch, monkeypatch, where):
    """R20b M2, M1: the root 1770, or the course's folder 0750, in a group of the grader's (and a TA's), which no
    student was in: the doctor said ok, and every student command failed. It warns that only the group's members,
    named, can fetch and submit, `chgrp` to a group of the students or open it to others the mend. A root not the
    grader's kept to a group, in a groupshared course only: in any other, nbgrader's release stops at it (r20d W1)."""
    from lrcourse.grading.doctor import entry
    from lrcourse.grading.exchange import inbound_folder

    course = graders_course(scratch)
    folder = course.parent if where == "root" else course
    os.chown(folder, 0 if where == "root" else GRADER, GRADER)  # the grader's gid (as_user: its uid's number)
    folder.chmod(0o1770 if where == "root" else 0o750)
    if where == "root":
        said = as_user(GRADER, lambda: exchange_root(scratch))
        assert "stops='release'" in said and "Could not change permissions" in said, said
        shared = inbound_folder.Exchange(course.parent, "lr-schedules", groupshared=True)
        monkeypatch.setattr(inbound_folder, "exchange_of", lambda course: shared)
    label = "root" if where == "root" else "course folder"
    said = as_user(GRADER, lambda: exchange_root(scratch))  # no one listed in it here: students left out
    assert f'name="the nbgrader exchange\'s {label}"' in said and "warning=True" in said, said
    verb = "entered and written in" if where == "root" else "entered"  # R20c W1: students must write in the root
    assert f"can be {verb} by its group gid {GRADER} only, in which no one but its owner, you or root" in said, said
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["grader", "ta"] if gid == GRADER else [])
    said = as_user(GRADER, lambda: exchange_root(scratch))
    assert (
        "warning=True" in said and f"{folder} (mode {0o1770 if where == 'root' else 0o750:04o}) can be {verb}" in said
    )
    assert (
        f"group gid {GRADER} only: only members of that group (members listed here: grader, ta) can fetch and " in said
    )
    mend = "`chmod 1777" if where == "root" else "`chmod o+rx"
    assert "submit: check that every student of the course is in it" in said and f"or {mend} {folder}`" in said, said


def test_an_outbound_folder_others_enter_and_its_group_lists_is_said_so(open_tmp: Path, monkeypatch):
    """R20b N2: outbound 0751 in a group was said to be "entered by its group only"; others enter it, only its group
    lists it (nbgrader list, the Assignments tab)."""
    from lrcourse.grading.doctor import entry

    course = exchange_in(open_tmp, 0o1777) / "lr-schedules"
    (course / "outbound").mkdir(parents=True)
    (course / "inbound").mkdir(mode=0o3733)  # r20j W2: a missing one is a FAIL of its own
    (course / "inbound").chmod(0o3733)
    course.chmod(0o755)
    (course / "outbound").chmod(0o751)
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["alice", "root"])
    said = exchange_root(open_tmp)
    assert said.warning and "outbound (mode 0751) can be listed by its group root only" in said.problem, said
    assert "(members listed here: alice, root) can see its chapters in nbgrader list" in said.problem, said
    assert "entered by its group" not in said.problem, said
