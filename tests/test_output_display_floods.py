"""Two display floods that once cost a student the feedback (r20e N3): `display-id-amplify` (1,000 displays sharing
one display id, then one 900 kB update of that id) and `update-flood` (one display updated 1,500 times with
400 kB each, 600 MB through updates). Both ended the notebook's run at nbclient's IOPub timeout ("There was an error
processing assignment", no feedback): the first for the grader's own work (each display measured again every
other display of its id: a few seconds a cell), the second for a kernel that sends faster than the grader reads
(the cell's end arrives late, or ZeroMQ drops it). Now each keeps the caps' output with the note the student sees,
and the run goes on (`output_caps`).

The shapes run here under `CappedExecute` with the course's configuration (its 4 s IOPub wait), and graded by
`lrcourse grade` (sandboxed) beside an honest classmate.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lrcourse.grading.autograde.output_caps import CappedExecute
from lrcourse.grading.course import course_config

from support import hostile
from support.capped_kernel import BoundedKernelManager
from support.course import NOTEBOOK, make_course, scores, submit
from support.gradedclass import lrcourse
from support.paths import ROOT

AMPLIFY = (
    "from IPython.display import HTML, display\nfor _ in range(1000):\n    display(HTML('x'), display_id='d')\n"
    "display(HTML('y' * 900_000), display_id='d', update=True)\nprint('AFTER-AMPLIFY')"
)
UPDATES = (
    "from IPython.display import HTML, display\nh = display(HTML('start'), display_id=True)\n"
    "for i in range(1500):\n    h.update(HTML(str(i % 10) * 400_000))\nprint('AFTER-UPDATES')"
)
SHAPES = {"display-id-amplify": AMPLIFY, "update-flood": UPDATES}
COUNT_NOTE = "[output truncated after 200 outputs in this cell: the grader keeps at most 200 outputs per cell"
UPDATE_NOTE = "[a display update was not kept: the grader keeps at most 1024 KB of output per cell"
LATE_NOTE = "still arriving 4 s after the cell ended"


def run_cells(cells: list[str], tmp_path, **settings):
    """The cells run as `lrcourse grade` runs a notebook: CappedExecute under the course's nbgrader_config.py."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    config = course_config(tmp_path, "sqlite://")
    run = CappedExecute(config=config, kernel_manager_class=BoundedKernelManager, **settings)
    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    run.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    return notebook


def texts(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs)


def test_displays_sharing_an_id_keep_the_count_cap_and_say_the_update_was_not_kept(tmp_path):
    """200 displays kept, the note counting the rest and saying the 900 kB update (200 times 900 kB) was refused;
    the next cell runs and keeps its output. (A long IOPub wait: what is kept does not depend on the machine's load.)"""
    notebook = run_cells([AMPLIFY, "print('after')"], tmp_path, iopub_timeout=120)
    flood, after = notebook.cells
    displays = [output for output in flood.outputs if output.output_type == "display_data"]
    assert len(displays) == 200 and all(output.data["text/html"] == "x" for output in displays)
    assert COUNT_NOTE in texts(flood) and UPDATE_NOTE in texts(flood)
    assert texts(after) == "after\n"


def test_a_display_updated_past_what_the_grader_reads_keeps_a_state_and_the_run_goes_on(tmp_path):
    """600 MB of updates: the display holds one of them (the last the grader read), the cell says so if its end
    came too late (a wait of 1 s: nbclient's IOPub timeout ended the whole run then, no feedback), the run goes on."""
    notebook = run_cells([UPDATES, "print('after')"], tmp_path, iopub_timeout=1)
    flood = notebook.cells[0]
    (display,) = [output for output in flood.outputs if output.output_type == "display_data"]
    assert len(set(display.data["text/html"])) == 1 and len(display.data["text/html"]) == 400_000
    assert LATE_NOTE.replace("4 s", "1 s") in texts(flood) or "AFTER-UPDATES" in texts(flood), texts(flood)


def test_an_honest_display_update_still_updates(tmp_path):
    """A progress display updated in place, in its cell and from a later one: its last state, no note."""
    first = "from IPython.display import display\nh = display('0 %', display_id=True)\nfor i in range(10):\n"
    notebook = run_cells([first + "    h.update(f'{i * 10} %')", "h.update('done')"], tmp_path)
    assert [output.data["text/plain"] for output in notebook.cells[0].outputs] == ["'done'"]
    assert not texts(notebook.cells[0]) and not notebook.cells[1].outputs


@pytest.fixture(scope="module")
def flooded_class(tmp_path_factory):
    """Chapter 2 graded by `lrcourse grade`: an honest student, and one of each shape, whose correct answer is
    followed by the flood cell."""
    course = make_course(tmp_path_factory.mktemp("display-floods"), [hostile.CHAPTER])
    submit(course, "honest", hostile.CHAPTER, hostile.answers(hostile.CORRECT))
    for student, source in SHAPES.items():
        path = submit(course, student, hostile.CHAPTER, hostile.answers(hostile.CORRECT))
        notebook = nbformat.read(path, as_version=4)
        at = next(i for i, cell in enumerate(notebook.cells) if cell.get("id") == hostile.ANSWER_CELL) + 1
        notebook.cells.insert(at, new_code_cell(source))
        nbformat.write(notebook, path)
    run = lrcourse(course, "grade", hostile.CHAPTER, "--workers", "1", timeout=1800)
    return course, run, scores(course, hostile.CHAPTER)


@pytest.mark.slow
def test_both_shapes_keep_full_marks_and_get_feedback_with_the_note(flooded_class):
    course, run, graded = flooded_class
    full = sum(maximum for _, maximum in graded["honest"].values())
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("  ")}
    for student in ("honest", *SHAPES):
        assert sum(score for score, _ in graded[student].values()) == full, (student, run.stdout, run.stderr[-3000:])
        assert " graded " in lines[student] and "no feedback" not in lines[student], lines[student]
        assert "error processing" not in lines[student], lines[student]
    feedback = {
        student: next((course / "feedback" / student).rglob("*.html")).read_text() for student in ("honest", *SHAPES)
    }
    assert "output truncated" not in feedback["honest"] and "display update" not in feedback["honest"]
    # the update refused, or (on a busy machine) the cell's output still arriving when the cell was cut
    assert COUNT_NOTE in feedback["display-id-amplify"]
    assert UPDATE_NOTE in feedback["display-id-amplify"] or LATE_NOTE in feedback["display-id-amplify"]
    graded_notebook = course / "autograded" / "update-flood" / hostile.CHAPTER / NOTEBOOK[hostile.CHAPTER]
    flood = next(cell for cell in nbformat.read(graded_notebook, as_version=4).cells if cell.source == UPDATES)
    assert LATE_NOTE in texts(flood) or "AFTER-UPDATES" in texts(flood), texts(flood)
    assert (LATE_NOTE in texts(flood)) == (LATE_NOTE in feedback["update-flood"])
    for student in SHAPES:
        written = [
            *(course / "autograded" / student).rglob("*.ipynb"),
            *(course / "feedback" / student).rglob("*.html"),
        ]
        assert all(path.stat().st_size < 3 * 2**20 for path in written), {p.name: p.stat().st_size for p in written}
