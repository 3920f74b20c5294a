"""The students' package: a wheel of lrcourse (installed non-editable on a hub) holds no answers.

No hidden tests, no solutions, no grader references, no notebooks; and it declares only the learner's runtime
pins (requirements-student.txt), none of the instructor's or developers' tools.
"""

import json
import re
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from support.paths import ROOT

DEVELOPER_TOOLS = ("pytest", "pytest-xdist", "playwright", "psycopg2-binary")
BLOCKS = {
    "solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
    "hidden tests": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Built from a copy of what the package needs, so the build leaves nothing in the repository."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "requirements-student.txt"):
        shutil.copy(ROOT / name, tree)
    shutil.copytree(ROOT / "lrcourse", tree / "lrcourse", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(tree),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("lrcourse-*.whl")
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8", "replace") for name in archive.namelist()}


def blocks(kind: str) -> list[str]:
    """Every solution or hidden-test block of the source notebooks, its lines stripped."""
    begin, end = BLOCKS[kind]
    found = []
    for path in sorted((ROOT / "source").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for body in re.findall(re.escape(begin) + r"(.*?)" + re.escape(end), cell.source, re.S):
                lines = [
                    line.strip() for line in body.splitlines() if len(line.strip()) > 40
                ]  # generic short lines (a loop header) prove nothing
                found += lines
    return found


def context_sources(wheel) -> str:
    """The setup and context cells shipped in lrcourse/chapters.json, as their text (not JSON-escaped)."""
    facts = json.loads(wheel["lrcourse/chapters.json"])
    return "\n".join(cell["source"] for chapter in facts.values() for cell in chapter["context"])


def test_the_wheel_holds_the_package_and_no_course_folder(wheel):
    folders = {name.split("/")[0] for name in wheel}
    assert "lrcourse" in folders
    assert not folders & {"source", "solutions", "notebooks", "grader", "tests", "examples", "workspace"}
    assert not [name for name in wheel if name.endswith(".ipynb") or "references" in name]


def test_the_wheel_holds_the_chapters_setup_cells_for_the_saved_notebook_check(wheel):
    """lrcourse/chapters.json (`lrcourse.chapter_facts`): a hub's "Before you submit" check runs the chapter's setup
    and context cells from it (no source/ there)."""
    facts = json.loads(wheel["lrcourse/chapters.json"])
    assert facts == json.loads((ROOT / "lrcourse" / "chapters.json").read_text())
    assert facts["01_learning_rate"]["notebook"] == "learning_rate.ipynb"


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_the_wheel_holds_no_line_of_a_solution_or_hidden_test(wheel, kind):
    lines = blocks(kind)
    assert lines, f"no {kind} found in source/: the test would prove nothing"
    texts = [text for name, text in wheel.items() if name.endswith(".py")] + [context_sources(wheel)]
    leaked = {line for line in lines for text in texts if line in text}
    assert not leaked, f"{kind} lines in the wheel: {sorted(leaked)[:5]}"


def test_the_wheel_declares_only_the_learners_pins(wheel):
    metadata = next(text for name, text in wheel.items() if name.endswith(".dist-info/METADATA"))
    required = {
        line.split(":", 1)[1].split("==")[0].strip().lower()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    }
    assert "torch" in required and "nbgrader" in required
    assert not required & set(DEVELOPER_TOOLS)
