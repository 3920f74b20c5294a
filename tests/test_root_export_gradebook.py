"""Root's `lrcourse export` in a course another account owns (R20s): the gradebook is that account's to write, so
neither its file nor its contents may steer root. A `gradebook.db` that is a link was opened before any check: root
wrote a sqlite file at the link's target, or read another course's root-only gradebook into exports/, which went to
the owner (W1). An assignment named `../../x` made root write its page outside the course (W2): a name that is not
one plain folder name makes no path, for any account."""

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
def test_roots_export_refuses_a_linked_gradebook_before_opening_it(tmp_path, monkeypatch, capsys):
    course, elsewhere = tmp_path / "course", tmp_path / "elsewhere"
    course.mkdir()
    elsewhere.mkdir(mode=0o700)
    (course / "gradebook.db").symlink_to(elsewhere / "new.sqlite")
    os.chown(course, 54321, 54321)
    monkeypatch.setattr(results, "read_gradebook", lambda *args: pytest.fail("the gradebook was opened"))
    assert command_export(export_args(course)) == 2
    said = capsys.readouterr().err
    assert f"{course / 'gradebook.db'} is a link (to {elsewhere / 'new.sqlite'})" in said, said
    assert list(elsewhere.iterdir()) == []


def test_an_assignment_whose_name_is_not_a_plain_folder_name_makes_no_path(tmp_path, capsys):
    from nbgrader.api import Gradebook

    course = tmp_path / "deep" / "course"
    course.mkdir(parents=True)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        book.add_student("amy")
        for name in ("../../escape", "02_ordered_schedules"):
            book.add_assignment(name)
    assert command_export(export_args(course)) == 0
    said = capsys.readouterr()
    assert "not exported: the assignment '../../escape': its name is not one plain folder name" in said.err, said
    assert not (tmp_path / "escape.html").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["deep"]
    assert results.read_gradebook(course, f"sqlite:///{course / 'gradebook.db'}").not_plain == ["../../escape"]
