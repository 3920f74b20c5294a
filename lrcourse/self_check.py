"""`lrcourse check [CHAPTER ...]`: a self-study learner grades a copy of their workspace with the full hidden tests.

The copy is graded in a scratch course (build/check: the chapters' source, the learner's notebooks as the
submission of a student `you`, the release in a side folder so that nothing touches the learner's work) by the
same sandboxed `grade_class` that grades a class. A chapter is named in full or by its number (`03`, `3`).

What the learner reads, chapter by chapter as each ends (a line when each starts, so nothing is silent for long):
the graded items in the order of the notebook, under the heading each sits in; the written answers as graded
by hand, out of the self-study total (nobody grades them here: the rubric is in solutions/); the chapter's
autograded total and its feedback page; then the total over the chapters checked. The feedback pages load
MathJax from this machine (`local_mathjax_url`), so their maths shows offline.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from lrcourse import cells
from lrcourse.grading.outcomes import shown_reason
from lrcourse.grading.reports.results import PENDING, AssignmentGrades, short_message

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / "build" / "check"
STUDENT = "you"
BY_HAND = "graded by hand: compare with the rubric in solutions/"
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*(\(\d+(\.\d+)? points?\))?\s*$")
NAME_WIDTH = 40
REASON_WIDTH = 160  # of a failed cell's reason: one line of a wide terminal
PASSED = re.compile(r"""\bpassed\(\s*(["'])(.{1,120}?)\1\s*\)""")


class UnknownChapter(ValueError):
    """A chapter named on the command line that the course does not have."""


def chapter_names(asked: list[str], known: list[str]) -> list[str]:
    """The chapters `asked` names, in course order, each given in full (`03_adaptive_schedules`) or by its
    number (`03`, `3`); none asked: every chapter. An unknown name raises `UnknownChapter` listing them."""
    if not asked:
        return list(known)
    chosen = set()
    for name in asked:
        matches = [
            chapter for chapter in known if chapter == name or (name.isdigit() and _number(chapter) == int(name))
        ]
        if not matches:
            raise UnknownChapter(
                f"no chapter {name!r}: the chapters are {', '.join(known)} (give the name or its number)"
            )
        chosen.add(matches[0])
    return [chapter for chapter in known if chapter in chosen]


def _number(name: str) -> int | None:
    digits = name.split("_", 1)[0]
    return int(digits) if digits.isdigit() else None


def sections(notebook_cells: list) -> dict[str, str]:
    """grade_id -> the heading the graded cell sits under (the nearest heading of the course's markdown above it,
    without its "(N points)"; nbgrader's cells hold answers and rubrics, not headings), for the cells nbgrader grades."""
    found, heading = {}, ""
    for cell in notebook_cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown" and not cells.nbgrader_metadata(cell):
            lines = [line for line in cells.source(cell).splitlines() if HEADING.match(line)]
            heading = HEADING.match(lines[-1]).group(1) if lines else heading
        name = cells.nbgrader_id(cell)
        if name and cells.is_graded(cell):
            found[name] = heading
    return found


def labels(notebook_cells: list) -> dict[str, str]:
    """grade_id -> what a test cell says when it passes (its `passed("...")`), a readable name beside the id."""
    found = {}
    for cell in notebook_cells:
        name = cells.nbgrader_id(cell) if isinstance(cell, dict) else None
        said = PASSED.search(cells.source(cell)) if name and cells.is_test(cell) else None
        if said:  # a prediction's says it was recorded, not what it checks
            found[name] = "your prediction" if said.group(2).startswith("Prediction recorded") else said.group(2)
    return found


@dataclass
class ChapterResult:
    """One chapter's check: its graded items (None if it could not be graded, with `failed` saying why)."""

    name: str
    title: str = ""
    grades: AssignmentGrades | None = None
    sections: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # grade_id -> a readable name (`labels`)
    failed: str = ""
    feedback: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    unchecked: list[str] = field(default_factory=list)  # test cells the time budget left unchecked (scored 0)
    failed_cells: dict[str, str] = field(default_factory=dict)  # failed test cell -> why (0-point ones included)

    @property
    def complete(self) -> bool:
        """Graded in full, with its feedback page: what the check's exit status 0 says of every chapter."""
        return self.grades is not None and bool(self.feedback) and not self.unchecked

    def total(self) -> tuple[float, float]:
        return self.grades.autograded_total(STUDENT) if self.grades else (0.0, 0.0)

    def by_hand(self) -> float:
        """Points of the written answers (graded by hand, not in the total)."""
        return sum(item.max_score for item in self.grades.items if not item.autograded) if self.grades else 0.0


def score_text(score: float, most: float) -> str:
    return f"{score:g} / {most:g}"


def item_text(item, value, failed: bool = False) -> str:
    if item.autograded and not item.max_score:  # an ungraded prediction: its test says whether one was written
        return "not recorded (not graded)" if failed else "recorded (not graded)"
    if item.autograded:
        return score_text(value if isinstance(value, (int, float)) else 0.0, item.max_score)
    # nbgrader scores an unchanged written answer 0 itself, and leaves a written one to a human (PENDING)
    return BY_HAND if value == PENDING else f"not answered yet ({BY_HAND})"


def lost_points(item, value) -> bool:
    """An autograded cell scored below its points (a written answer's score is a human's, not read here)."""
    return item.autograded and item.max_score > 0 and not (isinstance(value, (int, float)) and value >= item.max_score)


def failure_note(result: ChapterResult, item, value) -> str:
    """What stands beside a cell that failed: the first line of why, on one line with every unprintable character
    escaped (the student's own text may be in it), or where to read why; never its pass message, which would say
    the opposite. An ungraded prediction keeps its name: it loses no points."""
    if item.autograded and not item.max_score:
        return result.labels.get(item.name, "")
    reason = shown_reason(short_message(result.failed_cells.get(item.name, "")), REASON_WIDTH)
    return f"failed: {reason}" if reason else "lost points: the feedback page says why"


def chapter_lines(result: ChapterResult, root: Path = ROOT) -> list[str]:
    """What the learner reads of one chapter: items in notebook order under their headings, then the totals."""
    lines = [f"{result.name}" + (f": {result.title}" if result.title else "")]
    if result.grades is None:
        return lines + [f"  could not be graded: {result.failed or 'no grades were written'}"]
    scores, heading = result.grades.scores.get(STUDENT, {}), None
    for item in result.grades.items:
        if result.sections.get(item.name, "") != heading:
            heading = result.sections.get(item.name, "")
            lines.append(f"  {heading}" if heading else "  ")
        value, failed = scores.get(item.key), item.name in result.failed_cells
        note = failure_note(result, item, value) if failed or lost_points(item, value) else result.labels.get(item.name)
        lines.append(f"    {item.name:<{NAME_WIDTH}} {item_text(item, value, failed)}" + (f"   {note}" if note else ""))
    score, most = result.total()
    by_hand = result.by_hand()
    lines.append(
        f"  {'autograded total':<{NAME_WIDTH + 2}} {score_text(score, most)}"
        + (f"   (written answers, {by_hand:g} points, are {BY_HAND})" if by_hand else "")
    )
    if result.failed:
        lines.append(f"  note: {result.failed}")
    lines += [f"  feedback: {_shown(path, root)}" for path in result.feedback]
    return lines


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def checked_score(grades: AssignmentGrades) -> str:
    """The chapter's score as the start page keeps it: the autograded total, the written answers apart."""
    return f"{score_text(*grades.autograded_total(STUDENT))} autograded points (written answers: graded by hand)"


def total_lines(results: list[ChapterResult], seconds: float) -> list[str]:
    """The total over the chapters checked (the autograded points; chapters that could not be graded named), and
    the check's `seconds`."""
    graded = [result for result in results if result.grades is not None]
    score = sum(result.total()[0] for result in graded)
    most = sum(result.total()[1] for result in graded)
    lines = [
        f"Total of the {len(graded)} chapter(s) graded: {score_text(score, most)} autograded points; the written "
        f"answers are {BY_HAND}. ({seconds:.0f} s)"
    ]
    missing = [result.name for result in results if result.grades is None]
    if missing:
        lines.append(f"Not graded, so not in the total: {', '.join(missing)}.")
    unread = [result.name for result in graded if not result.feedback]
    if unread:  # what makes the check exit 1 though every chapter has a score
        lines.append(f"Graded without feedback (its note above says why): {', '.join(unread)}.")
    cut = [result.name for result in graded if result.unchecked]
    if cut:
        lines.append(f"Graded in part, the time budget ran out (its note above names the cells): {', '.join(cut)}.")
    return lines


# --------------------------------------------------------------------------------------------
# The scratch course and the run
# --------------------------------------------------------------------------------------------
def workspace() -> Path:
    return Path(os.environ.get("LRCOURSE_WORKSPACE", ROOT / "workspace"))


def local_mathjax_url() -> str | None:
    """MathJax from this machine's jupyter_server_mathjax (a file: URL, with nbconvert's configuration and the Safe
    extension; the sanitizer shows maths' link and style macros as text: `markup.inert_maths`), or None where it is
    not installed."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    script = Path(jupyter_server_mathjax.__file__).parent / "static" / "MathJax.js"
    return f"{script.as_uri()}?config=TeX-AMS-MML_HTMLorMML-full,Safe" if script.exists() else None


def prepare(scratch: Path, names: list[str], mine: Path) -> None:
    """The scratch course: each chapter's source, the learner's copy as `you`'s submission, the course's
    configuration with the release kept aside and the feedback's MathJax from this machine."""
    shutil.rmtree(scratch, ignore_errors=True)
    for name in names:
        shutil.copytree(ROOT / "source" / name, scratch / "source" / name)
        shutil.copytree(
            mine / name, scratch / "submitted" / STUDENT / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
    # The release goes to a side folder: generate_assignment must not touch the learner's work.
    config = (ROOT / "nbgrader_config.py").read_text() + '\nc.CourseDirectory.release_directory = "release"\n'
    config += "c.Lrcourse.self_study_feedback = True\n"  # the feedback page says of written answers what we print
    mathjax = local_mathjax_url()
    if mathjax:
        config += f"c.HTMLExporter.mathjax_url = {mathjax!r}\n"
    (scratch / "nbgrader_config.py").write_text(config)


def read_chapter(scratch: Path, name: str, run_result) -> ChapterResult:
    """The chapter's graded items from the scratch gradebook, with its headings and feedback pages (`run_result`:
    what `grade_class` says of the run)."""
    import nbformat

    from lrcourse.gradebook_db import gradebook
    from lrcourse.grading.course import default_db_url
    from lrcourse.grading.reports.results import read_assignment, source_order

    notebook_path = next((scratch / "source" / name).glob("*.ipynb"))
    notebook = nbformat.read(notebook_path, as_version=4)
    title = next(
        (c.source.splitlines()[0].lstrip("# ").strip() for c in notebook.cells if c.cell_type == "markdown"), ""
    )
    result = ChapterResult(
        name, title, sections=sections(notebook.cells), labels=labels(notebook.cells), seconds=run_result.seconds
    )
    failure = next((outcome for outcome in run_result.outcomes if outcome.status == "failed"), None)
    if failure is not None:
        result.failed = failure.reason
        return result
    graded = next((outcome for outcome in run_result.outcomes if outcome.status == "graded"), None)
    result.failed = graded.reason if graded else ""  # a note of the run (a limit reached, no feedback)
    result.unchecked = list(graded.unchecked) if graded else []
    with gradebook(default_db_url(scratch)) as book:
        result.grades = read_assignment(book, name, source_order(scratch / "source", name), ungraded=True)
    result.feedback = sorted((scratch / "feedback" / STUDENT / name).glob("*.html"))
    result.failed_cells = failed_cells(scratch, name)
    return result


def failed_cells(scratch: Path, name: str) -> dict[str, str]:
    """The test cells that failed, 0-point ones included (a score cannot tell an ungraded prediction written from
    one missing), each with why: the trusted verdicts' messages, else the errors in the graded notebook."""
    from lrcourse.grading.reports.results import notebook_failures, read_verdicts

    verdicts = read_verdicts(scratch, STUDENT, name)
    if verdicts is None:
        return notebook_failures(scratch, STUDENT, name)
    # the detail, not only its first line: a message that is a heading ("... raised NotImplementedError:") says why on
    # the next line, which short_message joins to it (as the class report's student_failures reads it)
    found = {
        cell: verdict.get("message") and (verdict.get("detail") or verdict.get("message"))
        for cell, verdict in (verdicts.get("cells") or {}).items()
    }
    return {cell: message if isinstance(message, str) else "" for cell, message in found.items() if message}


def say(text: str) -> None:
    print(text, flush=True)


def check(names: list[str], sandboxed: bool = True, scratch: Path = SCRATCH) -> int:
    """Grade the learner's copy of `names`, printing each chapter as it ends and the total; 1 if any chapter
    could not be graded, was graded without feedback or only in part, 2 if the workspace lacks one."""
    from lrcourse.build import generate_release
    from lrcourse.grading.autograde.grade import WorkerPool, grade_class
    from lrcourse.grading.course import default_db_url

    missing = [name for name in names if not (workspace() / name).is_dir()]
    if missing:
        print(
            f"lrcourse check: no {', '.join(missing)} in {workspace()}: `make lab` or `make check` makes it",
            file=sys.stderr,
        )
        return 2
    start = time.monotonic()
    say(f"Checking {len(names)} chapter(s) of {workspace()}: preparing a copy in {_shown(scratch, ROOT)} ...")
    prepare(scratch, names, workspace())
    generate_release(scratch, names)
    say(f"  ready ({time.monotonic() - start:.0f} s)")
    results = []
    with closing(WorkerPool(scratch.resolve(), default_db_url(scratch.resolve()), sandboxed)) as pool:  # one, warm
        for index, name in enumerate(names, 1):
            starting = "starting the grader's sandboxes, then grading" if index == 1 else "grading"
            say(f"\n[{index}/{len(names)}] {name}: {starting} ...")
            run_result = grade_class(
                scratch, name, workers=1, force=True, progress=False, sandboxed=sandboxed, pool=pool
            )
            results.append(read_chapter(scratch, name, run_result))
            say(f"[{index}/{len(names)}] {name}: done in {run_result.seconds:.0f} s")
            say("\n".join(chapter_lines(results[-1])))
    say("")
    say("\n".join(total_lines(results, time.monotonic() - start)))
    # a chapter graded without feedback (a dead kernel) or in part (out of time) fails the check too, as
    # total_lines says
    return 0 if all(result.complete for result in results) else 1
