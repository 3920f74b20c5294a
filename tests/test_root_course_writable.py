"""Issue 20, R20v: "root's through and through" checked who owns each entry in the course, not who may write it, nor
what a root-owned link in it points to. A root-owned `reports/` of mode 0777 took another account's link that root's
grade then wrote its page through (W1 1); a gradebook a TA group may write named a student `../../other/...` and the
report read another course's root-only notebook (W1 2); root's export followed such a link (W1 3, 4). Now the course's
folders and files must be writable by root only and hold no link (`not_roots_throughout`), root's grade looks for
links in whoever's course (`checking`), the report builds no path of a student id that is not one plain name, and the
mends say `chown -R root:root`, `chmod -R go-w`, or, for a folder on the path, move the course or close that folder
alone (M1). Every link, chown and chmod here is inside the test's own tmp_path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from lrcourse import cli
from lrcourse.grading.course import OutdatedCourseConfig, config_text
from lrcourse.grading.exchange.other_account import not_roots_throughout
from lrcourse.grading.exchange.root_links import link_in, planted_links, sqlite_files, student_link
from lrcourse.grading.reports import results
from lrcourse.grading.reports.class_report import attention_list

OWNER = 54321  # no passwd entry
SECRET = "SECRET-R20V-another-course"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files to another uid")


def roots_course(tmp_path: Path) -> Path:
    """A course root's through and through: 0755 folders, 0644 files, no link."""
    course = tmp_path / "course"
    (course / "reports").mkdir(parents=True)
    (course / "source" / "ch").mkdir(parents=True)
    (course / "gradebook.db").write_bytes(b"")
    for path in (course, course / "reports", course / "source", course / "source" / "ch"):
        path.chmod(0o755)
    (course / "gradebook.db").chmod(0o644)
    return course


@root_only
def test_a_root_course_with_a_folder_or_file_others_may_write_or_a_link_in_it_is_not_roots(tmp_path, capsys):
    course = roots_course(tmp_path)
    assert not_roots_throughout(course) == ("", "")
    mend = f"`chown -R root:root {course}`, `chmod -R go-w {course}`"
    (course / "reports").chmod(0o777)  # W1 1, 3: the former owner's reports/, kept by chown
    reason, said = not_roots_throughout(course)
    assert reason == f"{course / 'reports'} in it is writable by others (mode 777)" and mend in said, said
    (course / "reports").chmod(0o755)
    (course / "gradebook.db").chmod(0o664)  # W1 2: a TA group's gradebook
    assert not_roots_throughout(course)[0] == f"{course / 'gradebook.db'} in it is writable by others (mode 664)"
    (course / "gradebook.db").chmod(0o644)
    (tmp_path / "elsewhere").mkdir()
    (course / "autograded").symlink_to(tmp_path / "elsewhere")  # W1 4: root's own link, to anywhere
    reason, said = not_roots_throughout(course)
    assert reason.startswith(f"{course / 'autograded'} in it is a link (to {str(tmp_path / 'elsewhere')!r})"), reason
    (course / "autograded").unlink()
    (course / "reports").chmod(0o777)
    status = cli.main(["export", "--course", str(course)])
    err = capsys.readouterr().err
    assert status == 2 and "writable by others (mode 777)" in err and mend in err, err
    assert "export as that account" not in err and not (course / "reports" / "ch.html").exists()


@root_only
def test_a_folder_on_the_path_gets_its_own_mend_not_export_as_its_owner_nor_chown_r(tmp_path):
    """M1: the course root's, a folder above it another account's or open to all: move the course, or close that
    folder alone; `export as that account` only where that account owns the course folder."""
    home = tmp_path / "alice"
    home.mkdir(mode=0o755)
    os.chown(home, OWNER, OWNER)
    course = roots_course(home)
    reason, said = not_roots_throughout(course)
    assert reason == f"the folder {home} on its path is uid {OWNER}'s", reason
    assert said == f"move the course out of {home}", said  # never `chown root` of her home (R20w M2)
    assert "export as that account" not in said and "-R" not in said, said
    os.chown(course, OWNER, OWNER)  # her course: then her export is the mend
    assert not_roots_throughout(course)[1].startswith("export as that account (`setpriv --reuid=54321")
    os.chown(course, 0, 0)
    os.chown(home, 0, 0)
    home.chmod(0o777)
    reason, said = not_roots_throughout(course)
    assert reason.endswith("on its path is writable by others (mode 777)") and "-R" not in said, said
    assert f"`chmod go-w {home}` or `chmod +t {home}`" in said, said


@root_only
def test_roots_grade_looks_for_links_in_a_root_course_others_may_write(tmp_path):
    """W1 (b): `reports/` 0777 and another account's link at reports/ch.html (the victim a root-only file here):
    before, `planted_links` said [] in any root-owned course and root's grade wrote its page over the victim."""
    course = roots_course(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("root's")
    victim.chmod(0o600)
    (course / "reports").chmod(0o777)
    (course / "reports" / "ch.html").symlink_to(victim)
    os.lchown(course / "reports" / "ch.html", OWNER, OWNER)
    (course / "autograded").mkdir(mode=0o777)
    (course / "autograded" / "bob").symlink_to(tmp_path)
    named = planted_links(course.resolve(), "ch")
    assert [note.split(" is a link")[0] for note in named] == [str(course / "reports" / "ch.html")], named
    assert "or make it root's through and through (`chown -R root:root" in named[0], named  # not "its owner (root)"
    assert student_link(course.resolve(), "bob", "ch").startswith(f"{course / 'autograded' / 'bob'} is a link")


def test_a_sqlite_uri_filename_is_the_file_after_file_colon(tmp_path, monkeypatch):
    """N2: `sqlite:///file:sub/gb.db?uri=true` opened sub/gb.db through the owner's link; the check saw `file:sub`."""
    assert sqlite_files("sqlite:///file:sub/gb.db?uri=true")[0] == Path("sub/gb.db")
    assert sqlite_files("sqlite:///file:///abs/gb%20x.db?mode=rw&uri=true")[0] == Path("/abs/gb x.db")
    assert sqlite_files("sqlite:///file:sub/gb.db")[0] == Path.cwd() / "file:sub/gb.db"  # no uri: a plain name
    course = tmp_path / "course"
    course.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (course / "sub").symlink_to(tmp_path / "elsewhere")
    monkeypatch.chdir(course)
    assert link_in(course, sqlite_files("sqlite:///file:sub/gb.db?uri=true")[0]) == course / "sub"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///file:sub/gb.db?uri=1",
        "sqlite:///file:sub/gb.db?uri=yes",
        "sqlite:///file:sub/gb.db?uri=true%20",
        "sqlite:///file:sub/gb.db?mode=rwc&uri=on",
        "sqlite:///file:sub%252Fgb.db?uri=true",
        "sqlite:///sub%2Fgb.db",
        "sqlite+pysqlite:///sub/gb.db",
        "sqlite:///sub/gb.db",
    ],
)
def test_every_sqlite_spelling_is_checked_as_sqlalchemy_opens_it(tmp_path, monkeypatch, url):
    """R20w M1: `?uri=1`, `?uri=yes`, `%2F` opened sub/gb.db through the owner's link unchecked: the file is now
    SQLAlchemy's own parsing of the URL (`make_url`, the dialect's `create_connect_args`)."""
    course = tmp_path / "course"
    course.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (course / "sub").symlink_to(tmp_path / "elsewhere")
    monkeypatch.chdir(course)
    files = sqlite_files(url)
    assert Path(os.path.abspath(files[0])) == course / "sub" / "gb.db", files
    assert link_in(course, files[0]) == course / "sub"


@pytest.mark.parametrize("url", [None, "", "sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=1"])
def test_no_file_for_sqlite_in_memory_or_another_database(url):
    assert sqlite_files(url) == ()
    assert sqlite_files("postgresql://u@h/db") == () and sqlite_files("not a url") == ()


def test_the_report_reads_nothing_through_a_student_id_that_is_not_one_plain_name(tmp_path):
    """W1 (d): a gradebook student `../../other/autograded/victim` reached another course's notebook and verdicts."""
    from lrcourse.grading.autograde.verdict_files import VERDICTS

    victim = tmp_path / "other" / "autograded" / "victim" / "ch"
    victim.mkdir(parents=True)
    error = nbformat.v4.new_output("error", ename="AssertionError", evalue=SECRET, traceback=[])
    cell = nbformat.v4.new_code_cell("assert False", outputs=[error])
    cell.metadata["nbgrader"] = {"grade_id": "t1", "grade": True, "points": 1, "solution": False, "locked": True}
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), victim / "nb.ipynb")
    verdicts = {"overridden": ["t1"], "cells": {"t1": {"message": SECRET, "trusted_score": 0, "points": 1}}}
    (victim / VERDICTS).write_text(json.dumps(verdicts))
    course, student = tmp_path / "course", "../../other/autograded/victim"
    (course / "autograded").mkdir(parents=True)
    assert (course / "autograded" / student / "ch" / "nb.ipynb").exists()  # the path the id makes
    assert results.read_verdicts(course, student, "ch") is None
    assert results.notebook_failures(course, student, "ch") == {}
    assert results.student_failures(course, student, "ch") == {}
    grades = results.AssignmentGrades("ch", 1.0, [], {student: {}}, {student: 0.0})
    rows = attention_list(course, grades, {student: results.student_failures(course, student, "ch")})
    assert [row.kind for row in rows] == ["below half marks", "no graded notebook"], rows
    assert SECRET not in repr(rows)
    assert results.not_read([student, "amy"]) == [
        f"not read: the graded notebooks of the student {student!r}: their id is not one plain folder name"
    ]


@root_only
def test_roots_own_linked_config_does_not_say_run_as_its_owner_root(tmp_path):
    """N1: the course root's: "or run as the course's owner" pointed back at root."""
    course = roots_course(tmp_path)
    (tmp_path / "cfg.py").write_text("c = get_config()  # noqa: F821\n")
    (course / "nbgrader_config.py").symlink_to(tmp_path / "cfg.py")
    with pytest.raises(OutdatedCourseConfig) as refused:
        config_text(course / "nbgrader_config.py")
    assert "put the file itself there. Nothing was read." in str(refused.value), refused.value
    os.chown(course, OWNER, OWNER)
    with pytest.raises(OutdatedCourseConfig, match="or run as the course's owner"):
        config_text(course / "nbgrader_config.py")


@root_only
def test_roots_runs_keep_go_w_out_of_what_they_make_whatever_the_umask(tmp_path, capsys):
    """W1 (b): a umask of 002 made root's reports/ g+w, and its next export would refuse its own course."""
    before = os.umask(0o002)
    try:
        cli.main(["export", "--course", str(tmp_path / "none")])
        assert os.umask(0o002) & 0o022 == 0o022
    finally:
        os.umask(before)
    capsys.readouterr()


@root_only
def test_a_submission_too_deep_to_name_leaves_the_course_roots_for_the_intake_to_refuse(tmp_path):
    """r20e N1: 300 nested folders of 200 characters in one student's submission (deeper than PATH_MAX) made the walk
    of the course raise "File name too long", which stopped root's grade for the whole class; the walk leaves a
    submission's files to the intake, which refuses that student with the reason. Elsewhere in the course, the same
    error still stops the command (nothing of a course root cannot read is trusted)."""
    course = roots_course(tmp_path)
    submission = course / "submitted" / "deep" / "ch"
    submission.mkdir(parents=True)
    for folder in (course / "submitted", course / "submitted" / "deep", submission):
        folder.chmod(0o755)
    fd = os.open(submission, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(300):
            os.mkdir("d" * 200, 0o755, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    assert not_roots_throughout(course, whole=True) == ("", "")
    from lrcourse.grading import intake

    assert intake.refused(course, "deep", "ch") == "the submission cannot be read: File name too long"
