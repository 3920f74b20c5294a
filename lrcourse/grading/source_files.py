"""What of `source/<chapter>/` a chapter ships: its notebooks, nothing else.

nbgrader copies every other file of that folder (but those its `CourseDirectory.ignore` names) into the release
(generate_assignment, into notebooks/<chapter>/, which students get) and into each graded student's folder
(autograde, into autograded/<student>/<chapter>/, the folder the student's kernel runs in and whose files
formgrader serves). An editor's backup (`practice.ipynb~`, `#practice.ipynb#`) is the instructor's notebook,
solutions and hidden tests included; a rubric is the instructor's. So the release refuses to run while such a
file is there, naming it, and grading copies none of them.
"""

from __future__ import annotations

from pathlib import Path


class StrayFiles(ValueError):
    """source/<chapter>/ holds files that are not the chapter's notebooks."""


def stray_files(course: Path, assignment: str) -> list[str]:
    """The files of source/<assignment>/ nbgrader would copy besides its notebooks, relative to that folder."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import find_all_files

    folder = course / "source" / assignment
    ignored = CourseDirectory.class_traits()["ignore"].default() + ["*.ipynb"]  # nbgrader's own rule
    return sorted(Path(path).relative_to(folder).as_posix() for path in find_all_files(str(folder), ignored))


def refuse_stray_files(course: Path, assignments: list[str]) -> None:
    """Raise StrayFiles, naming each file, if a chapter's source folder holds anything but its notebooks."""
    found = [f"source/{name}/{path}" for name in assignments for path in stray_files(course, name)]
    if found:
        raise StrayFiles(
            f"{', '.join(found)}: only a chapter's notebooks may be in source/<chapter>/; nbgrader would copy "
            "any other file (an editor's backup holds the solutions and hidden tests) into the students' release "
            "and into every graded student's folder. Move each out of source/ and run again."
        )


def leave_out_of_grading(config, course: Path, assignment: str) -> None:
    """Make autograde copy none of source/<assignment>/'s stray files into a student's folder (the student's
    own file of the same name, if any, stays: it is the student's)."""
    excluded = dict(config.Autograde.get("exclude_overwriting", {}))
    excluded[assignment] = stray_files(course, assignment)
    config.Autograde.exclude_overwriting = excluded
