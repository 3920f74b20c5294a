"""`lrcourse collect` on a whole exchange of this process's own user (no OS users, no grading): the command and
nbgrader's collect (formgrader's button) on a missing exchange, one submission read at a time, a file changed
after its check, an exchange reached through a link or owned by someone else, nothing written through a link in
submitted/, a student who cannot be written beside the others, the bounds on what one run reads and keeps (a flood, forged
folders), a check that fails unforeseen. test_inbound.py checks one submission, test_mounts.py the file systems."""

from __future__ import annotations

import os
import re
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest

from lrcourse.grading.exchange.collect import Bounds, collect, summary
from lrcourse.grading.exchange.inbound import Refused, check_submission, read_files, user_name
from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable
from lrcourse.grading.intake import notebook_problem

from support.inbound_folders import CHAPTER, FILE, HONEST, exchange_course, inbound_folder
from support.paths import ROOT


def test_collect_exits_2_when_the_exchange_is_missing(tmp_path, capsys):
    import argparse

    from lrcourse.commands.collect import command_collect

    (tmp_path / "source" / CHAPTER).mkdir(parents=True)
    (tmp_path / "source" / CHAPTER / FILE).write_text("{}")
    (tmp_path / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.CourseDirectory.course_id = "lr-schedules"\nc.Exchange.root = "{tmp_path / "none"}"\n'
    )
    assert command_collect(argparse.Namespace(course=str(tmp_path), assignment=CHAPTER)) == 2
    assert f"cannot open the inbound folder {tmp_path / 'none' / 'lr-schedules' / 'inbound'}" in capsys.readouterr().err


def test_nbgraders_collect_and_formgraders_button_run_lrcourse_collect(tmp_path):
    """The course's nbgrader_config.py makes nbgrader's collect (the command, and formgrader's Collect button,
    which calls the same exchange class) `lrcourse collect`: here it refuses a missing exchange as ours does."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    (tmp_path / "source" / CHAPTER).mkdir(parents=True)
    (tmp_path / "source" / CHAPTER / FILE).write_text("{}")
    config_text = (ROOT / "nbgrader_config.py").read_text() + f'\nc.Exchange.root = "{tmp_path / "none"}"\n'
    (tmp_path / "nbgrader_config.py").write_text(config_text)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    config.CourseDirectory.root = str(tmp_path)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    result = api.collect(CHAPTER)
    assert not result["success"], result
    assert f"lrcourse collect: cannot open the inbound folder {tmp_path / 'none'}" in result["log"], result


def test_nbgraders_collect_takes_the_exchange_course_and_student_from_its_command_line(tmp_path):
    """`nbgrader collect --Exchange.root=... --course=... --student=...` collects from that exchange, that course,
    that one student: a classmate's folder (here one owned by someone else, which a run over all would refuse) is
    not read. A pattern is refused: nbgrader's glob would let one student's id match another's folders."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    (exchange.inbound / f"classmate+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+x").mkdir()
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    me = user_name(os.geteuid())

    def nbgrader_collect(student: str) -> dict:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        config.merge(Config({"Exchange": {"root": str(exchange.root)}}))  # what the command line sets
        config.merge(Config({"CourseDirectory": {"root": str(course), "course_id": "lr-schedules"}}))
        config.merge(Config({"CourseDirectory": {"student_id": student}}))
        return NbGraderAPI(CourseDirectory(config=config), config=config).collect(CHAPTER)

    result = nbgrader_collect(me)
    assert result["success"], result
    assert (course / "submitted" / me / CHAPTER / FILE).read_text() == HONEST
    assert f"classmate+{CHAPTER}" not in (course / "reports" / f"collect-{CHAPTER}.json").read_text()  # not read
    result = nbgrader_collect("class*")
    assert not result["success"] and "--student takes one student id, not a pattern: 'class*'" in result["log"]
    result = nbgrader_collect("*")  # everyone: the classmate's folder is read, and refused
    assert not result["success"] and "1 submission(s) refused" in result["log"], result


def test_only_each_students_newest_submission_is_read(tmp_path):
    """Many accepted submissions of one student, each a large notebook: collect holds one, checked as grade reads it."""
    (course, exchange), size, names = exchange_course(tmp_path), 4 << 20, []
    for i in range(6):
        folder, name = inbound_folder(exchange.inbound, f"2026-01-01 00:00:0{i}.000000 UTC")
        (folder / FILE).write_text(HONEST.replace("{}", f'{{"i": {i}}}').ljust(size))  # `size` bytes to read
        names.append(name)
        time.sleep(0.02)  # a later change time (the kernel's clock ticks coarsely)
    tracemalloc.start()
    try:
        notebook_problem(FILE, (folder / FILE).read_bytes())  # one notebook read and checked, as collect does
        reading = tracemalloc.get_traced_memory()[1]  # (a valid one: it is collected below)
        tracemalloc.reset_peak()
        result = collect(course, CHAPTER, exchange)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < size + reading, (peak, reading)  # all six held at once is 6 * size more
    assert [row["submission"] for row in result.collected] == [names[-1]], result
    named = sorted(row["submission"] for row in result.superseded if "more" not in row)
    assert named == names[3:5] and sum(row.get("more", 1) for row in result.superseded) == 5, result  # kept: 3
    written = (course / "submitted" / user_name(os.geteuid()) / CHAPTER / FILE).read_bytes()
    assert written.startswith(b'{"cells": [], "metadata": {"i": 5}') and len(written) == size


@pytest.mark.parametrize("change, error, reason", [
    ("rewritten", Refused, "changed while it was being collected"),
    ("swapped", Refused, "was replaced while it was being collected"),
    ("linked", OSError, "symbolic links"),  # O_NOFOLLOW: ELOOP, not the file it names
])  # fmt: skip
def test_a_file_changed_after_its_check_is_not_read(tmp_path, change, error, reason):
    folder, name = inbound_folder(tmp_path)
    inbound = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        checked = check_submission(inbound, name, CHAPTER, {FILE}, 1 << 20)
        time.sleep(0.02)  # a later change time
        if change == "rewritten":
            (folder / FILE).write_text('{"cells": [1]}')
        elif change == "swapped":
            (tmp_path / "other").write_text(HONEST)
            os.replace(tmp_path / "other", folder / FILE)
        else:
            (folder / FILE).unlink()
            (folder / FILE).symlink_to("/etc/passwd")
        with pytest.raises(error, match=reason):
            read_files(inbound, checked)
    finally:
        os.close(inbound)


def chown_tree(path: Path, uid: int) -> None:
    for item in [path, *path.rglob("*")]:
        os.chown(item, uid, uid, follow_symlinks=False)


needs_chown = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another uid")


@pytest.mark.parametrize("trap, reason", [
    ("course-link", "lr-schedules is a symbolic link"),
    ("inbound-link", "inbound is a symbolic link"),
    ("course-file", "lr-schedules is not a folder"),
    pytest.param("course-owner", "lr-schedules is owned by nobody, not by", marks=needs_chown),
    pytest.param("inbound-owner", "inbound is owned by nobody, not by", marks=needs_chown),
])  # fmt: skip
def test_an_exchange_reached_through_a_link_or_a_students_folder_is_refused(tmp_path, trap, reason):
    """The exchange's root is writable by all: a student may put their own course or inbound folder there."""
    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    mine = exchange.root / exchange.course_id
    if trap.endswith("link"):  # the student's own folder, holding what they want collected, linked in
        real = mine if trap == "course-link" else exchange.inbound
        real.rename(tmp_path / "students")
        real.symlink_to(tmp_path / "students")
    elif trap == "course-file":
        shutil.rmtree(mine)
        mine.write_text("")
    else:
        chown_tree(mine if trap == "course-owner" else exchange.inbound, 65534)
    with pytest.raises(ExchangeUnusable, match=reason):
        collect(course, CHAPTER, exchange)
    assert not (course / "submitted").exists()


@pytest.mark.parametrize("root, course_folder, refused, fix", [
    (0o777, 0o755, "exchange (mode 0777) is writable by other users without the sticky bit", "chmod 1777"),
    (0o775, 0o755, "exchange (mode 0775) is writable by other users without the sticky bit", "chmod 1777"),
    (0o1777, 0o757, "lr-schedules (mode 0757) is writable by other users", "chmod o-w"),
    (0o1777, 0o1777, "lr-schedules (mode 1777) is writable by other users", "chmod o-w"),  # sticky or not (F4)
    (0o1777, 0o755, None, None),  # the README's set-up
    (0o755, 0o2775, None, None),  # not writable by students; a course folder shared by its instructors' group
])  # fmt: skip
def test_an_exchange_a_student_could_take_over_or_write_in_is_refused(tmp_path, root, course_folder, refused, fix):
    """A student renames the course's folder (no sticky bit) or makes its feedback/ (nbgrader then refuses it)."""
    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    exchange.root.chmod(root)
    (exchange.root / exchange.course_id).chmod(course_folder)
    if refused:
        with pytest.raises(ExchangeUnusable, match=re.escape(refused) + f".*Fix: `{fix} "):
            collect(course, CHAPTER, exchange)
        assert not (course / "submitted").exists()
    else:
        assert len(collect(course, CHAPTER, exchange).collected) == 1


@needs_chown
def test_an_exchange_root_owned_by_a_student_is_refused(tmp_path):
    course, exchange = exchange_course(tmp_path)
    os.chown(exchange.root, 65534, 65534)
    exchange.root.chmod(0o1777)
    with pytest.raises(ExchangeUnusable, match=r"is not a folder of yours or root's \(owned by nobody\)"):
        collect(course, CHAPTER, exchange)  # the root's path, checked first as release checks it (R20e2 N1)


@pytest.mark.parametrize("trap, reason", [
    ("student-link", "submitted/{me} is a symbolic link: nothing written"),
    ("chapter-link", "submitted/{me}/{chapter} is a symbolic link: nothing written"),
    ("chapter-file", "submitted/{me}/{chapter} is not a folder: nothing written"),
])  # fmt: skip
def test_nothing_is_written_through_a_link_in_submitted(tmp_path, trap, reason):
    """A `submitted/<id>` made a link to `source/` must not overwrite the instructor's solution."""
    course, exchange = exchange_course(tmp_path)
    _, name = inbound_folder(exchange.inbound)
    me = user_name(os.geteuid())
    student, solution = course / "submitted" / me, course / "source" / CHAPTER / FILE
    before = solution.read_bytes()
    student.mkdir(parents=True) if trap != "student-link" else student.parent.mkdir()
    if trap == "student-link":
        student.symlink_to(course / "source")
    elif trap == "chapter-link":
        (student / CHAPTER).symlink_to(course / "source" / CHAPTER)
    else:
        (student / CHAPTER).write_text("")
    result = collect(course, CHAPTER, exchange)
    assert not result.collected
    assert result.refused == [{"submission": name, "reason": reason.format(me=me, chapter=CHAPTER) + " through it"}]
    assert solution.read_bytes() == before and os.listdir(solution.parent) == [FILE]
    assert os.listdir(course / "source") == [CHAPTER]


@needs_chown
def test_a_student_who_cannot_be_written_does_not_stop_the_others(tmp_path):
    course, exchange = exchange_course(tmp_path)
    folder, theirs = inbound_folder(exchange.inbound)
    os.rename(folder, exchange.inbound / theirs.replace(user_name(os.geteuid()), "nobody", 1))
    chown_tree(exchange.inbound / theirs.replace(user_name(os.geteuid()), "nobody", 1), 65534)
    _, mine = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    (course / "submitted" / "nobody").mkdir(parents=True)
    (course / "submitted" / "nobody" / f".{CHAPTER}.collecting").write_text("")  # in the way of the write
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [mine], result
    assert [row["reason"][:20] for row in result.refused] == ["cannot be written: ["], result
    assert (course / "submitted" / user_name(os.geteuid()) / CHAPTER / FILE).read_text() == HONEST
    assert "1 collected, 1 refused" in summary(result)


@needs_chown
def test_a_students_flood_of_names_is_reported_by_its_owner_and_the_others_collected(tmp_path):
    """A flood of names (hard links, folders) owned by one uid, claiming the student or made up: the names of
    other shapes are not kept, at most `per_owner` of the flooder's are checked, the rest counted in one row
    naming the owner, the refusals of those checked take a few rows whatever ids they claim, and everyone else
    is collected."""
    course, exchange = exchange_course(tmp_path)
    _, mine = inbound_folder(exchange.inbound)
    me = user_name(os.geteuid())
    (tmp_path / "flood").write_text("")
    os.chown(tmp_path / "flood", 65534, 65534)
    for i in range(40):  # as `ln` makes them: one file, many names (it is the flooder's)
        os.link(tmp_path / "flood", exchange.inbound / f"{me}+{CHAPTER}+2026-01-01 00:00:{i:02}.000000 UTC+f")
        os.link(tmp_path / "flood", exchange.inbound / f"u{i}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+f")
        os.link(tmp_path / "flood", exchange.inbound / f"junk{i}")
    result = collect(course, CHAPTER, exchange, Bounds(per_owner=10, refusals=3))
    assert [row["submission"] for row in result.collected] == [mine], result
    flood = [row for row in result.refused if row["submission"] == "nobody: 70 entries"]
    assert flood and flood[0]["more"] == 70 and "nobody owns 80 entries named for" in flood[0]["reason"], result
    assert len(result.refused) == 5 and result.refusals == 80, result.refused  # 3 rows, "and 7 more", the flood


@needs_chown
def test_an_owners_folders_are_listed_newest_first_within_their_entry_budget(tmp_path):
    """Three folders of five entries, a budget of eight: the newest is listed and collected, the next stops the
    listing at the budget, and it and the oldest are one row naming the owner; another owner's folder of eight is
    listed on a budget of its own."""
    course, exchange = exchange_course(tmp_path)
    names = []
    for i in range(3):
        folder, name = inbound_folder(exchange.inbound, f"2026-01-01 00:00:{i:02}.000000 UTC")
        for stray in range(3):  # with the notebook and nbgrader's submission_secret.txt: five entries
            (folder / f"stray{stray}.png").write_text("")
        names.append(name)
        time.sleep(0.02)  # a later change time (the kernel's clock ticks coarsely)
    me = user_name(os.geteuid())
    theirs, _ = inbound_folder(tmp_path, "2026-01-02 00:00:00.000000 UTC")  # made here, then moved in as nobody's
    for stray in range(6):
        (theirs / f"stray{stray}.png").write_text("")
    nobodys = theirs.name.replace(me, "nobody", 1)
    os.rename(theirs, exchange.inbound / nobodys)
    chown_tree(exchange.inbound / nobodys, 65534)
    result = collect(course, CHAPTER, exchange, Bounds(entries=8))
    assert sorted(row["submission"] for row in result.collected) == sorted([names[-1], nobodys]), result
    assert result.refused == [
        {
            "submission": f"{me}: 2 folders",
            "reason": f"{me}'s submission folders hold more than 8 entries in all (a flood?): listed newest folder "
            "first, 2 folders were not checked once 8 had been read",
            "more": 2,
        }
    ], result.refused


@needs_chown
def test_forged_folders_do_not_bury_a_students_own_refusal(tmp_path):
    """Rows are capped per claimed id and owner, and a folder owned by the user it names always has its row:
    a classmate's 30 forgeries in my name do not hide why my own folder was refused."""
    course, exchange = exchange_course(tmp_path)
    for i in range(30):
        folder, _ = inbound_folder(exchange.inbound, f"2026-01-01 00:00:{i:02}.000000 UTC")
        chown_tree(folder, 65534)
    own, name = inbound_folder(exchange.inbound, "2026-01-01 00:01:00.000000 UTC")  # sorted after the forgeries
    (own / FILE).unlink()
    result = collect(course, CHAPTER, exchange, Bounds(refusals=5))
    rows = {row["submission"]: row["reason"] for row in result.refused}
    assert rows.get(name, "").startswith("no notebook of the assignment"), result.refused
    assert rows["nobody: 25 more"] == "and 25 more submissions owned by nobody in names not theirs refused"
    assert len(rows) == 7 and result.refusals == 31, result.refused


@needs_chown
def test_a_name_no_rule_foresaw_refuses_that_folder_only(tmp_path, monkeypatch):
    """An empty file named for a year-1 time (it crashed the whole collect: a time 14 hours before year 1), and
    a check that fails in a way no rule foresaw: each refuses that name, with the reason, and the rest are
    collected; a fault of collect's own exits 3, not 1 (some refused)."""
    import argparse

    from lrcourse.commands import collect as collect_command
    from lrcourse.grading.exchange import collect as collect_module

    course, exchange = exchange_course(tmp_path)
    _, mine = inbound_folder(exchange.inbound)
    (exchange.inbound / f"nobody1+{CHAPTER}+0001-01-01").touch()
    (exchange.inbound / f"nobody2+{CHAPTER}+2026-01-01 00:00:00 UTC").mkdir()
    for name in (f"nobody1+{CHAPTER}+0001-01-01", f"nobody2+{CHAPTER}+2026-01-01 00:00:00 UTC"):
        os.chown(exchange.inbound / name, 65534, 65534)  # another user's: not one uid owning every folder
    checked = collect_module.check_submission

    def failing(inbound, name, *args, **kwargs):
        if name.startswith("nobody2+"):
            raise RuntimeError("no rule foresaw this")
        return checked(inbound, name, *args, **kwargs)

    monkeypatch.setattr(collect_module, "check_submission", failing)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [mine], result
    reasons = {row["submission"].split("+")[0]: row["reason"] for row in result.refused}
    assert reasons["nobody1"] == "the submission folder is a plain file, not a folder", reasons
    assert reasons["nobody2"].endswith("RuntimeError: no rule foresaw this"), reasons
    (course / "nbgrader_config.py").write_text(
        f'c.CourseDirectory.course_id = "lr-schedules"\nc.Exchange.root = "{exchange.root}"\n'
    )
    monkeypatch.setattr(collect_module, "collect", lambda *args: 1 / 0)
    assert collect_command.command_collect(argparse.Namespace(course=str(course), assignment=CHAPTER)) == 3


def test_a_students_many_folders_keep_few_submissions_and_few_refusal_rows(tmp_path):
    """Many accepted folders of one student, many refused ones claiming one id: the newest is collected, the
    others counted, not kept (nor named) one by one."""
    course, exchange = exchange_course(tmp_path)
    names = []
    for i in range(8):
        names.append(inbound_folder(exchange.inbound, f"2026-01-01 00:00:{i:02}.000000 UTC")[1])
        time.sleep(0.02)  # a later change time (the kernel's clock ticks coarsely)
    for i in range(30):
        (exchange.inbound / f"zz-nobody+{CHAPTER}+2026-01-01 00:00:{i:02}.000000 UTC+x").mkdir()
    result = collect(course, CHAPTER, exchange, Bounds(kept=2, refusals=5))
    assert [row["submission"] for row in result.collected] == [names[-1]], result
    assert len(result.superseded) == 2 and sum(row.get("more", 1) for row in result.superseded) == 7, result
    assert len(result.refused) == 6 and result.refused[-1]["more"] == 25, result.refused
    me = user_name(os.geteuid())
    assert result.refused[-1]["reason"] == f"and 25 more submissions owned by {me} in names not theirs refused"
    assert "1 collected, 30 refused, 7 older submissions superseded" in summary(result)


@needs_chown
def test_a_classmates_superseded_secret_copied_into_a_submission_is_replaced(tmp_path):
    """fetch_feedback tries every secret a student ever submitted with: bob's older folder's secret, copied into
    root's submission, would file root's feedback where bob's fetch finds it. Bob keeps his newest secret; root
    gets a fresh one and is told why; the old one, held by both before any collect recorded it, is no one's (F18)."""
    import re

    from lrcourse.grading.exchange.submission_secrets import CONTESTED, SECRET

    course, exchange = exchange_course(tmp_path)
    old, new = "0123456789abcdef" * 8, "fedcba9876543210" * 8
    for stamp, secret in (("2026-01-01 00:00:00.000000 UTC", old), ("2026-01-02 00:00:00.000000 UTC", new)):
        folder = exchange.inbound / f"nobody+{CHAPTER}+{stamp}+x"
        folder.mkdir()
        (folder / FILE).write_text(HONEST)
        (folder / SECRET).write_text(secret)
        chown_tree(folder, 65534)
    folder, name = inbound_folder(exchange.inbound, "2026-01-03 00:00:00.000000 UTC")
    (folder / SECRET).write_text(old)  # read in bob's older folder, whose name root knows
    result = collect(course, CHAPTER, exchange)
    me = user_name(os.geteuid())
    assert sorted(row["student"] for row in result.collected) == sorted(["nobody", me]), result
    assert (course / "submitted" / "nobody" / CHAPTER / SECRET).read_text() == new
    mine = (course / "submitted" / me / CHAPTER / SECRET).read_text()
    assert re.fullmatch("[0-9a-f]{128}", mine) and mine not in (old, new)
    assert result.left_out == [{"submission": name, "reason": CONTESTED}]
