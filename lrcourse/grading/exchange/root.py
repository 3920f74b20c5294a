"""Whether the exchange's root keeps the course's folder in place: checked by `lrcourse collect` before it opens the
inbound folder, and by `lrcourse doctor`.

Students must create folders in the exchange's root (nbgrader's `fetch` and `submit` do), so it is writable by all;
without the sticky bit (mode 0777, nbgrader's default and its docs' example) any of them may also rename what others own
there: a student renames the course's folder, puts her own in its place, and classmates fetch her notebook (code they
run) and submit into her inbound folder; she moves the course's folder back before the instructor collects. With the
sticky bit (1777) only an entry's owner, the root's owner or root may rename it. So the root must not be writable by
group or others without the sticky bit, the course's folder in it not by others at all (nor, as root, by a group but
root's, nor through a POSIX ACL: release's rule, `folder_writers`; a student's own outbound/ or feedback/ there stops
nbgrader's release and release_feedback; collect, which makes nothing there, leaves a default ACL to release), and the
root must belong to root or the collecting user (its owner may rename anything in it). The inbound folder without the
sticky bit (nbgrader's 2733) lets a classmate rename a submission folder whose name they learn: noted by collect
(`inbound_not_sticky`), not refused; so does one its group or others may list (`inbound_listed`: nbgrader's groupshared
2773), where anyone in that group reads every submission. Before any of that, the root's own path must be one no other
account can point elsewhere (`root_path_problem`), for collect as for release."""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import stat

from lrcourse.grading.exchange.access_acl import GROUP, GROUP_OBJ, USER, Acl, Unreadable, read_acl
from lrcourse.grading.exchange.folder_writers import shared_write
from lrcourse.grading.exchange.inbound import user_name
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable
from lrcourse.grading.exchange.other_account import posix_acl
from lrcourse.grading.exchange.path_walk import account, walk_path

SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH


def replaceable(seen: os.stat_result) -> bool:
    """A folder in which group or others may rename or remove what they do not own."""
    return stat.S_ISDIR(seen.st_mode) and bool(seen.st_mode & SHARED_WRITE) and not seen.st_mode & stat.S_ISVTX


def root_path_problem(root: str | os.PathLike) -> str | None:
    """Why another account could point the exchange's root `root` anywhere, or None: it must be reached only
    through folders and links of this user's or root's (`walk_path`; not made yet, only where no one else may make
    it first), and, made, be a folder of theirs. A student's link at a root not made yet in a folder everyone may
    write in (as /tmp) had root's release chmod the root-only folder it named 1777 (R20c2 W3)."""
    trusted = (0, os.geteuid())
    try:
        reason, where, _ = walk_path(root, trusted, missing_ok=True)
        if not reason and os.path.lexists(where):
            seen = os.lstat(where)
            if not stat.S_ISDIR(seen.st_mode) or seen.st_uid not in trusted:
                reason = f"{where} is not a folder of yours or root's (owned by {account(seen.st_uid)})"
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EPERM) and error.filename:  # a folder on the way this user cannot enter
            return closed_on_path(root, os.path.dirname(error.filename))
        reason = f"cannot check {error.filename}: {error.strerror}"
    if not reason:
        return None
    return (
        f"the exchange's root {root}: {reason}: another account could point it, or put a link in its place, "
        "anywhere: root's or your release would then chmod and write there, students fetch and submit there, and "
        "collect take what it finds there. Fix: set c.Exchange.root to a path through "
        "folders only root or you may write in, as the README's instructor set-up's /srv/nbgrader/exchange, and make "
        "it there as root (`install -d -m 1777 <that path>`)"
    )


def closed_on_path(root: str | os.PathLike, folder: str) -> str:
    """Why the exchange's root `root` cannot be reached: this user cannot enter `folder` on its path, named with its
    mode, owner and group, and the mend (r20d M2: said to be a path "another account could point ... anywhere", with
    the mend to choose another, of a path root's through and through): the POSIX ACL entry that shuts it out, named,
    where its mode would let it in (r20f M1), else the bits its own class lacks, its owner's or its group's where it
    is that (r20f N4, N5), and others' for the students."""
    said, group, bits = "", "", "o+x"
    with contextlib.suppress(OSError):
        seen = os.lstat(folder)
        said = (
            f" (mode {stat.S_IMODE(seen.st_mode):04o}, owner {account(seen.st_uid)}, group {group_name(seen.st_gid)})"
        )
        if shut := acl_shuts_out(folder, seen):
            why, mend = shut
            return (
                f"the exchange's root {root}: you cannot enter {folder}{said} on its path: {why}, so lrcourse "
                "collect, Unrelease and nbgrader's release cannot reach the root (Permission denied). Fix: "
                f"{mend.replace('{}', str(folder))} (as its owner; `getfacl {folder}` shows it)"
            )
        others = "" if seen.st_mode & stat.S_IXOTH else "o"  # every student must enter it too
        if seen.st_uid == os.geteuid():  # its owner's own bits apply to its owner, not others' (r20f N4)
            bits = f"u{others}+x"
        elif seen.st_gid in {os.getegid(), *os.getgroups()}:  # its group's bits apply (r20f N5: asked to join it)
            bits = f"g{others}+x"
        elif seen.st_gid != 0:  # never the grader in group root
            group = f", or put yourself in its group {group_name(seen.st_gid)} (as root)"
            if not seen.st_mode & stat.S_IXGRP:
                group = f", or `chmod g+x {folder}` and put yourself in its group {group_name(seen.st_gid)} (as root)"
                bits = "go+x"  # its group's students too
    return (
        f"the exchange's root {root}: you cannot enter {folder}{said} on its path, so lrcourse collect, Unrelease "
        f"and nbgrader's release cannot reach the root (Permission denied). Fix: `chmod {bits} {folder}` (as its "
        f"owner; every student must enter it too){group}"
    )


def acl_shuts_out(folder: str | os.PathLike, seen: os.stat_result, need: int = 1) -> tuple[str, str] | None:
    """Why `folder`'s POSIX access ACL (`seen`: its stat) keeps this user from entering it (`need` 1; 4: from listing
    it, r20g N2), and the mend, a command
    with "{}" where the folder goes: its own entry, else those of its groups (named, and the owning group's `group::`) when
    none lets it in. An entry that grants x cut off by the mask (the mode's group bits) gets the mask's mend, never
    the grant removed (r20g M1); a `group::` without x gets `setfacl -m g::...`, which `chmod g+x` (the mask) is not
    (r20g M2); a named one without x `setfacl -x`. None when no entry shuts it out, no ACL with a mask, or this user
    owns `folder` (its bits apply). An ACL that is no ACL (`access_acl.Unreadable`) is said so, its mend `setfacl -b`:
    which entry shuts this user out cannot be told."""
    acl = masked_acl(folder)
    me, groups = os.geteuid(), {os.getegid(), *os.getgroups()}
    if seen.st_uid == me or acl is None:
        return None
    if isinstance(acl, Unreadable):
        return f"its {acl} may shut you out whatever its mode", "`setfacl -b {}` (it removes the ACL)"
    entries, mask = acl.entries, acl.mask
    mine = [(tag, perm, id) for tag, perm, id in entries if tag == USER and id == me]
    if not mine:
        mine = [(tag, perm, id) for tag, perm, id in entries if tag == GROUP and id in groups]
        if seen.st_gid in groups:
            mine += [(tag, perm, id) for tag, perm, id in entries if tag == GROUP_OBJ]
    if not mine or any(perm & mask & need for _, perm, _ in mine):
        return None
    said = [acl_entry(tag, perm, id) for tag, perm, id in mine]
    granted = [entry for entry, (_, perm, _) in zip(said, mine, strict=True) if perm & need]
    if granted:  # the mask cuts it off: `chmod g+...` sets the mask; r too where granted (a root is listed)
        cut = 0
        for _, perm, _ in mine:
            cut |= perm & 5 & ~mask if perm & need else 0
        return (
            f"its POSIX ACL's mask ({rwx(mask)}: the mode's group bits) cuts off its entry {', '.join(granted)}, "
            f"which grants you {rwx(need).replace('-', '')}",
            f"`chmod g+{rwx(cut).replace('-', '')} {{}}` (with a POSIX ACL the mode's group bits are its mask: each "
            f"entry then has what it grants; or `setfacl -m m::{rwx(mask | cut)} {{}}`)",
        )
    mends = [f"`setfacl -x {entry.rsplit(':', 1)[0]} {{}}`" for entry in said if not entry.startswith("g::")]
    mends += [f"`setfacl -m g::{rwx(perm | need)} {{}}`" for tag, perm, _ in mine if tag == GROUP_OBJ]
    entry = "entry " + said[0] if len(said) == 1 else "entries " + ", ".join(said)
    return f"its POSIX ACL's {entry} shuts you out whatever its mode", " and ".join(mends)


def acl_entries(folder: str | os.PathLike, need: int) -> list[tuple[int, int]]:
    """The (tag, id) of the entries of `folder`'s POSIX access ACL, named users, named groups and `group::`, that
    have `need` through its mask; [] without an ACL with a mask, or with one that is no ACL (`access_acl.Unreadable`:
    who lists it is then `acl_named`'s "its POSIX ACL names")."""
    acl = masked_acl(folder)
    if not isinstance(acl, Acl):
        return []
    return [(tag, id) for tag, perm, id in acl.entries if tag in (USER, GROUP, GROUP_OBJ) and perm & acl.mask & need]


def masked_acl(folder: str | os.PathLike) -> Acl | Unreadable | None:
    """`folder`'s POSIX access ACL (`access_acl.read_acl`, through a link) where it has a mask entry, or is no ACL;
    None where it has none, a minimal one (the mode itself) or cannot be read."""
    try:
        acl = read_acl(folder)
    except OSError:
        return None
    return None if isinstance(acl, Acl) and acl.mask_entry is None else acl


def acl_entry(tag: int, perm: int, id: int) -> str:
    """One entry of a POSIX ACL as getfacl says it ("u:<name>:r-x", "g::---")."""
    if tag == USER:
        return f"u:{acl_name(user_name(id), id)}:{rwx(perm)}"
    if tag == GROUP:
        return f"g:{acl_name(group_name(id), id)}:{rwx(perm)}"
    return f"g::{rwx(perm)}"


def rwx(perm: int) -> str:
    return "".join(letter if perm & bit else "-" for letter, bit in zip("rwx", (4, 2, 1), strict=True))


def acl_name(name: str, id: int) -> str:
    """A user's or group's name as setfacl takes it: the number where this machine lists no name."""
    return str(id) if name.endswith(f"id {id}") else name


def root_problem(exchange: Exchange, inherited: bool = True) -> str | None:
    """Why a student could put their own folder in place of the course's in the exchange (`root_itself_problem`), or
    make one in the course's folder (`course_write_problem`), or None. A folder that is missing, a link or not a folder
    is left to `open_inbound`, which refuses it with its own reason."""
    return root_itself_problem(exchange) or course_write_problem(exchange, inherited)


def root_itself_problem(exchange: Exchange) -> str | None:
    """Why a student could rename the course's folder in the exchange's root and put their own there, or None."""
    try:
        root = os.stat(exchange.root)  # the root's path is the admin's own: followed
    except OSError:
        return None
    if replaceable(root):
        return (
            f"{exchange.root} (mode {stat.S_IMODE(root.st_mode):04o}) is writable by other users without the sticky "
            "bit: a student can rename the course's folder and put their own in its place, where classmates would "
            f"fetch her notebook and submit into her inbound folder. Fix: `chmod 1777 {exchange.root}` (as its owner "
            "or root; see the README's instructor set-up)"
        )
    if root.st_uid not in (os.geteuid(), 0):
        return (
            f"{exchange.root} is owned by {user_name(root.st_uid)}, who may rename anything in it even with the sticky "
            f"bit. Fix: `chown root {exchange.root}` and `chmod 1777 {exchange.root}` (as root; see the README's "
            "instructor set-up)"
        )
    return None


def course_write_problem(exchange: Exchange, inherited: bool = True) -> str | None:
    """Why a student could make a folder or a link in the course's folder in the exchange, or None (a missing one, a
    link or a file is left to `open_inbound`). With `inherited` False (collect's rule: it makes nothing there), a
    default POSIX ACL, which lets no one write in the folder itself, is not counted (R20a M2: it refused the class)."""
    course = exchange.root / exchange.course_id
    try:
        seen = os.stat(course, follow_symlinks=False)
        problem, mend = shared_write(seen, course, inherited) if stat.S_ISDIR(seen.st_mode) else ("", "")
    except OSError:
        return None
    # students write only inside inbound/; the course's folder may be group-writable for the course's instructors
    # (nbgrader's groupshared, a non-root grader's), never by others, sticky bit or not, nor, as root, by a group but
    # root's, nor through a POSIX ACL (release's rule, `folder_writers.shared_write`; R20g2 M1: a student an ACL let
    # write there swapped inbound/ for outbound/ and collect found nothing): a student's own outbound/ or feedback/
    # there makes nbgrader's release and release_feedback refuse a folder the instructor does not own
    if not problem:
        return None
    if "default POSIX ACL" in problem:  # release's rule: no one may write there yet
        return f"{problem}. Fix: {mend} (see the README's instructor set-up)"
    return (
        f"{problem} (her own outbound/ or feedback/ there stops nbgrader's release and release_feedback; without "
        f"the sticky bit, a folder of hers in place of inbound/ leaves collect nothing). Fix: {mend} (0755; see "
        "the README's instructor set-up)"
    )


def check_exchange_root(exchange: Exchange, inherited: bool = True) -> None:
    """Refuse an exchange whose root another account could point elsewhere (`root_path_problem`, release's rule:
    collect, release and Unrelease all refuse it, with the same reason; R20e2 N1) or whose course folder a student
    could replace (`root_problem`); `inherited` False for collect (`course_write_problem`)."""
    problem = root_path_problem(exchange.root) or root_problem(exchange, inherited)
    if problem:
        raise ExchangeUnusable(problem)


def inbound_not_sticky(inbound: int, exchange: Exchange) -> list[str]:
    """A note when the inbound folder (open at `inbound`) lets students rename or remove what they do not own in
    it: without the sticky bit, a classmate who learns a submission folder's name can rename it (out of collect,
    or to look late). Not a refusal: nbgrader's release makes it so (2733), and the submissions in it are still
    each student's own; `chmod +t` as its owner fixes it without touching a submission's change time."""
    seen = os.fstat(inbound)
    if not replaceable(seen):
        return []
    return [
        f"{exchange.inbound} (mode {stat.S_IMODE(seen.st_mode):04o}) has no sticky bit: a classmate who learns a "
        "submission folder's name can rename it, taking it out of collect or making it look late. Fix: `chmod +t "
        f"{exchange.inbound}` (as its owner; mode 3733, see the README's instructor set-up)"
    ]


def inbound_listed(inbound: int, exchange: Exchange) -> list[str]:
    """A note when group or others may list the inbound folder (open at `inbound`): nbgrader's groupshared makes it
    2773, and then anyone in its group (a student put there by mistake) lists every submission and reads its
    notebook and submission_secret.txt, with which they fetch that student's feedback. Not a refusal: the
    submissions are still each student's own; `chmod go-r` as its owner fixes it without touching their times."""
    seen = os.fstat(inbound)
    if not seen.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    who = "every user" if seen.st_mode & stat.S_IROTH else f"everyone in its group {group_name(seen.st_gid)}"
    if not seen.st_mode & stat.S_IROTH and acl_named(str(exchange.inbound)):  # the group bits are its mask (R20g2 M3)
        who += " or the users and groups its POSIX ACL names (`getfacl` shows them)"
    return [
        f"{exchange.inbound} (mode {stat.S_IMODE(seen.st_mode):04o}) can be listed by {who}: whoever of them is a "
        "student reads every classmate's submission and its submission_secret.txt (and fetches their feedback). "
        f"Fix: `chmod go-r {exchange.inbound}` (as its owner; mode 3733, see the README's instructor set-up)"
    ]


def acl_named(path: str) -> bool:
    """Whether the folder `path` carries a POSIX ACL naming users or groups (or a default one): its mode's group bits
    are then its mask, and what they allow goes to those named too, not to its group alone."""
    try:
        return bool(posix_acl(path))
    except OSError:
        return False


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"
