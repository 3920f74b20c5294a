"""The start page of the learner's lab (`START.md` in the workspace): the chapters with their learning goals,
time and the learner's progress, course updates waiting, and the worked solutions behind a warning.

    python -m lrcourse.start_page WORKSPACE             # `make lab` writes it
    python -m lrcourse.start_page WORKSPACE --checked   # `make check`: keep its scores, then write it

Progress is read from the files: an exercise counts as answered when its answer cell differs from the release;
the scores are those `make check` left in its scratch gradebook (build/check/), kept in the workspace
(`SCORES`) right after that check, so that they belong to the workspace that was checked.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote

import nbformat

from lrcourse import cells
from lrcourse.gradebook_db import gradebook
from lrcourse.workspace import RELEASE, ROOT, SOLUTIONS_COPY, beside_path, given_answers, pending_updates

START = "START.md"
CHECKED = ROOT / "build" / "check"
SCORES = ".lrcourse-checked.json"


def first_markdown(notebook: nbformat.NotebookNode) -> str:
    return next(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def title(intro: str) -> str:
    return intro.splitlines()[0].lstrip("# ").strip()


def learning_goals(intro: str) -> list[str]:
    """The bullets under the chapter's "**Learning goals.**", each joined onto one line."""
    block = intro.split("**Learning goals.**", 1)[-1].split("\n\n", 1)[0]
    return [" ".join(item.split()) for item in re.split(r"\n- ", "\n" + block)[1:]]


def estimated_time(intro: str) -> str:
    found = re.search(r"Time: about (\d+ minutes)", intro)
    return found.group(1) if found else "not stated"


def answered(release: Path, mine: Path, given: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(answered, not yet) grade_ids, in notebook order: the answer cells of `mine` that differ from `given` (as the
    release the copy came from gave them; by default, as `release` gives them)."""
    given = given if given is not None else cells.answer_sources(nbformat.read(release, as_version=4).cells)
    written = cells.answer_sources(nbformat.read(mine, as_version=4).cells) if mine.exists() else given
    done = [name for name in given if written.get(name, given[name]).strip() != given[name].strip()]
    return done, [name for name in given if name not in done]


def checked_scores(checked: Path) -> dict[str, str]:
    """chapter -> the score `make check` just left in its scratch gradebook, as `lrcourse check` totals it (the
    autograded points; the written answers wait for a human), with the time of that check."""
    database = checked / "gradebook.db"
    if not database.exists():
        return {}
    from lrcourse.grading.reports.results import failed_students, read_assignment
    from lrcourse.self_check import STUDENT, checked_score

    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(database.stat().st_mtime))
    with gradebook(f"sqlite:///{database}") as book:
        graded = [read_assignment(book, assignment.name) for assignment in book.assignments]
    return {  # a chapter that could not be graded has no score, whatever its gradebook rows hold
        grades.name: f"{checked_score(grades)}, `make check` of {when}"
        for grades in graded
        if STUDENT in grades.scores and STUDENT not in failed_students(checked, grades.name)
    }


def keep_checked_scores(workspace: Path, checked: Path = CHECKED) -> None:
    """After `make check` (of one chapter or all): its scores join those of earlier checks, in the workspace."""
    path = workspace / SCORES
    scores = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**scores, **checked_scores(checked)}, indent=1, sort_keys=True) + "\n")


def last_checked(chapter: str, workspace: Path) -> str | None:
    path = workspace / SCORES
    return json.loads(path.read_text()).get(chapter) if path.exists() else None


def link(relative: Path) -> str:
    return quote(relative.as_posix())


def chapter_section(release: Path, workspace: Path) -> list[str]:
    relative = release.relative_to(release.parent.parent)
    intro = first_markdown(nbformat.read(release, as_version=4))
    done, todo = answered(release, workspace / relative, given_answers(workspace, relative))
    lines = [
        f"## [{title(intro)}]({link(relative)})",
        "",
        f"*About {estimated_time(intro)}.* After this chapter you can:",
        "",
    ]
    lines += [f"- {goal}" for goal in learning_goals(intro)]
    lines += [
        "",
        f"**Your progress:** {len(done)} of {len(done) + len(todo)} answers written"
        + (f" ({', '.join(done)})" if done else "")
        + ".",
    ]
    score = last_checked(relative.parent.name, workspace)
    lines += [f"Last checked score: {score}." if score else "Not checked yet: run `make check` in a terminal."]
    waiting = beside_path(workspace, relative)
    if waiting:
        shown = waiting.relative_to(workspace)
        lines += [
            "",
            f"**A course update changed this chapter.** You wrote in your copy, so it stays as it is (`make check` "
            f"grades it); the new release is beside it: [{shown}]({link(shown)}). To move to it, copy your answers "
            f"into it, then put it in place of `{relative.parent.name}/` (the README's *Course updates*).",
        ]
    return lines + [""]


def start_page(workspace: Path, release: Path = RELEASE) -> str:
    lines = [
        "# Learning-rate schedules in PyTorch",
        "",
        "Start here. Open a chapter, run its cells from the top (Shift+Enter), move the sliders, and write "
        "your answers where a cell says `# YOUR CODE HERE`. Your work is saved in this workspace, and no "
        "course command overwrites it. The checks under each exercise run as you go; **Validate** (the "
        "notebook toolbar) runs them all, and `make check` in a terminal grades your answers with the full "
        "hidden tests and updates the scores on this page.",
        "",
    ]
    if pending_updates(workspace):
        lines += [
            f"**Course updates waiting** for {', '.join(pending_updates(workspace))}: see the chapters below.",
            "",
        ]
    for notebook in sorted(release.glob("*/*.ipynb")):
        lines += chapter_section(notebook, workspace)
    lines += [
        "---",
        "",
        f"**Worked solutions.** The folder [{SOLUTIONS_COPY}]({link(Path(SOLUTIONS_COPY))}) holds "
        "every answer, with its outputs: a read-only copy of the course's `solutions/`, made again by every "
        "`make lab`. Opening it gives the exercises away: try them, and `make check`, first.",
        "",
    ]
    return "\n".join(lines)


def write_start_page(workspace: Path) -> Path:
    path = workspace / START
    path.write_text(start_page(workspace))
    return path


def main(argv: list[str]) -> int:
    workspace = Path(next((arg for arg in argv if not arg.startswith("--")), ROOT / "workspace")).resolve()
    if "--checked" in argv:
        keep_checked_scores(workspace)
    print(f"start page: {write_start_page(workspace)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
