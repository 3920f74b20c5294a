"""The example class for the instructor walkthrough (`lrcourse demo`).

`examples/class/<assignment>/` holds one file per student: `<student>.py` holds the student's answers, each
section for the exercise cell named on its first line (`# cell: <grade_id>`), pasted into the released notebook;
`<student>.ipynb` is submitted as it is (a malformed notebook, for instance): those are the failures the demo
expects. The demo (`grade_example_class`) grades a copy of the class in a scratch course, `build/demo/`: its
release is generated there from `source/`, so neither `notebooks/` nor a learner's workspace is read or written,
and the submissions are the committed examples pasted into that fresh release.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "class"
DEMO = ROOT / "build" / "demo"


def submit_example_class(course: Path, examples: Path, releases: Path | None = None) -> list[str]:
    """Write every example student's submission into course/submitted/, each pasted into the release in
    `releases` (default: course/notebooks/); return the assignments."""
    assignments = []
    for folder in sorted(p for p in examples.iterdir() if p.is_dir()):
        assignment = folder.name
        release = next(((releases or course / "notebooks") / assignment).glob("*.ipynb"))
        for answer in sorted(folder.iterdir()):
            target = course / "submitted" / answer.stem / assignment / release.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if answer.suffix == ".ipynb":
                shutil.copy(answer, target)
            elif answer.suffix == ".py":
                nbformat.write(_with_answer(release, answer.read_text()), target)
        assignments.append(assignment)
    return assignments


def _with_answer(release: Path, text: str) -> nbformat.NotebookNode:
    """The released notebook with each `# cell: <grade_id>` section of `text` pasted into that cell."""
    notebook = nbformat.read(release, as_version=4)
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("# cell:"):
            current = line.removeprefix("# cell:").strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    for cell_id, lines in sections.items():
        cells = [cell for cell in notebook.cells if cell.get("id") == cell_id]
        if not cells:
            raise ValueError(f"{release.name} has no cell {cell_id!r}")
        cells[0].source = "\n".join(lines).strip() + "\n"
    return notebook


def demo_course(assignments: list[str]) -> Path:
    """A scratch course in build/demo/ with the assignments' source and a release generated there."""
    from lrcourse.build import generate_release

    shutil.rmtree(DEMO, ignore_errors=True)
    for assignment in assignments:
        shutil.copytree(ROOT / "source" / assignment, DEMO / "source" / assignment)
    (DEMO / "nbgrader_config.py").write_text(
        (ROOT / "nbgrader_config.py").read_text() + '\nc.CourseDirectory.release_directory = "release"\n'
    )
    generate_release(DEMO, assignments)
    return DEMO


def expected_failures(examples: Path, assignment: str) -> set[str]:
    """The students submitted as a notebook file as it is: malformed on purpose."""
    return {path.stem for path in (examples / assignment).glob("*.ipynb")}


def unexpected(result, course: Path, expected: set[str]) -> list[str]:
    """What the demo must not hide: a failure it does not expect, or a graded student without feedback
    (their kernel died, so the scores stand with no feedback and no reason)."""
    problems = [
        f"{o.student}: failed: {o.reason}"
        for o in result.outcomes
        if o.status == "failed" and o.student not in expected
    ]
    problems += [
        f"{o.student}: graded without feedback ({o.reason or 'no reason given'})"
        for o in result.outcomes
        if o.status == "graded" and not any((course / "feedback" / o.student / result.assignment).glob("*.html"))
    ]
    problems += [
        f"{o.student}: graded in part, the time budget ran out ({o.reason})"
        for o in result.outcomes
        if o.status == "graded" and getattr(o, "unchecked", None)
    ]
    return problems


def write_class_report(course: Path, assignment: str) -> Path:
    """The class report of `assignment` (reports/<assignment>.html), as `lrcourse grade` writes it after grading."""
    from lrcourse.grading.course import default_db_url
    from lrcourse.grading.reports.class_report import write_chapter_report
    from lrcourse.grading.reports.results import read_gradebook

    book = read_gradebook(course, default_db_url(course), [assignment])
    return write_chapter_report(course, book.assignment(assignment))


def grade_example_class(workers: int, sandboxed: bool) -> int:
    """`lrcourse demo`: submit and grade a copy of the example class, writing each chapter's class report;
    non-zero if anything unexpected failed."""
    from lrcourse.grading.autograde.grade import grade_class
    from lrcourse.grading.outcomes import summary

    assignments = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    course = demo_course(assignments)
    submit_example_class(course, EXAMPLES, course / "release")
    problems = []
    for assignment in assignments:
        result = grade_class(course, assignment, workers=workers, force=True, sandboxed=sandboxed)
        print(summary(result))
        problems += unexpected(result, course, expected_failures(EXAMPLES, assignment))
        try:
            print(f"class report: {write_class_report(course, assignment)}")
        except Exception as error:  # the grades are written; a report that fails must not pass unseen
            problems.append(f"the class report of {assignment} failed: {type(error).__name__}: {error}")
    print(
        f"\nThe demo course is {course}: autograded/, feedback/, grades.csv and reports/ there; "
        f"`lrcourse export --course {course.relative_to(ROOT)} --roster examples/canvas_roster.csv` exports it."
    )
    if problems:
        print(
            "The demo did NOT grade as it should:\n  "
            + "\n  ".join(problems)
            + "\nIf every student is listed, no kernel could start: see `lrcourse grade`'s sandbox requirements."
        )
        return 1
    print(
        f"Expected failures only: {', '.join(sorted(set().union(*(expected_failures(EXAMPLES, a) for a in assignments))))}"
        " (a malformed notebook, on purpose)."
    )
    return 0
