"""`lrcourse doctor --put-back PATH` (lrcourse/grading/doctor/put_back.py): the class's inbound, which the doctor's
`find` lists where a student who could write in the course's folder moved it, moved back as root without following a
link on its way (r20p W1: the line's `mv -T -- <it> <inbound>` ran through her folders, and a link she swapped in after
the instructor's `ls` moved the grader's source/ into the exchange). Run in-process as root, as the command does."""

from __future__ import annotations

import os
import stat

import pytest

from lrcourse.shell_words import shell_word

from support.doctor_exchange import CLASSMATE, GRADER, STUDENT, SUBMISSION, course_in, hers, submit
from support.put_back import moved_three_down, put_back

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


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
    submit(course / "inbound", later, CLASSMATE)
    submit(course / "inbound", "carol+ch1+2026-12-07 11:00:00.000000 UTC+x")  # hers, named as carol's (r20w N3)
    submit(course / "inbound", ".cache", CLASSMATE)  # r20y M2: a classmate's, renamed by her: counted all the same
    assert put_back(local, found) == 0
    said = capsys.readouterr().out
    assert f"(uid {STUDENT}'s, mode 3733) was moved aside into {course.parent}/.lrcourse-aside." in said, said
    holds = "it holds 3 entries, 2 of another account than its owner (1 named as a submission); each entry's owner"
    assert f"(made root's, 0700; {holds}" in said and f"If uid {STUDENT} is a student, classmates may have" in said
    record = next(course.parent.glob(".lrcourse-aside.*")) / "entries.txt"
    assert f"are in {record}." in said and shell_word(later) in record.read_text(), said
    from lrcourse.grading.doctor.aside_record import utc

    theirs = os.lstat(next(record.parent.glob("inbound/bob*")))  # r20x M2: its modification time, which she cannot set
    assert f"{utc(theirs.st_ctime_ns)}  {utc(theirs.st_mtime_ns)}  uid {CLASSMATE}  d" in record.read_text()
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600 and os.stat(record).st_uid == 0
    assert said.rstrip().endswith(
        "then move it where it belongs): run lrcourse doctor, then lrcourse collect <chapter>"
    ), said
    assert os.listdir(course / "inbound") == [SUBMISSION]
    os.rename(course / "inbound", found)
    (course / "inbound").mkdir()
    os.chown(course / "inbound", GRADER, GRADER)
    (course / "inbound").chmod(0o3733)  # a new inbound of the collector's: submissions may be in it
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
    submit(course / "inbound", "bob+ch1+2026-12-07 11:00:00.000000 UTC+def", CLASSMATE)
    local = open_tmp / "gcourse"
    (local / "source").mkdir(parents=True)
    for path in (local, local / "source"):
        os.chown(path, GRADER, GRADER)
    assert put_back(local, course / "inbound" / "source") == 0
    said = capsys.readouterr().out
    assert "it holds 1 entry, 1 of another account than its owner (1 named as a submission);" in said, said
    assert "source" not in (next(course.parent.glob(".lrcourse-aside.*")) / "entries.txt").read_text()
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


@pytest.mark.parametrize("what", ["folder", "FIFO"])
def test_a_move_that_fails_leaves_what_stood_at_inbound_aside_and_says_so(open_tmp, monkeypatch, capsys, what):
    """r20r W2: she renamed the class's inbound away between the look and the move: "nothing moved" was printed,
    while her folder, holding a classmate's submission, was in an aside no line named. r20u W2: put back at inbound
    as root's 0700 and "run lrcourse doctor", whose chown and chmod then made her folder the class's inbound. Now it
    stays aside, named with what it holds, and the line says the course has no inbound. r20u W3: a FIFO was said
    "made root's (0700)"."""
    from lrcourse.grading.doctor import put_back as module

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    if what == "folder":
        hers(course / "inbound", 0o3733)
        submit(course / "inbound", "bob+ch1+2026-12-07 11:00:00.000000 UTC+def", CLASSMATE)
    else:
        os.mkfifo(course / "inbound", 0o666)
        os.chown(course / "inbound", STUDENT, STUDENT, follow_symlinks=False)
    real_aside = module.aside

    def aside_then_race(course_fd, course_path):  # her rename lands right after the aside
        folder = real_aside(course_fd, course_path)
        os.rename(found, found.with_name("gone"))
        return folder

    monkeypatch.setattr(module, "aside", aside_then_race)
    assert put_back(local, found) == 1
    said = capsys.readouterr().err
    assert "the course has no inbound now, and the class's was not moved back: run lrcourse doctor" in said, said
    assert not os.path.lexists(course / "inbound")
    kept = next(course.parent.glob(".lrcourse-aside.*")) / "inbound"
    if what == "folder":
        assert (
            "(made root's, 0700; it holds 1 entry, 1 of another account than its owner (1 named as a submission);"
            in said
        ), said
        assert os.stat(kept).st_uid == 0 and os.listdir(kept) == ["bob+ch1+2026-12-07 11:00:00.000000 UTC+def"]
    else:
        assert "(a FIFO, not a folder: nothing could be submitted into it)" in said and "made root's" not in said, said
        assert os.stat(kept).st_uid == STUDENT


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
    assert (
        "more than 10,000 entries; of the first 10,000, 10,000 of another account than its owner (0 named as submissions); more may be past them"
        in said
    )
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


def test_a_link_at_inbound_is_never_followed_and_its_time_said(open_tmp, monkeypatch, capsys):
    """r20t W2: her link at inbound, to a folder of hers a classmate submitted through, was said "(no folder: nothing
    in it)". r20w W1, W2: listed through the link, a folder she moved away read as "nothing went through it", and
    /proc/self/cwd listed root's own working folder, while each classmate's submission went into their own. Now the
    link is never followed: the line names it, says since when it stood there, and asks those who submitted since to
    submit again; after a failed move too, where it stays aside (r20t W1: put back, it was still used)."""
    from lrcourse.grading.doctor import put_back as module

    course, found, local = moved_three_down(monkeypatch, open_tmp)
    (course / "inbound").symlink_to("/proc/self/cwd")
    os.chown(course / "inbound", STUDENT, STUDENT, follow_symlinks=False)
    made = module.when(os.lstat(course / "inbound").st_ctime_ns)
    assert put_back(local, found) == 0
    said = capsys.readouterr().out
    assert f"(a link to /proc/self/cwd, there since {made} at the latest (its owner can make that time later" in said
    assert "ask the students who submitted since the last collect that read the class's inbound to submit again" in said
    assert "entries.txt" not in said, said
    os.rename(course / "inbound", found)
    (course / "inbound").symlink_to("away\nforged")
    os.chown(course / "inbound", STUDENT, STUDENT, follow_symlinks=False)
    real_clear = module.clear

    def clear_then_race(course_fd, course_path, collector):  # the class's renamed away after the look
        said = real_clear(course_fd, course_path, collector)
        os.rename(found, found.with_name("gone"))
        return said

    monkeypatch.setattr(module, "clear", clear_then_race)
    assert put_back(local, found) == 1
    said = capsys.readouterr().err
    assert "(a link to $'away\\x0aforged', there since" in said and "the course has no inbound now" in said, said
    assert not os.path.lexists(course / "inbound") and len(said.splitlines()) == 1


def test_a_folder_of_staff_is_moved_aside_with_how_to_give_it_back_and_the_collectors_outbound_refused(
    open_tmp, monkeypatch, capsys
):
    """r20w M1, r20x W1: the releaser's outbound, put at inbound by her, was made root's 0700 as "whatever she put
    there". r20x W2: refusing an owner taken for staff (of the course's feedback) let a student who made one keep her
    folder at inbound. Now whose it is decides nothing: moved aside, and the line says how to give it back if its
    owner works in the course. r20x M1: the collector's own outbound there is refused as not an inbound's."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    releaser = 54327
    os.rename(course / "outbound", course / "inbound")
    (course / "inbound" / "01_learning_rate").mkdir()
    os.chown(course / "inbound", releaser, STUDENT)
    assert put_back(local, found) == 0
    said = capsys.readouterr().out
    kept = next(course.parent.glob(".lrcourse-aside.*")) / "inbound"
    assert f"If uid {releaser} works in this course, it may be the course's outbound or feedback" in said, said
    assert f"`chown -h {releaser}:{STUDENT} -- {kept} && chmod 0755 -- {kept}` gives it back" in said, said
    assert os.listdir(course / "inbound") == [SUBMISSION]
    os.rename(course / "inbound", found)
    (course / "inbound").mkdir(mode=0o755)
    os.chown(course / "inbound", GRADER, GRADER)
    assert put_back(local, found) == 1
    assert "is the collector's, mode 0755, not an inbound's: it may be the course's outbound" in capsys.readouterr().err
    assert os.listdir(found) == [SUBMISSION]


def test_a_course_folder_of_hers_is_refused_and_her_path_is_quoted(open_tmp, monkeypatch, capsys):
    """r20y W1: the course's folder in the exchange owned by her: the lock-out (`chmod go-w`) does not hold her, who
    renamed inbound again after the put-back said done; refused. r20y M3: a name of hers holding a newline and a
    terminal escape was printed raw in a refusal, which could then read as "moved back"."""
    course, found, local = moved_three_down(monkeypatch, open_tmp)
    os.chown(course, STUDENT, STUDENT)
    assert put_back(local, found) == 1  # in the sticky root, the way to it is hers (path_walk's rule)
    assert f"1777) and lr-schedules in it is uid {STUDENT}'s" in capsys.readouterr().err
    course.parent.chmod(0o755)  # a root only root writes in: the course's folder checked on its own
    assert put_back(local, found) == 1
    assert f"{course} is uid {STUDENT}'s, not the collector's or root's" in capsys.readouterr().err
    course.parent.chmod(0o1777)
    os.chown(course, GRADER, GRADER)
    odd = hers(found.parent / "x\n\x1b[8mmoved back", 0o755)
    assert put_back(local, odd) == 1
    said = capsys.readouterr().err
    assert "\x1b" not in said and "\n" not in said.rstrip("\n") and "/x\\x0a\\x1b[8mmoved back'" in said, said
