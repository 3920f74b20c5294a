"""What one `lrcourse grade` run did, student by student: graded, skipped or failed, and why; written to
reports/<assignment>.csv and printed as a summary table. (The class's grades themselves are in the
gradebook: `results` reads them back, `class_report` draws them.)"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    student: str
    status: str  # "graded", "failed" or "skipped" (already graded, unchanged)
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    overridden: list[str] = field(default_factory=list)  # test cells where the kernel's result was wrong


@dataclass
class RunOutcomes:
    """The outcomes of grading one assignment."""

    assignment: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    awaiting_manual: int = 0  # written answers nbgrader leaves to the formgrader, not yet graded by hand

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def outcomes_csv(course: Path, assignment: str) -> Path:
    return course / "reports" / f"{assignment}.csv"


def write_outcomes(course: Path, run: RunOutcomes) -> Path:
    path = outcomes_csv(course, run.assignment)
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "score", "max_score", "reason", "overridden"])
        for o in run.outcomes:
            writer.writerow([o.student, o.status, o.score, o.max_score, o.reason, " ".join(o.overridden)])
    return path


def _overridden(outcome: Outcome) -> str:
    return f"in-kernel result overridden: {', '.join(outcome.overridden)}" if outcome.overridden else ""


def summary(run: RunOutcomes) -> str:
    counts = {status: sum(o.status == status for o in run.outcomes) for status in ("graded", "skipped", "failed")}
    lines = [
        f"{run.assignment}: {counts['graded']} graded, {counts['skipped']} unchanged (skipped), "
        f"{counts['failed']} failed, in {run.seconds:.1f} s"
    ]
    width = max([len(o.student) for o in run.outcomes] + [7])
    lines.append(f"  {'student':<{width}}  {'status':<8} {'score':>11}  reason")
    for o in run.outcomes:
        score = f"{o.score:g} / {o.max_score:g}" if o.score is not None else ""
        reason = "; ".join(filter(None, [o.reason, _overridden(o)]))
        lines.append(f"  {o.student:<{width}}  {o.status:<8} {score:>11}  {reason}")
    if run.awaiting_manual:
        lines.append(
            f"{run.awaiting_manual} written answer(s) await manual grading in nbgrader's formgrader "
            "(`make instructor`); until then the scores above count only the autograded items"
        )
    return "\n".join(lines)
