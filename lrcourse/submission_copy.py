"""What nbgrader's copy of a student's assignment folder would fail on, or never finish, found before it copies.

nbgrader's submit copies the whole folder with `shutil.copytree`, following links (a link to a folder is copied as
the folder). A link to nothing, an entry she cannot read, at any depth, fails the copy midway, and the student read
that the exchange's disk may be full (r20al 4); a link to a folder that holds it (`here -> .`) is copied into itself
until the path is too long, each level a copy of her work, on the exchange's shared disk. Walked here as the copy
walks it (names the course ignores skipped at every level, links followed); more than MOST_LOOKED entries to copy
(a link to a large dataset, or to /, is copied whole: nbgrader's size limit does not count links) is refused too.
Trust: the folder and its links are the student's own, read with her rights, in her own server."""

from __future__ import annotations

import os
from errno import ENOENT, ENOTDIR
from fnmatch import fnmatch

MOST_LOOKED = 100_000  # entries the copy would make, links followed: more is refused


def copy_problem(folder: str, ignored: list[str]) -> str:
    """'<entry> in your assignment folder <what is wrong with it>' for the first entry of `folder` the copy would fail
    on or loop through, or the folder past MOST_LOOKED entries (`ignored`: nbgrader's ignore rules, matched against
    each name); '' when there is none."""
    top = os.path.realpath(folder)
    stack = [(folder, (top,))]  # a folder to look in, and the real folders the copy is inside there
    looked = 0
    while stack:
        here, inside = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = [entry for entry in listing if not any(fnmatch(entry.name, rule) for rule in ignored)]
        except OSError as error:
            return f"{shown(here, folder)} in your assignment folder cannot be read ({error.strerror})"
        for entry in entries:
            looked += 1
            if looked > MOST_LOOKED:  # a link to a big dataset or to / is copied whole into the shared exchange
                return (
                    f"your assignment folder holds more than {MOST_LOOKED:,} files and folders to copy (links "
                    "followed, as nbgrader's copy follows them: a link to a dataset is copied whole)"
                )
            problem = entry_problem(entry, inside)
            if problem:
                return f"{shown(entry.path, folder)} in your assignment folder {problem}"
            if entry.is_dir():  # follows a link, as the copy does
                stack.append((entry.path, (*inside, os.path.realpath(entry.path))))
    return ""


def entry_problem(entry: os.DirEntry, inside: tuple[str, ...]) -> str:
    """What is wrong with `entry` for the copy ('' if nothing), `inside` the real folders it is copied within."""
    if entry.is_symlink():
        try:
            os.stat(entry.path)
        except OSError as error:
            return (
                "is a link to nothing here"
                if error.errno in (ENOENT, ENOTDIR)
                else f"is a link that cannot be followed ({error.strerror})"
            )
        if entry.is_dir() and os.path.realpath(entry.path) in inside:
            return "is a link to a folder that holds it: copying it would never end"
    if not os.access(entry.path, os.R_OK | (os.X_OK if entry.is_dir() else 0)):
        return "cannot be read (you have no permission to read it)"
    return ""


def shown(path: str, folder: str) -> str:
    """`path` as the student knows it: relative to her assignment folder, undecodable bytes escaped."""
    relative = os.path.relpath(path, folder)
    return relative if relative.isprintable() else repr(relative)
