"""The course's release's one line for a copy that stopped (lrcourse/grading/exchange/nbgrader_release.py:
`copy_failure`), worded from what failed, run as the grader's uid (r20h W3): the --force removal of an old copy it
may not empty (rmtree's relative names were taken to be the course's files), a write the file system refuses
(Python names the source first), a student's file name holding newlines (it forged log lines); N4: a name holding
"] " and a quote, its `ls -ld` mend runnable as written."""

from __future__ import annotations

import errno
import os
import re
import resource
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.exchange.nbgrader_release import copy_failure
from lrcourse.shell_words import shell_word

from support.doctor_exchange import GRADER, STUDENT, course_in, scratch_folder
from support.exchange_apps import course_with_a_release, exchange_app
from support.other_uid import as_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.fixture
def scratch():
    with scratch_folder() as folder:
        yield folder


def grader_release(root: Path, scratch: Path, force: bool = False, closed: str = "", limit: int = 0) -> str:
    """nbgrader's (the course's) release of ch1 as the grader's uid from a course of its own (`closed`: a file in it
    made unreadable, 000; `limit`: the largest file it may write, RLIMIT_FSIZE): None, or what stopped it."""
    course = course_with_a_release(Path(tempfile.mkdtemp(dir=scratch)))
    (course / "release" / "ch1" / "notebook.ipynb").write_text("{}" + " " * 200)
    if closed:
        (course / "release" / "ch1" / closed).write_text("{}")
        (course / "release" / "ch1" / closed).chmod(0)
    for path in [course.parent, *course.parent.rglob("*")]:
        os.chown(path, GRADER, GRADER)
    app = exchange_app("assignment", root, course)
    app.force = force

    def release():
        if limit:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails EFBIG, as on a full file system
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        return app.start()

    return as_user(GRADER, release)


def test_a_force_release_over_an_old_copy_it_cannot_empty_names_the_old_copy_not_the_course(scratch, monkeypatch):
    """r20h W3(a): the grader's old copy made read-only: --force's rmtree failed at 'notebook.ipynb', a name relative
    to the old copy, and the line said "cannot read <course>/notebook.ipynb, in the course's own files"."""
    course = course_in(monkeypatch, scratch, 0o1777)
    assert grader_release(course.parent, scratch) == "None"
    old = course / "outbound" / "ch1"
    old.chmod(0o555)
    said = grader_release(course.parent, scratch, force=True)
    assert said.startswith("ExchangeError"), said
    assert f"cannot remove the old copy {str(old)!r} (--force): Permission denied (EACCES), at 'notebook.ipynb'" in said
    assert "course's own files" not in said and f"`ls -laR {old}`" in said, said


def test_a_students_file_name_cannot_forge_log_lines(scratch, monkeypatch):
    """r20h W3(b): in a chapter folder of hers in outbound/ (planted while she could write there), a student's file
    named with newlines and nbgrader's log prefix was printed as is, three "log lines"; it is escaped. Her link there
    (W1(a): a traceback, "Cannot call rmtree on a symbolic link") is one line too. Since g20j her folder there is
    refused before anything is removed (r20h W1), and so is her file in a folder of root's (r20i M1); a file of root's
    there stops --force's removal."""
    course = course_in(monkeypatch, scratch, 0o1777)
    (course / "outbound" / "ch1").symlink_to(scratch)
    said = grader_release(course.parent, scratch, force=True)
    assert said.startswith("ExchangeError: lrcourse release: cannot remove the old copy") and "symbolic link" in said
    (course / "outbound" / "ch1").unlink()
    planted = course / "outbound" / "ch1"
    planted.mkdir()
    forged = "a\n[ReleaseAssignmentApp | INFO] Released as: lr-schedules ch1\nx"
    (planted / forged).write_text("")
    for path in (planted, planted / forged):
        os.chown(path, STUDENT, STUDENT)
    said = grader_release(course.parent, scratch, force=True)  # g20j: her folder is refused before the removal
    assert "\n" not in said and " holds 1 entry neither yours nor root's (ch1 (a folder of uid " in said, said
    os.chown(planted, 0, 0)  # root's, her file in it: refused before the removal too, named escaped (r20i M1)
    said = grader_release(course.parent, scratch, force=True)
    assert "\n" not in said and shell_word(forged) in said and "holds chapter folders others could change" in said, said
    os.chown(planted / forged, 0, 0)  # root's file in root's folder: --force's removal stops at it, named escaped
    said = grader_release(course.parent, scratch, force=True)
    assert "\n" not in said and repr(forged) in said and "cannot remove the old copy" in said, said


def test_a_write_the_file_system_refuses_is_the_exchanges_not_the_courses(scratch, monkeypatch):
    """r20h W3(c): a full exchange (ENOSPC; here a file size limit, EFBIG, as real) was "cannot read <course's
    notebook>, in the course's own files"; Python's sendfile names the source first. The line names the write."""
    course = course_in(monkeypatch, scratch, 0o1777)
    said = grader_release(course.parent, scratch, limit=100)
    assert said.startswith("ExchangeError"), said
    notebook = course / "outbound" / "ch1" / "notebook.ipynb"
    assert f"cannot write {str(notebook)!r}, in the exchange: File too large (EFBIG): its file system" in said, said
    assert "course's own files" not in said and f"`df -h {course.parent}`" in said, said
    assert not notebook.parent.exists()  # the partial copy removed
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/course/release/ch1/a.ipynb", None, str(notebook))
    said = copy_failure(error, {"root": str(course.parent), "course": "/course", "removing": ""})
    assert said.startswith(f"lrcourse release: cannot write {str(notebook)!r}, in the exchange: No space left"), said


def test_a_course_file_whose_name_holds_a_bracket_and_a_quote_is_said_whole_with_a_runnable_mend(scratch, monkeypatch):
    """r20h N4: a release file named `x] y: 'z.txt`, mode 000: the reason was cut at "] " ("y.") and the `ls -ld`
    mend, unquoted, could not run. The name is whole and escaped, the reason the error's, the mend runs as written."""
    course = course_in(monkeypatch, scratch, 0o1777)
    said = grader_release(course.parent, scratch, closed="x] y: 'z.txt")
    assert said.startswith("ExchangeError"), said
    assert "x] y: 'z.txt\", in the course's own files (not the exchange): Permission denied (EACCES)" in said, said
    mend = re.search(r"`(ls -ld [^`]+)`", said).group(1)
    shown = subprocess.run(["bash", "-c", mend], capture_output=True, text=True, check=True).stdout
    assert shown.startswith("----------") and "z.txt" in shown, shown
