"""The points a chapter states are its nbgrader points (rv34 N2: chapter 3's intro states 10 + 5 + 5 + 4; nothing
kept it equal to the metadata). Where a chapter's title cell states points, each "(N points" it names adds up to the
points of its graded cells: those "graded by hand" to the written answers', the others to the test cells'. Every
exercise heading's "(N points)" is the sum of the graded cells under it, up to the next `## ` heading."""

import re

import nbformat
import pytest

from support.paths import ROOT

SOURCES = sorted((ROOT / "source").glob("*/*.ipynb"))
STATED = re.compile(r"\((\d+) points?\b([^()]*(?:\([^()]*\)[^()]*)*)\)")


def graded(cell) -> int:
    nbgrader = cell.metadata.get("nbgrader", {})
    return nbgrader.get("points", 0) if nbgrader.get("grade") else 0


def by_hand(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution")) and graded(cell) > 0


def intro_mismatches(notebook) -> list[str]:
    """What the title cell states against the metadata: [] if it states no points, or states them right."""
    stated = {"by hand": 0, "by the tests": 0}
    for points, rest in STATED.findall(" ".join(notebook.cells[0].source.split())):
        stated["by hand" if "graded by hand" in rest else "by the tests"] += int(points)
    if not any(stated.values()):
        return []
    actual = {
        "by hand": sum(graded(cell) for cell in notebook.cells if by_hand(cell)),
        "by the tests": sum(graded(cell) for cell in notebook.cells if not by_hand(cell)),
    }
    return [f"{kind}: intro {stated[kind]}, metadata {actual[kind]}" for kind in stated if stated[kind] != actual[kind]]


def heading_mismatches(notebook) -> list[str]:
    """Each `## Exercise ... (N points)` heading against the graded cells of its section."""
    sections, heading = {}, None
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            heading = cell.source.splitlines()[0]
            sections[heading] = 0
        elif heading is not None:
            sections[heading] += graded(cell)
    wrong = []
    for heading, points in sections.items():
        stated = re.search(r"^## Exercise .*\((\d+) points?\)\s*$", heading)
        if stated and int(stated.group(1)) != points:
            wrong.append(f"{heading}: its cells {points}")
    return wrong


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_the_points_a_chapter_states_are_its_metadata_s(path):
    notebook = nbformat.read(path, as_version=4)
    assert intro_mismatches(notebook) == []
    assert heading_mismatches(notebook) == []


def test_chapters_1_to_4_state_their_points_and_a_wrong_intro_or_heading_fails():
    for path in SOURCES[:4]:
        notebook = nbformat.read(path, as_version=4)
        assert STATED.search(notebook.cells[0].source), f"{path.parent.name}: the intro states no points"
    notebook = nbformat.read(SOURCES[2], as_version=4)
    title = notebook.cells[0]
    for old, new in [("(10 points", "(11 points"), ("(4 points, graded by", "(5 points, graded by")]:
        source = title.source
        title.source = source.replace(old, new, 1)
        assert title.source != source and intro_mismatches(notebook), new
        title.source = source
    heading = next(cell for cell in notebook.cells if cell.source.startswith("## Exercise 3.5"))
    heading.source = heading.source.replace("(5 points)", "(6 points)", 1)
    assert heading_mismatches(notebook)


# Each split an intro states inside its "(N points: part, k; part, k)": the graded cells each part names.
SPLIT = re.compile(r"\((\d+) points?: ((?:[^();]+, \d+; )+[^();]+, \d+)\)")  # two parts or more
SPLIT_CELLS = {
    "the largest stable rate": "test_largest_stable_lr",
    "the rate for a noise floor": "test_rate_for_noise_floor",
    "your own `StepLR`": "test_my_step_lr_",
    "reading a log": "test_inferred_",
}


def split_mismatches(notebook) -> list[str]:
    """Each part of a split the title cell states against the points of the test cells it names (their grade ids
    start with the part's prefix); a part this file does not know is a mismatch, so a new split cannot go unchecked."""
    points = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        for part, prefix in SPLIT_CELLS.items():
            points[part] = points.get(part, 0) + (graded(cell) if grade_id.startswith(prefix) else 0)
    wrong = []
    for total, parts in SPLIT.findall(" ".join(notebook.cells[0].source.split())):
        stated = [part.rsplit(", ", 1) for part in parts.split("; ")]
        for part, k in stated:
            if part not in SPLIT_CELLS or points[part] != int(k):
                wrong.append(f"{part}: stated {k}, its cells {points.get(part)}")
        if sum(int(k) for _, k in stated) != int(total):
            wrong.append(f"{parts}: the parts do not add up to {total}")
    return wrong


def test_each_split_an_intro_states_is_its_cells_points_and_a_wrong_split_fails():
    """rv14b N6: chapter 2 states 9 = 6 + 3 under one heading, chapter 1 two 3s inside its parenthesis; the totals
    alone would pass a wrong split."""
    splits = 0
    for path in SOURCES:
        notebook = nbformat.read(path, as_version=4)
        assert split_mismatches(notebook) == [], path.parent.name
        splits += len(SPLIT.findall(" ".join(notebook.cells[0].source.split())))
    assert splits == 2
    notebook = nbformat.read(SOURCES[1], as_version=4)
    title = notebook.cells[0]
    title.source = title.source.replace("`StepLR`, 6; reading a log,\n3)", "`StepLR`, 5; reading a log,\n4)", 1)
    assert "reading a log,\n4)" in title.source and len(split_mismatches(notebook)) == 2


def exercise_points_lines(notebook) -> dict[str, tuple[list[int], list[int]]]:
    """Each `## Exercise` heading's "Points: part (k); part (k)." line against its test cells' points, in order."""
    found, heading = {}, None
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            heading = cell.source.splitlines()[0] if cell.source.startswith("## Exercise") else None
            if heading:
                line = next((row for row in cell.source.splitlines() if row.startswith("Points:")), "")
                found[heading] = ([int(k) for k in re.findall(r"\((\d+)\)", line)], [])
        elif heading and graded(cell) and not by_hand(cell):
            found[heading][1].append(graded(cell))
    return found


def test_chapter_1_s_exercises_split_their_points_between_their_test_cells():
    """r58a N1: Exercise 1.1 said which cell gives which points, Exercise 1.2 did not; both do, right."""
    notebook = nbformat.read(SOURCES[0], as_version=4)
    lines = exercise_points_lines(notebook)
    assert len(lines) == 2 and all(stated == cells and len(cells) == 2 for stated, cells in lines.values()), lines
    heading = next(cell for cell in notebook.cells if cell.source.startswith("## Exercise 1.2"))
    heading.source = heading.source.replace("(2); large", "(1); large", 1)
    assert [stated for stated, _ in exercise_points_lines(notebook).values()][1] == [1, 1]
