"""What collect does when the ledger's disk is full, and what a collect killed midway leaves for the next (F23,
issue 20): a ledger that cannot be written is a refusal with its reason (exit status 2, nothing moved), not a
traceback; a folder left as `.replaced` between `_write`'s two renames is put back; the ledger's temporary files a
killed writer left are removed."""

from __future__ import annotations

import errno
import os

import lrcourse.grading.exchange.inbound_folder as inbound_folder_module
import lrcourse.grading.exchange.submission_secrets as ledger_module
from lrcourse.cli import main as lrcourse_main
from lrcourse.grading.exchange.ledger_folder import LEDGER
from lrcourse.grading.exchange.submission_secrets import ledger_path

from support.inbound_folders import CHAPTER, exchange_course, inbound_folder


def full_disk(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_ledger_that_cannot_be_written_is_a_refusal_with_the_reason(tmp_path, monkeypatch, capsys):
    """F23 N1: the ledger's file system full, `lrcourse collect` printed an OSError traceback (exit status 3, "a
    fault of collect's"). Now: the reason, exit status 2, nothing moved into submitted/, no temporary file left."""
    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    monkeypatch.setattr(inbound_folder_module, "exchange_of", lambda course: exchange)
    monkeypatch.setattr(ledger_module.os, "fsync", full_disk)
    status = lrcourse_main(["collect", CHAPTER, "--course", str(course)])
    said = capsys.readouterr()
    assert status == 2, said
    assert "Traceback" not in said.err and f"the secret ledger {ledger_path(course, CHAPTER)} cannot be written" in (
        said.err
    ), said.err
    assert "No space left on device" in said.err and "collect record" not in said.out
    assert not (course / "submitted").exists() or list((course / "submitted").iterdir()) == []
    assert sorted(path.name for path in (course / LEDGER).iterdir()) == [f"{CHAPTER}.lock"]
