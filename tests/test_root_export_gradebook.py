"""Root's `lrcourse export` in a course another account owns (R20s, R20t): the folders and the gradebook are that
account's to point anywhere, so root's export is refused before it reads anything (export as the owner). It had
opened a `gradebook.db` that is a link (a sqlite file written as root at the target, or another course's root-only
gradebook read into exports/, R20s W1) and read root-only files through a link at reports/<ch>.csv or
autograded/<id>/<ch>, or a student id `../..`, into a page handed to the owner (R20t W1). An assignment named
`../../x` made a page outside the course (R20s W2): a name that is not one plain folder name makes no path, for any
account."""

from __future__ import annotations

import argparse
import os

import pytest

from lrcourse.commands.export import command_export
from lrcourse.grading.reports import results


def export_args(course, **given) -> argparse.Namespace:
    options = dict(course=str(course), assignments=[], db_url=None, db_url_file=None, out=None, roster=None)
    options.update(roster_id_column="SIS Login ID", id_map=None, canvas_column=[])
    return argparse.Namespace(**{**options, **given})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root in a course of another uid")
def test_roots_export_in_another_accounts_course_is_refused_before_reading_anything(tmp_path, monkeypatch, capsys):
    course, elsewhere = tmp_path / "course", tmp_path / "elsewhere"
    course.mkdir()
    elsewhere.mkdir(mode=0o700)
    (course / "gradebook.db").symlink_to(elsewhere / "new.sqlite")
    os.chown(course, 54321, 54321)
    monkeypatch.setattr(results, "read_gradebook", lambda *args: pytest.fail("the gradebook was opened"))
    assert command_export(export_args(course)) == 2
    said = capsys.readouterr().err
    assert f"not root's through and through: the course folder {course} is uid 54321's" in said, said
    assert "as that account (`setpriv --reuid=54321 --regid=54321 --clear-groups lrcourse export ...`)" in said, said
    assert list(elsewhere.iterdir()) == []


def test_an_assignment_whose_name_is_not_a_plain_folder_name_makes_no_path(tmp_path, capsys):
    from nbgrader.api import Gradebook

    course = tmp_path / "deep" / "course"
    course.mkdir(parents=True)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        book.add_student("amy")
        for name in ("../../escape", "x" * 201, "02_ordered_schedules"):
            book.add_assignment(name)
    assert command_export(export_args(course)) == 0
    said = capsys.readouterr()
    assert "not exported: the assignment '../../escape': its name is not one plain folder name" in said.err, said
    assert not (tmp_path / "escape.html").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["deep"]
    assert results.read_gradebook(course, f"sqlite:///{course / 'gradebook.db'}").not_plain == [
        "../../escape",
        "x" * 201,
    ]
