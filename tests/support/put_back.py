"""The class's inbound moved where a student put it, and `lrcourse doctor --put-back` run on it in-process as root
(tests/test_doctor_put_back*.py)."""

from __future__ import annotations

import os
from types import SimpleNamespace

from lrcourse.commands.doctor import command_put_back

from support.doctor_exchange import GRADER, course_in, hers, submit


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
