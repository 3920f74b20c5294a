"""Issue 23 on a hub (R23y M1): the students install the wheel, the package alone, with no checkout of the course
beside it. The "Before you submit" check (`lrcourse.saved_check`) then takes the chapters' setup and context cells and
folder names from the facts shipped with the package (`lrcourse.chapter_facts`, `chapters.json`). Each test runs it
in a Python that imports a copy of `lrcourse/` alone (no source/, no notebooks/ beside it), as the wheel installs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from lrcourse import chapter_facts

from support.course import solution_answers
from support.paths import ROOT
from support.saved_cells import save_answer_cell

CHAPTER, NOTEBOOK = "01_learning_rate", "learning_rate.ipynb"
LARGEST = ("test_largest_stable_lr", "test_largest_stable_lr_directions")
# what the check says, run in the package's copy: `report` (saved_notebook_report) or `renamed`, of each path given
RUN = """
import json, sys
import lrcourse
from lrcourse.saved_check import renamed, saved_notebook_report
assert lrcourse.__file__.startswith(sys.argv[1]), lrcourse.__file__
what = saved_notebook_report if sys.argv[2] == "report" else renamed
print(json.dumps([what(path) for path in sys.argv[3:]]))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """A copy of the package alone, as the wheel installs it."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "lrcourse", site / "lrcourse", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def installed(package, what: str, *paths) -> list[list[str]]:
    env = {**os.environ, "PYTHONPATH": str(package)}
    run = subprocess.run(
        [sys.executable, "-c", RUN, str(package), what, *map(str, paths)],
        env=env,
        cwd=package,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def stale(package, tmp_path, chapter: str, edit):
    """A copy of the package whose shipped facts of `chapter` are a release's other than the course's: `edit(context)`
    changes its context cells, and the digest is theirs (a students' wheel built before a release changed them)."""
    site = tmp_path / "stale-site"
    shutil.copytree(package / "lrcourse", site / "lrcourse")
    path = site / "lrcourse" / "chapters.json"
    facts = json.loads(path.read_text(encoding="utf-8"))
    edit(facts[chapter]["context"])
    facts[chapter]["digest"] = chapter_facts.context_digest(facts[chapter]["context"])
    path.write_text(json.dumps(facts), encoding="utf-8")
    return site


def answered(folder, name: str = NOTEBOOK, setup=None, chapter: str = CHAPTER):
    """The chapter's release (chapter 1's) saved in `folder` as `name`, with the instructor's answers; `setup(cell)`
    edits its setup cell."""
    folder.mkdir()
    path = folder / name
    shutil.copy(ROOT / "notebooks" / chapter / f"{chapter.split('_', 1)[1]}.ipynb", path)
    for grade_id, text in solution_answers(chapter).items():
        save_answer_cell(path, grade_id, text)
    if setup:
        saved = nbformat.read(path, as_version=4)
        setup(next(cell for cell in saved.cells if cell.get("id") == "setup"))
        nbformat.write(saved, path)
    return path


def pasted_as_released_before(cell) -> None:
    """The setup cell pasted anew as a release before its metadata said it is one has it: a new id, metadata {}."""
    cell.id, cell.metadata = "pasted-anew", {}


def failed(lines: list[str]) -> list[str]:
    return [line.strip().split(":")[0] for line in lines if ": FAILED: " in line]


def test_on_the_wheel_an_import_added_to_the_setup_cell_fails_as_in_the_grade(package, tmp_path):
    """R23x M1 on the wheel: `import statistics` added to the saved setup cell and used in the answer passed 4 of 4
    there and scored 0; the chapter's setup cell now runs, as in the grade, and a line says why."""
    solution = solution_answers(CHAPTER)["largest_stable_lr"]
    assert "float(np.median(momenta))" in solution
    path = answered(tmp_path / CHAPTER, setup=lambda cell: setattr(cell, "source", cell.source + "\nimport statistics"))
    save_answer_cell(
        path, "largest_stable_lr", solution.replace("float(np.median(momenta))", "statistics.median(momenta)")
    )
    (lines,) = installed(package, "report", path)
    out = "\n".join(lines)
    assert lines[1].startswith("  Your saved notebook's setup cell is not the chapter's"), out
    assert failed(lines) == list(LARGEST), out
    assert "2 of 4 visible test cells pass" in out and "(the chapter's setup cells, then" in out, out


def test_on_the_wheel_a_setup_cell_pasted_anew_passes_honest_work(package, tmp_path):
    """R23x M2 on the wheel: an honest notebook whose setup cell was pasted back as a new cell (a new id, metadata {})
    failed 0 of 4 there and scored full marks; the chapter's setup cell now runs, found by the notebook's name in a
    copy of the chapter's folder."""
    path = answered(tmp_path / f"{CHAPTER}_v2", setup=pasted_as_released_before)
    (lines,) = installed(package, "report", path)
    out = "\n".join(lines)
    assert (
        "Your saved notebook has no setup cell of the chapter's (deleted, pasted back as a new cell, or your notebook is of an earlier release)"
        in out
    )
    assert failed(lines) == [] and "4 of 4 visible test cells pass" in out, out
    assert "(the chapter's setup cells, then" in out, out


def test_on_the_wheel_a_notebook_of_no_chapter_runs_its_own_setup_and_says_so(package, tmp_path):
    """Neither its folder nor its name is a chapter's: no chapter's cells are known, the saved ones run, and the
    count line says the grader replaces them. Its setup cell pasted anew (a new id) is still one: the chapter's
    setup cell says so in its metadata, which a pasted copy keeps (R23y M1's fix for R23x M2)."""
    from lrcourse.saved_check import SAVED_SETUP_RUN

    path = answered(tmp_path / "2026_notes", "ch1.ipynb", setup=lambda cell: setattr(cell, "id", "pasted-anew"))
    (lines,) = installed(package, "report", path)
    out = "\n".join(lines)
    assert failed(lines) == [] and f"({SAVED_SETUP_RUN}, then" in out, out


def test_on_the_wheel_only_a_chapters_own_folder_names_the_notebook_graded(package, tmp_path):
    """R23x M3 on the wheel: a copied folder (`01_learning_rate_v2/learning_rate.ipynb`) was told to rename its
    notebook to learning_rate_v2.ipynb, an unrelated one (`2026_notes/ch1.ipynb`) that notes.ipynb is graded; a
    notebook renamed in the chapter's own folder is still told."""
    copied, unrelated, own = (
        tmp_path / f"{CHAPTER}_v2" / NOTEBOOK,
        tmp_path / "2026_notes" / "ch1.ipynb",
        tmp_path / CHAPTER / "my_ch1.ipynb",
    )
    said = installed(package, "renamed", copied, unrelated, own)
    assert said[:2] == [[], []], said
    assert said[2][0].startswith(f"The grader grades {NOTEBOOK} only, and this folder has none: rename my_ch1"), said


def test_on_a_stale_wheel_honest_work_of_a_release_that_added_a_context_cell_passes(package, tmp_path):
    """R23z M1: the students' wheel predates the release that added chapter 5's data cell; the honest notebook failed
    three of four there (NameError: loss_fn) and scored full marks. Its digest is not the wheel's: its own setup and
    context cells run, and a line says the notebook is of another release (either may be the older)."""
    from lrcourse.saved_check import OTHER

    site = stale(package, tmp_path, "05_training", lambda context: context.pop())
    path = answered(tmp_path / "05_training", "training.ipynb", chapter="05_training")
    (lines,) = installed(site, "report", path)
    out = "\n".join(lines)
    assert OTHER in lines and "is not the chapter's" not in out and "no setup" not in out, out
    assert failed(lines) == [] and "4 of 4 visible test cells pass" in out, out


def test_on_a_stale_wheel_no_false_you_changed_line(package, tmp_path):
    """R23z M1: the wheel's chapter 1 setup cell has an import a later release removed; an answer using it, the setup
    cell untouched, was told "what you changed there is not in the grade" and passed 4 of 4, and scored 0 on two
    cells. Now the saved setup cell runs (the two fail, as in the grade), with the line of another release."""
    from lrcourse.saved_check import OTHER

    site = stale(
        package,
        tmp_path,
        CHAPTER,
        lambda context: context[0].update(source="import statistics\n" + context[0]["source"]),
    )
    path = answered(tmp_path / CHAPTER)
    solution = solution_answers(CHAPTER)["largest_stable_lr"]
    save_answer_cell(
        path, "largest_stable_lr", solution.replace("float(np.median(momenta))", "statistics.median(momenta)")
    )
    (lines,) = installed(site, "report", path)
    out = "\n".join(lines)
    assert OTHER in lines and "what you changed" not in out, out
    assert failed(lines) == list(LARGEST), out


def test_on_a_stale_wheel_a_setup_cell_that_fails_is_said_to_be_of_another_release(package, tmp_path):
    """R23a M2: a notebook of another release than the wheel's runs its own setup cells; one that fails there (it
    needs what the installed package lacks) was told "undo what you changed there", which the learner never did. Now
    the sentence says the notebook is of another release and to ask the instructor."""
    from lrcourse.setup_failure import OTHER_RELEASE

    site = stale(package, tmp_path, CHAPTER, lambda context: context[0].update(source="x = 1\n"))
    path = answered(
        tmp_path / CHAPTER, setup=lambda cell: cell.update(source="import nosuchmodule_xyz\n" + cell.source)
    )
    code = (
        "import lrcourse, sys\n"
        "from lrcourse.saved_check import NotChecked, saved_notebook_report\n"
        "assert lrcourse.__file__.startswith(sys.argv[1]), lrcourse.__file__\n"
        "try:\n    saved_notebook_report(sys.argv[2])\nexcept NotChecked as why:\n    print(why)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(site), str(path)],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=site,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    said = run.stdout
    assert "import nosuchmodule_xyz" in said and "ModuleNotFoundError" in said, said
    assert OTHER_RELEASE in said and "undo what you changed" not in said, said
