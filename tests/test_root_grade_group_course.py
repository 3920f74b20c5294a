"""Issue 20, R20w W1: root's grade ran in a root-owned course a TA group may write (umask 002: 0775 folders, 0664
files). The TA's code in the group-writable `nbgrader_config.py` ran as uid 0, and her link planted after the
one-time link check was written through. Lists of what each command touches then missed a group's `reports/`
(collect's record), `release/` (grade's release step) and a `lrcourse/` at the top (imported by that step), and the
doctor ran the config (R20x W1-W4). Now root's grade, collect and doctor in a course root owns run only if all of it
is root's through and through (`roots_course`), but a student's submitted files and an exchange inside the course,
refused as root's export is (exit 2, the reason and the mend), before the config is read. Every chmod here is inside
the test's own tmp_path."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import pytest

from lrcourse import cli
from lrcourse.commands.options import refused_in_roots_course
from lrcourse.grading.exchange.roots_course import refusal

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
    `exchange_course` keeps one), a student's submission holding a link, as collected (test_hostile), and a clone's
    `.venv/` with its interpreter's link."""
    course, _ = group_course(tmp_path)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"c.CourseDirectory.course_id = 'c'\nc.Exchange.root = {str(course / 'exchange')!r}\n")
    for path in (course, course / "source", course / "source" / "ch"):
        path.chmod(0o755)
    (course / "nbgrader_config.py").chmod(0o644)
    (course / "exchange" / "c" / "inbound").mkdir(parents=True)
    (course / "exchange" / "c" / "inbound").chmod(0o3733)  # the students' by design: set apart
    submission = course / "submitted" / "mallory" / "ch"
    submission.mkdir(parents=True)
    (submission / "solution.ipynb").symlink_to(tmp_path / "elsewhere")  # fails mallory only, at grade's own check
    (course / ".venv" / "bin").mkdir(parents=True)
    (course / ".venv" / "bin" / "python").symlink_to(sys.executable)
    return course


def refused(course: Path, verb: str) -> str:
    return refusal(str(course), verb)


@root_only
@pytest.mark.parametrize("verb", ["grade", "collect", "doctor"])
def test_what_is_set_apart_does_not_refuse_the_class(tmp_path, verb):
    assert refused(roots_course(tmp_path), verb) == ""


def folder(course: Path, name: str, mode: int) -> None:
    (course / name).mkdir(parents=True)
    (course / name).chmod(mode)  # mkdir's mode meets the umask


def link(course: Path, name: str) -> None:
    (course / name).symlink_to(course.parent / "elsewhere")


@root_only
@pytest.mark.parametrize(
    "what, made",
    [  # R20x W1: collect's record folder; W2: grade's release step; a feedback folder; root's links outside a submission
        ("reports", lambda course: folder(course, "reports", 0o775)),
        ("release/ch", lambda course: folder(course, "release/ch", 0o775)),
        ("feedback", lambda course: folder(course, "feedback", 0o777)),
        ("notes", lambda course: link(course, "notes")),
        ("submitted/bob", lambda course: link(course, "submitted/bob")),
    ],
)
def test_anything_in_the_course_another_account_may_change_refuses_grade_and_collect(tmp_path, what, made):
    course = roots_course(tmp_path)
    made(course)
    for verb in ("grade", "collect", "doctor"):
        assert f"{course / what} in it is" in refused(course, verb), (verb, refused(course, verb))


@root_only
def test_a_python_package_of_another_account_at_the_top_refuses_grade(tmp_path):  # R20x W3
    course = roots_course(tmp_path)
    (course / "lrcourse").mkdir()
    os.chown(course / "lrcourse", 54321, 54322)
    assert f"{course / 'lrcourse'} in it is uid 54321's" in refused(course, "grade")


@root_only
def test_roots_doctor_reads_no_config_a_group_may_write(tmp_path, capsys):  # R20x W4
    course, marker = group_course(tmp_path)
    assert cli.main(["doctor", "--course", str(course)]) == 1
    said = capsys.readouterr().out
    assert f"the course folder {course} is root's, mode 775" in said and "cannot be graded here" in said, said
    assert not marker.exists()


@root_only
def test_nbgraders_collect_as_root_refuses_a_course_a_group_may_write(tmp_path):  # R20x M1
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    from support.paths import ROOT

    course = roots_course(tmp_path)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    folder(course, "reports", 0o775)  # R20x W1: where collect writes its record

    def nbgrader_collect() -> dict:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        config.merge(Config({"Exchange": {"root": str(course / "exchange")}}))  # the command line's
        config.merge(Config({"CourseDirectory": {"root": str(course), "course_id": "c"}}))
        return NbGraderAPI(CourseDirectory(config=config), config=config).collect("ch")

    result = nbgrader_collect()
    assert not result["success"] and f"{course / 'reports'} in it is writable by others" in result["log"], result
    assert not (course / "reports" / "collect-ch.json").exists()
    (course / "reports").chmod(0o755)
    (course / "source" / "ch" / "ch.ipynb").write_text("{}")  # the notebook collect accepts by name
    umask = os.umask(0o002)  # R20y M3: root's shell under a private-group umask
    try:
        result = nbgrader_collect()  # the exchange inside the course, from the command line, is set apart
    finally:
        os.umask(umask)
    assert "through and through" not in result["log"], result
    assert (course / "reports" / "collect-ch.json").stat().st_mode & 0o777 == 0o644  # closed as lrcourse collect's


@root_only
def test_roots_worker_runs_no_config_a_group_may_write(tmp_path, capsys):  # R20y W1
    course, marker = group_course(tmp_path)
    (tmp_path / "broker").write_text("redis://:secret@127.0.0.1:1/0\n")
    (tmp_path / "broker").chmod(0o600)
    assert cli.main(["worker", "--broker-file", str(tmp_path / "broker"), "--course", str(course)]) == 2
    assert "lrcourse worker: run as root in a course that is not root's through and through" in capsys.readouterr().err
    assert not marker.exists()


@root_only
def test_a_venv_that_is_itself_a_link_is_refused(tmp_path):  # R20y M2: only its interpreter's links below it
    course = roots_course(tmp_path)
    shutil.rmtree(course / ".venv")
    (course / ".venv").symlink_to(tmp_path / "elsewhere")
    assert f"{course / '.venv'} in it is a link" in refused(course, "grade")


@root_only
@pytest.mark.parametrize("name", ["lib", "bin"])
def test_a_venv_folder_linked_to_another_accounts_folder_is_refused(tmp_path, name):  # R20z N1
    course = roots_course(tmp_path)
    (tmp_path / "hers").mkdir()
    os.chown(tmp_path / "hers", 54321, 54322)
    shutil.rmtree(course / ".venv" / "bin")
    (course / ".venv" / name).symlink_to(tmp_path / "hers")
    assert f"{course / '.venv' / name} in it is a link" in refused(course, "grade")
    (course / ".venv" / name).unlink()
    (course / ".venv" / "lib").mkdir()
    (course / ".venv" / "lib64").symlink_to("lib")  # a venv's own: inside it
    assert refused(course, "grade") == ""
