"""Who this machine lists in a group: its member list (`gr_mem`) and the users whose primary group it is. Users a
directory service does not enumerate are not seen, and a gid with no group entry (a container runtime's
supplementalGroups or fsGroup) has members no one here can list: the lines that name members say so. The doctor's
lines (`doctor/entry.py`, `doctor/accounts.py`) and the course's staff (`kept_folders.staff_of`) read it."""

from __future__ import annotations

import grp
import pwd
from typing import NamedTuple


class Listing(NamedTuple):
    name: str  # the group's name
    members: dict[str, int | None]  # name: uid (None: its member list names a user this machine has no entry for)


def group_listing(gid: int, accounts: list | None = None) -> Listing | None:
    """The group `gid`'s listed members, from `accounts` (`pwd.getpwall()`'s, read once by the caller) or this
    machine's; None when the gid has no group entry."""
    try:
        group = grp.getgrgid(gid)
    except KeyError:
        return None
    accounts = pwd.getpwall() if accounts is None else accounts
    uids = {account.pw_name: account.pw_uid for account in accounts}
    members = {name: uids.get(name) for name in group.gr_mem}
    members.update({account.pw_name: account.pw_uid for account in accounts if account.pw_gid == gid})
    return Listing(group.gr_name, members)
