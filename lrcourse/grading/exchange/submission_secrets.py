"""Which `submission_secret.txt` a submission keeps, in `lrcourse collect` and in `lrcourse grade`: one rule.

nbgrader's `release_feedback` files each student's feedback under a hash of the secret in their submitted folder,
and `fetch_feedback` finds it with the secret the student's own `nbgrader submit` wrote (every secret she ever
submitted with). It stops for the rest of the class at a missing, empty or undecodable one, so only a secret as
`nbgrader submit` writes it is kept, else a fresh one is written (`NO_SECRET`: that student's feedback cannot reach
them through the exchange). A secret can be read in a classmate's inbound folder, or sent in a submission copied
into `submitted/` by hand: two students holding one would each fetch the other's feedback.

The rule (F17, F20): a secret belongs to the student `lrcourse collect` first accepted it from, and a submission
keeps its secret only when the ledger records it as that student's. Collect records each owner in the course's
ledger (`.secret_owners/<assignment>.json`, in the course's folder, outside `submitted/`: no student writes it, and
no folder copied into `submitted/` by hand is in it), as a hash of the secret; an owner is never replaced, so no
later submission, hand copy or re-run takes a secret from its student.

Collect's side: a secret no collect recorded yet goes to the student whose accepted inbound folder held it
(superseded folders counted too) when it is the only student whose folders hold it; held by several students'
folders, or also held by a folder of another student in `submitted/` (a copy by hand, or one collected before any
ledger: F19), it goes to none of them (`NOBODY`, recorded so: F18), and each holder is told. Who held it first
cannot be told: a classmate can rename the secret file in a folder `nbgrader submit` left writable to all (0777)
away and back, which moves its change time after her own copy's. Every other inbound holder gets a fresh secret
(`SHARED_SECRET`, `CONTESTED`). Collect counts a folder in `submitted/` only against a secret new to the ledger (it
never gives one an owner). A secret is recorded only as read from the very file checked, unchanged since
(`inbound_secret`): a student who rewrites her own between the check and the read records nothing.

Grade's side (`grade_secret_note`): a folder in `submitted/` keeps its secret only if the ledger records it as that
student's; a secret recorded for a classmate or for no one gets a fresh one (`SHARED_SECRET`, `CONTESTED`), and so
does a secret no collect ever recorded (`UNRECORDED`: a hand copy's, or a folder's collected before any ledger).
That last was kept by its only holder until F20: a hand copy holding alice's secret, graded and released before
alice's collect, filed its feedback under her secret, and once her collect made the secret no one's the unchanged
copy was skipped ("already graded"), so alice fetched only the copy's page. Every such note says the grade is
unaffected and what can be done (`AGAIN`: a resubmission after the due date is late).

A ledger that exists but cannot be read stops collect and grade (`LedgerUnreadable`): replacing it would forget
every owner. Collects of an assignment take turns (`one_collect_at_a_time`; one that waits says so), and the ledger
is written through a file of a unique name: two at once each wrote the whole ledger, the last forgetting the other's
owners (F19). The ledger's folder and lock must be the running user's, root's or the course folder's owner's, neither
a link nor writable by others (`LedgerUnsafe`: in a course folder others can write, a student could plant owners or
hold the lock: F20, F21). A student given a fresh secret keeps it over later collects (F22). Fleet
grading applies grade's side on the enqueuing side, where the ledger and the class are (`fleet_write`); a worker's
scratch course records its one student's secret as hers (`record_as_own`), so only NO_SECRET applies there.
Secrets are read as plain files only, a secret's length at most: `submitted/` may hold what an instructor copied in,
an inbound folder what a student wrote. (nbgrader's `feedback/` holds no secret.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
import tempfile
from pathlib import Path

from lrcourse.grading.exchange.inbound import OPEN_FLAGS, Submission
from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable
from lrcourse.grading.exchange.ledger_folder import LEDGER, ledger_folder, out_of_reach, to_course_owner

SECRET = "submission_secret.txt"
AGAIN = (
    "the grade is unaffected; hand the feedback folder over another way, or have this student submit again through "
    "the exchange: nbgrader submit writes a new secret each time, and collect records it as theirs. A resubmission "
    "after the due date is late (under a late penalty, one of method zero scores 0): give an extension first "
    "(nbgrader's API: Gradebook(db_url).grant_extension(assignment, student, days=...)), or hand the feedback over "
    "another way"
)
SHARED_SECRET = (
    f"its {SECRET} is also held by the student {{!r}} (now or in an earlier submission): a fresh one written, so "
    f"neither fetches the other's feedback; this student cannot fetch this feedback through the exchange ({AGAIN})"
)
NO_SECRET = (
    f"no usable {SECRET}: a fresh one written so release_feedback goes on for the class; this student cannot "
    f"fetch this feedback through the exchange ({AGAIN})"
)
CONTESTED = (
    f"its {SECRET} is also held by a classmate's submission (an inbound folder, or a folder copied into submitted/ "
    "by hand), and no earlier collect recorded whose it is: no holder keeps it (who sent it first cannot be told), a "
    "fresh one written, so neither fetches the other's feedback; this student cannot fetch this feedback through the "
    f"exchange ({AGAIN})"
)
HAND_COPY_CONTESTED = (
    f"this folder was not written by lrcourse collect (a copy by hand?) and its {SECRET} is also held by a "
    "classmate's inbound folder collected now, and no earlier collect recorded whose it is: it is recorded as no "
    "one's, and lrcourse grade gives this folder a fresh one (its note says so)"
)
UNRECORDED = (
    f"its {SECRET} is not recorded as this student's by lrcourse collect (a copy by hand, or a folder collected "
    "before the secret ledger): a fresh one written, so no classmate who knows it fetches this feedback; this student "
    "cannot fetch this feedback through the exchange. Collected before the ledger, with her inbound folder still in "
    "the exchange: lrcourse collect again records its secret as hers (it collects her newest submission), then "
    "lrcourse grade --force gives it back to her feedback (it grades the whole class again: hand-graded answers wait "
    f"to be confirmed again in formgrader). Else: {AGAIN}"
)
EARLIER_KEPT = (
    "this student's earlier {}, recorded as theirs, is kept in its place: they fetch this feedback through the "
    "exchange (filed under their earlier submission's secret, which their own fetch_feedback still tries); the grade "
    "is unaffected, and nothing needs doing"
)
NOBODY = ""  # the ledger's owner of a secret several students' folders held before any collect recorded it


class LedgerUnreadable(ExchangeUnusable):
    """The ledger exists but cannot be read as one: collect and grade stop rather than forget who owns a secret
    (an ExchangeUnusable: collect's callers stop with the reason for it as they do for an exchange they cannot use)."""


class LedgerUnwritable(ExchangeUnusable):
    """The ledger cannot be written (its file system full, a disk error): the secrets it would record have no
    owner on disk, so no folder holding them moves into submitted/ (F21); collect stops with the reason, or refuses
    the one student whose secret it was (an ExchangeUnusable, as LedgerUnreadable)."""


def shared_note(owner: str) -> str:
    """The report of a holder whose secret is another's (`owner`), or no one's (`NOBODY`)."""
    return CONTESTED if owner == NOBODY else SHARED_SECRET.format(owner)


def collect_note(files: dict[str, bytes], student: str, owner: str, earlier: bool) -> str | None:
    """What collect reports of the secret it wrote for `student` (None: hers, kept): NO_SECRET or whose it is
    (`shared_note`), where a fresh one was written; where her earlier secret was kept instead (`earlier`, F22),
    why, and that she fetches this feedback (F23: the old note asked for an extension or a hand-over needlessly)."""
    if usable_secret(files) and owner == student:
        return None
    if not earlier:
        return shared_note(owner) if usable_secret(files) else NO_SECRET
    if not usable_secret(files):
        why = f"no usable {SECRET}"
    elif owner == NOBODY:
        why = f"its {SECRET} is also held by a classmate's submission, and no earlier collect recorded whose it is"
    else:
        why = f"its {SECRET} is also held by the student {owner!r} (now or in an earlier submission)"
    return f"{why}: {EARLIER_KEPT.format(SECRET)}"


def usable_secret(files: dict[str, bytes]) -> bool:
    """The student's submission_secret.txt is one `nbgrader submit` writes: 128 hexadecimal digits."""
    return re.fullmatch(rb"[0-9a-f]{128}\n?", files.get(SECRET, b"")) is not None


def digest(secret: bytes) -> str:
    """How the ledger names a secret: its hash (the ledger never holds one a reader could submit with)."""
    return hashlib.sha256(secret.strip()).hexdigest()


def ledger_path(course: Path, assignment: str) -> Path:
    return course / LEDGER / f"{assignment}.json"


def read_ledger(course: Path, assignment: str) -> dict[str, str]:
    """secret's digest -> its owner, as collect recorded them (nothing if there is no ledger yet). LedgerUnreadable
    if there is one that cannot be read or is not a ledger: collect would otherwise write a new one over it, and
    every secret recorded would go to whoever sent it next (F18)."""
    path = ledger_path(course, assignment)
    if ledger_folder(course) is None:
        return {}
    try:
        ledger = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise LedgerUnreadable(_unreadable(path, out_of_reach(course) or error)) from None
    if not isinstance(ledger, dict) or not all(isinstance(v, str) for v in ledger.values()):
        raise LedgerUnreadable(_unreadable(path, "not a JSON object of secret digests and owners"))
    return ledger


def _unreadable(path: Path, why) -> str:
    return (
        f"the secret ledger {path} cannot be read ({why}): nothing collected or graded, the ledger left as it is. "
        "If another account wrote it (root's collect), chown it (and its folder, if the reason names it) to this "
        "one; else restore it from a backup, or, knowing that every secret collected so far loses its owner (a "
        "classmate who sent one would be given it), move it aside and run again"
    )


def no_ledger_note(course: Path, assignment: str) -> list[str]:
    """What collect reports when there is no ledger yet but `submitted/` holds folders of the assignment: their
    secrets are not protected. (Not rebuilt from `submitted/`: a hand copy there could take a student's secret.)"""
    if ledger_path(course, assignment).exists() or not any((course / "submitted").glob(f"*/{assignment}")):
        return []
    return [
        f"no secret ledger {ledger_path(course, assignment).relative_to(course)}, but submitted/ already holds folders "
        f"of {assignment}: the secrets collected before it existed have no recorded owner (a classmate who sends "
        f"one now could be given it). If the ledger was removed or lost, restore {LEDGER}/ from a backup (made "
        "with the gradebook's) and collect again; if these folders were collected before lrcourse kept a ledger, "
        "keep the inbound folder unlistable (3733) and collect now: a secret still in its student's inbound folder "
        "alone is recorded as hers (her newest submission is the one collected); then lrcourse grade --force, so "
        "that her feedback keeps it (the whole class is graded again, hand-graded answers confirmed again). A student "
        "whose feedback still does not arrive can submit again (a new submission's new secret is recorded as theirs)"
    ]


def write_ledger(course: Path, assignment: str, ledger: dict[str, str]) -> None:
    """Write the ledger whole (a crash, even of the machine, leaves the old one or the new), readable by its owner
    only. Through a temporary file of a unique name in the same folder (two writers never share one: a fixed name let
    one unlink the other's, FileNotFoundError, F19), synced to disk before it is renamed over the ledger (else a power
    cut can keep the rename and lose the text: an empty ledger), and the folder synced after (keeps the rename)."""
    path = ledger_path(course, assignment)
    try:
        # checked at each write, not once a collect: the lock keeps other collects out, not a student who can write
        # the course folder and swap the ledger's folder for hers meanwhile (an lstat and a stat: about 60 us)
        ledger_folder(course, create=True)
        fd, fresh = tempfile.mkstemp(prefix=f".{assignment}.", suffix=".writing", dir=path.parent)  # 0600, O_EXCL
    except OSError as error:
        raise _unwritable(path, error) from error
    renamed = False
    try:
        with os.fdopen(fd, "w") as file:  # closed however the write ends
            to_course_owner(file.fileno(), course)  # root's ledger, the grader account's to read and write too (F23)
            json.dump(ledger, file, indent=1, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        os.replace(fresh, path)
        renamed = True
        sync_folder(path.parent)
    except BaseException as error:
        Path(fresh).unlink(missing_ok=True)
        if isinstance(error, OSError):  # disk full (F23): a refusal with the reason, not collect's traceback
            raise _unwritable(path, error, renamed) from error
        raise


def _unwritable(path: Path, error: OSError, renamed: bool = False) -> LedgerUnwritable:
    """The refusal, true of the ledger on disk: as it was, or (the folder's sync failed after the rename) the new one
    in place, perhaps not yet on disk (G16)."""
    why = error.strerror or error
    state = (
        f"cannot be written ({why}): it is left as it was"
        if not renamed
        else f"is written but its folder cannot be synced to disk ({why}): the new ledger is in place, and a crash "
        "before the disk catches up may bring back the one before it"
    )
    return LedgerUnwritable(
        f"the secret ledger {path} {state}, and no submission whose secret it would record is moved into submitted/. "
        "Make room on its file system (or mend the reason) and collect again"
    )


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX keeps it only once the folder itself is synced)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def record_new_owners(ledger: dict[str, str], holders: dict, course: Path, assignment: str) -> list[dict]:
    """`record_first_holders` against the folders of `assignment` in the course's `submitted/`: the collect
    record's notes on those of them that hold a secret made no one's."""
    before = dict(ledger)
    contested = record_first_holders(ledger, holders, submitted_holders(course / "submitted", assignment))
    if ledger != before:  # on disk before any folder moves into submitted/: a grade meanwhile finds its owner (F21)
        write_ledger(course, assignment, ledger)
    return [{"submission": f"submitted/{name}/{assignment}", "note": HAND_COPY_CONTESTED} for name in sorted(contested)]


def record_first_holders(
    ledger: dict[str, str], holders: dict[bytes, list[tuple[int, str]]], copies: dict[bytes, set[str]]
) -> set[str]:
    """`ledger` learns an owner for each secret it has none for (`holders`: secret -> (its file's change time,
    student) per accepted inbound folder): the student whose folders alone hold it; `NOBODY` if several students'
    do (the change times cannot say who was first: F18), or if a folder in `submitted/` of another student holds it
    too (`copies`: secret -> students, from `submitted_holders`; a secret new to the ledger there was copied in by
    hand, or collected before any ledger: who sent it first cannot be told either, F19). An owner already there
    stays. Returns the students whose folder in `submitted/` holds a secret made no one's here (each gets a note)."""
    contested = set()
    for secret, held in holders.items():
        key = digest(secret)
        if key in ledger:
            continue
        students = {student for _, student in held}
        copied = copies.get(secret.strip(), set()) - students
        ledger[key] = students.pop() if len(students) == 1 and not copied else NOBODY
        contested |= copied
    return contested


def submitted_holders(submitted: Path, assignment: str) -> dict[bytes, set[str]]:
    """secret -> the students whose folder of `assignment` in `submitted` holds it (each folder's read once)."""
    found: dict[bytes, set[str]] = {}
    for path in submitted.glob(f"*/{assignment}/{SECRET}"):
        secret = read_secret(path)
        if secret is not None and usable_secret({SECRET: secret}):
            found.setdefault(secret, set()).add(path.parent.parent.name)
    return found


def first_held(submission: Submission) -> int:
    """When the secret file of a checked inbound folder was put there (its change time in ns, set by the kernel: a
    student can only move it later)."""
    return submission.entries[SECRET].st_ctime_ns


def grade_secret_note(course: Path, assignment: str, secret: bytes, student: str) -> str:
    """`lrcourse grade`'s side of the rule: "" if `student`'s folder keeps `secret` (the ledger records it as hers),
    else the note for her reasons: whose it is (a classmate's, or no one's), or that no collect recorded it."""
    owner = read_ledger(course, assignment).get(digest(secret))
    if owner is None:
        return UNRECORDED
    return "" if owner == student else shared_note(owner)


def record_as_own(course: Path, assignment: str, student: str) -> None:
    """A fleet worker's scratch course (one student, no class) records the secret of `student`'s folder in its
    `submitted/` as hers, so that its copy of grade's rule writes only NO_SECRET: the enqueuer applies the course's
    ledger to the result (`fleet_write.keep_secret_here`). Without it every result said UNRECORDED."""
    secret = read_secret(course / "submitted" / student / assignment / SECRET)
    write_ledger(course, assignment, {digest(secret): student} if secret and usable_secret({SECRET: secret}) else {})


def inbound_secret(inbound_fd: int, submission: Submission) -> bytes | None:
    """The secret in a checked inbound folder, read as `read_secret` reads one, from the very file checked and
    unchanged since (its inode, change time and size, before and after the read); None if it has none or it is not
    that file: `first_held` is the checked file's change time, and a student who rewrote her own secret with a
    classmate's after the check must not have it recorded as held since then (F18)."""
    if SECRET not in submission.entries:
        return None
    try:
        folder = os.open(submission.name, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=inbound_fd)
    except OSError:
        return None
    try:
        return read_secret(Path(SECRET), dir_fd=folder, seen=submission.entries[SECRET])
    finally:
        os.close(folder)


def _unchanged(opened: os.stat_result, seen: os.stat_result) -> bool:
    fields = ("st_dev", "st_ino", "st_ctime_ns", "st_size")
    return all(getattr(opened, name) == getattr(seen, name) for name in fields)


def read_secret(path: Path, dir_fd: int | None = None, seen: os.stat_result | None = None) -> bytes | None:
    """A plain file's first bytes, as many as a secret has (submitted/ may hold what an instructor copied in: a link
    to /dev/zero or a FIFO is not read, nothing is followed); None for anything else, or if `seen` is given and the
    file is not the one it describes, unchanged until read."""
    try:
        fd = os.open(path, OPEN_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            return None
        data = os.read(fd, 130).strip()
        if seen is not None and not (_unchanged(opened, seen) and _unchanged(os.fstat(fd), seen)):
            return None
        return data
    except OSError:
        return None
    finally:
        os.close(fd)


def secret_recorded(
    files: dict[str, bytes], student: str, ledger: dict[str, str], course: Path, assignment: str, holders: dict
) -> tuple[bytes, str | None]:
    """`secret_to_keep`, given the secret of the student's folder in submitted/, and a secret it gives an owner
    written to the ledger at once, before her folder moves in: a grade between the two read no owner for it
    (UNRECORDED, a fresh secret) and, the folder unchanged, skipped her ever after (F21). The secret and collect's
    note on it (`collect_note`): EARLIER_KEPT only when the kept secret is one she sent (`sent_by`), not one an
    earlier collect made for her (F24 W1: her fetch_feedback never had that one)."""
    size = len(ledger)
    previous = read_secret(course / "submitted" / student / assignment / SECRET)
    secret, owner = secret_to_keep(files, student, ledger, previous)
    if len(ledger) != size:
        write_ledger(course, assignment, ledger)
    earlier = previous is not None and secret == previous and sent_by(holders, previous, student)
    return secret, collect_note(files, student, owner, earlier=earlier)


def sent_by(holders: dict[bytes, list[tuple[int, str]]], secret: bytes, student: str) -> bool:
    """One of `student`'s own accepted inbound folders holds `secret` (`holders`, as collect gathers them): her
    `nbgrader submit` wrote it, so her `fetch_feedback` tries it. A secret collect made (`secret_to_keep`'s fresh
    one) is in no inbound folder; nor is one whose folder left the exchange since (she is told she cannot fetch)."""
    return any(holder == student for _, holder in holders.get(secret.strip(), ()))


def secret_to_keep(
    files: dict[str, bytes], student: str, ledger: dict[str, str], previous: bytes | None = None
) -> tuple[bytes, str]:
    """`lrcourse collect`'s side of the rule: the secret to write for `student` (theirs if the ledger has them as its
    owner, else a fresh one) and who owns theirs (`student` if they do; `NOBODY` if no one); `ledger` records the one
    written (a secret of theirs the ledger has no owner for yet is theirs from now on). The fresh one is `previous` (her
    folder's in submitted/) when the ledger records that as hers: a new one at every collect changed her unchanged
    submission, so every grade graded her again, her hand-graded answers pending again (F22)."""
    kept = previous is not None and ledger.get(digest(previous)) == student

    def fresh() -> bytes:
        return previous if kept else secrets.token_hex(64).encode()

    secret = files[SECRET] if usable_secret(files) else fresh()
    owner = ledger.setdefault(digest(secret), student)
    if owner != student:
        secret = fresh()
        ledger[digest(secret)] = student
    return secret, owner
