"""Issue 23, the sound end (R23j-R23v): the chapter's last cell runs the saved notebook as the grader does
(`lrcourse.saved_check`: the setup and context cells, then the saved answer cells, in a fresh process; the visible test
cells judged by the grader's own `Judge`). The in-cell checks predict the grader from the kernel's history and twelve
readings found forms they miss; R23v's three (W1 data changed through an alias, W2 an equal statement reading a changed
name, W3 a method set on a helper class) pass every visible cell in the kernel and fail here, as in the grade."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from lrcourse import cells
from lrcourse.saved_check import check_saved_notebook

from support.course import solution_answers
from support.paths import ROOT
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

CHAPTER, NOTEBOOK = "01_learning_rate", "learning_rate.ipynb"
CHECK = "from lrcourse.saved_check import check_saved_notebook\ncheck_saved_notebook()"
LARGEST = ("test_largest_stable_lr", "test_largest_stable_lr_directions")
FLOOR = ("test_rate_for_noise_floor", "test_rate_for_noise_floor_stable")
SOLUTION = solution_answers(CHAPTER)["largest_stable_lr"]
RETURN = (
    "    return 2.0 * (1 + momentum) / max(curvatures)           # the steepest direction sets the bound 2(1 + mu)/a\n"
)
assert RETURN in SOLUTION
assert "factor = w1 / w0" in SOLUTION  # W3's case below replaces it


def largest(head: str, returned: str) -> str:
    """The solution of largest_stable_lr with `head` above it and its return changed to `returned`."""
    return head + "\n\n" + SOLUTION.replace(RETURN, f"    return {returned}\n")


# R23v's escapes: (the saved answer cell, a scratch cell run after it); the saved cell is wrong, the scratch cell makes
# the kernel's objects right
ESCAPES = {
    "W1 alias mutation": (
        largest("SETTINGS = {'numerator': 1.0}", "SETTINGS['numerator'] * (1 + momentum) / max(curvatures)"),
        "cfg = SETTINGS\ncfg['numerator'] = 2.0",
    ),
    "W2 equal statement, changed name": (
        largest(
            "numerator = 1.0\nSETTINGS = {'numerator': numerator}",
            "SETTINGS['numerator'] * (1 + momentum) / max(curvatures)",
        ),
        "numerator = 2.0\nSETTINGS = {'numerator': numerator}",
    ),
    "W3 method set on a helper class": (
        largest(
            "class Ratio:\n    @staticmethod\n    def of(a, b):\n        return a - b",
            "2.0 * (1 + momentum) / max(curvatures)",
        ).replace("factor = w1 / w0", "factor = Ratio.of(w1, w0)"),
        "def _of(a, b):\n    return a / b\n\nRatio.of = staticmethod(_of)",
    ),
}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """`start(variable)`: chapter 1 in a real IPython shell working in `tmp_path` (`support.saved_cells`), the other
    exercise's solution saved and run."""
    from IPython.core.interactiveshell import InteractiveShell

    def start(variable):
        run, tests = start_reading_kernel(tmp_path, monkeypatch, CHAPTER, NOTEBOOK, variable)
        floor = solution_answers(CHAPTER)["rate_for_noise_floor"]
        save_answer_cell(tmp_path / NOTEBOOK, "rate_for_noise_floor", floor)
        assert run(floor, new_cell=True) is None
        return run, tests

    yield start
    InteractiveShell.clear_instance()


def printed_verdicts(text: str) -> dict[str, str]:
    """test cell -> "passed" or its failure, from what the check printed."""
    found = {}
    for line in text.splitlines():
        name, _, said = line.strip().partition(": ")
        if name.startswith("test_"):
            found[name] = said
    return found


def run_check(run, capsys) -> tuple[dict[str, str], str]:
    capsys.readouterr()
    assert run(CHECK, new_cell=True) is None
    out = capsys.readouterr().out
    return printed_verdicts(out), out


@pytest.mark.parametrize("escape", ESCAPES)
def test_r23v_escapes_pass_in_the_kernel_and_fail_in_the_saved_check(kernel, tmp_path, capsys, escape):
    saved, scratch = ESCAPES[escape]
    run, tests = kernel("largest_stable_lr")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", saved)
    assert run(saved, new_cell=True) is None
    assert failures(run, tests) != []  # the saved cell alone is wrong, in the kernel too
    assert run(scratch, new_cell=True) is None
    assert failures(run, tests) == []  # the escape: every visible cell passes in the kernel
    verdicts, out = run_check(run, capsys)
    assert set(verdicts) == {*LARGEST, *FLOOR}, out
    assert [name for name, said in verdicts.items() if said != "passed"] == list(LARGEST), out
    assert all(verdicts[name].startswith("FAILED: ") and len(verdicts[name]) > 10 for name in LARGEST), out
    assert "2 of 4 visible test cells pass on your saved notebook, run as the grader runs it" in out
    assert "The hidden tests are not run here" in out
    assert [path.name for path in tmp_path.iterdir()] == [NOTEBOOK]  # nothing written in the learner's folder


def test_the_honest_chapter_1_passes_every_visible_cell(kernel, tmp_path, capsys):
    run, tests = kernel("largest_stable_lr")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", SOLUTION)
    save_answer_cell(tmp_path / NOTEBOOK, "predicted_w2", solution_answers(CHAPTER)["predicted_w2"])
    assert run(SOLUTION, new_cell=True) is None
    assert failures(run, tests) == []
    verdicts, out = run_check(run, capsys)
    assert verdicts == dict.fromkeys((*LARGEST, *FLOOR), "passed"), out
    assert "4 of 4 visible test cells pass" in out


def test_an_answer_cell_that_raises_fails_its_tests_with_the_reason(kernel, tmp_path, capsys):
    run, _ = kernel("largest_stable_lr")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", "raise ValueError('my own mistake')\n\n" + SOLUTION)
    verdicts, out = run_check(run, capsys)
    assert [name for name, said in verdicts.items() if said != "passed"] == list(LARGEST), out
    assert all("my own mistake" in verdicts[name] for name in LARGEST), out


def test_an_unsaved_answer_is_not_checked(kernel, tmp_path, capsys):
    """The answer typed and run, not saved: the kernel's cells pass, the saved notebook's stub fails (the grade's)."""
    run, tests = kernel("largest_stable_lr")
    assert run(SOLUTION, new_cell=True) is None
    verdicts, out = run_check(run, capsys)
    assert [name for name, said in verdicts.items() if said != "passed"] == list(LARGEST), out


def test_no_saved_notebook_says_what_to_do(kernel, tmp_path, capsys):
    run, _ = kernel("largest_stable_lr")
    (tmp_path / NOTEBOOK).unlink()
    _, out = run_check(run, capsys)
    assert out.startswith(f"Found no saved notebook in {tmp_path}: save the notebook (Ctrl+S"), out
    assert len(out.strip().splitlines()) == 1


def test_a_notebook_that_does_not_read_says_so(tmp_path, capsys):
    (tmp_path / NOTEBOOK).write_text("{not json")
    check_saved_notebook(tmp_path / NOTEBOOK)
    out = capsys.readouterr().out
    assert out.startswith(f"The saved notebook could not be read: {NOTEBOOK} is not a notebook"), out


def test_plain_python_without_a_path_says_to_give_one(capsys):
    check_saved_notebook()
    assert capsys.readouterr().out.startswith("No notebook kernel runs this: give the path of the saved notebook")


def test_the_honest_chapter_3_passes_every_visible_cell_from_its_path(tmp_path, capsys):
    chapter, name = "03_adaptive_schedules", "adaptive_schedules.ipynb"
    shutil.copy(ROOT / "notebooks" / chapter / name, tmp_path)
    for grade_id, text in solution_answers(chapter).items():
        saved = nbformat.read(tmp_path / name, as_version=4)
        if any(cells.is_answer(cell) and cells.grade_id(cell) == grade_id for cell in saved.cells):
            save_answer_cell(tmp_path / name, grade_id, text)
    check_saved_notebook(tmp_path / name)
    out = capsys.readouterr().out
    verdicts = printed_verdicts(out)
    tests = [cells.grade_id(c) for c in nbformat.read(tmp_path / name, as_version=4).cells if cells.is_test(c)]
    assert verdicts == dict.fromkeys(tests, "passed") and len(tests) == 21, out
    assert f"{len(tests)} of {len(tests)} visible test cells pass" in out


def test_in_the_graders_run_of_the_notebook_it_does_nothing():
    """A graded kernel (`lrcourse grade`, `lrcourse check`) runs every cell of the submission: there the check
    imports nothing of the grader and starts no process (the grader judges the answers itself, within the student's
    time budget)."""
    import os
    import subprocess
    import sys

    from lrcourse.widgets import GRADED_KERNEL_VARIABLE

    probe = (
        "import sys\nfrom lrcourse.saved_check import check_saved_notebook\ncheck_saved_notebook()\n"
        "print([m for m in sys.modules if m.startswith('lrcourse.grading')])"
    )
    env = {**os.environ, GRADED_KERNEL_VARIABLE: "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "Not run in the grader's run of your notebook: the grader judges your saved answer cells itself.",
        "[]",
    ]


def test_an_answer_that_reads_a_file_of_the_folder_fails_as_in_the_grade(kernel, tmp_path, capsys):
    """The grader's answer process has none of the learner's files: here it starts in an empty scratch folder too."""
    (tmp_path / "notes.txt").write_text("2.0")
    run, _ = kernel("largest_stable_lr")
    answer = largest("", "float(open('notes.txt').read()) * (1 + momentum) / max(curvatures)")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", answer)
    verdicts, out = run_check(run, capsys)
    assert [name for name, said in verdicts.items() if said != "passed"] == list(LARGEST), out
    assert all("notes.txt" in verdicts[name] for name in LARGEST), out
    assert sorted(path.name for path in tmp_path.iterdir()) == [NOTEBOOK, "notes.txt"]
    import os

    assert os.getcwd() == str(tmp_path)  # the kernel's working folder put back


def test_a_duplicate_open_in_the_kernel_checks_the_notebook_graded_and_says_so(tmp_path, monkeypatch, capsys):
    """R23n W1's form: the answer worked in `learning_rate-Copy1.ipynb`, the chapter's own notebook left as released:
    the grader grades the chapter's own, so that one is checked, and the first line says which file this kernel runs."""
    from IPython.core.interactiveshell import InteractiveShell

    folder = tmp_path / CHAPTER
    folder.mkdir()
    try:
        run, _ = start_reading_kernel(folder, monkeypatch, CHAPTER, NOTEBOOK, "largest_stable_lr")
        copy = folder / "learning_rate-Copy1.ipynb"
        shutil.copy(folder / NOTEBOOK, copy)
        for grade_id, text in solution_answers(CHAPTER).items():
            if grade_id in ("largest_stable_lr", "rate_for_noise_floor"):
                save_answer_cell(copy, grade_id, text)
        assert run(f"__session__ = {str(copy)!r}", new_cell=True) is None
        verdicts, out = run_check(run, capsys)
    finally:
        InteractiveShell.clear_instance()
    assert out.startswith(f"This kernel runs {copy.name}; the grader grades {NOTEBOOK}, checked here:"), out
    assert "0 of 4 visible test cells pass" in out and set(verdicts) == {*LARGEST, *FLOOR}, out


def test_a_renamed_notebook_says_first_that_the_grader_grades_the_chapters_name(tmp_path, monkeypatch, capsys):
    """R23w W3: the folder holds only `my_ch1.ipynb`, answered; the grader grades `learning_rate.ipynb` only (0 of 10
    here). The first line says so; the rest checks the renamed notebook as before."""
    from IPython.core.interactiveshell import InteractiveShell

    folder = tmp_path / CHAPTER
    folder.mkdir()
    try:
        run, _ = start_reading_kernel(folder, monkeypatch, CHAPTER, NOTEBOOK, "largest_stable_lr")
        renamed = folder / "my_ch1.ipynb"
        shutil.move(folder / NOTEBOOK, renamed)
        for grade_id in ("largest_stable_lr", "rate_for_noise_floor"):
            save_answer_cell(renamed, grade_id, solution_answers(CHAPTER)[grade_id])
        assert run(f"__session__ = {str(renamed)!r}", new_cell=True) is None
        verdicts, out = run_check(run, capsys)
    finally:
        InteractiveShell.clear_instance()
    first, second = out.splitlines()[:2]
    assert first.startswith(f"The grader grades {NOTEBOOK} only, and this folder has none: rename my_ch1.ipynb"), out
    assert "File > Rename Notebook" in first
    assert second == "Your saved notebook my_ch1.ipynb, run as the grader runs it:", out
    assert verdicts == dict.fromkeys((*LARGEST, *FLOOR), "passed"), out


def test_a_variable_of_the_kernels_environment_does_not_reach_the_answers(kernel, tmp_path, monkeypatch, capsys):
    """R23w M1's B_env: `%env LR_NUMERATOR=2.0` in a scratch cell, the answer reads it; the grader's sandbox starts
    with an environment of its own (`bwrap.sandbox_environment`), and the check's answers' process now too."""
    run, tests = kernel("largest_stable_lr")
    answer = largest("import os", "float(os.environ.get('LR_NUMERATOR', '1.0')) * (1 + momentum) / max(curvatures)")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", answer)
    monkeypatch.setenv("LR_NUMERATOR", "2.0")  # what `%env LR_NUMERATOR=2.0` does in the kernel
    assert run(answer, new_cell=True) is None
    assert failures(run, tests) == []  # in the kernel, every visible cell passes
    verdicts, out = run_check(run, capsys)
    assert [name for name, said in verdicts.items() if said != "passed"] == list(LARGEST), out


def test_an_answer_under_a_cell_magic_is_named_with_the_in_cell_checks_sentence(kernel, tmp_path, capsys):
    """R23w N3: under `%%time` the grader's answer cell defines nothing (every magic does nothing there): its test
    cells fail with a NameError; a line says why, with the in-cell checks' sentence (`expect_no_magic`)."""
    run, _ = kernel("largest_stable_lr")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", "%%time\n" + SOLUTION)
    verdicts, out = run_check(run, capsys)
    assert [name for name, said in verdicts.items() if said != "passed"] == list(LARGEST), out
    note = f"  The answer cell of largest_stable_lr saved in {NOTEBOOK} uses an IPython magic (%%time) that changes"
    assert out.splitlines()[1].startswith(note), out
    assert "under %%time the cell defines nothing" in out.splitlines()[1]


def test_an_edited_setup_cell_is_said_not_to_be_the_one_graded(kernel, tmp_path, capsys):
    """R23w W2, R23x M1: an import added to the saved setup cell and used in the answer scores 0 (the grader runs the
    chapter's own setup cell): the check runs the chapter's too, so those cells fail here, and a line says why."""
    run, _ = kernel("largest_stable_lr")
    saved = nbformat.read(tmp_path / NOTEBOOK, as_version=4)
    setup = next(cell for cell in saved.cells if cell.get("id") == "setup")
    setup.source += "\nimport statistics\n"
    nbformat.write(saved, tmp_path / NOTEBOOK)
    assert "float(np.median(momenta))" in SOLUTION
    answer = SOLUTION.replace("float(np.median(momenta))", "statistics.median(momenta)")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", answer)
    verdicts, out = run_check(run, capsys)
    note = "  Your saved notebook's setup cell is not the chapter's: the grader runs the chapter's own, not yours"
    assert out.splitlines()[1].startswith(note), out
    assert "2 of 4 visible test cells pass" in out  # the chapter's setup cell runs, as in the grade (R23x M1)
    assert [name for name, said in verdicts.items() if said != "passed"] == list(LARGEST), out
    assert "(the chapter's setup cells, then your answer cells" in out


def test_a_setup_cell_pasted_anew_is_the_chapters_and_honest_work_passes(kernel, tmp_path, capsys):
    """R23x M2: a setup cell copied and pasted back (a new cell id) is not a setup cell to `cells.is_context`; the
    check runs the chapter's own, as the grader does, so honest work passes, and a line says the saved one is missing
    rather than changed."""
    run, _ = kernel("largest_stable_lr")
    save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", SOLUTION)
    saved = nbformat.read(tmp_path / NOTEBOOK, as_version=4)
    next(cell for cell in saved.cells if cell.get("id") == "setup").id = "pasted-anew"
    nbformat.write(saved, tmp_path / NOTEBOOK)
    verdicts, out = run_check(run, capsys)
    assert set(verdicts.values()) == {"passed"}, out
    assert (
        "Your saved notebook has no setup cell of the chapter's (deleted, pasted back as a new cell, or your notebook is of an earlier release)"
        in out
    )


def test_a_copy_of_a_chapters_folder_is_not_told_to_rename_its_notebook(tmp_path):
    """R23x M3: only a chapter's own folder names the notebook graded; in a copy of one (`01_learning_rate_v2`) the
    correctly named notebook is not told to be renamed."""
    from lrcourse.saved_check import renamed

    copy = tmp_path / f"{CHAPTER}_v2"
    copy.mkdir()
    assert renamed(str(copy / NOTEBOOK)) == []
    own = tmp_path / CHAPTER
    own.mkdir()
    assert renamed(str(own / "my_ch1.ipynb"))[0].startswith(f"The grader grades {NOTEBOOK} only")


def test_outside_a_checkout_the_chapters_setup_cells_are_the_shipped_ones(tmp_path, monkeypatch, capsys):
    """R23y M1, M2: installed without the course's checkout (a hub's wheel) the chapter's copies are not at hand; the
    chapter's setup cells shipped with the package run (`chapter_facts`), and the count line says so (it said "your
    notebook's setup cells, which the grader replaces": tests/test_saved_check_wheel.py runs the wheel's cases)."""
    import lrcourse.saved_check as saved_check

    monkeypatch.setattr(saved_check, "chapters_notebook", lambda path: "")
    shutil.copy(ROOT / "notebooks" / CHAPTER / NOTEBOOK, tmp_path)
    for grade_id, text in solution_answers(CHAPTER).items():
        save_answer_cell(tmp_path / NOTEBOOK, grade_id, text)
    source = nbformat.read(ROOT / "source" / CHAPTER / NOTEBOOK, as_version=4).cells
    assert saved_check.saved_context(saved_check.chapters_cells(str(tmp_path / NOTEBOOK))) == [
        cell.source for cell in source if cells.is_context(cell)
    ]
    check_saved_notebook(tmp_path / NOTEBOOK)
    out = capsys.readouterr().out
    assert set(printed_verdicts(out).values()) == {"passed"}, out
    assert f"({saved_check.SETUP_RUN}, then your answer cells" in out, out


def test_a_setup_cell_that_raises_is_said_in_a_sentence_not_a_traceback(tmp_path, capsys):
    """R23z N4: `import nosuchmodule_xyz` pasted into the setup cell of a notebook of no chapter known (its own setup
    cells run) ended the check in a traceback; one sentence now names the cell by its first line, the error, and what
    to do."""
    folder = tmp_path / "2026_notes"
    folder.mkdir()
    path = folder / "ch1.ipynb"
    shutil.copy(ROOT / "notebooks" / CHAPTER / NOTEBOOK, path)
    saved = nbformat.read(path, as_version=4)
    setup = next(cell for cell in saved.cells if cell.get("id") == "setup")
    setup.source += "\nimport nosuchmodule_xyz\n"
    nbformat.write(saved, path)
    check_saved_notebook(path)
    out = capsys.readouterr().out
    first = setup.source.splitlines()[0]
    assert out.startswith(f"Your notebook's setup cell that starts `{first}` fails (ModuleNotFoundError: "), out
    assert "nosuchmodule_xyz" in out and "put it in your answer cell" in out and len(out.splitlines()) == 1, out


def test_a_chapters_notebook_in_another_chapters_folder_is_of_its_own_chapter():
    """R23z N2: on the wheel the folder decided first, so chapter 2's notebook in chapter 1's folder ran chapter 1's
    setup cell and was told it had changed it; the notebook's own name now decides first, as in a checkout, and a
    notebook renamed in its own chapter's folder still resolves by the folder."""
    from lrcourse.chapter_facts import chapter_of, shipped

    facts = shipped()
    assert chapter_of(CHAPTER, ["ordered_schedules.ipynb", NOTEBOOK], facts) == "02_ordered_schedules"
    assert chapter_of(CHAPTER, ["my_ch1.ipynb", NOTEBOOK], facts) == CHAPTER
    assert chapter_of(CHAPTER, ["my_ch1.ipynb"], facts) == CHAPTER
    assert chapter_of(f"{CHAPTER}_v2", [NOTEBOOK], facts) == CHAPTER
    assert chapter_of("2026_notes", ["ch1.ipynb", "notes.ipynb"], facts) == ""
