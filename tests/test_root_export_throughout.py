"""Issue 20, R20u: root's `lrcourse export` was refused only when the *resolved* course folder was another account's.
The owner got past it by linking her course path to a root-owned folder others can write (as /tmp: her gradebook
there and reports/<ch>.csv a link to a root-only file, read into a page she reads, W1), or to any root-owned folder
(root's gradebook.db and exports/ made where she pointed), or by leaving her files in a course root owns (M1). Now
root's export runs only in a course root's through and through (`not_roots_throughout`), and it is refused before
anything of the course is read, its nbgrader_config.py included (W2); that file is read as root never through a
link, never when it is not a regular file (a FIFO), and at most 1 MiB of it. The mend names the account, by
`setpriv` when it has no name (N1)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lrcourse import cli
from lrcourse.grading import course as grading_course
from lrcourse.grading.course import OutdatedCourseConfig, config_text
from lrcourse.grading.exchange.other_account import not_roots_throughout
from lrcourse.grading.reports import results

OWNER = 54321  # no passwd entry
SECRET = "SECRET-VIA-ROOT-OWNED-STICKY-DIR lrcourse.grading.Hunter2_root_only"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files to another uid")


def theirs(*paths: Path, uid: int = OWNER) -> None:
    for path in paths:
        os.lchown(path, uid, uid)


def snapshot(folder: Path) -> dict:
    return {str(p): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in [folder, *folder.rglob("*")]}


def nothing_read(monkeypatch) -> None:
    monkeypatch.setattr(results, "read_gradebook", lambda *args: pytest.fail("the gradebook was opened"))
    monkeypatch.setattr(cli, "refuse_outdated_config", lambda *args: pytest.fail("nbgrader_config.py was read"))


def roots_export(course: Path, capsys) -> tuple[int, str]:
    status = cli.main(["export", "--course", str(course)])
    return status, capsys.readouterr().err


def a_secret(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    (other / "ch.csv").write_text(f"student,status,reason\namy,failed,{SECRET}\n")
    (other / "ch.csv").chmod(0o600)
    return other / "ch.csv"


def her_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    theirs(home)
    return home


@root_only
def test_her_course_path_linked_to_a_root_owned_sticky_folder_is_refused_with_nothing_read_or_written(
    tmp_path, monkeypatch, capsys
):
    secret, home, shared = a_secret(tmp_path), her_home(tmp_path), tmp_path / "T"
    shared.mkdir()
    shared.chmod(0o1777)  # root's, sticky, everyone's to write in: as /tmp
    (shared / "gradebook.db").write_bytes(b"")
    (shared / "reports").mkdir()
    (shared / "reports" / "ch.csv").symlink_to(secret)
    (shared / "nbgrader_config.py").symlink_to(secret)
    (home / "course").symlink_to(shared)
    theirs(shared / "gradebook.db", shared / "reports", shared / "reports" / "ch.csv", shared / "nbgrader_config.py")
    theirs(home / "course")
    before = snapshot(shared)
    nothing_read(monkeypatch)
    status, said = roots_export(home / "course", capsys)
    assert status == 2 and "not root's through and through" in said, said
    assert f"the folder {home} on its path is uid {OWNER}'s" in said, said
    assert said.rstrip().endswith(f"move the course out of {home}"), said  # T root's (R20v M1); only that (R20w M2)
    assert "SECRET" not in said and "Hunter2" not in said and snapshot(shared) == before


@root_only
def test_her_course_path_linked_to_an_empty_root_owned_folder_leaves_nothing_there(tmp_path, monkeypatch, capsys):
    home, empty = her_home(tmp_path), tmp_path / "R"
    empty.mkdir(mode=0o755)
    (home / "course").symlink_to(empty)
    theirs(home / "course")
    nothing_read(monkeypatch)
    assert roots_export(home / "course", capsys)[0] == 2
    assert list(empty.iterdir()) == []


@root_only
def test_a_root_owned_course_of_her_files_is_refused(tmp_path, monkeypatch, capsys):
    """M1: `chown root <course>` without -R; the course folder root's, 0755, what is in it hers."""
    secret, course = a_secret(tmp_path), tmp_path / "course"
    (course / "reports").mkdir(parents=True)
    course.chmod(0o755)
    (course / "reports" / "ch.csv").symlink_to(secret)
    theirs(course / "reports" / "ch.csv", uid=65534)  # `nobody`: a name, so runuser
    nothing_read(monkeypatch)
    status, said = roots_export(course, capsys)
    assert status == 2 and f"{course / 'reports' / 'ch.csv'} in it is nobody's" in said, said
    assert f"`chown -R root:root {course}`, `chmod -R go-w {course}`" in said, said  # the course root's (R20v M1)
    assert "export as that account" not in said and not (course / "reports" / "ch.html").exists()


@root_only
def test_a_root_course_others_may_write_is_refused_and_a_wholly_roots_one_reached_by_roots_link_is_not(tmp_path):
    shared = tmp_path / "T"
    (shared / "course" / "reports").mkdir(parents=True)
    (shared / "course").chmod(0o755)
    shared.chmod(0o1777)
    (tmp_path / "link").symlink_to(shared / "course")
    assert not_roots_throughout(tmp_path / "link") == ("", "")
    assert not_roots_throughout(tmp_path / "T" / ".." / "T" / "course") == ("", "")
    (shared / "course").chmod(0o775)
    reason, mend = not_roots_throughout(tmp_path / "link")
    assert reason == f"the course folder {shared / 'course'} is root's, mode 775" and "chmod -R go-w" in mend
    (shared / "course").chmod(0o755)
    shared.chmod(0o777)  # not sticky: anyone may rename the course away
    assert not_roots_throughout(shared / "course")[0].endswith("on its path is writable by others (mode 777)")
    for index in range(41):
        (tmp_path / f"loop{index}").symlink_to(f"loop{index + 1}")
    said = f"{tmp_path / 'loop40'} is the 41st link on the way (a loop of links, or too many)"
    assert not_roots_throughout(tmp_path / "loop0")[0] == said
    (tmp_path / "self").symlink_to("self")  # r20aj N2: a loop, not a chain, is said as one too
    assert not_roots_throughout(tmp_path / "self")[0].startswith(
        f"{tmp_path / 'self'} is the 41st link on the way (a loop"
    )


def test_only_what_export_reads_is_walked(tmp_path):
    """A student's link in submitted/ (collected as it was: test_hostile's link-to-the-solution) stopped root's export
    of the whole class; export never reads submitted/. A link in autograded/ or reports/ is still refused."""
    course = tmp_path / "course"
    (course / "submitted" / "mallory" / "ch").mkdir(parents=True)
    (course / "autograded" / "amy" / "ch").mkdir(parents=True)
    (course / "submitted" / "mallory" / "ch" / "solution.ipynb").symlink_to(course / "source")
    course.chmod(0o755)
    assert not_roots_throughout(course) == ("", "")
    (course / "autograded" / "amy" / "ch" / "nb.ipynb").symlink_to(tmp_path)
    assert not_roots_throughout(course)[0].startswith(
        f"{course / 'autograded' / 'amy' / 'ch' / 'nb.ipynb'} in it is a link"
    )


@root_only
def test_roots_export_of_a_course_that_is_not_there_says_so(tmp_path, capsys):
    missing = tmp_path / "none"
    status, said = roots_export(missing / "course", capsys)
    assert status == 2, said
    assert said == f"lrcourse export: the course {missing / 'course'}: No such file or directory: {missing}\n", said


@root_only
def test_roots_export_refused_in_her_course_never_reads_her_linked_config(tmp_path, capsys):
    """W2: the refusal runs before `refuse_outdated_config`, which printed the linked file's text as root."""
    secret, course = a_secret(tmp_path), tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").symlink_to(secret)
    theirs(course / "nbgrader_config.py", course)
    status, said = roots_export(course, capsys)
    assert status == 2 and "not root's through and through" in said and "Hunter2" not in said, said


@root_only
def test_root_never_reads_a_config_through_a_link(tmp_path):
    secret, course = a_secret(tmp_path), tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").symlink_to(secret)
    with pytest.raises(OutdatedCourseConfig) as refused:
        grading_course.refuse_outdated_config(course)
    assert "is a link, and root does not follow a link" in str(refused.value) and "Hunter2" not in str(refused.value)


def test_a_fifo_config_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "nbgrader_config.py")
    start = time.monotonic()
    with pytest.raises(OutdatedCourseConfig, match="is not a regular file"):
        config_text(tmp_path / "nbgrader_config.py")
    assert time.monotonic() - start < 5


def test_a_config_over_1_mib_is_refused_and_read_no_further(tmp_path):
    config = tmp_path / "nbgrader_config.py"
    with open(config, "wb") as file:
        file.truncate(1 << 30)  # sparse: 1 GB that takes no disk
    with pytest.raises(OutdatedCourseConfig, match="is longer than 1 MiB"):
        config_text(config)
    config.write_text("c = get_config()  # noqa: F821\n")
    assert config_text(config) == "c = get_config()  # noqa: F821\n" and config_text(tmp_path / "none.py") is None
