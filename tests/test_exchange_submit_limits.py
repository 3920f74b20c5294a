"""The course's submit refuses, with the reason and what to do, a notebook the instructor's collect would refuse for
its size or form (`lrcourse.notebook_limits`), copying nothing."""

from __future__ import annotations

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
    flooded = notebook()
    flooded.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * ((MAX_OUTPUT_MB + 1) << 20))]
    nbformat.write(flooded, home / CHAPTER / FILE)
    monkeypatch.chdir(home)
    submit = course_submit(exchange, tmp_path / "cache")
    with pytest.raises(ExchangeError, match=f"Not submitted: {FILE} holds more than {MAX_OUTPUT_MB} MB of outputs"):
        submit.start()
    assert list(exchange.inbound.iterdir()) == [] and not (tmp_path / "cache").exists()
