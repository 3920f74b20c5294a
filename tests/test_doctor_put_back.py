"""`lrcourse doctor --put-back PATH` (lrcourse/grading/doctor/put_back.py): the class's inbound, which the doctor's
`find` lists where a student who could write in the course's folder moved it, moved back as root without following a
link on its way (r20p W1: the line's `mv -T -- <it> <inbound>` ran through her folders, and a link she swapped in after
the instructor's `ls` moved the grader's source/ into the exchange). Run in-process as root, as the command does."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from lrcourse.commands.doctor import command_put_back

from support.doctor_exchange import GRADER, STUDENT, SUBMISSION, course_in, hers, submit

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


def moved_three_down(monkeypatch, open_tmp):
    """The class's inbound (a submission in it) moved by her into d1/d2/X/source, folders of hers; the grader's local
    course folder, holding a source/ of the grader's; the course's folder closed (the lock-out)."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    submit(course / "inbound")
    x = hers(hers(hers(course / "d1") / "d2") / "X")
    os.rename(course / "inbound", x / "source")
    local = open_tmp / "gcourse"
    (local / "source").mkdir(parents=True)
    for path in (local, local / "source"):
        os.chown(path, GRADER, GRADER)
    return course, x / "source", local


def put_back(local, path) -> int:
    return command_put_back(SimpleNamespace(course=str(local), put_back=str(path)))


def test_a_link_swapped_in_on_the_way_moves_nothing(open_tmp, monkeypatch, capsys):
    """r20p W1: after the instructor's `ls`, she renamed X away and put a link to the grader's course in its place:
    `mv -T` moved the grader's source/ into the exchange. --put-back opens each folder without following a link:
    refused, nothing moved; without the swap it moves the class's inbound back."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    x = found.parent
    os.rename(x, x.with_name("Z"))
    x.symlink_to(local)
    assert put_back(local, found) == 1
    assert "not done" in capsys.readouterr().err
    assert (local / "source").is_dir() and not os.path.lexists(course / "inbound")
    os.unlink(x)
    os.rename(x.with_name("Z"), x)
    assert put_back(local, found) == 0, capsys.readouterr().err
    assert os.listdir(course / "inbound") == [SUBMISSION] and os.stat(course / "inbound").st_uid == GRADER


@pytest.mark.parametrize("what", ["hers", "a link", "the course folder open to its group"])
def test_what_is_not_the_class_inbound_or_not_closed_is_refused(open_tmp, monkeypatch, capsys, what):
    """A folder of hers with the inbound's mode, a link as the last name, or a course folder its group may still
    write in (a student in it could make `inbound` meanwhile): refused with the reason, nothing moved."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    target = found
    if what == "hers":
        target = hers(found.parent / "decoy", 0o3733)
    elif what == "a link":
        target = found.parent / "link"
        target.symlink_to(found)
    else:
        course.chmod(0o775)
    assert put_back(local, target) == 1
    said = capsys.readouterr().err
    reason = {
        "hers": f"uid {STUDENT}'s, mode 3733",
        "a link": "without following a link",
        "the course folder open to its group": "chmod go-w",
    }
    assert reason[what] in said and not os.path.lexists(course / "inbound"), said
    assert os.listdir(found) == [SUBMISSION]


def test_her_folder_in_place_of_inbound_is_moved_aside_the_collectors_is_refused(open_tmp, monkeypatch, capsys):
    """Her 3733 folder put where inbound was: moved aside into a new folder of root's, the class's moved back. The
    collector's own inbound (it may hold submissions made since) is refused: collect it first."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    hers(course / "inbound", 0o3733)
    later = "bob+ch1+2026-12-07 11:00:00.000000 UTC+def"  # r20q M1: a classmate submitted into hers meanwhile
    submit(course / "inbound", later)
    assert put_back(local, found) == 0
    said = capsys.readouterr().out
    assert f"(uid {STUDENT}'s) was moved aside into {course.parent}/.lrcourse-aside." in said, said
    assert "(made root's, 0700, it holds 1 entry, 1 named as a submission: what classmates submitted into it" in said, (
        said
    )
    assert said.rstrip().endswith("decide each by hand): run lrcourse doctor, then lrcourse collect <chapter>"), said
    assert os.listdir(course / "inbound") == [SUBMISSION]
    os.rename(course / "inbound", found)
    (course / "inbound").mkdir()
    os.chown(course / "inbound", GRADER, GRADER)
    assert put_back(local, found) == 1
    assert "is the collector's: collect what it holds" in capsys.readouterr().err


def test_the_class_inbound_nested_in_hers_is_not_counted_as_hers(open_tmp, monkeypatch, capsys):
    """r20s N1: she moved the class's inbound into her own folder and put hers at inbound: the count of what was moved
    aside included the class's inbound, which the same command then moved out; now it is counted after the move."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    submit(course / "inbound")
    os.rename(course / "inbound", course / "tmp")
    hers(course / "inbound", 0o3733)
    os.rename(course / "tmp", course / "inbound" / "source")
    submit(course / "inbound", "bob+ch1+2026-12-07 11:00:00.000000 UTC+def")
    local = open_tmp / "gcourse"
    (local / "source").mkdir(parents=True)
    for path in (local, local / "source"):
        os.chown(path, GRADER, GRADER)
    assert put_back(local, course / "inbound" / "source") == 0
    said = capsys.readouterr().out
    assert "it holds 1 entry, 1 named as a submission:" in said, said
    assert os.listdir(course / "inbound") == [SUBMISSION]


def test_the_command_line_moves_it_back_and_refuses_roots_open_course(open_tmp, monkeypatch):
    """`lrcourse doctor --course <the grader's course> --put-back <it>` as root moves it back; in a course folder of
    root's that another account may write in (its nbgrader_config.py is Python root would run), refused first, exit
    2, as root's collect is."""
    from lrcourse import cli

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    open_course = open_tmp / "roots"
    open_course.mkdir(mode=0o777)
    open_course.chmod(0o777)
    assert cli.main(["doctor", "--course", str(open_course), "--put-back", str(found)]) == 2
    assert not os.path.lexists(course / "inbound")
    assert cli.main(["doctor", "--course", str(local), "--put-back", str(found)]) == 0
    assert os.listdir(course / "inbound") == [SUBMISSION]


def test_a_move_that_fails_puts_back_what_stood_at_inbound(open_tmp, monkeypatch, capsys):
    """r20r W2: she renamed the class's inbound away between the look and the move: "nothing moved" was printed,
    while her folder, holding a classmate's submission, was already in an aside no line named, and the class had no
    inbound. Now her folder is put back where it stood, and the refusal says so."""
    from lrcourse.grading.doctor import put_back as module

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    hers(course / "inbound", 0o3733)
    submit(course / "inbound", "bob+ch1+2026-12-07 11:00:00.000000 UTC+def")
    real_aside = module.aside

    def aside_then_race(course_fd, course_path):  # her rename lands right after the aside
        folder = real_aside(course_fd, course_path)
        os.rename(found, found.with_name("gone"))
        return folder

    monkeypatch.setattr(module, "aside", aside_then_race)
    assert put_back(local, found) == 1
    said = capsys.readouterr().err
    assert "what stood at inbound before is back there" in said, said
    assert os.stat(course / "inbound").st_uid == 0 and os.listdir(course / "inbound") != []  # closed to her


def test_more_entries_than_looked_at_are_said_so_and_a_swap_is_put_back(open_tmp, monkeypatch, capsys):
    """r20s W1: 30,000 files of hers hid a classmate's submission past the first 10,000 names, and the count read as
    the whole; now it says more may be past them, and her folder is made root's, 0700, before it is listed (r20s M1).
    r20s W2: a folder she swapped in between the look and the move was moved aside under the name inbound, losing
    its name; now it is put back where it came from."""
    from lrcourse.grading.doctor import put_back as module

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    hers(course / "inbound", 0o3733)
    for i in range(10_001):
        (course / "inbound" / f"junk{i}").touch()
    assert put_back(local, found) == 0
    said = capsys.readouterr().out
    assert "more than 10,000 entries, 0 of the first 10,000 named as submissions (more may be past them)" in said
    aside = next(course.parent.glob(".lrcourse-aside.*")) / "inbound"
    assert os.stat(aside).st_uid == 0 and (os.stat(aside).st_mode & 0o777) == 0o700
    os.rename(course / "inbound", found)  # the class's, moved away again
    theirs = hers(found.parent / "bob-sub", 0o755)
    real_clear = module.clear

    def clear_then_swap(course_fd, course_path, collector):  # her swap lands after the look
        said = real_clear(course_fd, course_path, collector)
        os.rename(found, found.with_name("away"))
        os.rename(theirs, found)
        return said

    monkeypatch.setattr(module, "clear", clear_then_swap)
    assert put_back(local, found) == 1
    assert "what came was put back where it was" in capsys.readouterr().err
    assert found.is_dir() and os.stat(found).st_uid == STUDENT and not os.path.lexists(course / "inbound")


def test_a_link_at_inbound_is_said_and_never_put_back(open_tmp, monkeypatch, capsys):
    """r20t W2: her link at inbound, to a folder of hers a classmate submitted through: the put-back said "(no folder:
    nothing in it)"; now it names where the link points. r20t W1: a failed move put her link back, said "made root's
    (0700)", and classmates went on submitting through it; now the link stays aside and the line says so."""
    from lrcourse.grading.doctor import put_back as module

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    home = hers(open_tmp / "home-ma", 0o755)
    (course / "inbound").symlink_to(home)
    assert put_back(local, found) == 0
    assert f"(a link to {home}: what classmates submitted through it is there" in capsys.readouterr().out
    os.rename(course / "inbound", found)
    (course / "inbound").symlink_to(home)
    real_clear = module.clear

    def clear_then_race(course_fd, course_path, collector):  # the class's renamed away after the look
        said = real_clear(course_fd, course_path, collector)
        os.rename(found, found.with_name("gone"))
        return said

    monkeypatch.setattr(module, "clear", clear_then_race)
    assert put_back(local, found) == 1
    assert "the link that stood at inbound stays in " in capsys.readouterr().err
    assert not os.path.lexists(course / "inbound")
