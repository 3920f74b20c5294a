"""nbgrader's list with --remove (formgrader's Unrelease), as the course's nbgrader_config.py sets it
(lrcourse/grading/exchange/nbgrader_list.py): it removes only from the releasing user's or root's course folder in the
exchange, never through a link a student put at <exchange>/<course_id> (R20c2 M2)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from nbgrader.exchange import ExchangeError

from support.doctor_exchange import GRADER, course_in, scratch_folder
from support.exchange_apps import CHAPTER, COURSE_ID, LIST, exchange_app
from support.other_uid import as_user
from support.paths import ROOT
from support.posix_acl import acl_bytes, set_acl


def unrelease(exchange: Path, inbound: bool = False, groupshared: bool = False):
    """formgrader's Unrelease: nbgrader's list with remove, run in this process as its api runs it."""
    return exchange_app("list", exchange, inbound=inbound, groupshared=groupshared).start()


def sticky_exchange(tmp_path: Path) -> Path:
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    return exchange


def test_the_courses_configuration_names_the_trusted_list():
    assert f'c.ExchangeFactory.list = "{LIST}"' in (ROOT / "nbgrader_config.py").read_text()


def test_an_honest_unrelease_removes_the_released_chapter(tmp_path):
    exchange = sticky_exchange(tmp_path)
    outbound = exchange / COURSE_ID / "outbound"
    (outbound / CHAPTER).mkdir(parents=True)
    (outbound / CHAPTER / "notebook.ipynb").write_text("{}")
    (outbound / "ch2").mkdir()
    unrelease(exchange)
    assert [p.name for p in outbound.iterdir()] == ["ch2"]


@pytest.mark.parametrize("where", [COURSE_ID, f"{COURSE_ID}/outbound"])
def test_a_students_link_in_the_exchange_is_refused_and_its_target_intact(tmp_path, where):
    """R20c2 M2: a link at <exchange>/<course_id> (or its outbound/) to a folder holding outbound/<chapter>: nbgrader's
    remove_files rmtree'd the chapter there. Refused with the reason; the folder it names keeps everything."""
    exchange = sticky_exchange(tmp_path)
    victim = tmp_path / "victim"
    kept = victim / "outbound" / CHAPTER if where == COURSE_ID else victim / CHAPTER
    kept.mkdir(parents=True)
    (kept / "keep.ipynb").write_text("mine")
    victim.chmod(0o700)
    link = exchange / where
    link.parent.mkdir(mode=0o755, exist_ok=True)
    link.symlink_to(victim)
    with pytest.raises(ExchangeError, match="is a symbolic link"):
        unrelease(exchange)
    assert (kept / "keep.ipynb").read_text() == "mine"
    assert stat.S_IMODE(victim.lstat().st_mode) == 0o700


def test_removing_submissions_through_a_link_at_inbound_is_refused(tmp_path):
    exchange = sticky_exchange(tmp_path)
    victim = tmp_path / "victim"
    (victim / f"alice+{CHAPTER}+2026-12-06 12:00:00").mkdir(parents=True)
    (exchange / COURSE_ID).mkdir(mode=0o755)
    (exchange / COURSE_ID / "inbound").symlink_to(victim)
    with pytest.raises(ExchangeError, match="is a symbolic link"):
        unrelease(exchange, inbound=True)
    assert len(list(victim.iterdir())) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="root's unrelease is the one refused")
def test_root_refuses_a_groupshared_unrelease(tmp_path):
    """R20d2 W1: in a groupshared course nbgrader makes outbound/ 2775: anyone in its group may swap a chapter's
    folder for a link between the check and nbgrader's rmtree. Root's groupshared Unrelease is refused, nothing
    removed; root's Unrelease of the same folders without groupshared goes on as before."""
    exchange = sticky_exchange(tmp_path)
    outbound = exchange / COURSE_ID / "outbound"
    (outbound / CHAPTER).mkdir(parents=True)
    with pytest.raises(ExchangeError, match="in a groupshared course, release as the grader account that owns the "):
        unrelease(exchange, groupshared=True)
    assert [p.name for p in outbound.iterdir()] == [CHAPTER]
    unrelease(exchange)
    assert list(outbound.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the group rule is root's")
@pytest.mark.parametrize("where", [COURSE_ID, f"{COURSE_ID}/outbound"])
def test_root_refuses_an_unrelease_from_a_folder_a_group_may_write_in(tmp_path, where):
    """R20e2 W1: release's group rule, now Unrelease's too: a course (or outbound) folder left 2775 root:<TA's group>
    let a TA swap outbound/<chapter> for a link to root's own folder between the check and nbgrader's rmtree. Refused
    with no race needed, the chapter kept; with root's group the same folders are root's own and Unrelease goes on."""
    exchange = sticky_exchange(tmp_path)
    outbound = exchange / COURSE_ID / "outbound"
    (outbound / CHAPTER).mkdir(parents=True)
    (outbound / CHAPTER / "keep.ipynb").write_text("mine")
    os.chown(exchange / where, 0, 4242)
    (exchange / where).chmod(0o2775)
    with pytest.raises(
        ExchangeError, match=r"\(mode 2775\) is writable by other users \(its group, gid 4242, as root\)"
    ):
        unrelease(exchange)
    assert (outbound / CHAPTER / "keep.ipynb").read_text() == "mine"
    os.chown(exchange / where, 0, 0)
    unrelease(exchange)
    assert list(outbound.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the ACL rule is root's")
def test_root_refuses_an_unrelease_from_a_course_folder_with_a_named_acl(tmp_path):
    """R20e2 W2: a root:root course folder whose access ACL names another uid (u:54321:rwx; the group bits are the
    mask): refused with the `setfacl -b` mend, the chapter kept; `chmod g-w` (mask r-x) lets Unrelease go on."""
    exchange = sticky_exchange(tmp_path)
    course = exchange / COURSE_ID
    (course / "outbound" / CHAPTER).mkdir(parents=True)
    course.chmod(0o755)
    set_acl(course, "system.posix_acl_access", acl_bytes((0x02, 54321)))
    course.chmod(0o775)  # the mask rwx: 54321 may write in it
    with pytest.raises(ExchangeError, match=r"a POSIX ACL naming users or groups, as root\): .*setfacl -b"):
        unrelease(exchange)
    assert [p.name for p in (course / "outbound").iterdir()] == [CHAPTER]
    course.chmod(0o755)
    unrelease(exchange)
    assert list((course / "outbound").iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the ACL rule is root's")
def test_an_unrelease_from_an_outbound_others_may_write_in_is_refused_with_the_mend_to_remove_it(tmp_path):
    """r20h W1: for an outbound/ others could write in, `setfacl -b` or `chmod` kept what they put there (a planted
    chapter classmates fetched); Unrelease's mend is to remove it, as release's and the doctor's."""
    exchange = sticky_exchange(tmp_path)
    outbound = exchange / COURSE_ID / "outbound"
    (outbound / CHAPTER).mkdir(parents=True)
    set_acl(outbound, "system.posix_acl_access", acl_bytes((0x02, 54321)))
    outbound.chmod(0o775)  # the mask rwx: 54321 may write in it
    with pytest.raises(ExchangeError, match=r"`d=\$\(mktemp -d .* a folder others could write in"):
        unrelease(exchange)
    assert [p.name for p in outbound.iterdir()] == [CHAPTER]


@pytest.mark.parametrize("inbound", [False, True])
def test_a_link_put_at_a_missing_course_folder_after_the_check_removes_nothing(tmp_path, monkeypatch, inbound):
    """R20g2 W1: no course folder in the exchange when Unrelease runs; the check found it missing, and a student's
    link renamed in at <exchange>/<course_id> right after it led nbgrader's glob and rmtree (by path) to delete the
    chapter in the root-only folder it named. The race made deterministic: the link is made right after the check.
    Nothing is removed, and no failure (nothing was there to remove)."""
    from lrcourse.grading.exchange import nbgrader_list

    exchange = sticky_exchange(tmp_path)
    victim = tmp_path / "victim"
    kept = victim / "inbound" / f"alice+{CHAPTER}+2026-12-06 12:00:00" if inbound else victim / "outbound" / CHAPTER
    kept.mkdir(parents=True)
    (kept / "keep.ipynb").write_text("mine")
    victim.chmod(0o700)
    checked = nbgrader_list.check_exchange_folders

    def check_then_link(root, parts):
        there = checked(root, parts)
        (exchange / COURSE_ID).symlink_to(victim)
        return there

    monkeypatch.setattr(nbgrader_list, "check_exchange_folders", check_then_link)
    assert unrelease(exchange, inbound=inbound) == []
    assert (kept / "keep.ipynb").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
def test_an_unrelease_that_cannot_remove_a_chapter_says_so_in_one_line(monkeypatch):
    """r20h N7: a chapter's folder the grader may not empty (its old copy made read-only) gave nbgrader's rmtree's
    traceback, "PermissionError: ... 'notebook.ipynb'". One line: the chapter's folder, the reason, how many removed."""
    with scratch_folder() as scratch:
        course = course_in(monkeypatch, scratch, 0o1777)
        chapter = course / "outbound" / CHAPTER
        chapter.mkdir()
        (chapter / "notebook.ipynb").write_text("{}")
        os.chown(chapter, GRADER, GRADER)
        chapter.chmod(0o555)
        app = exchange_app("list", course.parent)
        said = as_user(GRADER, app.start)
        assert said.startswith(f"ExchangeError: lrcourse unrelease: cannot remove {str(chapter)!r}: Permission"), said
        assert "('notebook.ipynb')" in said and f"`ls -laR {chapter}`" in said and "; 0 of 1 removed" in said, said
