"""The chapters' facts the "Before you submit" check needs, shipped with the package (`chapters.json`).

On a hub the students install the wheel, which holds the package only: no `source/`, no `notebooks/`
(tests/test_wheel.py). The saved-notebook check (`lrcourse.saved_check`) still needs two facts of each chapter:
the name of the notebook the grader grades in its folder, and its setup and context cells (`cells.is_context`,
in notebook order), which the grader runs in place of the saved notebook's whatever those hold. They are written
from `source/` by `make notebooks` (`python -m lrcourse.build notebooks`, `write_chapter_facts`), as
{chapter folder: {"notebook": file name, "context": [{"id": cell id, "source": text}, ...], "digest": their
`context_digest`}}; tests/test_notebooks.py fails when the file is stale. The same digest is in each released
notebook's metadata (`metadata.lrcourse.context_digest`, written into source/ by `make notebooks`): a saved notebook
whose digest is not the installed package's is of another release (a students' wheel not rebuilt after a release
changed these cells, R23z M1, or a notebook fetched before the chapter was released again, R23a M1: the digest does
not say which is the older), and the check then runs its own cells and says so. They are in the release anyway:
no line of a solution or hidden test is in them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lrcourse import cells

FACTS = Path(__file__).resolve().parent / "chapters.json"


def chapter_facts(root: Path) -> dict:
    """The facts of every chapter of `root`'s source/ (a folder holding `<its name without NN_>.ipynb`, the notebook
    the grader grades there, as `grading.source_files.chapter_notebook` names it)."""
    facts = {}
    for folder in sorted(path for path in (root / "source").iterdir() if path.is_dir()):
        notebook = f"{folder.name.split('_', 1)[-1]}.ipynb"
        if not (folder / notebook).is_file():
            continue
        found = json.loads((folder / notebook).read_text(encoding="utf-8"))["cells"]
        context = context_of(found)
        facts[folder.name] = {"notebook": notebook, "context": context, "digest": context_digest(context)}
    return facts


def context_of(notebook_cells: list) -> list[dict]:
    """The setup and context cells of a notebook's cells, as {"id", "source"}, in notebook order."""
    return [
        {"id": cell.get("id"), "source": cells.source(cell)}
        for cell in notebook_cells
        if isinstance(cell, dict) and cells.is_context(cell)
    ]


def context_digest(context: list[dict]) -> str:
    """A digest of a chapter's setup and context cells (`context_of`: their ids and sources, in order)."""
    text = json.dumps([[cell.get("id"), cell.get("source")] for cell in context], ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def notebook_digest(notebook: dict) -> str:
    """The digest a notebook's metadata carries (`metadata.lrcourse.context_digest`), "" where it has none."""
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    lrcourse = metadata.get("lrcourse") if isinstance(metadata, dict) else None
    digest = lrcourse.get("context_digest") if isinstance(lrcourse, dict) else None
    return digest if isinstance(digest, str) else ""


def facts_text(root: Path) -> str:
    return json.dumps(chapter_facts(root), indent=1, ensure_ascii=False) + "\n"


def write_chapter_facts(root: Path) -> Path:
    """Write `root`'s chapter facts into the package (`FACTS`); its path."""
    FACTS.write_text(facts_text(root), encoding="utf-8")
    return FACTS


def shipped() -> dict:
    """The facts shipped with the package, {} where the file is missing or does not read (the check then says what
    it ran: the saved notebook's own setup cells)."""
    try:
        facts = json.loads(FACTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def chapter_of(folder: str, names: list[str], facts: dict) -> str:
    """The chapter of `facts` (`shipped`) a saved notebook belongs to: the first whose graded notebook is named as one
    of `names` (the notebook's own name first, as `saved_check.chapters_notebook` looks: a chapter's notebook in a copy
    of its folder, `01_learning_rate_v2/learning_rate.ipynb`, or in another chapter's, R23z N2), else the one whose
    folder is named `folder` (the notebook's folder's name, a student's is named after the assignment: a notebook
    renamed there); "" if none."""
    named = (chapter for name in names for chapter, fact in facts.items() if fact.get("notebook") == name)
    return next(named, folder if folder in facts else "")


def context_cells(fact: dict) -> list[dict]:
    """A chapter's setup and context cells (its `fact` of `shipped`), as code cells `cells.is_context` takes."""
    return [
        {"cell_type": "code", "id": cell["id"], "metadata": {"lrcourse": {"context": True}}, "source": cell["source"]}
        for cell in fact.get("context", [])
    ]
