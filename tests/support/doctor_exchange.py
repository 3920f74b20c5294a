"""The README's exchange set-up in a scratch folder, for the tests of `lrcourse doctor`'s exchange lines run as other
uids (tests/test_doctor_exchange_reach.py, tests/test_doctor_exchange_grader.py), and nbgrader's own check of the
root run as a student's uid, to compare the lines with."""

from __future__ import annotations

import ast
import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from support.exchange_apps import course_with_a_release, exchange_app, exchange_in
from support.other_uid import as_user

GRADER = 54323  # a uid of no account: the grader, as on a hub (as_user: its gid the same number)
STUDENT = 54321  # a student; as_user gives it gid 54321: a group holding that student
STAFF_TA = 54325
SUBMISSION = "alice+ch1+2026-12-07 10:00:00.000000 UTC+abc"
ASIDE = "d=$(mktemp -d "  # kept_folders.aside: never a removal (r20j W1), in the exchange's root (r20k W2)


def moved_aside(path: Path, root: Path | None = None) -> str:
    """`kept_folders.aside`'s command for `path` alone (in the exchange `root`, the course's folder's parent unless
    given), up to its `&& echo`."""
    from lrcourse.grading.exchange.kept_folders import aside

    root = root or next(folder for folder in (path, *path.parents) if folder.name == "lr-schedules").parent
    return aside([path], root).split(' && echo "moved to $d"')[0]


OK = " |  | fix:  | "  # a doctor's line without a problem: (problem, note, mend) all empty


def follow(said: str) -> Path | None:
    """The line's first mend, as written: its command run by the shell (as root, as each says); the folder it moved
    things aside into (`kept_folders.aside` prints it; the caller removes it), if any."""
    command = re.search(r"fix: `([^`]+)`", said)
    assert command, said
    out = subprocess.run(["bash", "-c", command.group(1)], check=True, capture_output=True, text=True).stdout
    moved = re.search(r"^moved to (/.+)$", out, re.M)
    return Path(moved.group(1)) if moved else None


@contextmanager
def scratch_folder():
    """A folder every uid may enter, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-doctor-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def course_in(monkeypatch, where: Path, root_mode: int, owner: int = GRADER, groupshared: bool = False) -> Path:
    """The README's set-up in `where`: the root root's, the course's folder 0755, inbound/ 3733 and outbound/ 0755
    `owner`'s (the grader's; group root, as `install -d -o` leaves them); its exchange found without reading
    nbgrader's configuration (`groupshared`: the course's c.CourseDirectory.groupshared)."""
    from lrcourse.grading.exchange import inbound_folder

    course = exchange_in(where, root_mode) / "lr-schedules"
    for folder, mode in ((course, 0o755), (course / "inbound", 0o3733), (course / "outbound", 0o755)):
        folder.mkdir()
        os.chown(folder, owner, 0)
        folder.chmod(mode)
    exchange = inbound_folder.Exchange(course.parent, "lr-schedules", groupshared=groupshared)
    monkeypatch.setattr(inbound_folder, "exchange_of", lambda course: exchange)
    return course


def student_may_use(root: Path) -> bool:
    """nbgrader's own check, as a student's uid in the group STUDENT: True where fetch, list and submit go on."""
    from nbgrader.utils import check_directory

    return as_user(STUDENT, lambda: check_directory(str(root), write=True, execute=True)) == "True"


def listing(monkeypatch, groups: dict) -> None:
    """The members this machine lists in each group (gid: names), as the doctor's lines name them."""
    from lrcourse.grading.doctor import entry

    monkeypatch.setattr(entry, "listed_members", lambda gid: groups.get(gid, []))


def hers(path: Path, mode: int = 0o755):
    """A folder the student made."""
    path.mkdir()
    os.chown(path, STUDENT, STUDENT)
    path.chmod(mode)
    return path


def doctor(course: Path, uid: int = GRADER) -> str:
    """The doctor's exchange line, as `uid` (the grader's; 0: root's, in this process): its name, problem, fix and
    kind in one text."""
    from lrcourse.grading.doctor.exchange import exchange_root

    def line():
        said = exchange_root(course)
        return f"{said.name} | {said.problem} | fix: {said.fix} | warning={said.warning} | stops={said.stops}"

    return line() if uid == 0 else ast.literal_eval(as_user(uid, line))


def grader_release_all(root: Path, scratch: Path, closed: str = "", verb: str = "assignment", uid: int = GRADER) -> str:
    """nbgrader's (the course's) release of a chapter (`verb` "feedback": of its feedback), run through as `uid` (the
    grader's; 0: root's, in this process) from a course of its own (`closed`: a path in it left root's, 0700: the
    grader cannot read it): None, or the type and text of what stopped it."""
    course = course_with_a_release(Path(tempfile.mkdtemp(dir=scratch)))
    for path in [course.parent, *course.parent.rglob("*")]:
        os.chown(path, uid, uid)
    if closed:
        os.chown(course / closed, 0, 0)
        (course / closed).chmod(0o700)
    app = exchange_app(verb, root, course)
    if uid:
        return as_user(uid, app.start)
    try:
        return repr(app.start())
    except Exception as error:
        return f"{type(error).__name__}: {error}"


CLASSMATE = 54325  # another student, whose submission may land in a folder of STUDENT's


def submit(inbound, name: str = SUBMISSION, owner: int = STUDENT) -> None:
    """A student's (`owner`'s) submission folder in `inbound`, as nbgrader's submit leaves it."""
    (inbound / name).mkdir()
    (inbound / name / "learning_rate.ipynb").write_text("{}")
    for path in (inbound / name, inbound / name / "learning_rate.ipynb"):
        os.chown(path, owner, owner)


STAFF = 54330  # the course folder's group in a TA's set-up: the grader and the TA in it


def staff_group(monkeypatch, *more: tuple[str, int]) -> None:
    """This machine lists the grader and the TA (no accounts: listed here), and `more`, in the group STAFF."""
    named = (("gr", GRADER), ("ta", STAFF_TA), *more)
    users = [SimpleNamespace(pw_name=name, pw_uid=uid, pw_gid=uid) for name, uid in named]
    group = SimpleNamespace(gr_name="staff", gr_mem=[name for name, _ in named])
    monkeypatch.setattr(pwd, "getpwall", lambda: users)
    monkeypatch.setattr(grp, "getgrgid", lambda gid: group if gid == STAFF else grp.struct_group(("", "", gid, [])))
