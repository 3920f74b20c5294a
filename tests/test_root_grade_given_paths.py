"""Root's grade in a course another account owns refuses a link the owner planted, whatever the command line spells
(R20u N2, N3): `--db-url` spelt otherwise than the default (`sqlite:///gradebook.db` from inside the course,
`<course>/./gradebook.db`) still meets the check of the course's gradebook.db, and `--export --out <a folder in the
course>` the check of the files it writes there. And a chapter whose name is longer than 200 bytes is refused before
grading, with that reason (R20u N4: it was graded, then its report ended in "StopIteration"). The course is uid
54321's (no account needed): every run here is refused before it grades, reads a submission or runs a sandbox. Every
link points into the test's own tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lrcourse.cli import main

CHAPTER = "ch"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="root's grade in another account's course needs root")


def owners_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "source" / CHAPTER).mkdir(parents=True)
    (course / "reports").mkdir()
    for path in [course, *course.rglob("*")]:
        os.lchown(path, 54321, 54321)
    return course


def roots_file(tmp_path: Path) -> Path:
    target = tmp_path / "root-only"
    target.write_text("root's own file\n")
    target.chmod(0o600)
    return target


def planted(course: Path, name: str, target: Path) -> Path:
    link = course / name
    link.symlink_to(target)
    os.lchown(link, 54321, 54321)
    return link


def grade(course: Path, *more: str) -> int:
    return main(["grade", CHAPTER, "--course", str(course), "--no-sandbox", *more])


@as_root
@pytest.mark.parametrize("spelling", ["sqlite:///gradebook.db", "{course}/./gradebook.db", "{course}/gradebook.db"])
def test_a_gradebook_link_is_refused_however_db_url_spells_it(tmp_path, monkeypatch, capsys, spelling):
    """The owner's gradebook.db -> root's file: refused (exit 2, the link and the mend named) for the relative URL
    run from inside the course and for the path with `/./`, as for the default spelling; the target unchanged."""
    course = owners_course(tmp_path)
    target = roots_file(tmp_path)
    link = planted(course, "gradebook.db", target)
    monkeypatch.chdir(course)
    url = spelling if spelling.startswith("sqlite") else "sqlite:///" + spelling.format(course=course)
    assert grade(course, "--db-url", url) == 2
    err = capsys.readouterr().err
    assert f"{link} is a link (to {str(target)!r})" in err and "grade as the course's owner" in err, err
    assert target.read_text() == "root's own file\n" and not (course / "autograded").exists()


@as_root
def test_a_database_given_in_the_course_through_the_owners_link_is_refused(tmp_path, monkeypatch, capsys):
    """--db-url naming another file in the course, below a folder the owner made a link: refused too."""
    course = owners_course(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = planted(course, "books", elsewhere)
    assert grade(course, "--db-url", f"sqlite:///{course}/books/grades.sqlite") == 2
    assert f"{link} is a link (to {str(elsewhere)!r})" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


@as_root
@pytest.mark.parametrize("name", ["grades-by-item.csv", "canvas-import.csv"])
def test_an_export_file_linked_in_out_inside_the_course_is_refused(tmp_path, capsys, name):
    """`--export --out <course>/reports`, the owner's link at reports/<the export file> -> root's 0600 file: refused
    before grading, the target unchanged (it was written over with the grades, as root)."""
    course = owners_course(tmp_path)
    target = roots_file(tmp_path)
    link = planted(course, f"reports/{name}", target)
    assert grade(course, "--export", "--out", str(course / "reports")) == 2
    assert f"{link} is a link (to {str(target)!r})" in capsys.readouterr().err
    assert target.read_text() == "root's own file\n" and target.stat().st_uid == 0


@as_root
def test_an_out_folder_that_is_the_owners_link_is_refused(tmp_path, monkeypatch, capsys):
    """`--out out` from inside the course, `out` the owner's link to a folder: refused, nothing written there."""
    course = owners_course(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = planted(course, "out", elsewhere)
    monkeypatch.chdir(course)
    assert grade(course, "--export", "--out", "out") == 2
    assert f"{link} is a link (to {str(elsewhere)!r})" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []


def test_a_chapter_name_longer_than_200_bytes_is_refused_before_grading(tmp_path, capsys):
    """A 210-byte chapter with its source folder: exit 2 with the true reason, before anything is made (no gradebook,
    no reports, no autograded/); `a/b` keeps its own reason."""
    from lrcourse.grading.reports.results import why_not_plain

    course = tmp_path / "course"
    name = "y" * 210
    (course / "source" / name).mkdir(parents=True)
    assert main(["grade", name, "--course", str(course), "--no-sandbox"]) == 2
    err = capsys.readouterr().err
    assert f"the assignment {name!r}: its name is longer than 200 bytes" in err, err
    assert sorted(p.name for p in course.iterdir()) == ["source"]
    assert why_not_plain("é" * 100) == "" and "longer than 200 bytes" in why_not_plain("é" * 101)
    assert why_not_plain("a/b") == "its name is not one plain folder name"
