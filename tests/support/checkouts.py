"""Separate checkouts of the course, each with an environment of its own, as grading workers on other machines
have (`lrcourse worker`): a git clone of the repository's last commit, and a copy of this environment made of hard
links (fast, no space; copied where links cannot be made) whose lrcourse is the clone's (the editable install's finder rewritten, as a new file: the
hard-linked original is not touched)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.paths import ROOT

FINDER = "__editable___lrcourse_0_1_0_finder.py"


def copy_environment(venv: Path, target: Path) -> None:
    """Hard links where they can be made (fast, no space); a plain copy where they cannot (the target on another
    file system than the environment: /tmp on its own, say)."""
    linked = subprocess.run(["cp", "-al", str(venv), str(target)], capture_output=True, text=True)
    if linked.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(["cp", "-a", str(venv), str(target)], check=True)


def checkout(target: Path, extra_commit: dict[str, str] | None = None, chapters: list[str] | None = None) -> Path:
    """A clone of the repository at `target` (with one more commit writing `extra_commit`'s files, if given: another
    course version), its source/ cut to `chapters` if given; returns the python of its own environment. A worker
    serves every chapter in its checkout's source/ and each of its pool processes warms them all as it starts (all
    seven: 38 s at load 6, 83 s at load 12; one: 31 s at load 7): a test that grades one chapter serves that one (an
    assignment's version does not read the others: `fleet.course_version`)."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    if extra_commit:
        for name, text in extra_commit.items():
            (target / name).write_text(text)
        git = ["git", "-C", str(target), "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "another version"], check=True)
    for folder in (target / "source").iterdir():
        if chapters is not None and folder.is_dir() and folder.name not in chapters:
            shutil.rmtree(folder)
    copy_environment(Path(sys.prefix), target / ".venv")
    site = Path(next((target / ".venv" / "lib").glob("python3*"))) / "site-packages"
    finder = site / FINDER
    text = finder.read_text().replace(repr(str(ROOT / "lrcourse")), repr(str(target / "lrcourse")))
    finder.unlink()  # a new file: the hard link's original stays this environment's
    finder.write_text(text)
    return target / ".venv" / "bin" / "python"
