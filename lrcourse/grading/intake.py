"""Which submissions `lrcourse grade` takes in: every submission is read first; a notebook that is not
valid JSON or not nbformat 4 is recorded as failed with the reason and never reaches nbgrader; a student
already graded whose submission has not changed is skipped (the mark is written only once the verdicts and
feedback both succeeded, so an interrupted run loses nothing already written)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MARK = ".lrcourse-graded.json"
MAX_NOTEBOOK_MB = 50  # a submitted notebook larger than this is not read at all


def submissions(course: Path, assignment: str) -> list[str]:
    folder = course / "submitted"
    return sorted(p.name for p in folder.iterdir() if (p / assignment).is_dir()) if folder.is_dir() else []


def fingerprint(folder: Path) -> str:
    """A hash of every file a student submitted for the assignment."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def malformed(folder: Path) -> str | None:
    """Why the submitted notebooks cannot be graded, or None when they can be read."""
    import nbformat

    links = [p.name for p in folder.rglob("*") if p.is_symlink()]
    if links:  # copied as the grader, a link would read any file of the grader's into the sandbox
        return f"the submission holds symbolic links ({', '.join(links[:3])}): submit plain files"
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        return "no notebook (.ipynb) in the submission"
    for path in notebooks:
        if path.stat().st_size > MAX_NOTEBOOK_MB << 20:
            return f"{path.name} is larger than {MAX_NOTEBOOK_MB} MB"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return f"{path.name} is not valid JSON: {error}"
        if not isinstance(raw, dict) or raw.get("nbformat") != 4:
            version = raw.get("nbformat") if isinstance(raw, dict) else None
            return f"{path.name} is not an nbformat 4 notebook (nbformat={version!r})"
        try:
            nbformat.validate(nbformat.reads(json.dumps(raw), as_version=4))
        except Exception as error:  # nbformat's ValidationError, or a structure it cannot read
            return f"{path.name} is not a valid notebook: {str(error).splitlines()[0]}"
    return None


def is_done(course: Path, student: str, assignment: str, current: str) -> bool:
    mark = course / "autograded" / student / assignment / MARK
    try:
        return json.loads(mark.read_text())["fingerprint"] == current
    except (OSError, ValueError, KeyError):
        return False


def mark_done(course: Path, student: str, assignment: str, current: str, score, max_score) -> None:
    mark = course / "autograded" / student / assignment / MARK
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(json.dumps({"fingerprint": current, "score": score, "max_score": max_score}))
