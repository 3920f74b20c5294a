"""The user id a sandbox runs as when the grader is root: one nobody else on the machine has or can get.

Trust: whoever shares the sandbox's uid can signal, read and trace a student's sandboxed kernel, a classmate's
included (r20ad W3). So the id is none that a running process has (other workers' sandboxes included), none that
names an account or group (the passwd and group databases, a directory service's included), and none in a
subordinate range of /etc/subuid or /etc/subgid: `newuidmap` gives a user's processes those ids in a user namespace
of hers, and outside it they are real ids (r20ak 6)."""

from __future__ import annotations

import grp
import os
import pwd
import random
from pathlib import Path

UID_BASE = 66000  # sandboxes run as 66000 + n when the grader is root: above systemd's dynamic users (61184-65519)
SPAN = 20000
MOST_PICKS = 2000
SUBORDINATE_FILES = ("/etc/subuid", "/etc/subgid")


def free_uid(subordinate_files: tuple[str, ...] = SUBORDINATE_FILES) -> int:
    """A user id in UID_BASE..UID_BASE+SPAN-1 nobody has or can get (`subordinate_files`: the ranges handed out)."""
    taken = running_uids()
    handed_out = subordinate_ranges(subordinate_files)
    for _ in range(MOST_PICKS):
        uid = UID_BASE + random.randrange(SPAN)
        if uid in taken or any(uid in ids for ids in handed_out):
            continue
        if not known_id(pwd.getpwuid, uid) and not known_id(grp.getgrgid, uid):
            return uid
    raise RuntimeError(  # r20af 9: a directory filling the range looped forever
        f"no free user id for a sandbox in {UID_BASE}-{UID_BASE + SPAN - 1} after {MOST_PICKS} picks: accounts, "
        "groups, subordinate ranges (/etc/subuid, /etc/subgid) or processes hold them; give the grader a machine where "
        "that range is unused"
    )


def running_uids() -> set[int]:
    """The user ids of the processes running now."""
    taken = set()
    for name in os.listdir("/proc"):
        try:
            taken.add(os.stat(f"/proc/{name}").st_uid)
        except OSError:
            continue
    return taken


def subordinate_ranges(files: tuple[str, ...]) -> list[range]:
    """The id ranges `files` (lines `<user>:<first>:<count>`, as /etc/subuid) hand out; a missing file hands out none."""
    ranges = []
    for file in files:
        try:
            lines = Path(file).read_text(errors="replace").splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.strip().split(":")
            if len(fields) == 3 and all(field.isascii() and field.isdigit() for field in fields[1:]):  # r20an 10
                ranges.append(range(int(fields[1]), int(fields[1]) + int(fields[2])))
    return ranges


def known_id(lookup, number: int) -> bool:
    """Whether `lookup` (pwd.getpwuid, grp.getgrgid) names `number`."""
    try:
        lookup(number)
    except KeyError:
        return False
    return True
