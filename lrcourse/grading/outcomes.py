"""What one `lrcourse grade` run did, student by student: graded, skipped or failed, and why; written to
reports/<assignment>.csv and printed as a summary table. (The class's grades themselves are in the
gradebook: `results` reads them back, `class_report` draws them.) Ids and reasons are the students' text:
the CSV is written by `spreadsheet`, and the table escapes them (`shown`), one line per student."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lrcourse.grading.spreadsheet import write_csv

STUDENT_WIDTH = 40  # characters of a student id the summary shows
REASON_WIDTH = 400
REASON_WRITTEN = 2000  # characters of a reason the CSV keeps: far under csv's field limit (131,072) on reading


@dataclass
class Outcome:
    student: str
    status: str  # "graded", "failed" or "skipped" (already graded, unchanged; or not started after a Ctrl-C)
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    overridden: list[str] = field(default_factory=list)  # test cells where the kernel's result was wrong
    feedback: bool = True  # False: graded by the trusted verdicts, but the notebook's run left no feedback
    unchecked: list[str] = field(default_factory=list)  # test cells the student's time budget left unchecked (0)
    # failed for now, not for what she sent: what an earlier run wrote of her (grades, autograded and feedback
    # folders) stays until her next grading replaces it (a collect killed midway, a submission replaced while graded)
    earlier_kept: bool = False


@dataclass
class RunOutcomes:
    """The outcomes of grading one assignment."""

    assignment: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    unwritten: list[str] = field(default_factory=list)  # grades.csv or reports/<assignment>.csv, and why (R20p W2)
    not_given: list[str] = field(default_factory=list)  # root's files a link kept from the course's owner (R20q W2)
    awaiting_manual: int = 0  # written answers nbgrader leaves to the formgrader, not yet graded by hand

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def incomplete(self) -> list[Outcome]:
        """Graded without feedback (the kernel died, say): the student gets scores but nothing to read."""
        return [o for o in self.outcomes if o.status == "graded" and not o.feedback]

    @property
    def cut_short(self) -> list[Outcome]:
        """Graded only in part: their time budget ran out before every test cell was checked (those score 0)."""
        return [o for o in self.outcomes if o.status == "graded" and o.unchecked]

    @property
    def clean(self) -> bool:
        """Every student graded in full with feedback (or unchanged): what the commands' exit status 0 says."""
        return not self.failed and not self.incomplete and not self.cut_short and not self.unwritten


def outcomes_csv(course: Path, assignment: str) -> Path:
    return course / "reports" / f"{assignment}.csv"


def write_outcomes(course: Path, result: RunOutcomes) -> Path:
    rows = (
        [o.student, o.status, o.score, o.max_score, capped(o.reason, REASON_WRITTEN), " ".join(o.overridden)]
        for o in result.outcomes
    )
    header = ["student", "status", "score", "max_score", "reason", "overridden"]
    return write_csv(outcomes_csv(course, result.assignment), header, rows)


def capped(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked as cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _overridden(outcome: Outcome) -> str:
    return f"in-kernel result overridden: {', '.join(outcome.overridden)}" if outcome.overridden else ""


def shown(text: str, width: int) -> str:
    """`text` as one line of a terminal shows it and no more: a name that is not plain (a space, a control
    character, an escape sequence, a newline that would start a forged row) is quoted with every such
    character escaped, as Python's repr does; cut to `width` characters."""
    if not text or not text.isprintable() or any(c.isspace() for c in text):
        text = repr(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def shown_reason(text: str, width: int = REASON_WIDTH) -> str:
    """A reason on one line: its spaces kept, every unprintable character escaped, cut to `width`."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def summary(result: RunOutcomes) -> str:
    counts = {status: sum(o.status == status for o in result.outcomes) for status in ("graded", "skipped", "failed")}
    lines = [
        f"{result.assignment}: {counts['graded']} graded, {counts['skipped']} unchanged (skipped), "
        f"{counts['failed']} failed, in {result.seconds:.1f} s"
    ]
    names = {id(o): shown(o.student, STUDENT_WIDTH) for o in result.outcomes}
    width = max([len(name) for name in names.values()] + [7])
    lines.append(f"  {'student':<{width}}  {'status':<8} {'score':>11}  reason")
    for o in result.outcomes:
        score = f"{o.score:g} / {o.max_score:g}" if o.score is not None else ""
        # an overridden in-kernel result first: a long note (a secret's) must not cut it off the line
        reason = shown_reason("; ".join(filter(None, [_overridden(o), o.reason])))
        lines.append(f"  {names[id(o)]:<{width}}  {o.status:<8} {score:>11}  {reason}")
    if result.incomplete:
        lines.append(
            f"{len(result.incomplete)} student(s) graded without feedback (the reason is on their line): "
            f"{', '.join(names[id(o)] for o in result.incomplete)}"
        )
    if result.cut_short:
        lines.append(
            f"{len(result.cut_short)} student(s) graded in part, their time budget ran out (the cells left "
            f"unchecked are on their line): {', '.join(names[id(o)] for o in result.cut_short)}"
        )
    lines += [f"not written: {line}" for line in result.unwritten]
    lines += [f"not given to the course's owner: {line}" for line in result.not_given]
    if result.awaiting_manual:
        lines.append(
            f"{result.awaiting_manual} written answer(s) await manual grading in nbgrader's formgrader "
            "(`make instructor`, or the hub's formgrader service); until then the scores above count only the autograded "
            "items"
        )
    return "\n".join(lines)
