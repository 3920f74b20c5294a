"""What of `source/<chapter>/` a chapter ships: its one notebook, nothing else.

nbgrader copies every other file of that folder (but those its `CourseDirectory.ignore` names) into the release
(generate_assignment, into notebooks/<chapter>/, which students get) and into each graded student's folder
(autograde, into autograded/<student>/<chapter>/, the folder the student's kernel runs in and whose files
formgrader serves); every other notebook there it releases to students word for word and adds to the gradebook
as a second notebook of the assignment (F10: a JupyterLab "Copy1", grading notes, a copy of the solutions). An
editor's backup (`practice.ipynb~`, `#practice.ipynb#`) is the instructor's notebook, solutions and hidden tests
included; a rubric is the instructor's. So the release refuses to run while such a file is there, naming it, and
grading copies none of them (nor any other file beside a notebook: `graded_files`). The chapter's notebook is the one named after the chapter without its number
(`07_practice` -> `practice.ipynb`), or the folder's only notebook if none is so named.
"""

from __future__ import annotations

from pathlib import Path


class StrayFiles(ValueError):
    """source/<chapter>/ holds files that are not the chapter's notebook."""


def chapter_notebook(course: Path, assignment: str) -> str | None:
    """The file name of source/<assignment>/'s own notebook: `<assignment without its NN_ prefix>.ipynb` if that
    file is there, else the folder's only `*.ipynb` file; None if neither (every notebook there is then stray)."""
    folder = course / "source" / assignment
    named = f"{assignment.split('_', 1)[-1]}.ipynb"
    if (folder / named).is_file():
        return named
    notebooks = [path.name for path in folder.glob("*.ipynb")]
    return notebooks[0] if len(notebooks) == 1 and (folder / notebooks[0]).is_file() else None


def configured_ignore(course: Path, config=None) -> list[str]:
    """The `CourseDirectory.ignore` patterns nbgrader applies in `course`: `config`'s (autograde's, loaded
    already) or else the course's nbgrader_config.py's, nbgrader's default where neither sets them."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    if config is None and (course / "nbgrader_config.py").is_file():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    return list(CourseDirectory(config=config).ignore)


def stray_files(course: Path, assignment: str, config=None) -> list[str]:
    """The files of source/<assignment>/ nbgrader would copy, release or grade besides the chapter's notebook,
    relative to that folder: other notebooks included, and a file named like one that is not a notebook."""
    from nbgrader.utils import find_all_files

    folder = course / "source" / assignment
    found = find_all_files(str(folder), configured_ignore(course, config))
    own = chapter_notebook(course, assignment)
    return sorted(name for path in found if (name := Path(path).relative_to(folder).as_posix()) != own)


def refuse_stray_files(course: Path, assignments: list[str]) -> None:
    """Raise StrayFiles, naming each file, if a chapter's source folder holds anything but its notebook."""
    found = [f"source/{name}/{path}" for name in assignments for path in stray_files(course, name)]
    if found:
        raise StrayFiles(
            f"{', '.join(found)}: only a chapter's own notebook (source/<NN_name>/<name>.ipynb) may be in "
            "source/<chapter>/; nbgrader would copy any other file (an editor's backup or a copy of the notebook "
            "holds the solutions and hidden tests) into the students' release and into every graded student's "
            "folder, and add another notebook to the gradebook. Move each out of source/ and run again."
        )


def leave_out_of_grading(config, course: Path, assignment: str) -> None:
    """Make autograde copy none of source/<assignment>/'s stray files into a student's folder (the student's
    own file of the same name, if any, stays: it is the student's)."""
    excluded = dict(config.Autograde.get("exclude_overwriting", {}))
    excluded[assignment] = stray_files(course, assignment, config)
    config.Autograde.exclude_overwriting = excluded
