"""One returned submission written into the gradebook in one transaction, for the queue's enqueuing command
(`fleet_grade`), which writes every result of a fleet by itself: at thousands of results, its pace bounds the fleet.

nbgrader's SaveAutoGrades opens a gradebook of its own for each notebook, looks each cell's grade or comment up
with a query of six joins, and commits after each cell; nbgrader's Gradebook commits after each change too. Measured
on a busy 2-core machine, that was 0.24-0.48 s a result, about 40 commits and 25 queries. Here the same rows get the
same values, from the same code (`withheld_scores.WithholdAutoGrades`, nbgrader's Gradebook methods), but:

- `one_transaction`: while it is open, the Gradebook's commits only flush and expire what the session holds (as a
  commit would: the scores nbgrader computes in SQL are read again), and its end commits once, or rolls back all of
  it on an error (the student then has no half-written rows: a rerun writes them whole);
- `SubmissionRows`: the submission's grades and comments loaded in two queries, and SaveAutoGrades run on them
  through the command's own session (`SaveInto`).
"""

from __future__ import annotations

from contextlib import contextmanager

from lrcourse.grading.autograde.withheld_scores import WithholdAutoGrades


@contextmanager
def one_transaction(book):
    """nbgrader's `book` commits once, at the block's end (see the module's text)."""
    session = book.db  # a scoped_session: an attribute set on it shadows its commit method

    def commit() -> None:
        session.flush()
        session.expire_all()  # as a commit expires them: column properties (scores) are read again

    session.commit = commit
    try:
        yield book
    except BaseException:
        del session.commit
        session.rollback()
        raise
    del session.commit
    session.commit()


class SubmissionRows:
    """One submission's grade and comment rows, by (notebook, cell name): what SaveAutoGrades finds and changes, in
    place of the gradebook it opens. A cell not among them (or one name for two kinds of cell) is looked up by
    nbgrader's own query, which raises as it would. Its commits do nothing: `one_transaction` commits."""

    def __init__(self, book, assignment: str, student: str):
        from nbgrader.api import Comment, Grade

        self.book, self.assignment, self.student = book, assignment, student
        submission = book.find_submission(assignment, student)
        self.grades = _rows(book, Grade, submission.id)
        self.comments = _rows(book, Comment, submission.id)

    @property
    def db(self):
        return self  # SaveAutoGrades calls `self.gradebook.db.commit()` after each cell

    def commit(self) -> None:
        pass

    def find_grade(self, name: str, notebook: str, assignment: str, student: str):
        found = self._found(self.grades, name, notebook, assignment, student)
        return found if found is not None else self.book.find_grade(name, notebook, assignment, student)

    def find_comment(self, name: str, notebook: str, assignment: str, student: str):
        found = self._found(self.comments, name, notebook, assignment, student)
        return found if found is not None else self.book.find_comment(name, notebook, assignment, student)

    def _found(self, rows: dict, name: str, notebook: str, assignment: str, student: str):
        if (assignment, student) != (self.assignment, self.student):
            return None
        return rows.get((notebook, name))

    def save(self, notebook, name: str) -> None:
        """SaveAutoGrades (test cells withheld) on the submission's notebook `name`, through these rows."""
        resources = {"nbgrader": {"notebook": name, "assignment": self.assignment, "student": self.student}}
        SaveInto(self).preprocess(notebook, resources)


def _rows(book, model, submission_id: str) -> dict:
    """{(notebook, cell name): row} of `model` (Grade or Comment) in the submission; a name two kinds of cell
    share in one notebook is left out, so that nbgrader's query (with its order of kinds) finds it."""
    from nbgrader.api import BaseCell, Grade, Notebook, SubmittedNotebook
    from sqlalchemy.orm import undefer

    query = (
        book.db.query(model, Notebook.name, BaseCell.name)
        .join(BaseCell, BaseCell.id == model.cell_id)
        .join(SubmittedNotebook, SubmittedNotebook.id == model.notebook_id)
        .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
        .filter(SubmittedNotebook.assignment_id == submission_id)
    )
    if model is Grade:  # a grade's points (deferred by nbgrader: a query each) bound its trusted score
        query = query.options(undefer(Grade.max_score))
    rows, shared = {}, set()
    for row, notebook, name in query:
        if (notebook, name) in rows:
            shared.add((notebook, name))
        rows[(notebook, name)] = row
    return {key: row for key, row in rows.items() if key not in shared}


class SaveInto(WithholdAutoGrades):
    """WithholdAutoGrades on `SubmissionRows` instead of a gradebook opened by its own for each notebook."""

    def __init__(self, rows: SubmissionRows, **kwargs):
        super().__init__(**kwargs)
        self.rows = rows

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.gradebook = self.rows
        from nbgrader.preprocessors import SaveAutoGrades

        # SaveAutoGrades.preprocess without its own Gradebook: nbconvert's walk over the cells
        return super(SaveAutoGrades, self).preprocess(nb, resources)
