"""One level into each released chapter folder of outbound/ (r20i M1): one others may write in (its mode, or a POSIX
ACL letting them), or one holding an entry of neither this user's nor root's, lets a student put her notebook where
classmates fetch the grader's; `release --force` then deleted the grader's files and stopped at hers, pointing at a
doctor that said ok. The look, shared by release, Unrelease and the doctor through `released_entries`, opens each of
this user's and root's folders there without following a link (nothing else is opened: a FIFO never is), lstats
its entries, bounded (`MOST_INSIDE` in all), and names them escaped (a student may have renamed them)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lrcourse.grading.exchange.folder_writers import others_write
from lrcourse.grading.exchange.inbound import OPEN_FLAGS, user_name
from lrcourse.grading.exchange.kept_folders import aside_mend, shown
from lrcourse.shell_words import shell_word

MOST_INSIDE = 100_000  # entries looked at inside all chapter folders together
MOST_NAMED = 3


def chapter_said(fd: int, name: str, path: Path, budget: list[int]) -> str:
    """What is wrong in the chapter folder `name` of the open outbound/ `fd` (at `path`), as the line says it; "" if
    nothing (or it cannot be opened: another line says why). `budget`: entries still to look at, spent here."""
    try:
        chapter = os.open(name, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=fd)
    except OSError:
        return ""
    try:
        seen = os.fstat(chapter)
        if others_write(seen, path / name, inherited=False)[0]:
            return f"{shown(name)} (others may write in it: mode {stat.S_IMODE(seen.st_mode):04o} or its POSIX ACL)"
        count, named = 0, []
        with os.scandir(chapter) as entries:
            for entry in entries:
                budget[0] -= 1
                if budget[0] < 0:
                    break
                try:
                    inner = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if inner.st_uid not in (os.geteuid(), 0):
                    count += 1
                    if len(named) < MOST_NAMED:
                        named.append(f"{shown(entry.name)} of {user_name(inner.st_uid)}'s")
        if count:
            more = ", ..." if count > len(named) else ""
            return (
                f"{shown(name)} (holds {count} entr{'y' if count == 1 else 'ies'} of others': {', '.join(named)}{more})"
            )
        return ""
    except OSError:
        return ""
    finally:
        os.close(chapter)


def unsafe_chapters(fd: int, path: Path, names: list[str]) -> tuple[list[str], list[str], bool, tuple[str, ...]]:
    """Of the chapter folders `names` (this user's and root's) in the open outbound/ `fd` at `path`: the lines of
    those others could change, their names, whether the look stopped at MOST_INSIDE entries, and `names`."""
    budget, said, bad = [MOST_INSIDE], [], []
    for name in names:
        if found := chapter_said(fd, name, path, budget):
            said.append(found)
            bad.append(name)
        if budget[0] < 0:
            return said, bad, True, tuple(names)
    return said, bad, False, tuple(names)


def chapters_line(
    path: Path, said: list[str], bad: list[str], more: bool, names: tuple = (), chapters: list[str] | None = None
) -> tuple[str, str]:
    """The problem and mend for the chapter folders `bad` (`said`: their lines) in outbound/ `path`, which holds the
    folders `names` of this user's and root's; `chapters`: the course's (`again`)."""
    if not said and not more:
        return "", ""
    problem = (
        f"{shown(path)} holds chapter folders others could change ({'; '.join(said[:MOST_NAMED]) or 'none named'}"
        f"{', ...' if len(said) > MOST_NAMED or more else ''}): students fetch what a classmate put there as the "
        "chapter you released, and `release --force` stops at it after removing your files"
    )
    if more and not said:
        problem = f"{shown(path)}'s chapter folders hold more than {MOST_INSIDE:,} entries, not all looked at"
    # Moved aside, never removed (r20j W1: the class's inbound moved into one was deleted with it); release again
    if not bad:
        return problem, f"look at them as root (`ls -la {shell_word(path)}`)"
    return (
        problem,
        f"{aside_mend([path / name for name in bad], path.parent.parent)}, then {again(bad, names, chapters)}",
    )


def again(bad: list[str], names: tuple, chapters: list[str] | None) -> str:
    """What to release again once the chapter folders `bad` of outbound/ (holding `names`) are moved aside: those of
    them named as the course's `chapters` (its source/'s); where a folder there is not named as one (a student who
    could write in outbound/ may have renamed it: r20k M2, "release it again (`nbgrader release_assignment <her
    name>`)" named her folder), the chapters outbound/ will then hold none of, of which only those released before
    (r20l M2: all were listed as ones outbound/ "will no longer hold", never-released chapters too); never a folder's
    name; without `chapters` (release's own line), none named."""
    renamed = (
        "a folder's name there may not be its chapter's: a student who could write in outbound/ may have renamed it"
    )
    if chapters is None:
        return f"release again, as you, each chapter it held (`nbgrader release_assignment <chapter>`; {renamed})"
    kept = set(names) - set(bad)
    held = [name for name in bad if name in chapters]
    strange = [name for name in bad if name not in chapters]
    unheld = [c for c in chapters if c not in kept and c not in bad] if strange else []
    note = ""
    if strange:
        listed = ", ".join(shown(name) for name in strange[:MOST_NAMED]) + (
            ", ..." if len(strange) > MOST_NAMED else ""
        )
        note = f" ({listed}: not a chapter of your course's source/; {renamed})"
    if not held and not unheld:
        return f"release none again: outbound/ will still hold every chapter of your course's source/{note}"
    said = []
    if held:
        one = len(held) == 1
        command = (
            f"`nbgrader release_assignment {shell_word(held[0]) if one else '<chapter>'}`{'' if one else ' for each'}"
        )
        said.append(
            f"release again, as you, {listing(held)} ({command}: the folders moved aside held {'it' if one else 'them'})"
        )
    if unheld:
        said.append(
            f"{'and, ' if held else ''}of your course's source/ chapters outbound/ will then hold none of "
            f"({listing(unheld)}), release again, as you, those that had been released (`nbgrader release_assignment "
            "<chapter>` for each): a renamed folder may have held one"
        )
    return "; ".join(said) + note


def listing(names: list[str]) -> str:
    """`names`, quoted, the first MOST_LISTED of them."""
    return ", ".join(shown(name) for name in names[:MOST_LISTED]) + (", ..." if len(names) > MOST_LISTED else "")


MOST_LISTED = 12  # chapters named to release again
