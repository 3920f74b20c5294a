"""A folder with the inbound's mode of another account's in a course folder of root's, after the group's lock-out,
is asked about, never made an inbound beside nor moved aside by a doctor not its owner's (r20n W1, W2; `ask_collector`
in lrcourse/grading/doctor/remake.py), and the "if not" branch says where the class's inbound may be (r20n M1, M2).
Each mend is followed as written, as root, and the submissions counted after."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from support.doctor_exchange import (
    GRADER,
    STAFF,
    STAFF_TA,
    STUDENT,
    SUBMISSION,
    course_in,
    doctor,
    follow,
    hers,
    staff_group,
    submit,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
ASK = (
    f"fix: if uid {GRADER} is the account that collects this course: run lrcourse doctor and collect as uid {GRADER} ("
)


def closed_ta_course(monkeypatch, open_tmp):
    """The README's TA set-up (the course's folder root:staff, the grader and the TA in that group) after the group's
    lock-out (`chmod go-w`, the line root's doctor gives first), a classmate's submission in the grader's inbound."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, STAFF)
    course.chmod(0o2755)
    staff_group(monkeypatch)
    submit(course / "inbound")
    return course


def ta_copy(open_tmp):
    """The TA's own copy of the course, where she runs her doctor."""
    local = open_tmp / "course"
    local.mkdir()
    os.chown(local, STAFF_TA, 0)
    return local


def if_not(said: str) -> str:
    """The "if not" branch's command, as a line of its own (`follow` runs a line's first command)."""
    return "fix: " + said[said.index("and you collect it: ") + len("and you collect it: ") :]


@pytest.mark.parametrize("who", ["root", "ta"])
def test_the_graders_renamed_inbound_is_asked_about_and_nothing_made_beside_it(open_tmp, monkeypatch, who):
    """r20n W1, W2: the TA renamed the grader's inbound to .i; after the lock-out, root's and the TA's doctor made an
    inbound of their own beside it and moved the grader's outbound aside, and no doctor named .i again. Now each asks
    whether the grader collects the course, moves and makes nothing outside the "if not" branch, and the grader's
    doctor moves .i back: the submission is where collect reads it."""
    course = closed_ta_course(monkeypatch, open_tmp)
    os.rename(course / "inbound", course / ".i")
    said = doctor(open_tmp, uid=0) if who == "root" else doctor(ta_copy(open_tmp), uid=STAFF_TA)
    assert f"{course / '.i'} (uid {GRADER}'s) has the inbound's mode: the class's inbound, renamed or " in said, said
    assert ASK in said and said.index("mkdir") > said.index("; if not (a student's"), said
    assert "mktemp" not in said and f"mv -T -- {course}" not in said and "stops=collect" in said, (
        said
    )  # outbound/ stays
    said = doctor(open_tmp)
    assert f"mv -T -- {course / '.i'} {course / 'inbound'}` (as root" in said, said
    assert follow(said) is None and os.listdir(course / "inbound") == [SUBMISSION]
    assert os.stat(course / "outbound").st_uid == GRADER


def test_a_tas_inbound_beside_the_graders_renamed_one_is_replaced_by_it(open_tmp, monkeypatch):
    """r20n W2's end: an inbound of the TA's in the closed course folder, the grader's renamed to .i beside it. The
    grader's doctor asks whether the TA collects; its "if not" branch, run as written, moves the TA's aside and puts
    .i back, not a new empty inbound (the grader's doctor had made one, and .i was never named)."""
    course = closed_ta_course(monkeypatch, open_tmp)
    os.rename(course / "inbound", course / ".i")
    (course / "inbound").mkdir()
    os.chown(course / "inbound", STAFF_TA, STAFF_TA)
    (course / "inbound").chmod(0o3733)
    said = doctor(open_tmp)
    assert f"fix: if uid {STAFF_TA} is the account that collects this course: " in said, said
    assert f"{course / '.i'}, yours with the inbound's mode, is moved back as the class's inbound" in said, said
    aside = follow(if_not(said))
    assert os.listdir(course / "inbound") == [SUBMISSION] and os.stat(course / "inbound").st_uid == GRADER
    assert os.listdir(aside) == ["inbound"] and os.stat(aside / "inbound").st_uid == STAFF_TA


def test_the_if_not_branch_finds_the_class_inbound_moved_out_of_the_exchange(open_tmp, monkeypatch):
    """r20n M1, M2: a student in the staff group by mistake moved the class's inbound into a folder of hers outside
    the exchange and made a 3733 inbound of hers. After the lock-out the grader's "if not" branch gave no hint where
    the class's went (the `find` searched the exchange only) and no word that she was still in the group. Now its
    `find`, from the exchange's mount point, lists the class's inbound, and the line says to take her out."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, STAFF)
    course.chmod(0o2775)
    staff_group(monkeypatch, ("ma", STUDENT))
    submit(course / "inbound")
    away = hers(open_tmp / "home-ma", 0o700) / "real"  # her home, on the exchange's file system
    os.rename(course / "inbound", away)
    hers(course / "inbound", 0o3733)
    course.chmod(0o2755)  # the lock-out
    said = doctor(open_tmp)
    assert f"fix: if uid {STUDENT} is the account that collects this course: " in said, said
    assert f"uid {STUDENT} is in group staff, which is the group of {course}: take uid {STUDENT} out" in said, said
    find = re.search(r"`(find [^`]+)` as root lists the folders with the inbound's mode not uid", said)
    assert find and f"! -uid {STUDENT}" in find.group(1) and " -xdev " in find.group(1), said
    listed = subprocess.run(["bash", "-c", find.group(1)], capture_output=True, text=True).stdout.splitlines()
    assert str(away) in listed, (find.group(1), listed)
    aside = follow(if_not(said))  # the grader collects: hers aside, the inbound made anew, the class's still hers
    assert os.listdir(aside) == ["inbound"] and os.stat(course / "inbound").st_uid == GRADER
    assert os.listdir(course / "inbound") == [] and os.listdir(away) == [SUBMISSION]


def test_a_students_folder_beside_the_missing_inbound_in_a_closed_root_course_folder_is_asked_about(
    open_tmp, monkeypatch
):
    """The same rule where inbound/ is missing and a 3733 folder of a student's (once in the group) is beside it: it
    is asked about, never moved back; the "if not" branch makes the inbound as the grader, hers left in place."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, 0)
    os.rename(course / "inbound", open_tmp / "real")
    hers(course / ".x", 0o3733)
    said = doctor(open_tmp)
    assert f"fix: if uid {STUDENT} is the account that collects this course: " in said, said
    assert f"mv -T -- {course / '.x'}" not in said and "mktemp" not in said, said
    assert follow(if_not(said)) is None
    assert os.stat(course / "inbound").st_uid == GRADER and os.stat(course / ".x").st_uid == STUDENT


@pytest.mark.parametrize("who", ["root", "ta"])
def test_the_graders_inbound_moved_out_of_sight_gets_the_releaser_asked_about(open_tmp, monkeypatch, who):
    """r20o W1: the TA moved the grader's inbound into the exchange's root; after the lock-out root's and the TA's
    doctor made an inbound of their own and moved the grader's outbound aside. Now, the outbound the grader's, each
    asks whether the grader collects, and moves nothing; the grader's doctor gives the `find`, which lists it, and
    says to move it back instead of making one."""
    course = closed_ta_course(monkeypatch, open_tmp)
    away = course.parent / ".i"
    os.rename(course / "inbound", away)
    said = doctor(open_tmp, uid=0) if who == "root" else doctor(ta_copy(open_tmp), uid=STAFF_TA)
    releases = f"{course / 'outbound'} is uid {GRADER}'s: if uid {GRADER} releases this course, uid {GRADER} may be"
    assert releases in said and ASK in said, said
    assert "mktemp" not in said and f"mv -T -- {course}" not in said, said
    assert said.index("mkdir") > said.index("; if not ("), said
    said = doctor(open_tmp)
    find = re.search(r"before running the command, `(find [^`]+)` as root lists", said)
    assert find and f" -uid {GRADER}" in find.group(1), said
    listed = subprocess.run(["bash", "-c", find.group(1)], capture_output=True, text=True).stdout.splitlines()
    assert str(away) in listed and "instead of the command, `lrcourse doctor --put-back <it>` as root" in said


def test_the_put_back_from_inside_her_inbound_follows_it_into_the_aside(open_tmp, monkeypatch):
    """r20o W2: a student in the group by mistake nested the class's inbound in a 3773 folder of hers put in place as
    inbound; the "if not" branch moved hers aside, then put back the class's from where it had been, and failed. Now
    the put-back names it in the aside: run as written, the class's inbound is back, hers stays aside."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, STAFF)
    course.chmod(0o2775)
    staff_group(monkeypatch, ("ma", STUDENT))
    submit(course / "inbound")
    nest = hers(course / "t", 0o3773)
    os.chown(nest, STUDENT, GRADER)  # the grader in its group: the grader's doctor lists it (the course's setgid group)
    os.rename(course / "inbound", nest / "real")
    os.rename(nest, course / "inbound")
    course.chmod(0o2755)  # the lock-out
    said = doctor(open_tmp)
    assert f"{course / 'inbound' / 'real'}, yours with the inbound's mode, is moved back" in said, said
    assert 'mv -T -- "$d"/inbound/real ' in said and 'chown -h root -- "$d"/inbound &&' in said, said
    aside = follow(if_not(said))
    assert os.listdir(course / "inbound") == [SUBMISSION] and os.stat(course / "inbound").st_uid == GRADER
    assert os.listdir(aside / "inbound") == [] and os.stat(aside / "inbound").st_uid == 0  # hers, closed


@pytest.mark.parametrize("outbound", ["the grader's", "hers"])
def test_each_owners_folder_is_named_whatever_a_students_decoys(open_tmp, monkeypatch, outbound):
    """r20o M3: beside the grader's renamed inbound, a student in the group made folders with the inbound's mode;
    root's line named one of hers, by directory order, never the grader's; r20p M1: with an outbound of hers put in
    place of the grader's, the same. Now one folder of each owner is named, each owner asked about, the releaser's
    first, and root is told to look."""
    course = closed_ta_course(monkeypatch, open_tmp)
    course.chmod(0o2775)
    os.rename(course / "inbound", course / ".i")
    if outbound == "hers":
        os.rename(course / "outbound", course / ".o")
        hers(course / "outbound")
    for name in ".a", ".b", ".f", ".z":
        hers(course / name, 0o3733)
    course.chmod(0o2755)
    said = doctor(open_tmp, uid=0)
    grader, student = f"{course / '.i'} (uid {GRADER}'s)", f" (uid {STUDENT}'s and 3 more of uid {STUDENT}'s)"
    assert grader in said and student in said and "`ls -la` on each shows whose submissions it holds" in said, said
    first, then = (GRADER, STUDENT) if outbound == "the grader's" else (STUDENT, GRADER)
    assert f"fix: if uid {first} is the account that collects this course: " in said, said
    assert f"; if it is uid {then}: run lrcourse doctor and collect as that account instead" in said, said
