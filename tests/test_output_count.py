"""The output caps' count of outputs (`c.Sandbox.cell_outputs`, `notebook_outputs`): tiny outputs pass the byte
caps by the tens of thousands, and every page formgrader renders copies and validates each of them many times.

A submission displaying 50,000 tiny outputs is graded by `lrcourse grade` with full marks next to an honest
classmate, keeping at most the caps' outputs and one note a cell that counts what was dropped; the same cells
without the count caps keep all their outputs (the control); the solutions stay far below the caps.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from lrcourse.cells import is_test
from lrcourse.grading.autograde.output_caps import CappedExecute
from lrcourse.grading.course import course_config
from lrcourse.grading.sandbox.limits import Limits

from support import hostile
from support.capped_kernel import BoundedKernelManager
from support.course import NOTEBOOK, make_course, scores, submit
from support.gradedclass import lrcourse
from support.paths import ROOT

PER_CELL = 5_000  # displays a flood cell makes: a few seconds, well within a cell's timeout
# Paced (a pause every 100 displays, and one before the cell ends) for a grader on a busy machine: what it has not
# read when ZeroMQ's queues are full, the kernel's PUB socket drops, the cell's last status among them, and a cell
# whose end does not arrive is cut at the IOPub timeout (its note says so: test_output_display_floods.py), before the
# count this test checks.
FLOOD = (
    "import time\nfrom IPython.display import display\n"
    f"for i in range({PER_CELL}):\n    display(i)\n    if i % 100 == 99:\n        time.sleep(0.02)\ntime.sleep(2)\n"
)
# 50,000 outputs of about 120 bytes (600 kB a cell, 6 MB in all): the byte caps (1 MB a cell, 8 MB a notebook)
# would keep every one, so the count caps alone bound them. At load 8, 24,075 of 30,000 reached the grader (ZeroMQ
# dropped a fifth; of 50,000 at load 10, 47,765): the 20,000 the test asks for arrive unless three fifths are lost
FLOOD_CELLS = 10
CELL_OUTPUTS, NOTEBOOK_OUTPUTS = Limits().cell_outputs, Limits().notebook_outputs  # the defaults
DROPPED = re.compile(r"the grader keeps at most (\d+) outputs per (cell|notebook); (\d+) more were not kept")


def is_note(output) -> bool:
    return output.get("output_type") == "stream" and "[output truncated after" in output.get("text", "")


def floods(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source == FLOOD]


def dropped(cell) -> int:
    """Outputs a cell's note says were dropped past the count caps (0 without one)."""
    found = [DROPPED.search(output.text) for output in cell.outputs if is_note(output)]
    return sum(int(match[3]) for match in found if match)


def test_the_solutions_stay_far_below_the_count_caps():
    """The caps' margin over an honest chapter: at least ten times the most outputs any solution holds."""
    counts = {}
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        counts[path.parent.name] = [len(cell.get("outputs", [])) for cell in cells]
    assert len(counts) == len(NOTEBOOK) and all(sum(cells) > 10 for cells in counts.values()), counts
    assert 10 * max(max(cells) for cells in counts.values()) <= CELL_OUTPUTS, counts
    assert 10 * max(sum(cells) for cells in counts.values()) <= NOTEBOOK_OUTPUTS, counts


@pytest.mark.slow
@pytest.mark.parametrize("capped", [True, False], ids=["capped", "control-without-count-caps"])
def test_tiny_outputs_pass_the_byte_caps_and_stop_at_the_count_caps(tmp_path, capped):
    """Two flood cells and a print under the course's byte caps (nbgrader_config.py): without the count caps every
    output is kept; with them (the notebook's lowered to 600, so that two cells reach both caps), each cell keeps
    what the caps leave and its note counts the rest, exactly."""
    config = Config()
    config.Sandbox.cell_output_kb, config.Sandbox.notebook_output_kb = 1024, 8192  # as nbgrader_config.py
    if capped:
        config.Sandbox.notebook_outputs = CELL_OUTPUTS + 100
    else:
        config.Sandbox.cell_outputs = config.Sandbox.notebook_outputs = 10**9
    notebook = new_notebook(cells=[new_code_cell(FLOOD), new_code_cell(FLOOD), new_code_cell("print('after')")])
    manager = {"kernel_name": "python3", "kernel_manager_class": BoundedKernelManager}
    # the grader may read the flood more slowly than the kernel makes it: time to read all of it, under any load
    run = CappedExecute(config=config, **manager, timeout=600, iopub_timeout=600)
    run.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    kept = [[output for output in cell.outputs if not is_note(output)] for cell in notebook.cells]
    assert {output.output_type for cell in kept[:2] for output in cell} == {"display_data"}
    if not capped:
        assert [len(cell) for cell in kept] == [PER_CELL, PER_CELL, 1] and not any(map(dropped, notebook.cells))
        return
    assert [len(cell) for cell in kept] == [CELL_OUTPUTS, 100, 0]
    assert [dropped(cell) for cell in notebook.cells] == [PER_CELL - CELL_OUTPUTS, PER_CELL - 100, 1]
    assert all(
        is_note(cell.outputs[-1]) and len(cell.outputs) == len(held) + 1 for cell, held in zip(notebook.cells, kept)
    )
    assert [DROPPED.search(cell.outputs[-1].text).group(1, 2) for cell in notebook.cells] == [
        (str(CELL_OUTPUTS), "cell"),
        (str(CELL_OUTPUTS + 100), "notebook"),
        (str(CELL_OUTPUTS + 100), "notebook"),
    ]
    assert "after 0 outputs in this cell" in notebook.cells[2].outputs[-1].text


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "control-defaults"])
def test_count_caps_set_in_the_courses_nbgrader_config_are_the_ones_applied(tmp_path, configured):
    """`c.Sandbox.cell_outputs` and `notebook_outputs` in a course's nbgrader_config.py, read as `lrcourse grade`
    reads it (`course_config`): two cells of 10 displays keep 3 and then 2 (the notebook's 5), each note naming the
    cap that stopped it. Control: the same cells under the defaults keep all 20, no note."""
    settings = "c.Sandbox.cell_outputs = 3\nc.Sandbox.notebook_outputs = 5\n" if configured else ""
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n" + settings)
    config = course_config(tmp_path, "sqlite://")
    ten = "from IPython.display import display\nfor i in range(10):\n    display(i)"
    notebook = new_notebook(cells=[new_code_cell(ten), new_code_cell(ten)])
    run = CappedExecute(config=config, kernel_name="python3", kernel_manager_class=BoundedKernelManager)
    run.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    kept = [[output for output in cell.outputs if not is_note(output)] for cell in notebook.cells]
    if not configured:
        assert [len(cell) for cell in kept] == [10, 10] and not any(map(dropped, notebook.cells))
        return
    assert [len(cell) for cell in kept] == [3, 2] and [dropped(cell) for cell in notebook.cells] == [7, 8]
    assert [DROPPED.search(cell.outputs[-1].text).group(1, 2) for cell in notebook.cells] == [
        ("3", "cell"),
        ("5", "notebook"),
    ]


@pytest.mark.parametrize("value", [0, -1, 2.5, "many", True, None])
def test_a_count_cap_that_is_not_a_whole_number_of_at_least_one_is_refused_by_name(value):
    config = Config()
    config.Sandbox.notebook_outputs = value
    with pytest.raises(ValueError) as refused:
        CappedExecute(config=config, kernel_name="python3").preprocess(new_notebook(), {})
    assert str(refused.value) == f"c.Sandbox.notebook_outputs must be a whole number of at least 1, not {value!r}"


@pytest.fixture(scope="module")
def flooded_class(tmp_path_factory):
    """Chapter 2 graded by `lrcourse grade`: an honest student and one whose correct answers are followed by
    FLOOD_CELLS flood cells."""
    course = make_course(tmp_path_factory.mktemp("count"), [hostile.CHAPTER])
    with open(course / "nbgrader_config.py", "a") as config:
        # Time enough to read the whole flood however busy the machine: the test is about what is kept. (With
        # nbgrader's 4 s, a flood the grader reads more slowly than the kernel makes it is cut at the IOPub timeout,
        # with a note, before the count this test checks.)
        config.write("\nc.Execute.timeout = c.Execute.iopub_timeout = 120\n")
        config.write("c.Sandbox.wall_seconds, c.Sandbox.student_seconds = 1200, 1500\n")
    submit(course, "honest", hostile.CHAPTER, hostile.answers(hostile.CORRECT))
    path = submit(course, "display-flood", hostile.CHAPTER, hostile.answers(hostile.CORRECT))
    notebook = nbformat.read(path, as_version=4)
    at = next(i for i, cell in enumerate(notebook.cells) if cell.get("id") == hostile.ANSWER_CELL) + 1
    notebook.cells[at:at] = [new_code_cell(FLOOD) for _ in range(FLOOD_CELLS)]
    nbformat.write(notebook, path)
    # one worker grades both, one after the other (a second worker's start costs more than the student it takes)
    run = lrcourse(course, "grade", hostile.CHAPTER, "--workers", "1", timeout=3600)
    return course, run, scores(course, hostile.CHAPTER)


def autograded(course, student: str):
    return nbformat.read(course / "autograded" / student / hostile.CHAPTER / NOTEBOOK[hostile.CHAPTER], as_version=4)


@pytest.mark.slow
def test_a_flood_of_tiny_outputs_keeps_its_score_and_at_most_the_caps(flooded_class):
    course, run, graded = flooded_class
    full = sum(maximum for _, maximum in graded["honest"].values())
    for student in ("honest", "display-flood"):
        assert sum(score for score, _ in graded[student].values()) == full, (student, run.stdout, run.stderr[-3000:])
    notebook = autograded(course, "display-flood")
    # test cells hold the grader's own verdict in place of what the kernel printed (`verdict_files`)
    outputs = [cell.get("outputs", []) for cell in notebook.cells if not is_test(cell)]
    kept = [[output for output in cell if not is_note(output)] for cell in outputs]
    notes = [sum(map(is_note, cell)) for cell in outputs]
    assert max(notes) == 1 and max(len(cell) for cell in kept) <= CELL_OUTPUTS
    assert sum(map(len, kept)) == NOTEBOOK_OUTPUTS
    cells = floods(notebook)
    assert len(cells) == FLOOD_CELLS
    # each flood cell ends with its note, which counts what reached the grader past the caps: tens of thousands
    # (all of it, unless ZeroMQ dropped some of what a busy grader had not read yet)
    assert all(is_note(cell.outputs[-1]) for cell in cells)
    seen = sum(len(cell.outputs) - 1 for cell in cells) + sum(dropped(cell) for cell in cells)
    assert 20 * NOTEBOOK_OUTPUTS < seen <= FLOOD_CELLS * PER_CELL, seen
    first, last = DROPPED.search(cells[0].outputs[-1].text), DROPPED.search(cells[-1].outputs[-1].text)
    assert (first[1], first[2], last[1], last[2]) == (str(CELL_OUTPUTS), "cell", str(NOTEBOOK_OUTPUTS), "notebook")
    feedback = next((course / "feedback" / "display-flood").rglob("*.html")).read_text()
    assert first[0] in feedback and last[0] in feedback
    print(f"flood: {seen} of {FLOOD_CELLS * PER_CELL} displays reached the grader")


def kinds(outputs) -> list:
    """Each output's kind, consecutive text of one stream as one output (as the output caps keep it)."""
    found = []
    for output in outputs:
        kind = (output.output_type, output.get("name"))
        if not (kind[0] == "stream" and found and found[-1] == kind):
            found.append(kind)
    return found


@pytest.mark.slow
def test_an_honest_classmate_keeps_every_output(flooded_class):
    """No note, and every output of the instructor's solution (solutions/), cell by cell."""
    course, _, _ = flooded_class
    notebook = autograded(course, "honest")
    solution = nbformat.read(ROOT / "solutions" / hostile.CHAPTER / NOTEBOOK[hostile.CHAPTER], as_version=4)
    assert not any(is_note(output) for cell in notebook.cells for output in cell.get("outputs", []))
    graded = {cell.id: kinds(cell.get("outputs", [])) for cell in notebook.cells}
    assert graded == {cell.id: kinds(cell.get("outputs", [])) for cell in solution.cells}
    assert sum(map(len, graded.values())) > 20
