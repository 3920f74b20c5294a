"""The learner's workspace: their own copy of the release (`notebooks/`), which no course command overwrites.

    lrcourse workspace [WORKSPACE]   # `make lab` and `make check` run it: make, update, then the start page

On the first run the workspace is a copy of the release. Later runs bring a course update in, and never write
over anything the learner wrote (a cell's text: running a chapter, which changes its outputs, is not writing):
- a new chapter is copied;
- a changed chapter the learner wrote nothing in is replaced by the new release;
- a changed chapter the learner wrote in stays as it is, and the new release goes beside it, in
  `<chapter>-new-release/`. A later release replaces the one waiting there, unless the learner wrote in that
  too: then it goes to `<chapter>-new-release-2/` (and so on), so each copy holding their writing stays.
- once the learner has put the copy waiting beside in place of the chapter (or deleted it), that release
  counts as the chapter's: the next update treats the chapter by what they wrote since.
What was copied where, and what its cells said, is recorded (`RECORD`): that is how writing is told from an
update.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lrcourse import cells

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
RECORD = ".lrcourse-release.json"
SOLUTIONS_COPY = "solutions (spoilers)"  # named as a warning: opening it is a deliberate click
BESIDE = "-new-release"


@dataclass
class Update:
    """What one run did, for the terminal and the start page."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    beside: list[str] = field(default_factory=list)  # learner's copy kept, new release in <chapter>-new-release/


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def work_digest(path: Path) -> str:
    """What the learner can have written in a notebook: its cells' kinds and sources. Running a chapter changes
    its outputs, counts and metadata, which are no work of theirs (a file that is no notebook: its bytes)."""
    try:
        found = [[c["cell_type"], "".join(c["source"])] for c in json.loads(path.read_text())["cells"]]
    except (ValueError, KeyError, TypeError):
        return digest(path)
    return hashlib.sha256(json.dumps(found).encode()).hexdigest()


def starting_answers(path: Path) -> dict[str, str]:
    """grade_id -> the source of each answer cell of the release notebook at `path` (what the learner starts from)."""
    try:
        found = json.loads(path.read_text())["cells"]
    except (ValueError, KeyError, TypeError):
        return {}
    return cells.answer_sources(found)


def copied(notebook: Path, target: Path) -> dict:
    """Copy a release notebook to `target`; what the record keeps of it (the release's digest, its work digest,
    which tells the learner's writing from a run, and its answer cells as given, which the start page counts
    written answers against: a later release may change them)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, target)
    return {"release": digest(notebook), "work": work_digest(notebook), "answers": starting_answers(notebook)}


def given_answers(workspace: Path, relative: Path) -> dict[str, str] | None:
    """The answer cells as the release the learner's copy of `relative` came from gave them (None: not recorded)."""
    entry = read_record(workspace)["chapters"].get(str(relative))
    return entry.get("answers") if entry else None


def written_in(target: Path, entry: dict | None) -> bool:
    """Whether the learner wrote in `target` since it was copied (`entry`: the record of that copy; a record of
    the first version has no work digest: any change of the file counts)."""
    if entry is None:
        return True
    return digest(target) != entry["release"] if entry["work"] is None else work_digest(target) != entry["work"]


def read_record(workspace: Path) -> dict:
    """{"chapters": {notebook: copy}, "beside": {notebook: copy + its "path"}}; a record of the first version
    (byte digests only, the new release always in <chapter>-new-release/) is read into that form."""
    path = workspace / RECORD
    record = json.loads(path.read_text()) if path.exists() else {"chapters": {}, "beside": {}}
    if "release" in record:  # the first version
        record["chapters"] = {k: {"release": d, "work": None} for k, d in record.pop("release").items()}
        record["beside"] = {
            k: {"release": d, "work": None, "path": str(first_beside(Path(k)))} for k, d in record["beside"].items()
        }
    return record


def write_record(workspace: Path, record: dict) -> None:
    (workspace / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


def first_beside(relative: Path, number: int = 1) -> Path:
    """<chapter>-new-release/<notebook>, or <chapter>-new-release-<number>/ when an earlier one holds work."""
    return Path(relative.parent.name + BESIDE + (f"-{number}" if number > 1 else "")) / relative.name


def beside_path(workspace: Path, relative: Path) -> Path | None:
    """Where the newest release of this chapter waits beside the learner's copy, if it does."""
    entry = read_record(workspace)["beside"].get(str(relative))
    return workspace / entry["path"] if entry and (workspace / entry["path"]).exists() else None


def bring_in(notebook: Path, relative: Path, workspace: Path, record: dict, update: Update) -> None:
    """Bring one release notebook into the workspace, never over anything the learner wrote: into the chapter
    if the learner's copy holds no writing of theirs, else beside it."""
    key, target = str(relative), workspace / relative
    waiting = record["beside"].get(key)
    if waiting and not (workspace / waiting["path"]).exists():  # put in place of the chapter, or deleted: either
        record["chapters"][key] = {k: v for k, v in waiting.items() if k != "path"}  # way, that release is seen
        del record["beside"][key]
    entry = record["chapters"].get(key)
    if not target.exists():  # new, or the learner set their copy aside: the newest release is the chapter now
        record["chapters"][key] = copied(notebook, target)
        record["beside"].pop(key, None)
        update.added.append(key)
    elif entry and entry["release"] == digest(notebook):
        return
    elif not written_in(target, entry):  # only run, if opened at all: nothing of the learner's to keep
        record["chapters"][key] = copied(notebook, target)
        record["beside"].pop(key, None)  # an older release waiting beside is no longer the newest
        update.replaced.append(key)
    else:
        put_beside(notebook, relative, workspace, record, update)


def put_beside(notebook: Path, relative: Path, workspace: Path, record: dict, update: Update) -> None:
    """The newest release next to the learner's edited chapter, in <chapter>-new-release/: it replaces an older
    release waiting there, unless the learner wrote in that one too; then it goes to the next free
    <chapter>-new-release-<n>/, and every copy the learner wrote in stays as it is."""
    key = str(relative)
    entry = record["beside"].get(key)
    waiting = workspace / entry["path"] if entry else None
    if waiting is not None and waiting.exists():
        if entry["release"] == digest(notebook):
            return
        if not written_in(waiting, entry):
            record["beside"][key] = {**copied(notebook, waiting), "path": entry["path"]}
            update.beside.append(key)
            return
    number = 1
    while (workspace / first_beside(relative, number)).exists():
        number += 1
    path = first_beside(relative, number)
    record["beside"][key] = {**copied(notebook, workspace / path), "path": str(path)}
    update.beside.append(key)


def copy_solutions(workspace: Path, solutions: Path) -> None:
    """The worked answers, as a read-only copy in the workspace (refreshed from solutions/ on every run): nothing
    done in the lab writes into the course's solutions/, as a link to it let autosave do. Its files are read-only,
    which JupyterLab opens as such; its folders are not, so that the workspace can be deleted as a whole."""
    copy = workspace / SOLUTIONS_COPY
    if copy.is_symlink():  # the link to solutions/ an earlier version made: remove the link, never its target
        copy.unlink()
    elif copy.exists():
        shutil.rmtree(copy)
    if not solutions.is_dir():
        return
    shutil.copytree(solutions, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for path in copy.rglob("*"):
        if path.is_file():
            path.chmod(0o444)


def update_workspace(workspace: Path, release: Path = RELEASE, solutions: Path = SOLUTIONS) -> Update:
    """Make the workspace, or bring the release's changes in without overwriting anything of the learner's;
    refresh its read-only copy of the worked solutions."""
    workspace.mkdir(parents=True, exist_ok=True)
    record = read_record(workspace)
    update = Update()
    for notebook in sorted(release.glob("*/*.ipynb")):
        bring_in(notebook, notebook.relative_to(release), workspace, record, update)
    write_record(workspace, record)
    copy_solutions(workspace, solutions)
    return update


def pending_updates(workspace: Path) -> list[str]:
    """The chapters whose new release waits beside the learner's copy."""
    return sorted(key for key in read_record(workspace)["beside"] if beside_path(workspace, Path(key)))


def describe(update: Update, workspace: Path) -> list[str]:
    lines = [f"new in your workspace: {key}" for key in update.added]
    lines += [f"updated (you had written nothing in it): {key}" for key in update.replaced]
    lines += [
        f"course update for {key}: you wrote in it, so your copy stays as it is (`make check` grades it); the new "
        f"release is beside it, in {beside_path(workspace, Path(key)).relative_to(workspace)}. To move to it, copy "
        f"your answers into it, then put it in place of {key} (README, Course updates)"
        for key in update.beside
    ]
    return lines
