"""The course's submit refuses, with the reason and what to do, a notebook the instructor's collect would refuse for
its size or form (`lrcourse.notebook_limits`), copying nothing."""

from __future__ import annotations

import os
import time

import nbformat
import pytest

from support.course_submit import course_submit, exchange_for, notebook
from support.inbound_folders import CHAPTER, FILE


def test_a_notebook_collect_would_refuse_is_not_submitted_and_the_student_told_why(tmp_path, monkeypatch):
    """r20ad M1: nbgrader said "Submitted as ..." for a notebook of 21 MB of outputs, which collect then refused with a
    reason only the instructor read; the student's grade row could not be told from one who never submitted. The
    submit fails, copying nothing, with the reason and what to do."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    from lrcourse.notebook_limits import MAX_OUTPUT_MB

    _, exchange = exchange_for(tmp_path)
    home = tmp_path / "home"
    (home / CHAPTER).mkdir(parents=True)
    nbformat.write(flooded(), home / CHAPTER / FILE)
    monkeypatch.chdir(home)
    submit = course_submit(exchange, tmp_path / "cache")
    with pytest.raises(ExchangeError, match=f"Not submitted: {FILE} holds more than {MAX_OUTPUT_MB} MB of outputs"):
        submit.start()
    assert list(exchange.inbound.iterdir()) == [] and not (tmp_path / "cache").exists()


def her_folder(tmp_path):
    """The exchange (`exchange_for`) and a student's assignment folder holding a notebook of the release's name."""
    _, exchange = exchange_for(tmp_path)
    folder = tmp_path / "home" / CHAPTER
    folder.mkdir(parents=True)
    nbformat.write(notebook(), folder / FILE)
    return exchange, folder


def flooded() -> nbformat.NotebookNode:
    from lrcourse.notebook_limits import MAX_OUTPUT_MB

    past = notebook()
    past.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * ((MAX_OUTPUT_MB + 1) << 20))]
    return past


def test_only_the_releases_notebooks_are_read_and_a_link_where_it_leads(tmp_path, monkeypatch):
    """r20af 4: a notebook of hers beside the release's (experiments, a copy), which collect leaves out, kept her from
    submitting. r20af 5: the release's notebook as a link to one past a limit was submitted (nbgrader's copy follows
    it) and collect then refused it."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    _, exchange = exchange_for(tmp_path)
    home = tmp_path / "home"
    (home / CHAPTER).mkdir(parents=True)
    nbformat.write(notebook(), home / CHAPTER / FILE)
    nbformat.write(flooded(), home / CHAPTER / "scratch-experiments.ipynb")
    monkeypatch.chdir(home)
    course_submit(exchange, tmp_path / "cache").start()
    assert len(list(exchange.inbound.iterdir())) == 1
    (home / CHAPTER / FILE).unlink()
    (home / CHAPTER / FILE).symlink_to(home / CHAPTER / "scratch-experiments.ipynb")
    with pytest.raises(ExchangeError, match="Not submitted: scratch-experiments.ipynb holds more than"):
        course_submit(exchange, tmp_path / "cache2").start()
    assert len(list(exchange.inbound.iterdir())) == 1


def test_a_folder_collect_would_not_read_or_without_the_notebook_is_not_submitted(tmp_path, monkeypatch):
    """r20ai 1: 10,001 saved plots beside the notebook were "Submitted as ..."; collect refused the folder, and its
    listing budget spent on it, her earlier good submission too (r20ak 2: one folder of collect's own bound still
    did). r20ai 2: the notebook saved as "Copy of ..." was submitted; collect takes no folder without it."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    from lrcourse.notebook_limits import MAX_FOLDER_ENTRIES

    _, exchange = exchange_for(tmp_path)
    folder = tmp_path / "home" / CHAPTER
    folder.mkdir(parents=True)
    nbformat.write(notebook(), folder / f"Copy of {FILE}")
    monkeypatch.chdir(folder.parent)
    with pytest.raises(ExchangeError, match=f"Not submitted: the assignment's notebook \\({FILE}\\) is not in your"):
        course_submit(exchange, tmp_path / "cache").start()
    (folder / f"Copy of {FILE}").rename(folder / FILE)
    for number in range(MAX_FOLDER_ENTRIES // 10 - 2):  # r20ak 2: a tenth of collect's, room for older ones
        (folder / f"lr-step-{number:05d}.png").touch()
    with pytest.raises(ExchangeError, match="Not submitted: your assignment folder holds 999 files and folders"):
        course_submit(exchange, tmp_path / "cache").start()
    assert list(exchange.inbound.iterdir()) == []
    (folder / "lr-step-00000.png").unlink()  # the most a submission may hold, with nbgrader's two files
    course_submit(exchange, tmp_path / "cache").start()
    assert len(list(exchange.inbound.iterdir())) == 1


def test_a_link_to_nothing_in_the_folder_is_named_not_blamed_on_the_disk(tmp_path, monkeypatch):
    """r20ak 4: a link to a removed dataset made nbgrader's copy fail, and the student read that the exchange's disk
    may be full; submitting again failed the same way. The submit names the link first, copying nothing."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    exchange, folder = her_folder(tmp_path)
    (folder / "data").symlink_to(tmp_path / "removed-dataset")
    monkeypatch.chdir(folder.parent)
    with pytest.raises(
        ExchangeError, match="Not submitted: 'data' in your assignment folder is a link to nothing here"
    ):
        course_submit(exchange, tmp_path / "cache").start()
    assert list(exchange.inbound.iterdir()) == []


@pytest.mark.parametrize(
    "made, said",
    [
        ("a link to nothing one level down", r"'plots/old\.png' in your assignment folder is a link to nothing here"),
        (
            "a link to her folder",
            r"'here' in your assignment folder is a link to a folder that holds it: copying it would never end",
        ),
        ("a link to a folder above it", r"'plots/up' in your assignment folder is a link to a folder that holds it"),
        (
            "a loop of links",
            r"'plots/[ab]' in your assignment folder is a link that cannot be followed \(Too many levels",
        ),
        # r20an 1: read until the exchange's disk was full; r20an 2: the copy failed, "tell your instructor"
        ("a link to /dev/zero", r"'zeros\.bin' in your assignment folder is a link to a device, named pipe or socket"),
        ("a named pipe", r"'plots/pipe' in your assignment folder is a device, named pipe or socket"),
        # r20ap 2: sized 0, read without end: the exchange's disk filled
        ("a link to a kernel file", r"'pm' in your assignment folder is a link to a file of the kernel's"),
        # r20an 7: what is wrong inside what her link leads to names the link, hers to remove
        (
            "a link to nothing inside a linked folder",
            r"'data/sub/gone' in your assignment folder \(through your link 'data'\)",
        ),
    ],
)
def test_what_nbgraders_copy_would_fail_on_or_loop_through_is_named(tmp_path, monkeypatch, made, said):
    """r20al 4: only a link to nothing at the top was named; one below, or a link to her own folder (which nbgrader's
    copy, following links, copied into itself about 40 levels deep on the exchange's disk), still read "the exchange's
    disk may be full". Each is named, with its path in her folder, and nothing is copied."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    _, exchange = exchange_for(tmp_path)
    folder = tmp_path / "home" / CHAPTER
    (folder / "plots").mkdir(parents=True)
    nbformat.write(notebook(), folder / FILE)
    if made == "a link to nothing one level down":
        (folder / "plots" / "old.png").symlink_to("gone.png")
    elif made == "a link to her folder":
        (folder / "here").symlink_to(".")
    elif made == "a link to a folder above it":
        (folder / "plots" / "up").symlink_to("..")
    elif made == "a loop of links":
        (folder / "plots" / "a").symlink_to("b")
        (folder / "plots" / "b").symlink_to("a")
    elif made == "a link to /dev/zero":
        (folder / "zeros.bin").symlink_to("/dev/zero")
    elif made == "a link to a kernel file":
        (folder / "pm").symlink_to("/proc/self/pagemap")
    elif made == "a named pipe":
        os.mkfifo(folder / "plots" / "pipe")
    else:  # a link to a folder of hers elsewhere, a link to nothing inside it
        (tmp_path / "shared" / "sub").mkdir(parents=True)
        (tmp_path / "shared" / "sub" / "gone").symlink_to("nowhere")
        (folder / "data").symlink_to(tmp_path / "shared")
    monkeypatch.chdir(folder.parent)
    with pytest.raises(ExchangeError, match=f"Not submitted: {said}"):
        course_submit(exchange, tmp_path / "cache").start()
    assert list(exchange.inbound.iterdir()) == []


def test_more_to_copy_than_a_submission_may_hold_links_followed_is_not_submitted(tmp_path, monkeypatch):
    """A link to a dataset (or to /) is copied whole into the shared exchange by nbgrader's copy, whose size limit
    does not count links: past the walk's bound the submit refuses, copying nothing."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    from lrcourse import submission_copy

    exchange, folder = her_folder(tmp_path)
    (tmp_path / "dataset").mkdir()
    for number in range(30):
        (tmp_path / "dataset" / f"{number}.csv").touch()
    (folder / "data").symlink_to(tmp_path / "dataset")
    monkeypatch.setattr(submission_copy, "MOST_LOOKED", 20)
    monkeypatch.chdir(folder.parent)
    with pytest.raises(ExchangeError, match="Not submitted: your assignment folder holds more than 20 files and"):
        course_submit(exchange, tmp_path / "cache").start()
    assert list(exchange.inbound.iterdir()) == []


def test_more_bytes_to_copy_through_links_than_nbgraders_limit_is_not_submitted(tmp_path, monkeypatch):
    """r20an 3: nbgrader's size limit (max_dir_size) does not count what links lead to: a link to a folder of three
    90 MB files was copied whole into the exchange (until its disk was full). Counted here, links followed."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    exchange, folder = her_folder(tmp_path)
    (tmp_path / "shards").mkdir()
    for number in range(3):
        with open(tmp_path / "shards" / f"{number}.bin", "wb") as shard:
            shard.truncate(40 << 20)  # sparse: 40 MB each, 120 MB in all, each under max_file_size
    (folder / "data").symlink_to(tmp_path / "shards")
    monkeypatch.chdir(folder.parent)
    with pytest.raises(ExchangeError, match=r"Not submitted: your assignment folder holds more than 100 MB \(nbgrader"):
        course_submit(exchange, tmp_path / "cache").start()
    assert list(exchange.inbound.iterdir()) == []
    (tmp_path / "shards" / "2.bin").unlink()  # 80 MB through the link: submitted
    course_submit(exchange, tmp_path / "cache").start()
    (submitted,) = exchange.inbound.iterdir()
    assert sorted(os.listdir(submitted / "data")) == ["0.bin", "1.bin"]


def test_a_file_nbgraders_own_size_check_refuses_is_named(tmp_path, monkeypatch):
    """r20ap 5: nbgrader's size check counts every file, those its copy leaves out (past max_file_size, in
    .ipynb_checkpoints) included, and said "Directory size is too big" naming none; the largest is named."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    exchange, folder = her_folder(tmp_path)
    (folder / ".ipynb_checkpoints").mkdir()
    with open(folder / ".ipynb_checkpoints" / "big.bin", "wb") as big:
        big.truncate(150 << 20)  # sparse
    monkeypatch.chdir(folder.parent)
    with pytest.raises(ExchangeError, match=r"more than nbgrader's limit \(100 MB.*the largest is "):
        course_submit(exchange, tmp_path / "cache").start()
    assert list(exchange.inbound.iterdir()) == []


def test_the_time_in_the_folders_name_is_fixed_after_the_notebooks_are_read(tmp_path, monkeypatch):
    """r20am 3: the submit read her notebooks after nbgrader had fixed the time in the folder's name: a 19 MB notebook
    put 1.56 s between the time she was shown and the folder's change time, which collect trusts (she was late by
    0.66 s). The name's time is now fixed after the checks, as nbgrader's copy starts."""
    import datetime

    from lrcourse import notebook_limits

    exchange, folder = her_folder(tmp_path)
    read, checked = notebook_limits.read_notebook, []

    def slow_read(path):
        time.sleep(1.0)  # as a large notebook's read takes
        checked.append(datetime.datetime.now(datetime.UTC))
        return read(path)

    monkeypatch.setattr(notebook_limits, "read_notebook", slow_read)
    monkeypatch.chdir(folder.parent)
    course_submit(exchange, tmp_path / "cache").start()
    (submitted,) = exchange.inbound.iterdir()
    named = datetime.datetime.strptime(submitted.name.split("+")[2], "%Y-%m-%d %H:%M:%S.%f %Z")
    assert checked and named.replace(tzinfo=datetime.UTC) >= checked[-1], (submitted.name, checked)


def test_a_folder_the_exchange_refuses_is_not_the_students_to_fix(tmp_path, monkeypatch):
    """r20al 5: the exchange's disk full when nbgrader made the folder read "Nothing was copied: fix what this
    names", which she cannot; it says the exchange refused it and to tell the instructor."""
    import errno
    import shutil

    from nbgrader.exchange.abc.exchange import ExchangeError

    exchange, folder = her_folder(tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(exchange.inbound / "x"))

    monkeypatch.setattr(shutil, "copytree", full)
    monkeypatch.chdir(folder.parent)
    with pytest.raises(ExchangeError, match="Not submitted: the exchange refused it") as raised:
        course_submit(exchange, tmp_path / "cache").start()
    said = str(raised.value)
    assert "tell your instructor" in said and "disk or your quota may be full" in said and "fix what" not in said
