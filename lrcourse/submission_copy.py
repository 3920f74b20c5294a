"""What nbgrader's copy of a student's assignment folder would fail on, never finish, or pour into the exchange,
found before it copies.

nbgrader's submit copies the whole folder with `shutil.copytree`, following links (a link to a folder is copied as
the folder, a link to a file as the file). A link to nothing, an entry she cannot read, a named pipe or socket, at
any depth, fails the copy midway, and the student read that the exchange's disk may be full or to tell her
instructor (r20al 4, r20an 2); a link to a folder that holds it (`here -> .`) is copied into itself until the path
is too long, a link to /dev/zero is read until the exchange's disk is full (r20an 1), and a link to a dataset is
copied whole: nbgrader's own size limit (`max_dir_size`) does not count what links lead to (r20an 3). Walked here as
the copy walks it (nbgrader's own ignore rule, `ignore`, at every level; links followed), its bytes counted against
that limit. Trust: the folder and its links are the student's own, read with her rights, in her own server: this is
advice to an honest student, who learns before copying what would fail. A hostile one can change an entry after the
walk or write into the inbound directly; the exchange's per-user block and inode quotas (README) are what bound her
(r20ap 2)."""

from __future__ import annotations

import os
import stat
from errno import ENOENT, ENOTDIR

from lrcourse.shell_words import quoted

MOST_LOOKED = 100_000  # entries the copy would make, links followed: more is refused
KERNEL_FILES = ("/proc/", "/sys/")  # "regular" files whose size says nothing of what reading them gives


class Walk:
    """The copy's walk of one folder: the entries and bytes it would copy so far, and the first problem met."""

    def __init__(self, folder: str, ignore, most_bytes: int):
        self.folder, self.ignore, self.most_bytes = folder, ignore, most_bytes
        self.looked = self.bytes = 0

    def problem(self) -> str:
        """'<entry> in your assignment folder <what is wrong>', or what the whole folder is past; '' if nothing."""
        stack = [(self.folder, (os.path.realpath(self.folder),), "")]  # a folder, the real ones it is inside, the link
        while stack:  # of hers it is reached through ("" if none)
            here, inside, via = stack.pop()
            try:
                listed = os.listdir(here)
                left_out = set(self.ignore(here, listed))  # once a folder: it stats each name
                names = [name for name in listed if name not in left_out]
            except OSError as error:
                return self.said(here, via, f"cannot be read ({error.strerror})")
            for name in names:
                path = os.path.join(here, name)
                self.looked += 1
                if self.looked > MOST_LOOKED:  # a link to a big dataset or to / is copied whole
                    return self.past(f"{MOST_LOOKED:,} files and folders")
                kind, problem, size = entry_kind(path, inside)
                if problem:
                    return self.said(path, via, problem)
                if kind == "folder":
                    link = via or (path if os.path.islink(path) else "")
                    stack.append((path, (*inside, os.path.realpath(path)), link))
                else:
                    self.bytes += size
                    if self.bytes > self.most_bytes:
                        return self.past(f"{self.most_bytes / 1e6:g} MB (nbgrader's max_dir_size)")
        return ""

    def said(self, path: str, via: str, problem: str) -> str:
        name = quoted(os.path.relpath(path, self.folder))
        if via:  # r20an 7: inside what a link of hers leads to, the link is hers to remove
            through = quoted(os.path.relpath(via, self.folder))
            return f"{name} in your assignment folder (through your link {through}) {problem}"
        return f"{name} in your assignment folder {problem}"

    def past(self, bound: str) -> str:
        return (
            f"your assignment folder holds more than {bound} to copy, links followed as nbgrader's copy follows them "
            "(a link to a dataset is copied whole into the exchange)"
        )


def copy_problem(folder: str, ignore, most_bytes: int) -> str:
    """The first thing of `folder` the copy would fail on, loop through, or pour past `most_bytes` into the exchange
    (`ignore`: nbgrader's `ignore_patterns(...)`, the copy's own); '' when there is none."""
    return Walk(folder, ignore, most_bytes).problem()


def size_problem(folder: str, most_bytes: int) -> str:
    """What nbgrader's own size check (`get_size`: every file, those its copy leaves out included, links not
    followed) would refuse, with the largest file named (r20ap 5: "Directory size is too big" named none); ''."""
    total, largest, stack = 0, (0, ""), [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif not entry.is_symlink():
                        size = entry.stat(follow_symlinks=False).st_size
                        total, largest = total + size, max(largest, (size, entry.path))
        except OSError:
            continue  # what cannot be listed is the walk's to name (`copy_problem`)
    if total <= most_bytes:
        return ""
    name = quoted(os.path.relpath(largest[1], folder))
    return (
        f"your assignment folder holds {total / 1e6:.0f} MB, more than nbgrader's limit ({most_bytes / 1e6:g} MB, "
        f"max_dir_size, which counts every file, those its copy leaves out included); the largest is {name}, "
        f"{largest[0] / 1e6:.0f} MB"
    )


def entry_kind(path: str, inside: tuple[str, ...]) -> tuple[str, str, int]:
    """("folder" or "file", what is wrong with `path` for the copy or '', the bytes the copy reads: its one stat),
    `inside` the real folders it is within."""
    try:
        seen = os.stat(path)  # where a link leads, as the copy follows it
    except OSError as error:
        if not os.path.islink(path):
            return "", f"cannot be read ({error.strerror})", 0
        nothing = error.errno in (ENOENT, ENOTDIR)
        return (
            "",
            "is a link to nothing here" if nothing else f"is a link that cannot be followed ({error.strerror})",
            0,
        )
    link = "is a link to " if os.path.islink(path) else "is "
    if stat.S_ISDIR(seen.st_mode):
        if os.path.islink(path) and os.path.realpath(path) in inside:
            return "", "is a link to a folder that holds it: copying it would never end", 0
        problem = "" if os.access(path, os.R_OK | os.X_OK) else "cannot be read (you have no permission to read it)"
        return "folder", problem, 0
    if not stat.S_ISREG(seen.st_mode):  # r20an 1, 2: /dev/zero is read until the disk is full; a pipe or socket fails
        return "", f"{link}a device, named pipe or socket: nbgrader's copy cannot copy it", 0
    if os.path.realpath(path).startswith(KERNEL_FILES):  # r20ap 2: sized 0, read without end (/proc/self/pagemap)
        return "", f"{link}a file of the kernel's (/proc, /sys): nbgrader's copy could read it without end", 0
    unreadable = not os.access(path, os.R_OK)
    return "file", "cannot be read (you have no permission to read it)" if unreadable else "", seen.st_size
