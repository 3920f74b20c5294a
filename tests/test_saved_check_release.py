"""The saved-notebook check's lines on setup and context cells that are not the chapter's: named as the learner sees
them, and each cause said (an edit, a deletion, a notebook of another release), never blaming the learner for a change
of the course's."""

from __future__ import annotations

import nbformat

from support.paths import ROOT

CHAPTER, NOTEBOOK = "01_learning_rate", "learning_rate.ipynb"


def test_a_missing_context_cell_is_named_by_its_first_line_and_an_earlier_release_is_a_cause():
    """R23z N1: chapter 2 as released before its read-log cell existed was told it had deleted "context cell read-log"
    (an id JupyterLab does not show); the line names the cell by its first line and says an earlier release is a
    cause."""
    from lrcourse.saved_check import context_notes

    chapter = "02_ordered_schedules"
    own = nbformat.read(ROOT / "source" / chapter / "ordered_schedules.ipynb", as_version=4).cells
    log = next(cell for cell in own if cell.get("id") == "read-log")
    saved = [cell for cell in nbformat.read(ROOT / "notebooks" / chapter / "ordered_schedules.ipynb", 4).cells]
    (note,) = context_notes([cell for cell in saved if cell.get("id") != "read-log"], own)
    first = log.source.splitlines()[0].strip()[:80]
    assert note.startswith(f"Your saved notebook has no context cell that starts `{first}` of the chapter's"), note
    assert "read-log" not in note and "or your notebook is of an earlier release" in note, note


def test_a_notebook_of_another_release_is_not_told_it_changed_its_setup_cells():
    """R23c N5: a self-study notebook copied before a `git pull` changed the chapter's setup cell was told "what you
    changed there is not in the grade"; its metadata's digest is not the chapter's, so the line says the course
    changed since it was copied. A notebook of this release whose setup cell differs is still told it changed it."""
    from lrcourse.chapter_facts import context_digest, context_of
    from lrcourse.saved_check import EARLIER_COPY, context_notes

    own = nbformat.read(ROOT / "source" / CHAPTER / NOTEBOOK, as_version=4).cells
    current = context_digest(context_of(own))
    saved = nbformat.read(ROOT / "notebooks" / CHAPTER / NOTEBOOK, as_version=4).cells
    assert context_notes(saved, own, "sha256:older") == []  # the same cells: nothing to say
    next(cell for cell in saved if cell.get("id") == "setup").source += "\nimport math\n"
    (note,) = context_notes(saved, own, current)
    assert "what you changed there is not in the grade" in note, note
    assert context_notes(saved, own, "sha256:older") == [EARLIER_COPY]
    assert "the course changed since you copied the notebook" in EARLIER_COPY
