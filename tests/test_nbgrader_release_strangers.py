"""nbgrader's release, release_feedback and Unrelease, as the course's nbgrader_config.py sets them, refuse an
outbound/ (feedback/) holding an entry of neither the releasing user's nor root's (r20h W1: a student, while others
could write in outbound/, planted a "chapter" folder and a link there; after the admin's `chmod o-w` the release went
on and classmates listed and fetched them): one `lrcourse release:` line, the doctor's own (one function,
lrcourse/grading/exchange/released_entries.py), nothing copied; its mend, run as written, removes only those, and the
grader's earlier chapters and root's entries stay."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.doctor_exchange import GRADER, STUDENT, course_in, doctor, grader_release_all
from support.exchange_apps import CHAPTER, exchange_app
from support.other_uid import as_user

VERB = {"outbound": "assignment", "feedback": "feedback"}
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


def planted_while_writable(folder: Path, open_tmp: Path) -> None:
    """What the student, her own uid, puts in `folder` while others may write in it (0777): a chapter folder with a
    notebook, a link to a folder of hers, a FIFO; then the old mend, `chmod o-w`, keeps them."""
    hers = open_tmp / "hers"

    def plant():
        (folder / "ch3").mkdir(mode=0o777)
        (folder / "ch3" / "notebook.ipynb").write_text("planted")
        (folder / "ch2").symlink_to(hers)
        os.mkfifo(folder / "ch4")
        return "planted"

    hers.mkdir()
    os.chown(hers, STUDENT, STUDENT)
    folder.chmod(0o777)
    assert as_user(STUDENT, plant) == "'planted'"
    folder.chmod(0o755)


def earlier(folder: Path) -> list[str]:
    """The grader's earlier chapter (or page) and an entry of root's in `folder`: what the mend must keep."""
    (folder / "ch0").mkdir()
    (folder / "ch0" / "notebook.ipynb").write_text("released before")
    os.chown(folder / "ch0", GRADER, GRADER)
    (folder / "roots").write_text("root's")
    return ["ch0", "roots"]


def mend_of(said: str) -> str:
    command = re.search(r"\(fix: `([^`]+)`", said)
    assert command, said
    return command.group(1)


@pytest.mark.parametrize("name", ["outbound", "feedback"])
def test_release_refuses_what_a_student_planted_and_its_mend_keeps_the_graders_own(open_tmp, monkeypatch, name):
    """The release stops before copying, with the doctor's own line; the printed mend, run as root as written,
    removes her folder, link and FIFO (not what the link leads to), then the release works beside ch0 and root's."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    folder = course / name
    if name == "feedback":
        folder.mkdir(mode=0o711)
        os.chown(folder, GRADER, 0)
    kept = earlier(folder)
    planted_while_writable(folder, open_tmp)
    before = sorted(os.listdir(folder))
    said = grader_release_all(course.parent, open_tmp, verb=VERB[name])
    command = "release and Unrelease refuse" if name == "outbound" else "release_feedback refuses"
    prefix = f"ExchangeError: lrcourse {VERB[name] == 'feedback' and 'release_feedback' or 'release'}: "  # r20i N6
    assert said.startswith(f"{prefix}{folder} holds 3 entries neither yours nor root's ("), said
    for entry in ("ch2 (a symbolic link", "ch3 (a folder", "ch4 (a FIFO"):
        assert f"{entry} of uid {STUDENT}'s)" in said, said
    assert f"nbgrader's {command} it until they are removed" in said and said.endswith("Nothing was released."), said
    risk = "students list and fetch them" if name == "outbound" else "students fetch from there whatever is named as"
    assert f"put there while others could write in it: {risk}" in said, said  # feedback/ is 0711: never listed
    assert sorted(os.listdir(folder)) == before  # nothing copied
    problem = said.removeprefix(prefix).split(" (fix: ")[0]
    assert problem in doctor(open_tmp)  # one function: the doctor says the same
    moved = subprocess.run(["bash", "-c", mend_of(said)], check=True, capture_output=True, text=True).stdout
    shutil.rmtree(moved.removeprefix("moved to ").strip())  # as root, as the line says: moved aside (r20j W1)
    assert sorted(os.listdir(folder)) == kept and (open_tmp / "hers").is_dir()
    assert grader_release_all(course.parent, open_tmp, verb=VERB[name]) == "None"
    assert set(kept) < set(os.listdir(folder)) and (folder / "ch0" / "notebook.ipynb").read_text() == "released before"
    if name == "outbound":
        assert (folder / CHAPTER / "notebook.ipynb").is_file()


def test_unrelease_refuses_what_a_student_planted_and_removes_nothing(open_tmp, monkeypatch):
    """Unrelease (nbgrader list --remove) refuses such an outbound/ too, with release's line, removing nothing; after
    the mend it removes the chapter named."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    outbound = course / "outbound"
    (outbound / CHAPTER).mkdir()
    os.chown(outbound / CHAPTER, GRADER, GRADER)
    earlier(outbound)
    planted_while_writable(outbound, open_tmp)
    before = sorted(os.listdir(outbound))
    app = exchange_app("list", course.parent)
    said = as_user(GRADER, app.start)
    assert said.startswith(f"ExchangeError: lrcourse unrelease: {outbound} holds 3 entries neither yours nor"), said
    assert said.endswith("Nothing was removed.") and sorted(os.listdir(outbound)) == before, said
    moved = subprocess.run(["bash", "-c", mend_of(said)], check=True, capture_output=True, text=True).stdout
    shutil.rmtree(moved.removeprefix("moved to ").strip())
    assert as_user(GRADER, exchange_app("list", course.parent).start).startswith("[")
    assert sorted(os.listdir(outbound)) == ["ch0", "roots"]


@pytest.mark.parametrize("whose", [STUDENT, GRADER])
def test_the_look_is_bounded_and_a_folder_past_the_bound_is_refused(open_tmp, monkeypatch, whose):
    """A student's million entries: counted up to the bound, then refused saying "or more", a few named, escaped;
    past the bound with none of another's seen yet, refused too (any unseen one may be hers)."""
    from lrcourse.grading.exchange import released_entries

    course = course_in(monkeypatch, open_tmp, 0o1777)
    for index in range(12):
        (course / "outbound" / f"n{index}\nx").mkdir()
        os.chown(course / "outbound" / f"n{index}\nx", whose, whose)
    monkeypatch.setattr(released_entries, "MOST_LOOKED", 5)
    said = grader_release_all(course.parent, open_tmp)
    assert said.startswith("ExchangeError: lrcourse release: ") and "\n" not in said, said
    if whose == STUDENT:
        assert " holds 5 or more entries neither yours nor root's (" in said and ", ...)" in said, said
        assert said.count("(a folder of uid") == 3 and "\\x0ax'" in said, said
    else:
        assert " holds more than 5 entries, not all looked at, any of them neither yours nor root's" in said, said
    assert not (course / "outbound" / CHAPTER).exists()


def test_roots_release_refuses_an_entry_of_anyone_but_roots(open_tmp, monkeypatch):
    """As root (the README's root-run course), only root's entries are its own: the grader account's chapter folder in
    root's outbound/ is refused as root's release refuses the grader's outbound/ itself (r20h W4); the mend keeps
    root's."""
    course = course_in(monkeypatch, open_tmp, 0o1777, owner=0)
    outbound = course / "outbound"
    (outbound / "ch0").mkdir()
    (outbound / "ch9").mkdir()
    os.chown(outbound / "ch9", GRADER, GRADER)
    said = grader_release_all(course.parent, open_tmp, uid=0)
    assert f"lrcourse release: {outbound} holds 1 entry not root's (ch9 (a folder of uid {GRADER}'s))" in said, said
    assert '-maxdepth 1 ! -user root -exec mv -t "$d" -- {} +' in said and not (outbound / CHAPTER).exists(), said
    moved = subprocess.run(["bash", "-c", mend_of(said)], check=True, capture_output=True, text=True).stdout
    shutil.rmtree(moved.removeprefix("moved to ").strip())  # ch9, moved aside (r20j W1)
    assert grader_release_all(course.parent, open_tmp, uid=0) == "None" and sorted(os.listdir(outbound)) == [
        "ch0",
        "ch1",
    ]
