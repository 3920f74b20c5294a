"""The learner's workspace: their own copy of the release (`notebooks/`), which no course command overwrites.

    python -m lrcourse.workspace [WORKSPACE]   # `make lab` and `make check` run it: make, update, start page

On the first run the workspace is a copy of the release. Later runs bring a course update in: a new chapter
is copied; a changed chapter the learner never edited is replaced; a changed chapter the learner did edit is
kept as it is and the new release goes beside it, in `<chapter>-new-release/`. The release each notebook came
from is recorded (`RECORD`), which is how an edit is told from an update.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
RECORD = ".lrcourse-release.json"
SOLUTIONS_LINK = "solutions (spoilers)"
BESIDE = "-new-release"


@dataclass
class Update:
    """What one run did, for the terminal and the start page."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    beside: list[str] = field(default_factory=list)  # learner's copy kept, new release in <chapter>-new-release/


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def beside_path(workspace: Path, relative: Path) -> Path:
    return workspace / (relative.parent.name + BESIDE) / relative.name


def read_record(workspace: Path) -> dict:
    path = workspace / RECORD
    return json.loads(path.read_text()) if path.exists() else {"release": {}, "beside": {}}


def write_record(workspace: Path, record: dict) -> None:
    (workspace / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def bring_in(notebook: Path, relative: Path, workspace: Path, record: dict, update: Update) -> None:
    """Copy one release notebook into the workspace, never over the learner's own edits."""
    key, new = str(relative), digest(notebook)
    target = workspace / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(notebook, target)
        record["release"][key] = new
        update.added.append(key)
    elif record["release"].get(key) == new:
        return
    elif digest(target) == record["release"].get(key):  # untouched since copied: nothing of the learner's to keep
        shutil.copy(notebook, target)
        record["release"][key] = new
        update.replaced.append(key)
    else:
        put_beside(notebook, relative, workspace, record, update)


def put_beside(notebook: Path, relative: Path, workspace: Path, record: dict, update: Update) -> None:
    """The new release next to the learner's edited chapter; a copy there the learner edited is kept too."""
    key, new = str(relative), digest(notebook)
    target = beside_path(workspace, relative)
    if target.exists() and digest(target) not in (new, record["beside"].get(key)):
        return
    if not target.exists() or digest(target) != new:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(notebook, target)
        record["beside"][key] = new
        update.beside.append(key)


def link_solutions(workspace: Path, solutions: Path) -> None:
    """A folder link to the worked answers, named as a warning, so that reaching them is a deliberate click."""
    link = workspace / SOLUTIONS_LINK
    if solutions.is_dir() and not link.exists() and not link.is_symlink():
        link.symlink_to(solutions.resolve(), target_is_directory=True)


def update_workspace(workspace: Path, release: Path = RELEASE, solutions: Path = SOLUTIONS) -> Update:
    """Make the workspace, or bring the release's changes in without overwriting anything of the learner's."""
    workspace.mkdir(parents=True, exist_ok=True)
    record = read_record(workspace)
    update = Update()
    for notebook in sorted(release.glob("*/*.ipynb")):
        bring_in(notebook, notebook.relative_to(release), workspace, record, update)
    write_record(workspace, record)
    link_solutions(workspace, solutions)
    return update


def pending_updates(workspace: Path) -> list[str]:
    """The chapters whose new release waits beside the learner's copy."""
    return sorted(key for key in read_record(workspace)["beside"] if beside_path(workspace, Path(key)).exists())


def describe(update: Update, workspace: Path) -> list[str]:
    lines = [f"new in your workspace: {key}" for key in update.added]
    lines += [f"updated (you had not changed it): {key}" for key in update.replaced]
    lines += [
        f"course update for {key}: your copy is kept as it is; the new release is beside it in "
        f"{beside_path(workspace, Path(key)).relative_to(workspace)}"
        for key in update.beside
    ]
    return lines


def main(argv: list[str]) -> int:
    from lrcourse.start_page import write_start_page

    workspace = Path(argv[0] if argv else ROOT / "workspace").resolve()
    first = not (workspace / RECORD).exists()
    update = update_workspace(workspace)
    if first:
        print(f"Your workspace is {workspace}: your answers live there, and no course command overwrites them.")
    else:
        print("\n".join(describe(update, workspace)))
    print(f"start page: {write_start_page(workspace)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
