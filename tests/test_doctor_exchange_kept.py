"""No printed mend deletes the class's submissions (r20i W1, W2; lrcourse/grading/exchange/kept_folders.py and
lrcourse/grading/doctor/remake.py): the class's inbound moved to outbound/ by someone who may write in the course's
folder is said, and moved back, by the doctor, release and Unrelease alike; a missing inbound/ is a FAIL of its own;
the course's working folder, looked at as root or a TA, gets "run as <owner>", not `rm -r`. Each mend is followed as
written (the shell runs it), the submissions are counted after, and the next line is checked."""

from __future__ import annotations

import os
import shutil

import pytest

from support.doctor_exchange import (
    GRADER,
    OK,
    STAFF,
    STAFF_TA,
    STUDENT,
    SUBMISSION,
    course_in,
    doctor,
    follow,
    grader_release_all,
    hers,
    moved_aside,
    staff_group,
    submit,
)
from support.exchange_apps import exchange_app
from support.other_uid import as_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


def unrelease(exchange) -> str:
    """formgrader's Unrelease (nbgrader list --remove) of ch1, run as the grader."""
    return as_user(GRADER, exchange_app("list", exchange).start)


@pytest.mark.parametrize("mode", [0o3733, 0o755])
def test_the_class_inbound_moved_to_outbound_is_moved_back_never_removed(open_tmp, monkeypatch, mode):
    """r20i W1: a member of the course folder's group renamed inbound/ to outbound/; the doctor, release and Unrelease
    all gave `rm -r <outbound>`, which deleted every submission, and no line said inbound/ was missing. Now each says
    it has the inbound's shape, and the mend moves it back; followed, the submissions are where collect reads them,
    and the release makes outbound/ again. `mode` 0755: its mode changed too, the students' submissions tell it
    (released_entries' line for what others put in outbound/, whose `find ... -exec rm -r` removed them)."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    assert grader_release_all(course.parent, open_tmp) == "None"
    submit(course / "inbound")
    os.rename(course / "outbound", course / ".o")
    os.rename(course / "inbound", course / "outbound")
    os.chmod(course / "outbound", mode)
    said = doctor(open_tmp)
    shape = "mode 3733, an inbound's; 1 entry" if mode == 0o3733 else "(1 entry named as submissions"
    assert f"{course / 'outbound'} has the shape of the class's inbound " in said and shape in said, said
    assert f"and {course / 'inbound'} is missing" in said and "rm -r" not in said, said
    out = course / "outbound"
    seen = f's=$(stat -c %u:%a -- {out}) && {{ [ "$s" = {GRADER}:{mode:o} ]'  # what the doctor saw (r20l W2)
    assert f"fix: `[ ! -L {course} ] && [ ! -L {out} ] && {seen}" in said, said
    assert f"[ -d {out} ] && mv -T -- {out} {course}/inbound` (as" in said, said
    refused = grader_release_all(course.parent, open_tmp)
    assert "has the shape of the class's inbound" in refused and "rm -r" not in refused, refused
    listed = unrelease(course.parent)
    assert "has the shape of the class's inbound" in listed and "rm -r" not in listed, listed
    follow(said)
    assert os.listdir(course / "inbound") == [SUBMISSION]
    assert os.listdir(course / "inbound" / SUBMISSION) == ["learning_rate.ipynb"]
    os.chmod(course / "inbound", 0o3733)  # 0755: its mode is the next line's (`chmod 3733`)
    assert grader_release_all(course.parent, open_tmp) == "None" and OK in doctor(open_tmp)


def test_a_missing_inbound_is_a_fail_of_its_own(open_tmp, monkeypatch):
    """r20i W1: with inbound/ gone, the doctor said ok (or only the group's warn); it is a FAIL, and its mend makes it."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.rmdir(course / "inbound")
    said = doctor(open_tmp)
    assert f"{course / 'inbound'} is missing: students cannot submit" in said and "stops=collect" in said, said
    made = f"mkdir -m 3733 -- {course / 'inbound'} && chown -h {GRADER} -- {course / 'inbound'}"  # r20l W3
    assert f"fix: `{made}` (as the user who collects)" in said, said
    follow(said)  # run by root here: `-o` makes it the grader's, as the grader's own run would
    assert oct(os.stat(course / "inbound").st_mode & 0o7777) == "0o3733"
    assert os.stat(course / "inbound").st_uid == GRADER and OK in doctor(open_tmp)


@pytest.mark.parametrize("who", ["root", "ta", "root, the course's owner"])
def test_the_course_working_folder_looked_at_as_another_account_gets_run_as_its_owner(open_tmp, monkeypatch, who):
    """r20i W2: `sudo lrcourse doctor` in the grader's course (or a TA's doctor in her own copy) gave a runnable
    `rm -r <the course's folder>` and a remake, which deleted the class's inbound. Now: run as its owner, nothing
    moved: its owner owns the local course folder, or others' submissions are in its inbound (root's doctor moved it
    aside, which would have stopped the class); a TA, who cannot list the inbound, is given both."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    submit(course / "inbound")
    local = open_tmp / "course"  # the local course folder: root's, the TA's, or the grader's (its owner runs it)
    local.mkdir()
    os.chown(local, {"root": 0, "ta": STAFF_TA}.get(who, GRADER), 0)
    if who == "root, the course's owner":
        os.chmod(course / "inbound", 0o755)  # not the inbound's shape: the owner alone tells it
    said = doctor(local, uid=STAFF_TA if who == "ta" else 0)
    assert f"{course} is owned by uid {GRADER}" in said and "rm -r" not in said and "rm " not in said, said
    if who == "ta":  # she cannot list the inbound (3733): both ways named, the grader's first (r20l M1, r20m M3)
        ask = f"fix: if uid {GRADER} is the account that runs this course (this is a TA's or root's doctor in another "
        assert ask in said and f"run lrcourse as uid {GRADER} instead, nothing is to be moved; if not (" in said, said
        assert said.index(f"`{moved_aside(course)} && echo") > said.index("; if not ("), said
    else:
        assert f"fix: run lrcourse as uid {GRADER} (it owns this course)" in said and "nothing is to be moved" in said
        assert "lrcourse-aside" not in said, said
    assert os.listdir(course / "inbound") == [SUBMISSION]


def test_a_stranger_course_folder_holding_submissions_is_moved_aside_not_removed(open_tmp, monkeypatch):
    """r20i W2's rule: a course folder no course account made (a student's) is removed and made again, but never while
    it holds what is named as a submission: then moved aside, and, followed, the submission is still there."""
    course = course_in(monkeypatch, open_tmp, 0o1777, owner=STUDENT)
    os.rmdir(course / "inbound")
    submit(course)
    said = doctor(open_tmp)
    assert "rm -r" not in said and f"fix: `{moved_aside(course)} && echo" in said, said
    aside = follow(said)
    assert os.listdir(aside / "lr-schedules" / SUBMISSION) == ["learning_rate.ipynb"] and not os.path.lexists(course)
    shutil.rmtree(aside)


def test_a_students_own_course_folder_gets_its_owner_line_first(open_tmp, monkeypatch):
    """r20i N5: a course folder a student made (0777) first got `setfacl -b ... or chmod go-w`, which only she or root
    may run (as the grader: "Operation not permitted"), without naming her; its owner's line comes first now."""
    course = course_in(monkeypatch, open_tmp, 0o1777, owner=STUDENT)
    os.rmdir(course / "inbound")
    course.chmod(0o777)
    said = doctor(open_tmp)
    assert f"{course} is owned by uid {STUDENT}, not by root or uid {GRADER}" in said and "fix: `chmod" not in said, (
        said
    )
    assert "setfacl" not in said, said
    shutil.rmtree(follow(said))  # moved aside (r20j W1), then the grader's set-up
    assert not os.path.lexists(course)


@pytest.mark.parametrize("moved", [False, True])
def test_a_tas_doctor_never_moves_the_graders_inbound(open_tmp, monkeypatch, moved):
    """r20k M1: a TA's doctor in her own copy of the course, the course's folder in the exchange root's and written in
    by its group (the grader, the TA), took the grader's 3733 inbound (in place, or moved by her into a new outbound of
    hers) for a folder neither hers nor root's: its mends moved it aside and made her an inbound, and collect was then
    refused. Now it is named as the class's, its owner's doctor to run: nothing moved, nothing made; the grader's
    doctor moves it back."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, STAFF)
    course.chmod(0o2775)
    staff_group(monkeypatch)
    submit(course / "inbound")
    at = course / "inbound"
    if moved:  # the TA's: `mv outbound .o && mkdir outbound && mv inbound outbound/ch1`
        os.rename(course / "outbound", course / ".o")
        (course / "outbound").mkdir()
        os.chown(course / "outbound", STAFF_TA, STAFF_TA)
        at = course / "outbound" / "ch1"
        os.rename(course / "inbound", at)
    local = open_tmp / "course"  # her own copy of the course
    local.mkdir()
    os.chown(local, STAFF_TA, 0)
    said = doctor(local, uid=STAFF_TA)
    if moved:  # in place: collect's own line says whose it is
        assert f"{at} (uid {GRADER}'s, with the inbound's mode) looks like the class's inbound: uid {GRADER}" in said
    staff = f"fix: if uid {GRADER} is one of the course's staff: run lrcourse doctor and collect as uid {GRADER} ("
    assert staff in said and "or the doctor as root" not in said, said  # r20m M2, W1
    assert f"; if not (a student: uid {GRADER} is in group staff, " in said, said
    assert f"`chmod g-w -- {course}` as root" in said, said
    hint = f" -xdev -type d -perm -2733 ! -uid {GRADER}` as root"  # r20m W2: not the TA's uid
    assert hint in said and f"-uid {STAFF_TA}" not in said, said
    assert "mv " not in said and "install -d" not in said and "mktemp" not in said and "stops=collect" in said, said
    if moved:  # the grader's doctor: moved back
        said = doctor(open_tmp)
        assert f"mv -T -- {at} {course / 'inbound'}` (as root" in said and "fix: `chmod g-w -- " in said, said
        assert follow(said) is None
        assert os.listdir(course / "inbound") == [SUBMISSION]


def test_a_student_in_the_staff_group_gets_no_deferral_alone(open_tmp, monkeypatch):
    """r20l W5: a student put in the group of a root-owned course folder it may write in moved the class's inbound out
    of it and made a 3733 folder of hers there: the grader's doctor said "run lrcourse doctor and collect as <her>",
    and dropped the group's warn. Now the lock-out comes first, the deferral is conditional, the warn is kept; once
    the folder is closed, the grader's doctor makes the inbound anew, never moving hers back."""
    from lrcourse.grading.doctor import entry

    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, STAFF)
    course.chmod(0o2775)
    staff_group(monkeypatch, ("ma", STUDENT))
    monkeypatch.setattr(entry, "listed_members", lambda gid: ["gr", "ma", "ta"] if gid == STAFF else [])
    os.rename(course / "inbound", open_tmp / "real")
    hers(course / "x", 0o3733)
    said = doctor(open_tmp)
    assert f"fix: if uid {STUDENT} is one of the course's staff: run lrcourse doctor and collect as uid " in said, said
    assert "), that folder is hers, not the class's inbound: `chmod g-w -- " in said, said  # the lock-out: "if not"
    assert f"! -uid {STUDENT}` as root lists the folders with the inbound's mode not uid {STUDENT}'s" in said, said
    assert "is root's, not yours" in said and f"and `chown {GRADER} {course}`" in said, said  # not dropped
    follow("fix: " + said[said.index("`chmod g-w -- ") :])  # the "if not" branch's lock-out, as written
    said = doctor(open_tmp)  # closed to the group: asked about (r20n W1), never moved back; the inbound made anew
    assert f"fix: if uid {STUDENT} is the account that collects this course: " in said, said
    assert f"mv -T -- {course / 'x'}" not in said and f"take uid {STUDENT} out of that group" in said, said
    made = f"and you collect it: `mkdir -m 3733 -- {course / 'inbound'} && chown -h {GRADER} -- "
    assert made in said, said
    follow("fix: " + said[said.index("`mkdir -m 3733") :])  # the "if not" branch, as written
    assert os.stat(course / "inbound").st_uid == GRADER and os.stat(course / "x").st_uid == STUDENT


def test_the_tas_doctor_in_the_ta_set_up_moves_nothing_before_or_after_the_lock_out(open_tmp, monkeypatch):
    """r20m M2: in the TA set-up (the course's folder root:staff 2775, the grader's 3733 inbound), nothing wrong, the
    TA's doctor gave a FAIL whose first mend was `chmod g-w -- <course>`; after it, her next line moved the class's
    inbound aside and made her one (two asides, 0 collected). Now the lock-out is only the "if not" branch's, and
    after it the line still names the grader and moves nothing: the class's inbound stays, the grader's doctor has
    nothing to move."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, STAFF)
    course.chmod(0o2775)
    staff_group(monkeypatch)
    submit(course / "inbound")
    local = open_tmp / "course"  # her own copy of the course
    local.mkdir()
    os.chown(local, STAFF_TA, 0)
    said = doctor(local, uid=STAFF_TA)
    staff = f"fix: if uid {GRADER} is one of the course's staff: run lrcourse doctor and collect as uid {GRADER} ("
    assert staff in said and said.index("`chmod g-w") > said.index("; if not (a student"), said
    assert "mv " not in said and "mktemp" not in said and "mkdir" not in said, said
    course.chmod(0o2755)  # the "if not" branch's lock-out, run anyway
    said = doctor(local, uid=STAFF_TA)
    ask = f"fix: if uid {GRADER} is the account that collects this course: run lrcourse doctor and collect as uid "
    assert ask in said and said.index("mktemp") > said.index("; if not (a student's"), said
    assert f"chown -h {STAFF_TA}" in said and "and you collect it: `" in said, said  # only for the one who collects
    assert os.stat(course / "inbound").st_uid == GRADER and os.listdir(course / "inbound") == [SUBMISSION]
    assert not [name for name in os.listdir(course.parent) if name.startswith(".lrcourse-aside")]
    assert "mktemp" not in doctor(open_tmp) and "collect as" not in doctor(open_tmp)  # the grader's: its own


def test_a_students_inbound_in_a_closed_root_course_folder_is_asked_about_first(open_tmp, monkeypatch):
    """r20l W5 after its lock-out, r20m M2's rule: a 3733 inbound of hers in a course folder of root's no group may
    write in any more is asked about (is she the account that collects?), not moved aside outright; the grader, who
    collects, runs the "if not" branch's command as written, and its own inbound is made."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, 0, 0)
    os.rename(course / "inbound", open_tmp / "real")
    hers(course / "inbound", 0o3733)
    said = doctor(open_tmp)
    assert f"fix: if uid {STUDENT} is the account that collects this course: " in said, said
    assert "and you collect it: `d=$(mktemp" in said and f"chown -h {GRADER} -- " in said, said
    aside = follow("fix: " + said[said.index("`d=$(mktemp") :])  # the "if not" branch's, as written, by root
    assert os.stat(course / "inbound").st_uid == GRADER and os.listdir(aside) == ["inbound"], said
    shutil.rmtree(aside)


def test_a_deferral_names_only_the_owners_doctor(open_tmp):
    """r20m W1: the deferral said "or the doctor as root", whose doctor, after the lock-out, made a root inbound
    beside the class's and moved the grader's outbound aside. Only the owner's doctor, which can list it, is named."""
    from lrcourse.grading.exchange.kept_folders import DEFER, defer_line

    course = open_tmp / "exchange" / "lr-schedules"
    problem, mend = defer_line(course / ".i", "gr", "owns the course's folder in the exchange", course, GRADER)
    assert mend == f"{DEFER}gr, who can list it: nothing is to be moved or made as you", mend
    assert "root" not in mend and "only gr or root can list it" in problem, problem
