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
    nbformat.write(flooded(), home / CHAPTER / FILE)
    monkeypatch.chdir(home)
    submit = course_submit(exchange, tmp_path / "cache")
    with pytest.raises(ExchangeError, match=f"Not submitted: {FILE} holds more than {MAX_OUTPUT_MB} MB of outputs"):
        submit.start()
    assert list(exchange.inbound.iterdir()) == [] and not (tmp_path / "cache").exists()


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
