"""G21 (issue 20): where `lrcourse grade` cannot write grades.csv, the run's outcomes CSV or the class report page, every
line that says so names the mend, not only the failure: the chown of the course to its owner where another account
(root's grade) left the file, the `chmod u+w` where the file is the account's own and read-only, then grade again.
The summary's `not written:` lines said it for another account's file only; the class report's failure line
(`lrcourse: the class report or export failed: PermissionError: ...`) for none."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.exchange.other_account import cannot_write
from lrcourse.grading.reports.class_report import report_failure

from support.secret_class import class_course
from support.students import CHAPTER, Students, needs_root

CLI = "from lrcourse.cli import main; import sys; sys.exit(main())"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another uid")
def test_a_read_only_file_or_folder_of_this_accounts_is_named_with_its_chmod(tmp_path, monkeypatch):
    me = 54321
    locked, folder = tmp_path / "grades.csv", tmp_path / "reports"
    locked.write_text("")
    folder.mkdir()
    for path, mode in ((tmp_path, 0o755), (locked, 0o444), (folder, 0o555)):
        os.chown(path, me, me)
        path.chmod(mode)
    monkeypatch.setattr(os, "geteuid", lambda: me)
    denied = [PermissionError(13, "Permission denied", str(path)) for path in (locked, folder / "02.html")]
    said = [cannot_write(error, tmp_path, then="grade again") for error in denied]
    assert said[0].endswith(f"; not writable by its owner, this account: `chmod u+w {locked}`, then grade again")
    assert said[1].endswith(f"`chmod u+w {folder}`, then grade again"), said  # a new file: the folder it goes in
    assert report_failure(denied[0], tmp_path) == said[0]  # the class report's line says the same
    assert report_failure(ValueError("bad"), tmp_path) == "ValueError: bad"


@needs_root
def test_the_owners_grade_names_the_mend_of_every_file_it_cannot_write():
    """The owner's `lrcourse grade` in her course where root's grade left grades.csv and the class report page root's
    and her outcomes CSV is read-only: exit 1, no traceback, each file named with its own mend."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-mend-"))
    scratch.chmod(0o755)
    students = Students(scratch, ("grader",))
    try:
        grader = students.name["grader"]
        course, _ = class_course(scratch)
        subprocess.run(["chown", "-R", f"{grader}:{grader}", str(course)], check=True)
        reports = course / "reports"
        reports.mkdir()
        shutil.chown(reports, grader, grader)
        for name in ("grades.csv", f"reports/{CHAPTER}.html"):  # root's, as root's grade left them
            (course / name).write_text("")
        outcomes = reports / f"{CHAPTER}.csv"
        outcomes.write_text("")
        shutil.chown(outcomes, grader, grader)
        outcomes.chmod(0o444)
        run = students.python("grader", "-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox")
        chown = f"as root, `chown -R {grader} {course}` (the course folder's owner), then grade again"
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stdout + run.stderr
        assert "not written: grades.csv cannot be written: [Errno 13] Permission denied: " in run.stdout, run.stdout
        assert f"'{course / 'grades.csv'}'; made by another account (root's collect or grade?): {chown}" in run.stdout
        chmod = f"not writable by its owner, this account: `chmod u+w {outcomes}`, then grade again"
        assert f"not written: reports/{CHAPTER}.csv cannot be written: " in run.stdout and chmod in run.stdout
        page = f"the class report or export failed: cannot be written: [Errno 13] Permission denied: '{reports}/"
        assert page in run.stderr and f"{CHAPTER}.html'; made by another account" in run.stderr, run.stderr
        assert chown in run.stderr.split("the class report or export failed", 1)[1], run.stderr
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another uid")
def test_export_names_the_mend_of_a_report_it_cannot_write_not_a_traceback(tmp_path, monkeypatch, capsys):
    """`lrcourse export` whose class report page cannot be written (its folder read-only) ended in a PermissionError
    traceback: now one line names the page and the chmod, then export again, and the status is 1, as before."""
    import argparse
    from types import SimpleNamespace

    from lrcourse.commands.export import command_export
    from lrcourse.grading.reports import class_report, export, results

    me, reports = 54321, tmp_path / "reports"
    reports.mkdir()
    for path in (tmp_path, reports):
        os.chown(path, me, me)
    reports.chmod(0o555)
    page = reports / f"{CHAPTER}.html"

    def refused(course, grades):
        raise PermissionError(13, "Permission denied", str(page))

    book = SimpleNamespace(assignments=[SimpleNamespace(name=CHAPTER, totals=[1.0])], not_plain=[])
    monkeypatch.setattr(results, "read_gradebook", lambda *args: book)
    monkeypatch.setattr(export, "export_class", lambda *args: [])
    monkeypatch.setattr(class_report, "write_chapter_report", refused)
    monkeypatch.setattr(os, "geteuid", lambda: me)
    args = argparse.Namespace(course=str(tmp_path), assignments=[], db_url=None, db_url_file=None)
    monkeypatch.setattr(export.ExportOptions, "given", staticmethod(lambda args: None))
    assert command_export(args) == 1
    said = capsys.readouterr().err
    assert said.startswith(f"lrcourse export: not written: cannot be written: [Errno 13] Permission denied: '{page}'")
    assert said.rstrip().endswith(f"`chmod u+w {reports}`, then export again"), said
