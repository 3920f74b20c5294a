"""The learner's first hour, on disk: their answers live in a workspace of their own that no course command
overwrites (`make notebooks`, a course update, the demo), `make check` grades it, and the start page says
where they are."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from lrcourse import cells, examples
from lrcourse.build import generate_release
from lrcourse.start_page import SCORES, start_page
from lrcourse.workspace import RECORD, SOLUTIONS_COPY, Update, describe, update_workspace

from support.paths import ROOT

CHAPTER = "01_learning_rate"
NOTEBOOK = Path(CHAPTER) / "learning_rate.ipynb"
OTHER = "02_ordered_schedules/ordered_schedules.ipynb"
ANSWER = "def largest_stable_lr(lr, path):\n    return 0.5  # my own answer\n"


def digests(folder: Path) -> dict:
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def answer(path: Path, grade_id: str = "largest_stable_lr", source: str = ANSWER) -> None:
    notebook = nbformat.read(path, as_version=4)
    next(c for c in notebook.cells if cells.nbgrader_id(c) == grade_id).source = source
    nbformat.write(notebook, path)


def change_release(path: Path) -> None:
    """What a course update does to a chapter: a changed cell of prose."""
    notebook = nbformat.read(path, as_version=4)
    next(c for c in notebook.cells if c.cell_type == "markdown").source += "\n\nA sentence added by an update."
    nbformat.write(notebook, path)


@pytest.fixture
def release(tmp_path):
    """Two chapters of the release, as a course update would find them."""
    folder = tmp_path / "notebooks"
    for chapter in (CHAPTER, "02_ordered_schedules"):
        shutil.copytree(ROOT / "notebooks" / chapter, folder / chapter)
    return folder


def test_the_first_run_copies_the_release_and_the_solutions_apart(tmp_path, release):
    workspace = tmp_path / "workspace"
    update = update_workspace(workspace, release)
    assert sorted(update.added) == [str(NOTEBOOK), "02_ordered_schedules/ordered_schedules.ipynb"]
    assert digests(workspace / CHAPTER) == digests(release / CHAPTER)
    assert digests(workspace / SOLUTIONS_COPY) == digests(ROOT / "solutions")
    assert (workspace / RECORD).exists()


def test_answers_survive_a_course_update(tmp_path, release):
    workspace = tmp_path / "workspace"
    update_workspace(workspace, release)
    answer(workspace / NOTEBOOK)
    mine = (workspace / NOTEBOOK).read_bytes()
    change_release(release / NOTEBOOK)  # the chapter the learner worked in
    change_release(release / "02_ordered_schedules/ordered_schedules.ipynb")  # one they never opened
    shutil.copytree(ROOT / "notebooks" / "03_adaptive_schedules", release / "03_adaptive_schedules")  # a new one
    update = update_workspace(workspace, release)
    assert (workspace / NOTEBOOK).read_bytes() == mine
    beside = workspace / (CHAPTER + "-new-release") / NOTEBOOK.name
    assert beside.read_bytes() == (release / NOTEBOOK).read_bytes()
    assert update.beside == [str(NOTEBOOK)]
    assert update.replaced == ["02_ordered_schedules/ordered_schedules.ipynb"]
    assert update.added == ["03_adaptive_schedules/adaptive_schedules.ipynb"]
    said = "\n".join(describe(update, workspace))
    assert "your copy stays as it is" in said and str(beside.relative_to(workspace)) in said
    page = start_page(workspace, release)
    assert "Course updates waiting" in page and "01_learning_rate-new-release/learning_rate.ipynb" in page
    # an update that changes an answer cell's starter: the learner's copy, from the release before, did not write it
    answer(release / NOTEBOOK, "predicted_w2", "predicted_w2 = None  # a new starter\n")
    update_workspace(workspace, release)
    assert "1 of 5 answers written (largest_stable_lr)" in start_page(workspace, release)
    assert update_workspace(workspace, release) == type(update)(), "a second run has nothing more to do"
    assert (workspace / NOTEBOOK).read_bytes() == mine


def test_the_start_page_shows_goals_time_progress_and_links(tmp_path, release):
    workspace = tmp_path / "workspace"
    update_workspace(workspace, release)
    answer(workspace / NOTEBOOK)
    page = start_page(workspace, release)
    assert (
        "## [Chapter 1 · What the learning rate is, and why it is adjusted](01_learning_rate/learning_rate.ipynb)"
        in page
    )
    assert "*About 60 minutes.*" in page and "- explain why noisy gradients call for a rate" in page
    assert "1 of 5 answers written (largest_stable_lr)" in page
    assert "Not checked yet" in page
    (workspace / SCORES).write_text(json.dumps({CHAPTER: "3 / 11, `make check` of today"}))  # what it keeps
    assert "Last checked score: 3 / 11, `make check` of today." in start_page(workspace, release)
    assert f"]({SOLUTIONS_COPY.replace(' ', '%20').replace('(', '%28').replace(')', '%29')})" in page
    assert "gives the exercises away" in page


@pytest.mark.slow
def test_answers_survive_regenerating_the_release(tmp_path):
    """`make notebooks` is nbgrader's generate_assignment into notebooks/: the workspace is not its folder."""
    course = tmp_path / "course"
    for folder in ("source", "notebooks"):
        shutil.copytree(ROOT / folder / CHAPTER, course / folder / CHAPTER)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    update_workspace(course / "workspace", course / "notebooks")
    answer(course / "workspace" / NOTEBOOK)
    before = digests(course / "workspace")
    generate_release(course, [CHAPTER])
    assert digests(course / "workspace") == before


def test_no_course_command_names_the_workspace():
    """Only `make lab` and `make check` touch the workspace; `make notebooks`, `solutions`, `demo-grade` and
    `test` do not (the recipes are read from the Makefile itself)."""
    commands = subprocess.run(
        ["make", "-n", "--no-print-directory", "notebooks", "solutions", "demo-grade", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "lrcourse.build notebooks" in commands and "lrcourse demo" in commands
    assert "workspace" not in commands.lower()


def test_the_demo_reports_a_dead_kernel_and_an_unexpected_failure(tmp_path):
    graded = SimpleNamespace(student="alice", status="graded", reason="no feedback")
    failed = SimpleNamespace(student="erin", status="failed", reason="not valid JSON")
    result = SimpleNamespace(assignment="02_ordered_schedules", outcomes=[graded, failed])
    assert examples.unexpected(result, tmp_path, {"erin"}) == ["alice: graded without feedback (no feedback)"]
    assert examples.unexpected(result, tmp_path, set())[0] == "erin: failed: not valid JSON"
    (tmp_path / "feedback" / "alice" / "02_ordered_schedules").mkdir(parents=True)
    (tmp_path / "feedback" / "alice" / "02_ordered_schedules" / "ordered_schedules.html").write_text("<html/>")
    assert examples.unexpected(result, tmp_path, {"erin"}) == []


def fake_grading(feedback: bool):
    """grade_class as it reports a class: every example graded (with feedback, or with every kernel dead)."""

    def grade_class(course, assignment, **options):
        outcomes = []
        for path in sorted((course / "submitted").glob(f"*/{assignment}/*.ipynb")):
            student = path.parent.parent.name
            broken = path.read_bytes().lstrip()[:1] != b"{"
            outcomes.append(
                SimpleNamespace(
                    student=student,
                    status="failed" if broken else "graded",
                    reason="not valid JSON" if broken else "",
                    score=None,
                )
            )
            if feedback and not broken:
                (course / "feedback" / student / assignment).mkdir(parents=True, exist_ok=True)
                (course / "feedback" / student / assignment / "x.html").write_text("<html/>")
        return SimpleNamespace(assignment=assignment, outcomes=outcomes, failed=[])

    return grade_class


@pytest.mark.slow
def test_the_demo_grades_a_copy_and_touches_neither_the_release_nor_a_workspace(monkeypatch, capsys):
    """The demo's own steps for real (a scratch course, its release, the submissions); grading itself faked
    here, since the graded-class tests grade the same example class for real."""
    from lrcourse.grading import outcomes
    from lrcourse.grading.autograde import grade

    before = digests(ROOT / "notebooks")
    had_workspace = (ROOT / "workspace").exists()
    monkeypatch.setattr(outcomes, "summary", lambda result: f"{result.assignment}: graded")
    monkeypatch.setattr(grade, "grade_class", fake_grading(feedback=True))
    assert examples.grade_example_class(workers=1, sandboxed=False) == 0
    out = capsys.readouterr().out
    assert "Expected failures only: erin" in out
    reports = [Path(line.removeprefix("class report: ")) for line in out.splitlines() if line.startswith("class rep")]
    assert reports == [examples.DEMO / "reports" / "02_ordered_schedules.html"], out  # printed where, as grade does
    assert "02_ordered_schedules" in reports[0].read_text()
    assert digests(ROOT / "notebooks") == before and (ROOT / "workspace").exists() == had_workspace
    carol = examples.DEMO / "submitted" / "carol" / "02_ordered_schedules" / "ordered_schedules.ipynb"
    release = examples.DEMO / "release" / "02_ordered_schedules" / "ordered_schedules.ipynb"
    assert [c.id for c in nbformat.read(carol, 4).cells] == [c.id for c in nbformat.read(release, 4).cells]
    shutil.rmtree(examples.DEMO / "feedback")
    monkeypatch.setattr(examples, "demo_course", lambda assignments: examples.DEMO)  # made above: once is enough
    monkeypatch.setattr(grade, "grade_class", fake_grading(feedback=False))
    assert examples.grade_example_class(workers=1, sandboxed=False) == 1
    out = capsys.readouterr().out
    assert "did NOT grade as it should" in out and "alice: graded without feedback" in out
    assert "expected" not in out.split("did NOT")[1].lower()


def run_it(path: Path) -> None:
    """What running a chapter in the lab saves: outputs, execution counts and metadata; no writing."""
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), 1):
        cell.execution_count = number
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"ran {number}\n")]
    notebook.metadata["widgets"] = {"state": "saved by the lab"}
    nbformat.write(notebook, path)


def test_a_chapter_the_learner_only_ran_takes_every_update(tmp_path, release):
    """Run, never written in, updated twice: each update replaces it (outputs are no work of the learner's)."""
    workspace = tmp_path / "workspace"
    update_workspace(workspace, release)
    for text in ("A second release.", "A third release."):
        run_it(workspace / NOTEBOOK)
        change_release(release / NOTEBOOK)
        update = update_workspace(workspace, release)
        assert update.replaced == [str(NOTEBOOK)] and update.beside == [], (text, update)
        assert (workspace / NOTEBOOK).read_bytes() == (release / NOTEBOOK).read_bytes()
    assert not (workspace / (CHAPTER + "-new-release")).exists()
    assert "Course updates waiting" not in start_page(workspace, release)


def test_a_third_release_never_overwrites_a_copy_the_learner_wrote_in_and_always_arrives(tmp_path, release):
    """Release 1, answers written; release 2 beside; then release 3: it replaces release 2 waiting beside if the
    learner only looked at it (ran it), and goes to the next free folder if they wrote in it; said each time."""
    workspace = tmp_path / "workspace"
    update_workspace(workspace, release)
    answer(workspace / NOTEBOOK)
    mine = (workspace / NOTEBOOK).read_bytes()
    change_release(release / NOTEBOOK)  # release 2
    update_workspace(workspace, release)
    beside = workspace / (CHAPTER + "-new-release") / NOTEBOOK.name
    run_it(beside)  # only looked at
    change_release(release / NOTEBOOK)  # release 3
    update = update_workspace(workspace, release)
    assert update.beside == [str(NOTEBOOK)] and beside.read_bytes() == (release / NOTEBOOK).read_bytes()
    answer(beside, source=ANSWER.replace("my own answer", "moved into the new release"))  # the learner moves there
    moved = beside.read_bytes()
    change_release(release / NOTEBOOK)  # release 4
    update = update_workspace(workspace, release)
    newest = workspace / (CHAPTER + "-new-release-2") / NOTEBOOK.name
    assert (workspace / NOTEBOOK).read_bytes() == mine and beside.read_bytes() == moved, "both copies kept"
    assert newest.read_bytes() == (release / NOTEBOOK).read_bytes() and update.beside == [str(NOTEBOOK)]
    said = "\n".join(describe(update, workspace))
    assert f"in {newest.relative_to(workspace)}. To move to it" in said and "your copy stays" in said
    assert f"({CHAPTER}-new-release-2/{NOTEBOOK.name})" in start_page(workspace, release)
    assert update_workspace(workspace, release) == type(update)(), "a second run has nothing more to do"


def test_a_release_put_in_place_of_the_chapter_counts_as_the_chapters(tmp_path, release):
    """The learner copies their answers into the release waiting beside and puts it in place of the chapter: the
    next run brings nothing back beside, and the next update goes beside only because they wrote in it."""
    workspace = tmp_path / "workspace"
    update_workspace(workspace, release)
    answer(workspace / NOTEBOOK)
    change_release(release / NOTEBOOK)
    update_workspace(workspace, release)
    (workspace / CHAPTER).rename(workspace / (CHAPTER + "-old"))
    (workspace / (CHAPTER + "-new-release")).rename(workspace / CHAPTER)
    answer(workspace / NOTEBOOK)  # the answers copied across
    mine = (workspace / NOTEBOOK).read_bytes()
    assert update_workspace(workspace, release) == Update()
    assert not (workspace / (CHAPTER + "-new-release")).exists(), "the release put in place does not come back"
    assert "Course updates waiting" not in start_page(workspace, release)
    change_release(release / NOTEBOOK)
    update = update_workspace(workspace, release)
    assert update.beside == [str(NOTEBOOK)] and (workspace / NOTEBOOK).read_bytes() == mine


def test_a_record_of_the_first_version_is_read(tmp_path, release):
    """A workspace made before the record kept cells' digests: its answers still stay, its untouched chapter is
    still replaced, and the copy waiting beside is still known."""
    workspace = tmp_path / "workspace"
    update_workspace(workspace, release)
    answer(workspace / NOTEBOOK)
    byte_digest = {k: hashlib.sha256((release / k).read_bytes()).hexdigest() for k in (str(NOTEBOOK), OTHER)}
    (workspace / RECORD).write_text(json.dumps({"release": byte_digest, "beside": {}}))
    change_release(release / NOTEBOOK)
    change_release(release / OTHER)
    update = update_workspace(workspace, release)
    assert (update.beside, update.replaced) == ([str(NOTEBOOK)], [OTHER]), update
    assert "01_learning_rate-new-release/learning_rate.ipynb" in start_page(workspace, release)


def test_the_worked_solutions_open_in_the_lab_without_any_write_into_the_course(tmp_path, release):
    """The lab's contents API (jupyter_server's FileContentsManager, what JupyterLab opens and autosaves through)
    on the workspace: a solution notebook opened and saved leaves the course's solutions/ as it was; the copy is a
    folder of read-only files (JupyterLab opens them read-only), made again from solutions/ on the next run."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    solutions = tmp_path / "solutions"  # the course's, here a copy: a failure must not dirty the checkout
    shutil.copytree(ROOT / "solutions" / CHAPTER, solutions / CHAPTER)
    before = digests(solutions)
    workspace = tmp_path / "workspace"
    (workspace / SOLUTIONS_COPY).parent.mkdir(parents=True)
    (workspace / SOLUTIONS_COPY).symlink_to(solutions, target_is_directory=True)  # what the first version made
    update_workspace(workspace, release, solutions)
    lab = FileContentsManager(root_dir=str(workspace))
    path = f"{SOLUTIONS_COPY}/{NOTEBOOK}"
    model = lab.get(path)
    model["content"].cells[0].source = "The learner's edit, autosaved."
    try:
        lab.save(model, path)  # as root the mode bits do not stop it: the copy takes the edit
    except Exception:
        pass  # anyone else: refused, the file is read-only
    assert digests(solutions) == before, "solutions/ changed through the lab"
    copy = workspace / SOLUTIONS_COPY
    assert not copy.is_symlink() and copy.is_dir(), "a copy, not a link into the course"
    assert all(p.stat().st_mode & 0o222 == 0 for p in copy.rglob("*") if p.is_file())
    update_workspace(workspace, release, solutions)
    assert digests(copy) == before, "the next run makes the copy again from solutions/"


def test_a_chapter_set_aside_comes_back_as_the_newest_release_and_nothing_waits_beside(tmp_path, release):
    workspace = tmp_path / "workspace"
    update_workspace(workspace, release)
    answer(workspace / NOTEBOOK)
    change_release(release / NOTEBOOK)
    update_workspace(workspace, release)
    (workspace / CHAPTER).rename(workspace / (CHAPTER + "-old"))  # kept under another name, not moved on
    assert update_workspace(workspace, release).added == [str(NOTEBOOK)]
    assert (workspace / NOTEBOOK).read_bytes() == (release / NOTEBOOK).read_bytes()
    assert "Course updates waiting" not in start_page(workspace, release)


def test_the_workspace_command_makes_the_workspace_then_reports_updates(tmp_path, capsys):
    """`make lab` runs `lrcourse workspace`: the first run says where the learner's answers live and writes the
    start page; a second run with nothing new reports no update and rewrites the page."""
    from lrcourse.cli import main

    workspace = tmp_path / "workspace"
    assert main(["workspace", str(workspace)]) == 0
    first = capsys.readouterr().out
    assert f"Your workspace is {workspace}" in first and (workspace / "START.md").exists()
    assert digests(workspace / CHAPTER) == digests(ROOT / "notebooks" / CHAPTER)
    assert main(["workspace", str(workspace)]) == 0
    again = capsys.readouterr().out
    assert "Your workspace is" not in again and "start page:" in again
