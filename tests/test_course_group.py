"""A course folder whose group holds students (R20n W1), with real OS users: on hosts where every account shares one
group (`users`, where USERGROUPS_ENAB is off), a course made `chmod 750`, or kept in a home made 0750, let every
student in that group read each classmate's submission_secret.txt in submitted/ (0644 in 0755 folders: she fetches
their feedback with it) and source/, and the doctor, which looked at others' bits only, passed it. Now collect writes
each student's folder in submitted/ 0700 and her secret 0600 (the course owner's: root's collect gives them to it),
which the grader account still grades; grading makes her autograded/ and feedback/ folders 0700 and their secrets
0600 (R20o M2: after one grading they were open again), which the grader account still releases; and the doctor warns
of a course folder, or a folder above it, whose group lets in accounts besides its owner, naming them."""

from __future__ import annotations

import base64
import csv
import grp
import os
import pwd
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lrcourse.grading.autograde.graded_files import carry_nbgrader_files, close_student_folders
from lrcourse.grading.doctor.diagnose import course_folder_closed
from lrcourse.grading.exchange import access_acl as acl

from support.course import released
from support.secret_class import class_course, collected, fetched_pages
from support.students import CHAPTER, Students, needs_root

CLI = "from lrcourse.cli import main; import sys; sys.exit(main())"


@pytest.fixture
def shared_group():
    """alice, mallory and the grader account, all in one group (a distro's shared `users`); a scratch folder."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-group-"))
    scratch.chmod(0o755)
    students = Students(scratch, ("alice", "mallory", "grader"))
    group = f"{students.name['grader']}s"
    try:
        subprocess.run(["groupadd", group], check=True)
        for name in students.name.values():
            subprocess.run(["usermod", "-aG", group, name], check=True)
        yield scratch, students, group
    finally:
        students.remove()
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


def as_user(students: Students, role: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", students.name[role], "--", *command], capture_output=True, text=True, timeout=30
    )


def collected_class(
    scratch: Path, students: Students, group: str, submitting: tuple[str, ...] = ("alice",)
) -> tuple[Path, Path]:
    """The README's `chmod 750` course, the grader account's, its group everyone's; alice's submission (each of
    `submitting`'s) collected by root. The course and the exchange."""
    course, exchange = class_course(scratch)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    subprocess.run(["chown", "-R", f"{students.name['grader']}:{group}", str(course)], check=True)
    course.chmod(0o750)  # the README's `chmod 750`, its group everyone's
    for role in submitting:
        students.submit(role, released(course, CHAPTER), exchange)
    rows = collected(course, exchange).collected  # as root
    assert sorted(row["student"] for row in rows) == sorted(students.name[role] for role in submitting)
    return course, exchange


def denied_to(students: Students, role: str, *paths: Path) -> None:
    """`role` can neither read nor list any of `paths`."""
    for path in paths:
        denied = as_user(students, role, "ls" if path.is_dir() else "cat", str(path))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, (path, denied)


@needs_root
def test_a_classmate_in_the_course_folders_group_reads_no_submission_in_submitted_and_the_doctor_names_her(
    shared_group,
):
    scratch, students, group = shared_group
    alice, mallory, grader = (students.name[role] for role in ("alice", "mallory", "grader"))
    course, _ = collected_class(scratch, students, group)
    folder = course / "submitted" / alice / CHAPTER
    secret = folder / "submission_secret.txt"
    for path, mode in ((folder.parent, 0o700), (folder, 0o700), (secret, 0o600)):
        assert (stat.S_IMODE(os.stat(path).st_mode), path.owner()) == (mode, grader), path
    denied_to(students, "mallory", secret, folder)
    said = course_folder_closed(course)
    assert said.warning and f"readable or enterable by accounts besides its owner ({alice}, {mallory})" in said.line()
    assert said.fix.startswith(f"`chmod g-rwx {course}`; or keep its group") and "instructors only" in said.fix
    subprocess.run(["chgrp", grader, str(course)], check=True)  # its group its owner's alone: closed
    assert not course_folder_closed(course).warning, course_folder_closed(course)


@needs_root
def test_after_grading_a_classmate_in_the_group_reads_none_of_her_graded_files_and_her_feedback_still_reaches_her(
    shared_group,
):
    """R20o M2: after one grading, nbgrader's autograded/<id>/<chapter> and feedback/<id>/<chapter> (0755, the secret
    and the notebook 0644 in them) let a classmate in the course folder's group read her secret and her graded
    notebook again. Now grading closes both 0700 and writes the secret 0600, and every reader is the course owner:
    the grader account grades, releases her feedback with nbgrader's own release_feedback, and her own
    fetch_feedback brings her page."""
    scratch, students, group = shared_group
    alice, grader = students.name["alice"], students.name["grader"]
    course, exchange = collected_class(scratch, students, group)
    grade = ("-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox")
    graded = students.python("grader", *grade, timeout=600)  # a whole grading run, on a busy machine too
    assert graded.returncode == 0 and "1 graded" in graded.stdout, graded.stdout + graded.stderr
    folders = [course / kind / alice / CHAPTER for kind in ("autograded", "feedback")]
    pages = list(folders[1].glob("*.html"))
    assert pages, "the grader account read her folder"
    secrets = [folder / "submission_secret.txt" for folder in folders]
    for path, mode in [*((folder, 0o700) for folder in folders), *((secret, 0o600) for secret in secrets)]:
        assert (stat.S_IMODE(os.stat(path).st_mode), path.owner()) == (mode, grader), path
    parents = [folder.parent for folder in folders]  # R20p W1: her `<kind>/<id>` too, whose names she listed
    assert [(stat.S_IMODE(os.stat(path).st_mode), path.owner()) for path in parents] == [(0o700, grader)] * 2
    denied_to(students, "mallory", *parents, *folders, *secrets, *folders[0].glob("*.ipynb"), *pages)
    shutil.chown(exchange / "lr-schedules", grader)  # the hub's exchange: the grader account's course folder there
    released_now = students.python(
        "grader", "-m", "nbgrader", "release_feedback", CHAPTER, f"--CourseDirectory.root={course}"
    )
    assert released_now.returncode == 0, released_now.stdout + released_now.stderr
    assert len(fetched_pages(students, "alice", exchange)) == 1


@needs_root
def test_roots_grade_gives_her_closed_folders_to_the_course_owner(shared_group):
    """Root grades a course the grader account owns (the README's "root may grade a course the grader account
    collects"): the folders it closes 0700 are given to the course owner, whose formgrader and release_feedback read
    them, and to no one else."""
    scratch, students, group = shared_group
    grader = students.name["grader"]
    course, _ = collected_class(scratch, students, group)
    alice = students.name["alice"]
    graded = course / "autograded" / alice / CHAPTER
    assert close_student_folders(course, alice) == ""  # as root's grade does before nbgrader's autograde
    graded.mkdir()  # as nbgrader's autograde, run as root, makes it
    carry_nbgrader_files(course / "submitted" / alice / CHAPTER, graded, submitted=True)
    for path, mode in ((graded.parent.parent, 0o755), (graded.parent, 0o700), (graded, 0o700)):
        assert (stat.S_IMODE(os.stat(path).st_mode), path.owner()) == (mode, grader), path
    secret = graded / "submission_secret.txt"
    assert (stat.S_IMODE(os.stat(secret).st_mode), secret.owner()) == (0o600, grader)
    assert as_user(students, "grader", "cat", str(secret)).returncode == 0
    denied_to(students, "mallory", graded.parent, course / "feedback" / alice, graded, secret)


SPIN = """import os, sys, time
course, student, end = sys.argv[1], sys.argv[2], time.time() + float(sys.argv[3])
got, tries = set(), 0
while time.time() < end:
    tries += 1
    for kind in ("autograded", "feedback"):
        try:
            names = os.listdir(os.path.join(course, kind, student))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(course, kind, student, name, "submission_secret.txt"), "rb") as file:
                    got.add(file.read())
            except OSError:
                pass
print(tries, len(got))
"""


@needs_root
def test_a_classmate_racing_the_fleets_writes_reads_none_of_her_secrets(shared_group):
    """R20p W1: the enqueuer unpacks a worker's result (her secret in it, 0644) into `<kind>/<id>/.<ch>.writing`
    before `keep_secret_here` closes it; with `<kind>/<id>` 0755, mallory, listing and opening in a loop, read about
    half of all secrets written. Now `stage_files` closes `<kind>/<id>` to the course's owner first: she reads none."""
    from lrcourse.grading.fleet.write import keep_secret_here, put_in_place, stage_files

    scratch, students, group = shared_group
    alice, grader = students.name["alice"], students.name["grader"]
    course = scratch / "course"
    for kind in ("submitted", "autograded", "feedback"):
        (course / kind / alice).mkdir(parents=True, mode=0o755)  # as nbgrader and an earlier lrcourse made them
    (course / "submitted" / alice / CHAPTER).mkdir()
    subprocess.run(["chown", "-R", f"{grader}:{group}", str(course)], check=True)
    course.chmod(0o750)
    (scratch / "spin.py").write_text(SPIN)
    spinner = subprocess.Popen(
        ["runuser", "-u", students.name["mallory"], "--", "/usr/bin/python3", str(scratch / "spin.py"), str(course),
         alice, "3"], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    staged = {kind: course / kind / alice / f".{CHAPTER}.writing" for kind in ("autograded", "feedback")}
    written, end = 0, time.monotonic() + 3
    while time.monotonic() < end:
        secret = base64.b64encode(b"ALICE-%06d-" % written + b"a" * 100).decode()
        files = {"submission_secret.txt": secret, "page.html": base64.b64encode(b"<p>page</p>").decode()}
        assert stage_files(staged, {"autograded": dict(files), "feedback": dict(files)}) == ""
        keep_secret_here(course, alice, CHAPTER, staged)
        put_in_place(staged)
        written += 1
    tries, read = map(int, spinner.communicate(timeout=30)[0].split())
    assert written > 10 and tries > 10 and read == 0, (written, tries, read)


@needs_root
def test_a_home_whose_group_holds_a_student_lets_her_reach_an_open_course_and_the_doctor_says_so(shared_group):
    """R20n W1, the home variant: the instructor's home 0750, its group shared with a student (hers as a member, or
    her primary group), the course 0755 in it: the doctor passed (the home has no o+x); now it names who gets in."""
    scratch, students, group = shared_group
    alice, grader = students.name["alice"], students.name["grader"]
    home = scratch / "instructor"
    course = home / "course"
    course.mkdir(parents=True)
    shutil.chown(home, grader, group)
    shutil.chown(course, grader, grader)
    home.chmod(0o750)
    course.chmod(0o755)
    said = course_folder_closed(course)
    assert said.warning and "readable or enterable by accounts besides its owner (" in said.line(), said.line()
    assert alice in said.line() and grader not in said.line().split("its owner (")[1], said.line()
    assert said.fix.startswith(f"`chmod o-rwx {course}`; or keep its group"), said.fix
    subprocess.run(["gpasswd", "-d", alice, group], check=True, capture_output=True)
    subprocess.run(["usermod", "-g", group, alice], check=True)  # her primary group: not in gr_mem
    assert alice in course_folder_closed(course).line()
    home.chmod(0o700)  # the README's home
    assert not course_folder_closed(course).warning, course_folder_closed(course)


def set_acl(folder: Path, named: list[tuple[int, int, int]], mask: int) -> None:
    """What `setfacl -m` writes: the folder's owner rwx, its group and others nothing, the `named` entries (tag, perm,
    id: `acl.USER` or `acl.GROUP`) under `mask` (no setfacl on every host: the attribute written as the kernel keeps
    it, see `access_acl`)."""
    nobody = 0xFFFFFFFF
    entries = [(acl.USER_OBJ, 7, nobody), *named, (acl.GROUP_OBJ, 0, nobody), (acl.MASK, mask, nobody)]
    entries = sorted([*entries, (acl.OTHER, 0, nobody)])  # the kernel takes them in the order of their tags
    os.setxattr(folder, acl.ACCESS, struct.pack("<I", acl.VERSION) + b"".join(acl.ENTRY.pack(*e) for e in entries))


@needs_root
def test_a_posix_acl_that_lets_a_student_in_is_named_by_the_doctor(shared_group):
    """R20o M1: the doctor read mode bits only. `setfacl -m u:<student>:x <home>; setfacl -m u:<student>:rx
    <course>` (or `g:<group>:rx`, a group meant for teaching assistants) let mallory read source/'s hidden tests in
    a course 0700 in a home 0700, and the doctor said closed. Now the ACL's named entries, masked, are readers."""
    scratch, students, group = shared_group
    mallory, grader = students.name["mallory"], students.name["grader"]
    home = scratch / "instructor"
    course = home / "course"
    (course / "source").mkdir(parents=True)
    (course / "source" / "hidden.txt").write_text("HIDDEN TESTS")
    subprocess.run(["chown", "-R", f"{grader}:{grader}", str(home)], check=True)
    home.chmod(0o700)
    course.chmod(0o700)
    assert not course_folder_closed(course).warning, course_folder_closed(course)
    uid, gid = pwd.getpwnam(mallory).pw_uid, grp.getgrnam(group).gr_gid
    for named in ((acl.USER, uid), (acl.GROUP, gid)):
        set_acl(home, [(named[0], 1, named[1])], 1)
        set_acl(course, [(named[0], 5, named[1])], 5)
        assert as_user(students, "mallory", "cat", str(course / "source" / "hidden.txt")).stdout == "HIDDEN TESTS"
        said = course_folder_closed(course)
        assert said.warning and mallory in said.line() and grader not in said.line().split("owner (")[1], said
        assert said.fix.startswith(f"`chmod g-rwx {course}`") and f"`getfacl {course} {home}`" in said.fix, said.fix
        set_acl(course, [(named[0], 5, named[1])], 0)  # `chmod g-rwx`: the mask lets no named entry in
        denied_to(students, "mallory", course / "source" / "hidden.txt")
        assert not course_folder_closed(course).warning, course_folder_closed(course)


def test_a_refused_chown_leaves_her_folder_closed_and_her_grading_going(tmp_path, monkeypatch):
    """Root squashed on a network share cannot give the folder to the course's owner: the folder is closed all the
    same, her reasons name the owner and the chown that mends it, and the carry (her grading) goes on."""
    from lrcourse.grading.autograde import graded_files

    def refused(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(graded_files, "give_to_course_owner", refused)
    monkeypatch.setattr(graded_files, "giving", lambda course: True)  # as root in another account's course
    graded = tmp_path / "course" / "autograded" / "alice" / CHAPTER
    graded.mkdir(parents=True)
    note = graded_files.close_student_folders(tmp_path / "course", "alice")  # R20p M2: not silent
    owner = pwd.getpwuid(os.getuid()).pw_name
    assert f"course's owner {owner} (" in note and f"`chown -R {owner} {graded.parent} " in note, note
    assert carry_nbgrader_files(tmp_path / "nowhere", graded) == graded_files.NO_SECRET
    assert stat.S_IMODE(os.stat(graded).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(graded / "submission_secret.txt").st_mode) == 0o600


@needs_root
def test_after_roots_grade_the_course_owners_own_grade_runs(shared_group):
    """R20p W2: root's grade in the grader account's course left the grading lock, grades.csv, reports/ and her
    done and verdict marks root's: the owner's next `lrcourse grade` was refused on the lock, and (that mended by
    hand) ended in a traceback writing grades.csv. Now root's grade gives them to the owner, whose regrade exits 0."""
    scratch, students, group = shared_group
    alice, grader = students.name["alice"], students.name["grader"]
    course, _ = collected_class(scratch, students, group)
    grade = ("-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox")
    by_root = subprocess.run([sys.executable, *grade], capture_output=True, text=True, timeout=600)
    assert by_root.returncode == 0 and "1 graded" in by_root.stdout, by_root.stdout + by_root.stderr
    written = [course / "grades.csv", course / "reports", *(course / "reports").iterdir()]
    written += [*course.glob(".lrcourse-grading-*.lock"), *(course / "autograded" / alice / CHAPTER).glob(".*")]
    assert len(written) >= 7 and {path.owner() for path in written} == {grader}, [(p, p.owner()) for p in written]
    by_owner = students.python("grader", *grade, "--force", timeout=600)
    assert by_owner.returncode == 0 and "1 graded" in by_owner.stdout, by_owner.stdout + by_owner.stderr
    assert "Traceback" not in by_owner.stderr, by_owner.stderr


@needs_root
def test_after_roots_grade_is_stopped_mid_class_the_course_owners_own_grade_runs(shared_group):
    """G21 (issue 20): root's grade stopped part-way (SIGTERM after the first student, the second being graded) left
    what it had made root's: the second student's autograded folder (nbgrader's, not yet given to the owner), the
    first's done and verdict marks; the owner's next `lrcourse grade --force` could not replace them. Now root's run
    hands the run's files to the course's owner in a `finally` that the stop's path runs too: nothing of root's is
    left in the course, and the owner's regrade grades everyone once and exits 0."""
    scratch, students, group = shared_group
    names = sorted(students.name[role] for role in ("alice", "mallory"))
    course, _ = collected_class(scratch, students, group, submitting=("alice", "mallory"))
    grade = ("-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox")
    by_root = subprocess.Popen([sys.executable, *grade, "--workers", "1"], stdout=subprocess.PIPE, text=True)
    first, second = (course / "autograded" / name / CHAPTER for name in names)
    end = time.monotonic() + 600
    while not ((first / ".lrcourse-graded.json").exists() and second.exists()) and by_root.poll() is None:
        assert time.monotonic() < end, "root's grade did not reach its second student"
        time.sleep(0.05)
    by_root.send_signal(signal.SIGTERM)  # the first graded, the second's autograde under way
    assert by_root.wait(timeout=60) == 130, by_root.communicate()[0]
    roots = [path for path in [course, *course.rglob("*")] if path.lstat().st_uid == 0]
    assert roots == [], roots
    by_owner = students.python("grader", *grade, "--force", timeout=600)
    assert by_owner.returncode == 0 and "2 graded, 0 unchanged (skipped), 0 failed" in by_owner.stdout, (
        by_owner.stdout + by_owner.stderr
    )
    assert "Traceback" not in by_owner.stderr, by_owner.stderr
    with open(course / "grades.csv", newline="") as grades:
        rows = [row for row in csv.DictReader(grades) if row["assignment"] == CHAPTER]
    assert sorted(row["student_id"] for row in rows) == names, rows


def test_a_grades_file_this_account_may_not_write_is_named_with_its_mend_not_a_traceback(tmp_path, monkeypatch):
    """R20p W2: a PermissionError writing grades.csv (root's, left by an earlier grade of root's) ended the owner's
    run in a traceback. Now the run's summary names the file and why, and the run is not clean (exit 1)."""
    from lrcourse.grading.autograde import grade
    from lrcourse.grading.outcomes import RunOutcomes, summary

    def refused(course, db_url):
        raise PermissionError(13, "Permission denied", str(course / "grades.csv"))

    monkeypatch.setattr(grade, "export_grades", refused)
    result = grade.finish(tmp_path, f"sqlite:///{tmp_path / 'gradebook.db'}", RunOutcomes(CHAPTER), 0.0)
    assert not result.clean and "not written: grades.csv cannot be written: " in summary(result), summary(result)
    assert (tmp_path / "reports" / f"{CHAPTER}.csv").exists()  # the run's outcomes are written all the same


@needs_root
def test_a_group_id_with_no_group_entry_counts_as_readers_the_doctor_cannot_list():
    """R20p M1: a gid in no group database (a container runtime's supplementalGroups or fsGroup) as the course's group,
    or as an ACL's named group, let a student holding it read source/, and the doctor said closed: no one was in it.
    Now it counts as `group <gid> (members not listed)`, with the warning."""
    gid = next(gid for gid in range(54321, 60000) if gid not in {group.gr_gid for group in grp.getgrall()})
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-gid-"))
    try:
        scratch.chmod(0o755)
        course = scratch / "course"
        course.mkdir(mode=0o700)
        assert not course_folder_closed(course).warning
        os.chown(course, -1, gid)
        course.chmod(0o750)
        said = course_folder_closed(course)
        assert said.warning and f"group {gid} (members not listed)" in said.line(), said.line()
        assert said.fix.startswith(f"`chmod g-rwx {course}`"), said.fix
        os.chown(course, -1, 0)
        set_acl(course, [(acl.GROUP, 5, gid)], 5)
        said = course_folder_closed(course)
        assert said.warning and f"group {gid} (members not listed)" in said.line(), said.line()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
