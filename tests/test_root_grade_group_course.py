"""Issue 20, R20w W1: root's grade ran in a root-owned course a TA group may write (umask 002: 0775 folders, 0664
files). The TA's code in the group-writable `nbgrader_config.py` ran as uid 0, and her link planted after the
one-time link check was written through. Now root's grade in a course root owns runs only if it is root's
through and through (`not_roots_throughout`), refused as root's export is (exit 2, the reason and the mend), before
the config is read. Every chmod here is inside the test's own tmp_path."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from lrcourse import cli
from lrcourse.commands.options import refused_in_roots_course

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="as root only: root's grade and collect are refused")


def group_course(tmp_path: Path) -> tuple[Path, Path]:
    """R20w's c3: root's course, a chapter, and a group-writable nbgrader_config.py that writes a marker file."""
    course, marker = tmp_path / "course", tmp_path / "config-ran-as"
    (course / "source" / "ch").mkdir(parents=True)
    config = course / "nbgrader_config.py"
    config.write_text(f"import os as _o\nopen({str(marker)!r}, 'a').write(str(_o.getuid()))\nc = get_config()\n")
    for path in (course, course / "source", course / "source" / "ch"):
        path.chmod(0o775)
    config.chmod(0o664)
    return course, marker


@root_only
@pytest.mark.parametrize("verb, extra", [("grade", ["--no-sandbox"]), ("collect", [])])
def test_roots_grade_refuses_a_root_course_a_group_may_write_before_its_config_runs(tmp_path, capsys, verb, extra):
    course, marker = group_course(tmp_path)
    assert cli.main([verb, "ch", "--course", str(course), *extra]) == 2
    said = capsys.readouterr().err
    assert f"lrcourse {verb}: run as root in a course that is not root's through and through" in said, said
    assert f"the course folder {course} is root's, mode 775" in said and f"`chmod -R go-w {course}`" in said, said
    for path in (course, course / "source", course / "source" / "ch"):
        path.chmod(0o755)  # only the config the group's: still refused
    assert cli.main([verb, "ch", "--course", str(course), *extra]) == 2
    said = capsys.readouterr().err
    assert f"{course / 'nbgrader_config.py'} in it is writable by others (mode 664)" in said, said
    assert not marker.exists()  # the TA's code never ran as root


@root_only
def test_a_root_course_roots_through_and_through_is_not_refused(tmp_path):
    course, marker = group_course(tmp_path)
    for path in (course, course / "source", course / "source" / "ch"):
        path.chmod(0o755)
    (course / "nbgrader_config.py").chmod(0o644)
    assert refused_in_roots_course(argparse.Namespace(course=str(course)), "grade") is None


@root_only
def test_another_accounts_course_keeps_the_documented_trust_in_its_owner(tmp_path):
    course, _ = group_course(tmp_path)
    os.chown(course, 54321, 54321)  # her course: root trusts its owner, as README says
    assert refused_in_roots_course(argparse.Namespace(course=str(course)), "grade") is None


def roots_course(tmp_path: Path) -> Path:
    """A root course, root's through and through, with an exchange inside it that students may write (as the tests'
    `exchange_course` keeps one) and a student's submission holding a link, as collected (test_hostile)."""
    course, _ = group_course(tmp_path)
    for path in (course, course / "source", course / "source" / "ch"):
        path.chmod(0o755)
    (course / "nbgrader_config.py").chmod(0o644)
    (course / "exchange" / "inbound").mkdir(parents=True)
    (course / "exchange" / "inbound").chmod(0o3733)  # the students' by design: neither grade nor collect reads it so
    submission = course / "submitted" / "mallory" / "ch"
    submission.mkdir(parents=True)
    (submission / "solution.ipynb").symlink_to(tmp_path / "elsewhere")  # fails mallory only, at grade's own check
    return course


@root_only
@pytest.mark.parametrize("verb", ["grade", "collect"])
def test_what_neither_reads_nor_writes_as_root_does_not_refuse_the_class(tmp_path, verb):
    course = roots_course(tmp_path)
    assert refused_in_roots_course(argparse.Namespace(course=str(course)), verb) is None


@root_only
@pytest.mark.parametrize("verb", ["grade", "collect"])
def test_what_they_write_as_root_must_be_roots_through_and_through(tmp_path, capsys, verb):
    course = roots_course(tmp_path)
    (course / "submitted").chmod(0o775)  # a TA could swap a submission for a link to a root-only file
    assert refused_in_roots_course(argparse.Namespace(course=str(course)), verb) == 2
    assert f"{course / 'submitted'} in it is writable by others (mode 775)" in capsys.readouterr().err
    (course / "submitted").chmod(0o755)
    (course / "submitted" / "bob").symlink_to(tmp_path / "elsewhere")  # not a file of a submission: root's own link
    assert refused_in_roots_course(argparse.Namespace(course=str(course)), verb) == 2
    assert f"{course / 'submitted' / 'bob'} in it is a link" in capsys.readouterr().err


@root_only
def test_grade_also_refuses_where_only_it_writes(tmp_path, capsys):
    course = roots_course(tmp_path)
    (course / "feedback").mkdir(mode=0o777)
    (course / "feedback").chmod(0o777)
    assert refused_in_roots_course(argparse.Namespace(course=str(course)), "collect") is None  # collect never writes it
    assert refused_in_roots_course(argparse.Namespace(course=str(course)), "grade") == 2
    assert f"{course / 'feedback'} in it is writable by others (mode 777)" in capsys.readouterr().err
