"""One level into each released chapter folder (r20i M1; lrcourse/grading/exchange/released_chapters.py): a chapter
folder of the grader's that others may write in, or that holds a student's file, got a doctor ok while classmates
fetched her notebook as the chapter, and `release --force` deleted the grader's files, stopped at hers and pointed at
the doctor. The doctor, release and Unrelease name the chapter (escaped) with one mend; followed as written, the
release works again and the next line is ok."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from support.doctor_exchange import GRADER, OK, STUDENT, course_in, doctor, follow, moved_aside
from support.exchange_apps import course_with_a_release, exchange_app
from support.other_uid import as_user
from support.posix_acl import set_acl

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


def release(root: Path, open_tmp: Path, force: bool = False, verb: str = "assignment") -> str:
    """The course's release of ch1 (`verb` "list": Unrelease) as the grader, from a course of its own: what it said."""
    course = course_with_a_release(Path(tempfile.mkdtemp(dir=open_tmp)))
    for path in [course.parent, *course.parent.rglob("*")]:
        os.chown(path, GRADER, GRADER)
    app = exchange_app(verb, root, course)
    if verb == "assignment":
        app.force = force
    return as_user(GRADER, app.start)


@pytest.mark.parametrize("how", ["0777", "entry"])
def test_a_chapter_folder_others_could_change_is_failed_and_removed_by_its_mend(open_tmp, monkeypatch, how):
    """`how` 0777: the chapter folder others may write in (a student replaced its notebook); entry: made 0755 again
    (`chmod o-w`, the README's generic mend), her notebook still in it."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    chapter = course / "outbound" / "ch1"
    assert release(course.parent, open_tmp) == "None"
    chapter.chmod(0o777)
    (chapter / "notebook.ipynb").unlink()
    (chapter / "notebook.ipynb").write_text("planted")
    os.chown(chapter / "notebook.ipynb", STUDENT, STUDENT)
    if how == "entry":
        chapter.chmod(0o755)
    (open_tmp / "source" / "ch1").mkdir(parents=True)  # the course's chapters: source/'s (r20k M2)
    said = doctor(open_tmp)
    assert f"{course / 'outbound'} holds chapter folders others could change (ch1 (" in said, said
    assert "stops=release" in said, said
    if how == "entry":
        assert f"notebook.ipynb of uid {STUDENT}'s" in said, said
    refused = release(course.parent, open_tmp, force=True)
    assert "holds chapter folders others could change" in refused and "Nothing was released." in refused, refused
    assert os.listdir(chapter) == ["notebook.ipynb"]  # --force removed nothing
    assert "holds chapter folders others could change" in release(course.parent, open_tmp, verb="list")
    assert f"fix: `{moved_aside(chapter)} && echo" in said and "`nbgrader release_assignment ch1`" in said, said
    aside = follow(said)  # as root, as written: moved aside, never removed (r20j W1)
    assert (aside / "ch1" / "notebook.ipynb").read_text() == "planted"
    shutil.rmtree(aside)
    assert release(course.parent, open_tmp) == "None" and OK in doctor(open_tmp)
    assert (chapter / "notebook.ipynb").read_text() == "{}" and (chapter / "notebook.ipynb").stat().st_uid == GRADER


def test_a_chapter_folders_writable_by_others_through_an_acl_is_failed(open_tmp, monkeypatch):
    """The ACL way (`setfacl -m g:<class>:rwx` on the chapter folder): the same line."""

    course = course_in(monkeypatch, open_tmp, 0o1777)
    assert release(course.parent, open_tmp) == "None"
    entries = [(0x01, 7, 0xFFFFFFFF), (0x04, 5, 0xFFFFFFFF), (0x08, 7, STUDENT), (0x10, 7, 0xFFFFFFFF)]
    entries.append((0x20, 5, 0xFFFFFFFF))
    packed = b"".join(struct.pack("<HHI", *entry) for entry in entries)
    set_acl(course / "outbound" / "ch1", "system.posix_acl_access", struct.pack("<I", 2) + packed)
    said = doctor(open_tmp)
    assert "holds chapter folders others could change (ch1 (others may write in it" in said, said


def test_a_chapter_of_roots_in_the_graders_outbound_is_said_to_be_roots_to_remove(open_tmp, monkeypatch):
    """r20i N4: after the `chown` mend of a root-owned outbound (not -R), root's old chapter stayed; `release --force`
    pointed at a doctor that said ok. The line says only root can remove it and how; followed, the release works."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    chapter = course / "outbound" / "ch1"
    chapter.mkdir(mode=0o755)
    (chapter / "notebook.ipynb").write_text("root's")  # root's, as a course once run as root released it
    said = doctor(open_tmp)  # a note on the ok line: the doctor said nothing of it
    assert OK in said and f"{course / 'outbound'} holds chapter folders of root's (ch1): your release" in said, said
    assert f"only root can move one (`{moved_aside(chapter)} && echo" in said, said
    said = release(course.parent, open_tmp, force=True)
    assert f"cannot remove the old copy {str(chapter)!r} (--force): Permission denied" in said, said
    command = re.search(r"`(d=[^`]+)` as root", said)
    assert "it is root's (a release run as root), which only root can move" in said and command, said
    moved = subprocess.run(["bash", "-c", command.group(1)], check=True, capture_output=True, text=True).stdout
    shutil.rmtree(moved.removeprefix("moved to ").strip())  # moved aside, not removed (r20j W1)
    assert release(course.parent, open_tmp) == "None" and (chapter / "notebook.ipynb").read_text() == "{}"


def test_release_feedback_speaks_as_itself(open_tmp, monkeypatch):
    """r20i N6: with feedback/ root's 0755, release_feedback's line began `lrcourse release:`, and the doctor said it
    "cannot make the chapter's folders" there; it writes the feedback pages. Its `chown` mend, followed, lets it."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    (course / "feedback").mkdir(mode=0o755)
    said = release(course.parent, open_tmp, verb="feedback")
    assert said.startswith("ExchangeError: lrcourse release_feedback: cannot write "), said
    said = doctor(open_tmp)
    assert "nbgrader's release_feedback, run as you, cannot write the feedback pages in it" in said, said
    subprocess.run(["bash", "-c", re.search(r"fix: `([^`]+)`", said).group(1)], check=True)
    assert release(course.parent, open_tmp, verb="feedback") == "None" and OK in doctor(open_tmp)


def test_unrelease_of_a_chapter_of_roots_says_only_root_removes_it(open_tmp, monkeypatch):
    """r20i N4: Unrelease (`nbgrader list --remove`) of root's chapter failed without saying whose it is."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    chapter = course / "outbound" / "ch1"
    chapter.mkdir(mode=0o755)
    (chapter / "notebook.ipynb").write_text("root's")
    said = release(course.parent, open_tmp, verb="list")
    assert f"it is root's (a release run as root), which only root can move: `{moved_aside(chapter)} && echo" in said
    moved = subprocess.run(["bash", "-c", re.search(r"`(d=[^`]+)`", said).group(1)], capture_output=True, text=True)
    shutil.rmtree(moved.stdout.removeprefix("moved to ").strip())
    assert not os.path.lexists(chapter) and release(course.parent, open_tmp) == "None"


def test_an_inbound_shaped_chapter_folder_is_moved_aside_not_removed(open_tmp, monkeypatch):
    """r20i W1's rule at the chapter folders too: one with the inbound's shape (3733, a submission in it) gets `mv`."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    chapter = course / "outbound" / "ch1"
    chapter.mkdir()
    chapter.chmod(0o3733)
    os.chown(chapter, GRADER, 0)
    (chapter / "alice+ch1+2026-12-07 10:00:00 UTC").mkdir()
    said = doctor(open_tmp)
    assert "holds chapter folders others could change (ch1" in said and "rm -r" not in said, said
    aside = follow(said)  # out of the exchange, into a folder of root's
    assert os.listdir(aside / "ch1") == ["alice+ch1+2026-12-07 10:00:00 UTC"] and OK in doctor(open_tmp)
    shutil.rmtree(aside)


def test_a_renamed_chapter_is_never_named_to_release_again(open_tmp, monkeypatch):
    """r20k M2: a student renamed the released chapter in an outbound others could write in; the mend said "then release
    it again (`nbgrader release_assignment <her name>`)", which nbgrader refused, and after the aside the doctor said
    ok with the chapter gone. Now the chapters of the course's source/ that outbound/ will no longer hold are named,
    her name said not to be one; without source/, no name at all."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    assert release(course.parent, open_tmp) == "None"
    (course / "outbound" / "ch2").mkdir()
    os.chown(course / "outbound" / "ch2", GRADER, GRADER)
    name = "ch1 -- fix: nothing"
    os.rename(course / "outbound" / "ch1", course / "outbound" / name)
    (course / "outbound" / name).chmod(0o777)
    said = doctor(open_tmp)
    assert f"release_assignment {name}" not in said and "release_assignment 'ch1 -- fix" not in said, said
    assert "then release again, as you, each chapter it held (`nbgrader release_assignment <chapter>`; " in said
    for chapter in ("ch1", "ch2", "ch3"):
        (open_tmp / "source" / chapter).mkdir(parents=True)
    said = doctor(open_tmp)
    unheld = "source/ chapters outbound/ will then hold none of (ch1, ch3), release again, as you, those that had been"
    assert unheld in said, said  # her renamed folder may have held one of them (r20l M2: said only then)
    assert f"('{name}': not a chapter of your course's source/; a folder's name there may not be" in said, said
    assert f"release_assignment '{name}'" not in said, said


def test_only_the_chapters_moved_aside_are_released_again_when_none_was_renamed(open_tmp, monkeypatch):
    """r20l M2: with ch1 alone released and made writable by others, "release again" listed ch2 and ch3, never
    released, as chapters outbound/ "will no longer hold", inviting their early release; now only ch1."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    assert release(course.parent, open_tmp) == "None"
    (course / "outbound" / "ch1").chmod(0o777)
    for chapter in ("ch1", "ch2", "ch3"):
        (open_tmp / "source" / chapter).mkdir(parents=True)
    said = doctor(open_tmp)
    assert (
        "then release again, as you, ch1 (`nbgrader release_assignment ch1`: the folders moved aside held it)" in said
    )
    assert "ch2" not in said and "ch3" not in said and "hold none of" not in said, said
