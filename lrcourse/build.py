"""Generate the folders that are made from `source/`, never edited by hand.

    python -m lrcourse.build notebooks   # student notebooks: nbgrader generate_assignment -> notebooks/, and the
                                         # chapters' facts the saved-notebook check ships -> lrcourse/chapters.json
    python -m lrcourse.build solutions   # worked answers: source notebooks executed -> solutions/

The tests call the same functions into a temporary folder and compare with what is committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from lrcourse.chapter_facts import context_digest, context_of, write_chapter_facts
from lrcourse.gradebook_db import gradebook
from lrcourse.grading.course import default_db_url
from lrcourse.grading.source_files import StrayFiles, chapter_notebook, refuse_stray_files

ROOT = Path(__file__).resolve().parent.parent
SECONDS_PER_CELL = 300


def chapters(root: Path = ROOT) -> list[str]:
    """The assignment names: one folder per chapter in source/."""
    return sorted(path.name for path in (root / "source").iterdir() if any(path.glob("*.ipynb")))


def source_notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "source").glob("*/*.ipynb"))


def tool_environment() -> dict:
    """The environment for nbgrader and kernels: the venv's bin first (nbgrader runs `alembic`)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def generate_release(course_dir: Path, assignments: list[str] | None = None, db_url: str | None = None) -> None:
    """Run `nbgrader generate_assignment` in `course_dir` for each chapter (into its notebooks/), recording
    the assignment, its cells and hidden tests in the gradebook (`db_url`, or the course's own); StrayFiles if a
    chapter's source folder holds anything but its notebooks."""
    database = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    assignments = assignments or chapters(course_dir)
    refuse_stray_files(course_dir, assignments)  # nbgrader would release an editor's backup of the notebook
    for name in assignments:
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force", "--log-level=WARN", *database],
            cwd=course_dir,
            env=tool_environment(),
            check=True,
        )


def ensure_released(course: Path, assignment: str, db_url: str | None = None) -> None:
    """Make sure the gradebook knows the assignment (its cells and hidden tests come from generate_assignment). As
    root in a course another account owns, what it made there (the release folder, the gradebook when there was
    none) is then that owner's, whose next grade and `generate_assignment --force` write them again (R20q M1); a
    link that stopped it is said on stderr."""
    from nbgrader.api import MissingEntry

    try:
        with gradebook(db_url or default_db_url(course)) as book:
            book.find_assignment(assignment)
    except MissingEntry:
        print(f"{assignment} is not in the gradebook yet: running nbgrader generate_assignment first", file=sys.stderr)
        try:
            generate_release(course, [assignment], db_url)
        finally:
            for note in give_release_to_course_owner(course, assignment, db_url):
                print(f"not given to the course's owner: {note}", file=sys.stderr)
    finally:
        for note in give_release_to_course_owner(course, None, db_url):
            print(f"not given to the course's owner: {note}", file=sys.stderr)


def give_release_to_course_owner(course: Path, assignment: str | None, db_url: str | None) -> list[str]:
    """As root in a course another account owns (`give_if_there`, never through a link): `assignment`'s release
    folder, or with None the course's own sqlite gradebook (and what a transaction left beside it) if the run
    uses it. The notes of what a link stopped."""
    from lrcourse.grading.course import course_config
    from lrcourse.grading.exchange.other_account import give_if_there, giving

    if not giving(course):
        return []
    if assignment is None:
        if db_url and db_url != default_db_url(course):
            return []
        paths = [course / f"gradebook.db{tail}" for tail in ("", "-journal", "-wal", "-shm")]
    else:
        release = course_config(course, db_url or default_db_url(course)).CourseDirectory.release_directory
        paths = [course / (release if isinstance(release, str) else "release") / assignment]
    return [note for note in (give_if_there(path, course) for path in paths) if note]


def execute(
    notebook: nbformat.NotebookNode, cwd: Path, allow_errors: bool = False, env: dict | None = None
) -> nbformat.NotebookNode:
    """Run every cell in a fresh python3 kernel (with `env` added to its environment), in place; return it."""
    client = NotebookClient(
        notebook,
        timeout=SECONDS_PER_CELL,
        kernel_name="python3",
        allow_errors=allow_errors,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env={**tool_environment(), **(env or {})})
    return notebook


def build_solutions(root: Path = ROOT, out: Path | None = None) -> list[Path]:
    """Execute each source notebook and write it, with its outputs, under solutions/."""
    out = out or root / "solutions"
    written = []
    for path in source_notebooks(root):
        notebook = execute(nbformat.read(path, as_version=4), cwd=path.parent)
        target = out / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        written.append(target)
    return written


def write_context_digests(root: Path = ROOT) -> list[Path]:
    """Write into each chapter's notebook of source/ (`source_files.chapter_notebook`, not a stray file) the digest of
    its setup and context cells (`metadata.lrcourse.context_digest`, `chapter_facts.context_digest`; cells and their
    ids kept), which generate_assignment carries into the release; the notebooks changed."""
    changed = []
    for chapter in chapters(root):
        name = chapter_notebook(root, chapter)
        if name is None:
            continue
        path = root / "source" / chapter / name
        notebook = nbformat.read(path, as_version=4)
        digest = context_digest(context_of(notebook.cells))
        if notebook.metadata.get("lrcourse", {}).get("context_digest") != digest:
            notebook.metadata.setdefault("lrcourse", {})["context_digest"] = digest
            nbformat.write(notebook, path)
            changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    what = argv[0] if argv else ""
    if what == "notebooks":
        try:
            refuse_stray_files(ROOT, chapters())  # before anything in source/ is written (a stray file refused)
            for path in write_context_digests(ROOT):
                print(f"wrote the context cells' digest into {path.relative_to(ROOT)}")
            generate_release(ROOT)
        except StrayFiles as error:
            print(f"refused: {error}", file=sys.stderr)
            return 1
        print(f"notebooks/ regenerated from source/ for {', '.join(chapters())}")
        print(f"wrote {write_chapter_facts(ROOT).relative_to(ROOT)}")
    elif what == "solutions":
        for path in build_solutions():
            print(f"wrote {path.relative_to(ROOT)}")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
