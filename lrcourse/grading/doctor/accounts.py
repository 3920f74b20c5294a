"""Who besides a course folder's owner and root gets into a folder, for the doctor's course folder checks: by its
mode's bits (others', its group's, its owner's) and its POSIX ACL's named entries (`access_acl`), each group's members as
this host lists them (`pwd`, `grp`)."""

from __future__ import annotations

import os
from pathlib import Path

from lrcourse.grading.exchange.access_acl import Unreadable, read_acl
from lrcourse.grading.exchange.group_listing import group_listing

EVERYONE = None  # what `granted` and `reach` return when the others' bits let every account in


class Accounts:
    """This host's accounts (`pwd`, read once), for who besides `owner` (the course folder's) and root gets in."""

    def __init__(self, owner: int):
        import pwd

        self.owner = owner
        self.accounts = pwd.getpwall()
        self.members: dict[int, set[str]] = {}
        self.acl_folders: list[Path] = []  # folders whose ACL's named entries let accounts besides the owner in

    def group(self, gid: int) -> set[str]:
        """A group's members: listed in it (`gr_mem`), or it is their primary group. A gid with no group entry
        (a container runtime's supplementalGroups or fsGroup) has members this host cannot list: it counts as
        `group <gid> (members not listed)`, a reader (R20p M1: the doctor said closed while a student held it)."""
        if gid not in self.members:
            listing = group_listing(gid, self.accounts)
            listed = set(listing.members) if listing else {f"group {gid} (members not listed)"}
            self.members[gid] = listed | {account.pw_name for account in self.accounts if account.pw_gid == gid}
        return self.members[gid]

    def others_in(self, gid: int) -> set[str]:
        """The group's members besides the course folder's owner and root."""
        return self.besides_owner(self.group(gid))

    def besides_owner(self, names: set[str]) -> set[str]:
        uids = {account.pw_name: account.pw_uid for account in self.accounts}
        return {name for name in names if uids.get(name) not in (self.owner, 0)}

    def readers(self, course: Path) -> set[str] | None:
        """The accounts besides the owner and root that can read or enter `course`, each folder above it letting
        them through (x) by the same bits: its others' (None: every account), its group's, its owner's, its POSIX
        ACL's named users' and groups' (`access_acl`)."""
        readers = self.allowed(course, 0o005)
        for folder in course.resolve().parents:
            readers = both(readers, self.allowed(folder, 0o001))
        if readers is None:
            return None
        return self.besides_owner(readers)

    def allowed(self, folder: Path, bits: int) -> set[str] | None:
        """Who a folder lets do `bits` (0o001: enter; 0o005: read or enter), None for every account; a folder whose
        ACL's named entries let anyone in is noted (`acl_folders`)."""
        who, named = self.granted(folder, bits)
        if self.besides_owner(named):
            self.acl_folders.append(folder)
        return who

    def granted(self, folder: Path, bits: int, owner_always: bool = False) -> tuple[set[str] | None, set[str]]:
        """Who a folder lets do `bits` (0o001 enter, 0o002 write, 0o005 read or enter), None for every account, and
        those of them its ACL's named entries let in. With an ACL, the mode's group bits are its mask: the owning
        group's entry and the named ones, masked, say who gets in. `owner_always`: its owner, whatever the bits
        (who owns a folder may chmod it)."""
        info = os.stat(folder)
        if info.st_mode & bits:
            return EVERYONE, set()
        acl = read_acl(folder)
        if isinstance(acl, Unreadable):  # who it lets in cannot be told: the check says "not checked" (`diagnose`)
            raise ValueError(str(acl))
        in_group = acl.group_allows(bits) if acl else info.st_mode & (bits << 3)
        group = self.group(info.st_gid) if in_group else set()
        owner = set()  # the course folder's owner and root are never counted: no name needed
        if info.st_uid not in (self.owner, 0) and (owner_always or info.st_mode & (bits << 6)):
            owner = {self.name_of(info.st_uid)}
        named = set()
        if acl:
            named = {self.name_of(uid) for uid in acl.named_users(bits)}
            named = named.union(*(self.group(gid) for gid in acl.named_groups(bits)))
        return group | owner | named, named

    def reach(self, folder: Path) -> set[str] | None:
        """Who can enter `folder` (a real path, no link in it) and every folder above it, None for every account:
        each folder's owner counts, who may chmod it."""
        who = EVERYONE
        for each in (folder, *folder.parents):
            who = both(who, self.granted(each, 0o001, owner_always=True)[0])
        return who

    def name_of(self, uid: int) -> str:
        return next((a.pw_name for a in self.accounts if a.pw_uid == uid), f"uid {uid}")

    @staticmethod
    def shown(names: set[str], most: int = 5) -> str:
        listed = sorted(names)
        return ", ".join(listed[:most]) + (f" and {len(listed) - most} more" if len(listed) > most else "")


def both(these: set[str] | None, those: set[str] | None) -> set[str] | None:
    """Who is in both (None: every account)."""
    if these is None:
        return those
    return these if those is None else these & those
