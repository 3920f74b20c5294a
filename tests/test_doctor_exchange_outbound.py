"""`lrcourse doctor`'s line on the exchange's outbound/ and feedback/ (lrcourse/grading/doctor/course_owner.py), run as
the grader's uid or root and compared with what nbgrader's release and release_feedback (the course's) do: r20h W2, an
entry there of another account's that is not a folder (a link, a FIFO), and N3, feedback/'s command; W4, another
account's outbound/ when root runs the course; W1, what others put in an outbound/ they could write in, which the
mends `chmod o-w` and `setfacl -b` kept; M1, a course folder of root's whose outbound/ and feedback/ are the
grader's; N6, an inbound of root's no student may write in. Each mend is followed as written (its command run by
the shell), then the next line is checked."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

import lrcourse.grading.exchange.nbgrader_release  # noqa: F401 (imported here: a child as another uid may not)

from support import debian
from support.doctor_exchange import (
    GRADER,
    OK,
    STAFF,
    STAFF_TA,
    STUDENT,
    course_in,
    doctor,
    follow,
    grader_release_all,
    moved_aside,
    staff_group,
    submit,
)
from support.other_uid import as_user
from support.posix_acl import set_acl

VERB = {"outbound": "assignment", "feedback": "feedback"}
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.mark.parametrize("name", ["outbound", "feedback"])
@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_another_accounts_entry_at_outbound_or_feedback_that_is_not_a_folder_fails_as_release_refuses_it(
    open_tmp, monkeypatch, name, kind
):
    """r20h W2: a student's link (to her own folder holding a "chapter") or FIFO at outbound/ or feedback/ got "ok ...
    is yours" while classmates listed and fetched through it and the release refused it. Release's rule, release's
    refusal: the line names its kind and owner, the mend is `rm`, and, followed, the release works (N3: feedback/ is
    release_feedback's)."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    shutil.rmtree(course / "outbound")
    planted = open_tmp / "hers"
    (planted / "ch2").mkdir(parents=True)
    if kind == "link":
        (course / name).symlink_to(planted)
    else:
        os.mkfifo(course / name)
    os.chown(course / name, STUDENT, STUDENT, follow_symlinks=False)
    assert grader_release_all(course.parent, open_tmp, verb=VERB[name]).startswith("ExchangeError")
    said = doctor(open_tmp)
    what = "a symbolic link" if kind == "link" else "a FIFO"
    assert f"{course / name} is {what}, not a folder, owned by uid {STUDENT}, not by you" in said, said
    command = "release" if name == "outbound" else "release_feedback"
    assert f"nbgrader's {command} refuses it" in said and "stops=release" in said, said
    assert f"fix: `rm {course / name}` (as root: not `chown`" in said, said
    follow(said)
    assert planted.is_dir() and not os.path.lexists(course / name)  # the link went, not what it led to
    assert grader_release_all(course.parent, open_tmp, verb=VERB[name]) == "None"
    assert OK in doctor(open_tmp) and (course / name).stat().st_uid == GRADER


@pytest.mark.parametrize("owner", [GRADER, STAFF_TA])
def test_another_accounts_outbound_fails_when_root_runs_the_course(open_tmp, monkeypatch, owner):
    """r20h W4: as root (the README's root-run course), a TA's outbound/ got ok and root's release refused it; the
    grader account's too, which root's release refuses the same (only root's own are root's to trust)."""
    course = course_in(monkeypatch, open_tmp, 0o1777, owner=0)
    os.chown(course / "outbound", owner, owner)
    assert "is owned by uid" in grader_release_all(course.parent, open_tmp, uid=0)
    said = doctor(open_tmp, uid=0)
    assert f"{course / 'outbound'} is owned by uid {owner}, not by root (the user who releases)" in said, said
    assert f"fix: `{moved_aside(course / 'outbound')} && echo" in said and "stops=release" in said, said
    shutil.rmtree(follow(said))
    assert grader_release_all(course.parent, open_tmp, uid=0) == "None"
    assert OK in doctor(open_tmp, uid=0)


def plant(outbound: Path, open_tmp: Path) -> None:
    """A student's chapter, link and FIFO in `outbound`, as she puts them while she may write there."""
    (outbound / "ch3").mkdir()
    (outbound / "ch3" / "notebook.ipynb").write_text("planted")
    (outbound / "ch2").symlink_to(open_tmp)
    os.mkfifo(outbound / "ch4")
    for name in ("ch3", "ch3/notebook.ipynb", "ch2", "ch4"):
        os.chown(outbound / name, STUDENT, STUDENT, follow_symlinks=False)


@pytest.mark.parametrize("how", ["0777", "acl"])
def test_an_outbound_others_could_write_in_is_removed_and_what_they_put_in_one_is_named(open_tmp, monkeypatch, how):
    """r20h W1: an outbound/ others could write in (0777; an ACL letting the class write) got `chmod o-w` or
    `setfacl -b`, which kept the student's planted chapter, and then ok, while classmates listed and fetched it. Its
    mend is `rm -r` (release makes it again); one mended the old way is looked into: each entry neither the grader's
    nor root's is named (owner, kind), removed by the mend as written, the grader's own chapter kept."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    outbound = course / "outbound"
    if how == "0777":
        outbound.chmod(0o777)
    else:
        entries = [(0x01, 7, 0xFFFFFFFF), (0x04, 5, 0xFFFFFFFF), (0x08, 7, STUDENT), (0x10, 7, 0xFFFFFFFF)]
        entries.append((0x20, 5, 0xFFFFFFFF))
        packed = b"".join(struct.pack("<HHI", *entry) for entry in entries)
        set_acl(outbound, "system.posix_acl_access", struct.pack("<I", 2) + packed)  # setfacl -m g:<class>:rwx
    assert grader_release_all(course.parent, open_tmp).startswith("ExchangeError")
    plant(outbound, open_tmp)
    said = doctor(open_tmp)
    assert f"{outbound} (mode " in said and "is writable by other users" in said, said
    assert f"fix: `{moved_aside(outbound)} && echo" in said and "a folder others could write in may hold" in said
    assert "fix: `chmod" not in said and "fix: `setfacl" not in said and "or `chmod go-w" not in said, said
    if how == "0777":  # the mend, as written: release makes it again, the grader's
        shutil.rmtree(follow(said))
        assert grader_release_all(course.parent, open_tmp) == "None" and OK in doctor(open_tmp)
        assert sorted(os.listdir(outbound)) == ["ch1"]
        return
    os.removexattr(outbound, "system.posix_acl_access")  # the old mend (`setfacl -b`), kept what she put there
    os.chmod(outbound, 0o755)
    refused = grader_release_all(course.parent, open_tmp)  # g20j: release refuses it too, with the doctor's line
    said = doctor(open_tmp)
    assert f"{outbound} holds 3 entries neither yours nor root's (" in said and "stops=release" in said, said
    assert said.split(" | ")[1] in refused and "Nothing was released." in refused, refused
    for entry in ("ch2 (a symbolic link", "ch3 (a folder", "ch4 (a FIFO"):
        assert f"{entry} of uid {STUDENT}'s)" in said, said
    aside = follow(said)  # `find ... -exec mv -t "$d" -- {} +`, as root: moved aside, never removed (r20j W1)
    assert sorted(os.listdir(aside)) == ["ch2", "ch3", "ch4"] and (aside / "ch3" / "notebook.ipynb").is_file()
    shutil.rmtree(aside)
    assert grader_release_all(course.parent, open_tmp) == "None"
    assert sorted(os.listdir(outbound)) == ["ch1"] and OK in doctor(open_tmp) and open_tmp.is_dir()


def test_the_look_into_outbound_is_bounded(open_tmp, monkeypatch):
    """r20h W1: a student may fill outbound/ with a million entries; the look stops, says "or more", names a few."""
    from lrcourse.grading.exchange import released_entries

    course = course_in(monkeypatch, open_tmp, 0o1777)
    for index in range(12):
        (course / "outbound" / f"n{index}\nx").mkdir()
        os.chown(course / "outbound" / f"n{index}\nx", STUDENT, STUDENT)
    monkeypatch.setattr(released_entries, "MOST_LOOKED", 5)
    said = doctor(open_tmp)
    assert " or more entries neither yours nor root's (" in said and ", ...)" in said, said
    assert said.count("(a folder of uid") == 3 and "\\x0ax'" in said and "\n" not in said, said


def test_a_course_folder_of_roots_holding_the_graders_outbound_and_feedback_is_a_note_not_a_fail(open_tmp, monkeypatch):
    """r20h M1: a course folder root's 0755 whose outbound/ and feedback/ are the grader's got a FAIL "cannot make the
    chapter's folders in it", while release, release_feedback and collect worked. A note; a FAIL only for what is
    missing and cannot be made (feedback/, here), whose `chown` mend then lets release_feedback make it."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, 0)
    (course / "feedback").mkdir()
    os.chown(course / "feedback", GRADER, 0)
    said = doctor(open_tmp)
    assert OK in said and f"(note: {course} is root's: nbgrader's release and release_feedback work" in said, said
    assert f"and {course} is root's, as collect takes it (note:" in said and "is yours" not in said, said  # r20i N1
    assert grader_release_all(course.parent, open_tmp) == "None"
    assert grader_release_all(course.parent, open_tmp, verb="feedback") == "None"
    shutil.rmtree(course / "feedback")
    said = doctor(open_tmp)
    assert f"{course} is root's, not yours (the user who collects): nbgrader's release_feedback, run as you, " in said
    assert "cannot make feedback/ in it (Permission denied)" in said and "outbound/ in it" not in said, said
    assert grader_release_all(course.parent, open_tmp, verb="feedback").startswith("ExchangeError")
    follow(said)  # `chown <grader> <course>`
    assert grader_release_all(course.parent, open_tmp, verb="feedback") == "None" and OK in doctor(open_tmp)


def test_an_inbound_of_roots_no_student_may_write_in_says_so_and_its_mend_lets_them_submit(open_tmp, monkeypatch):
    """r20h N6: the README's inbound step done as root with `mkdir` (0755, root's) got a warn on its mode alone, and
    `chmod 3733`, after which the grader could not list it; every submit failed. The line says no student can submit,
    and the mend, followed as written, lets them write in it and the grader collect."""
    from lrcourse.grading.exchange.inbound_folder import Exchange, open_inbound

    course = course_in(monkeypatch, open_tmp, 0o1777)
    inbound = course / "inbound"
    os.chown(inbound, 0, 0)
    inbound.chmod(0o755)
    said = doctor(open_tmp)
    assert f"{inbound} has mode 0755, not 3733" in said and ": no student can submit (others may not" in said, said
    assert "it is empty: it may be the class's inbound, or the course's outbound or feedback" in said, said  # r20ae M1
    assert f"fix: look first: `find / -xdev -type d -perm -2733 -uid {GRADER} ! -path {inbound}`" in said
    mend = f"`chmod 3733 {inbound} && chown {GRADER} {inbound}` (as root)"
    assert f"and this one holds the class's submissions: {mend}" in said, said
    follow(f"fix: {mend}")  # its find lists none: the class's inbound is this one
    assert as_user(STUDENT, lambda: os.access(inbound, os.W_OK | os.X_OK)) == "True"
    assert as_user(GRADER, lambda: open_inbound(Exchange(course.parent, "lr-schedules"))).isdigit()
    assert OK in doctor(open_tmp)


def test_a_default_acl_alone_on_outbound_gets_setfacl_k_not_its_removal(open_tmp, monkeypatch):
    """r20i N2: a default ACL alone on the grader's outbound (0755: no one else may write in it) got `rm -r`, which
    also removed the released chapters; `setfacl -k` is its mend, and, followed, the chapters stay and the line is ok."""
    debian.need_setfacl()
    course = course_in(monkeypatch, open_tmp, 0o1777)
    assert grader_release_all(course.parent, open_tmp) == "None"
    entries = [(0x01, 7, 0xFFFFFFFF), (0x04, 5, 0xFFFFFFFF), (0x08, 7, STUDENT), (0x10, 7, 0xFFFFFFFF)]
    entries.append((0x20, 5, 0xFFFFFFFF))
    packed = b"".join(struct.pack("<HHI", *entry) for entry in entries)
    set_acl(course / "outbound", "system.posix_acl_default", struct.pack("<I", 2) + packed)
    said = doctor(open_tmp)
    assert "carries a default POSIX ACL" in said and f"fix: `setfacl -k {course / 'outbound'}`" in said, said
    assert "rm -r" not in said, said
    follow(said)
    assert os.listdir(course / "outbound") == ["ch1"] and OK in doctor(open_tmp)


def test_the_courses_outbound_moved_to_inbound_is_not_made_the_inbound(open_tmp, monkeypatch):
    """r20y M1: a student who could write in the course's folder renamed the grader's outbound to inbound (and hid
    the class's inbound); the mode's fix, `chmod 3733`, made the release the class's inbound, and the doctor then said
    ok. A folder there without the inbound's mode, holding a folder of its owner's and no submission, gets no chmod; one
    holding only a student's entries does (r20z M2: a file of hers hid the mode's problem and fix)."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.rename(course / "inbound", course / ".hidden")
    os.rename(course / "outbound", course / "inbound")
    (course / "inbound" / "01_learning_rate").mkdir()
    os.chown(course / "inbound" / "01_learning_rate", GRADER, GRADER)
    said = doctor(open_tmp)
    assert f"{course / 'inbound'} has mode 0755, not 3733" in said, said
    assert "it holds 01_learning_rate, its owner's, and no submission: it may be the course's outbound" in said, said
    assert "fix: never `chmod 3733` it: move it back where it belongs, as root" in said and "fix: `chmod" not in said
    for mode in (0o2777, 0o2775):  # r20aa M1, r20ab M1: where students may write, the owner's folder may be renamed;
        (course / "inbound").chmod(mode)  # r20ac M1: 2775 is also a groupshared course's release, which chmod hid
        said = doctor(open_tmp)
        assert "it holds 01_learning_rate, its owner's, and others may write in it: what it holds may have" in said
        assert f"fix: look first: `find / -xdev -type d -perm -2733 -uid {GRADER} " in said, said
        assert (
            f"and this one holds the class's submissions: `chmod 3733 {course / 'inbound'}`" in said
            and "fix: `chmod" not in said
        )
    (course / "inbound").chmod(0o755)
    os.chown(course / "inbound" / "01_learning_rate", STUDENT, STUDENT)  # r20z M2: a student's folder there is not it
    said = doctor(open_tmp)
    assert (
        "fix: look first: `find" in said
        and f"and this one holds the class's submissions: `chmod 3733 {course / 'inbound'}`" in said
    )


CASES = ["roots-chapter", "empty", "a-staff-members-chapter", "a-students-renamed", "a-name-planted", "submissions"]


@pytest.mark.parametrize("case", CASES)
def test_what_decides_whether_a_folder_at_inbound_is_a_release_or_the_inbound(open_tmp, monkeypatch, case):
    """r20ae M1: the outbound moved to inbound got a bare `chmod 3733` where none of its entries was its owner's: a
    chapter of root's (a course once run as root), an empty one (before a release), a chapter of a staff member's in
    a groupshared course's 2775 release; followed, the doctor said ok and a classmate's submission stayed hidden.
    r20ag W1: in a release its group may write in, a name planted or renamed as a submission made it "the class's
    inbound". What decides: only submission folders of the students they name, in a folder no one else may write in,
    keep the chmod; only its owner's or root's entries there make it a release; anything else, the instructor looks
    (the find for an inbound moved elsewhere, left out each course's own inbound: r20ag M1), then chooses."""
    from lrcourse.grading.exchange import kept_folders

    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.rename(course / "inbound", course / ".hidden")
    os.rename(course / "outbound", course / "inbound")
    inbound, chapter = course / "inbound", course / "inbound" / "01_learning_rate"
    if case not in ("empty", "submissions"):
        chapter.mkdir()
    if case == "a-staff-members-chapter":
        staff_group(monkeypatch)  # the group STAFF: the grader and a TA
        os.chown(inbound, GRADER, STAFF)
        inbound.chmod(0o2775)
        os.chown(chapter, STAFF_TA, STAFF)
    if case == "a-students-renamed":
        inbound.chmod(0o2777)
        os.chown(chapter, STUDENT, STUDENT)
    if case == "a-name-planted":  # r20ag W1: a member of the release's group made it, or renamed a chapter so
        inbound.chmod(0o2775)
        submit(inbound, "mal+01_learning_rate+2026-12-07 23:00:00.000000 UTC")
    if case == "submissions":  # a real inbound of a wrong mode, holding its students' submissions
        monkeypatch.setattr(kept_folders, "user_name", lambda uid: "alice" if uid == STUDENT else str(uid))
        submit(inbound)
    said = doctor(open_tmp)
    if case == "roots-chapter":
        assert "it holds 01_learning_rate, root's, and no submission: it may be the course's outbound" in said, said
        assert "fix: never `chmod 3733` it" in said and "fix: `chmod" not in said, said
    else:  # r20ah W2: submissions of the students they name may have been made while others could write in it
        look = f"fix: look first: `find / -xdev -type d -perm -2733 -uid {GRADER} ! -path {inbound}`"
        assert look in said and f"and this one holds the class's submissions: `chmod 3733 {inbound}`" in said, said
        assert "`lrcourse doctor --put-back <it>` as root" in said, said  # r20ah M1: what to do with the found one
        assert 'a "Permission denied" is a place it could not look: `findmnt -rn -o TARGET,FSTYPE,OPTIONS' in said


def test_the_courses_feedback_moved_to_inbound_is_not_made_the_inbound(open_tmp, monkeypatch):
    """r20ac M2: nbgrader's release_feedback puts its pages straight in `feedback` (0711), as files: only a folder of
    the owner's was looked for, so the feedback moved to inbound got `chmod 3733`, and the doctor then said ok while
    the class's inbound stayed hidden."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.rename(course / "inbound", course / ".hidden")
    (course / "inbound").mkdir(mode=0o711)
    page = course / "inbound" / ("0123456789abcdef" * 2 + ".html")
    page.write_text("<p>feedback</p>")
    for path in (course / "inbound", page):
        os.chown(path, GRADER, GRADER)
    said = doctor(open_tmp)
    assert f"it holds {page.name}, its owner's, and no submission: it may be the course's outbound" in said, said
    assert "fix: never `chmod 3733` it" in said and "fix: `chmod" not in said, said


def test_the_find_leaves_out_only_this_courses_own_inbound(open_tmp, monkeypatch):
    """r20ah W1: `! -path '<root>/*/inbound'` left out any folder named inbound below the root, `*` spanning `/`: the
    class's inbound moved into a folder she made there (`<root>/zz/inbound`) was never listed, and the line then led
    to `chmod 3733` on the release. r20ah W3: root's doctor, on root's course, looked for any uid's folders, so a
    student's 2733 folder in her home kept the class's inbound from its chmod. r20aj W1: other courses' inbounds,
    left out where their folders were closed now, hid the class's inbound moved into one. Only this course's own
    inbound is left out, by its exact path."""
    from lrcourse.grading.exchange.kept_folders import glob_escaped, moved_hint

    course = course_in(monkeypatch, open_tmp, 0o1777)
    for name, owner in (("other-course", GRADER), ("zz", STUDENT), ("a*b", GRADER)):
        (course.parent / name / "inbound").mkdir(parents=True)
        os.chown(course.parent / name, owner, owner)
    hint = moved_hint(course, GRADER, "grader", theirs=True, besides=True)
    assert f"! -path {course}/inbound`" in hint and "other-course" not in hint and "zz" not in hint, hint
    assert glob_escaped("/x/a*b?[c]") == "/x/a\\*b\\?\\[c\\]"  # -path takes a pattern: only the path itself
    for path in (course, course / "inbound", course / "outbound"):
        os.chown(path, 0, 0)
    (course / "inbound").chmod(0o1777)  # a course run as root: root's doctor looks for root's folders only
    said = doctor(open_tmp, uid=0)
    assert "fix: look first: `find / -xdev -type d -perm -2733 -uid 0 ! -path" in said, said
