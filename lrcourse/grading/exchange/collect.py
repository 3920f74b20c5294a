"""`lrcourse collect`: take students' submissions from nbgrader's exchange into `submitted/`, trusting none.

It replaces `nbgrader collect`, which takes any folder named after a student (a classmate can write one,
with a later timestamp), follows links as the instructor (a link to `source/` hands the student the
solutions) and reads FIFOs and devices. Here each inbound folder of the assignment is checked and read by
`inbound` (owner, name, kinds of files, sizes; a folder without nbgrader's `submission_secret.txt` is an
unfinished submit, refused: `unfinished_submit`; so is one whose notebook `lrcourse grade` could not read, empty,
cut short or not a notebook: `broken_submit`), each student's newest accepted submission is written to
`submitted/<id>/<assignment>/` (the course owner's alone: 0700, its secret 0600) with the time the kernel recorded
as its `timestamp.txt` (nbgrader's late penalty reads it), and every refusal is reported with its reason, on the
terminal and in the collect record,
`reports/collect-<assignment>.json`. A stray entry beside the notebook (a lock file, a checkpoints folder, a
link) is left out, not copied, and reported the same way, with the submission collected without it.
nbgrader's `release_feedback` stops for the rest of the class at a submitted folder without `submission_secret.txt`, so
when a student's is left out or unusable collect writes a fresh one and reports it: that student's feedback cannot
reach them through the exchange, but everyone else's is released. A secret is kept only by the student it belongs to
(`submission_secrets`: its only accepted holder, no one if several, or if another student's folder in `submitted/`
holds it too; recorded in the course's ledger `.secret_owners/<assignment>.json`, never changed by a later run;
collects take turns; `lrcourse grade` applies the same rule); any other holder's is replaced the same way.

The inbound folder itself is opened, checked (its owners, its file system) and listed by `exchange_inbound`,
which refuses an exchange that cannot be trusted (`ExchangeUnusable`). Every submission is checked before any is
read, and only each student's newest accepted one that reads is written: memory holds one submission, whatever
the others hold.
Nothing is written through a link in `submitted/` (a `submitted/<id>` made a link to `source/` must not
overwrite the solution); a student whose folder there is not a plain folder, or whose write fails, is
refused with the reason and the others are collected.

What one run reads and keeps is bounded (`Bounds`), whatever a student put in the inbound folder: at most 1,000
names of the assignment per owner (uid), so a student who floods the folder is reported by name and everyone
else is collected; at most 10,000 entries listed in all of one owner's submission folders, newest folder first
(each folder may hold up to `inbound.MAX_ENTRIES`, so 1,000 folders could otherwise cost ten million), the folders
left one row naming the owner; each student's accepted submissions are read newest first until one reads (a
notebook cut short is known only once read: three of them must not crowd out her good older one), the older ones
superseded, the first two named and the rest counted in one row; every student's newest is read before anyone's
older ones, which are read only while reading hers took under 20 s (`student_reads`: one read, nbformat's schema,
can take seconds), the rest one row, so a student's flood of broken notebooks costs a run at most that and one
read, and every classmate's newest is read before her older ones; refusals take at most 20 rows for a student's own
folders (checked, and again read) and 20 for the folders each owner put in names not theirs (the rest one row each,
"and N more"), so forgeries cannot bury a student's own refusal, nor one owner's many made-up ids flood the report;
each owner is looked up once.
A check or read that fails in a way no rule foresaw refuses that folder only, with the error as its reason.
A folder mounted in the inbound folder is refused (`mounts`), and so is an exchange whose root lets a student
replace the course's folder (`exchange_root`: writable by others without the sticky bit) or whose root's own path
another account could point elsewhere (`root.root_path_problem`, release's rule). An inbound folder
without the sticky bit, or a submission folder writable by others (nbgrader's own submit leaves it 0777; the
course's, `lrcourse.exchange_submit`, 0755), is noted, not refused: a classmate may have renamed what is in it; so
is an inbound folder its group or others may list (nbgrader's groupshared: 2773): they may have read every one.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lrcourse.grading.exchange.broken_submit import broken
from lrcourse.grading.exchange.collect_rows import capped_rows, more_strays, not_read, over_budget, superseded_rows
from lrcourse.grading.exchange.crash_leftovers import put_back_replaced, remove_stale_writes
from lrcourse.grading.exchange.inbound import (
    EntryBudget,
    OverBudget,
    Refused,
    Submission,
    check_submission,
    owner_name,
    read_files,
)
from lrcourse.grading.exchange.inbound_folder import (
    Exchange,
    ExchangeUnusable,
    check_filesystem,
    check_owners_tell_apart,
    listing,
    open_inbound,
)
from lrcourse.grading.exchange.ledger_folder import one_collect_at_a_time
from lrcourse.grading.exchange.mounts import listed_on_overlay, mounted_below
from lrcourse.grading.exchange.other_account import cannot_write, give_to_course_owner
from lrcourse.grading.exchange.root import check_exchange_root, inbound_listed, inbound_not_sticky
from lrcourse.grading.exchange.student_reads import StudentReads
from lrcourse.grading.exchange.submission_secrets import (
    SECRET,
    first_held,
    inbound_secret,
    no_ledger_note,
    read_ledger,
    record_new_owners,
    secret_recorded,
    usable_secret,
)
from lrcourse.notebook_limits import MAX_NOTEBOOK_MB
from lrcourse.shell_words import quoted

# The student's folder in submitted/ (and submitted/<id>, when collect makes it): the course owner's alone, so an
# account sharing the course folder's group (or a folder's above it) reads neither her notebook nor her secret
# (R20n W1); root's collect gives it to the course's owner (`give_to_course_owner`), whose grading reads it.
PRIVATE_FOLDER = 0o700


@dataclass(frozen=True)
class Bounds:
    """How much of the inbound folder one run reads and keeps, whatever a student put there (collect runs inside
    the instructor's Jupyter server too, through formgrader's Collect button)."""

    per_owner: int = 1_000  # names of the assignment kept per owner (uid): the rest counted, not checked
    # Entries listed in all of an owner's folders, newest first, the rest not checked: one folder of the largest
    # size accepted (inbound.MAX_ENTRIES) in full, or dozens of resubmissions of an assignment folder of hundreds
    # of files (nbgrader submit copies it whole; this course's hold a few); about 30 ms of listing per owner.
    entries: int = 10_000
    kept: int = 3  # superseded rows per student: one each for the kept - 1 newest older ones, the rest one counted row
    refusals: int = 20  # refusal rows per student's own folders, and per owner's in others' names; then "and N more"
    # Seconds of reading one student's folders (nbformat's schema: up to seconds a notebook) past which her older
    # ones are not read, one row: an honest student's few broken ones (a cut-short notebook fails in milliseconds,
    # a whole chapter's in 0.03 to 0.2 s) stay far below; a flood costs at most this and one read per collect.
    read_seconds: float = 20.0


@dataclass
class Collected:
    assignment: str
    inbound: str
    collected: list[dict] = field(default_factory=list)  # {student, submission, time}
    refused: list[dict] = field(default_factory=list)  # {submission, reason[, more]}
    superseded: list[dict] = field(default_factory=list)  # older accepted ones of a student[, more: counted]
    left_out: list[dict] = field(default_factory=list)  # {submission, reason[, more]}: strays of a collected one
    notes: list[dict] = field(default_factory=list)  # {submission, note}: what to know of a collected one

    @property
    def refusals(self) -> int:
        """Submissions refused, a row's `more` counted (`Bounds.refusals`)."""
        return sum(row.get("more", 1) for row in self.refused)


@one_collect_at_a_time  # the ledger's read, add and write: one collect of the assignment at a time
def collect(
    course: Path, assignment: str, exchange: Exchange, bounds: Bounds = Bounds(), only: str | None = None
) -> Collected:
    """Check every inbound submission of `assignment`, copy each student's newest accepted one to submitted/;
    `only` one student's (nbgrader collect's `--student`)."""
    notebooks = {path.name for path in (course / "source" / assignment).glob("*.ipynb")}
    if not notebooks:
        raise ExchangeUnusable(f"no notebook in source/{assignment}: is {assignment!r} an assignment?")
    check_exchange_root(exchange, inherited=False)  # it makes nothing there: a default ACL is release's (R20a M2)
    inbound = open_inbound(exchange)
    result = Collected(assignment, str(exchange.inbound))
    try:
        remove_stale_writes(course, assignment)  # a killed collect's leftovers: no one else writes them (the lock)
        put_back, unmended = put_back_replaced(course / "submitted", assignment)
        result.notes += put_back
        result.refused += unmended  # another account's leftover: that student refused, the class goes on (F24 W2)
        stuck = {row["submission"].split("/")[1] for row in unmended}  # her folder not this account's to write
        mounts, untrusted = check_filesystem(inbound, exchange)
        result.notes += [{"submission": "every submission", "note": untrusted}] if untrusted else []
        # no refusal: nbgrader's release makes it so, and each submission in it is still its student's own
        shared = inbound_not_sticky(inbound, exchange) + inbound_listed(inbound, exchange)
        shared += no_ledger_note(course, assignment)  # secrets collected before a ledger existed: not protected
        result.notes += [{"submission": "every submission", "note": n} for n in shared]
        ours, floods = listing(inbound, assignment, only, bounds.per_owner)
        result.refused += floods
        check_owners_tell_apart(ours, exchange.inbound)
        for name in mounted_below(inbound, mounts) & ours.keys():
            _refuse(result, name, Refused("a file system is mounted there: not the student's own folder"))
            del ours[name]
        ledger = read_ledger(course, assignment)  # who owns each secret collect accepted before: never changed
        holders: dict[bytes, list[tuple[int, str]]] = {}
        listed = listed_on_overlay(inbound, mounts)
        accepted = _check_all(inbound, ours, notebooks, bounds, result, holders, listed)
        if only is not None:  # a secret's first holder is decided over the class, not over the one student asked for
            _classmates_secrets(inbound, assignment, ours, mounts, notebooks, bounds, holders, listed)
        # each owner is on disk as it is recorded, before the student's folder moves in (`secret_recorded`: F21)
        result.notes += record_new_owners(ledger, holders, course, assignment)  # its only holder's (hand copies too)
        order = sorted(accepted.keys() - stuck, key=lambda name: (max(s.time for s in accepted[name]), name))
        reads = {student: StudentReads(accepted[student], bounds.read_seconds) for student in order}
        for newest_only in (True, False):  # every student's newest first: no one's broken folders delay a classmate
            for student in order:
                _collect_student(
                    course / "submitted", inbound, reads[student], result, ledger, bounds, holders, newest_only
                )
    finally:
        os.close(inbound)
    return result


def _classmates_secrets(inbound: int, assignment: str, ours: dict, mounts, notebooks, bounds, holders, listed) -> None:
    """With `--student`, `holders` also learns the secrets of every classmate's accepted inbound folder, each checked
    as a whole collect checks it (nothing of theirs copied or reported): a classmate's secret that the one student
    sent is still its first holder's, even before any whole collect recorded it (G10)."""
    everyone = listing(inbound, assignment, None, bounds.per_owner)[0]
    others = {name: seen for name, seen in everyone.items() if name not in ours}
    for name in mounted_below(inbound, mounts) & others.keys():
        del others[name]
    _check_all(inbound, others, notebooks, bounds, Collected(assignment, ""), holders, listed)


def _check_all(
    inbound: int, names: dict, notebooks: set[str], bounds: Bounds, result: Collected, holders: dict, listed
) -> dict:
    """Check each name, each owner's newest folders first while their entry budget lasts (`Bounds.entries`: the
    rest one row per owner); every accepted folder per student (its checked entries, nothing read: the folders are
    read later, newest first, until one reads); refusal rows capped (`_refusal_key`), the rest one row per cap.
    `holders` learns every accepted folder's usable secret, a superseded one's too (its student's `fetch_feedback`
    still tries it), with its student and when it was put there (`submission_secrets.first_held`). `listed`: the
    devices the mount table lists, on an overlay (`mounts.listed_on_overlay`)."""
    accepted: dict[str, list[Submission]] = {}
    owners: dict = {}  # this run's OS user lookups, by uid
    refusals: dict[tuple[str, str], int] = {}
    budgets: dict[int, EntryBudget] = {}
    unchecked: dict[int, int] = {}  # folders per owner past their budget
    for name in sorted(names, key=lambda name: (-names[name].st_ctime_ns, name)):  # newest first: the budget
        uid = names[name].st_uid
        budget = budgets.setdefault(uid, EntryBudget(bounds.entries))
        try:
            if budget.spent:
                raise OverBudget("not checked")
            submission = check_submission(
                inbound,
                name,
                result.assignment,
                notebooks,
                MAX_NOTEBOOK_MB << 20,
                owners=owners,
                budget=budget,
                listed_devices=listed,
            )  # the notebook limit `lrcourse grade` applies
        except OverBudget:  # this folder, and the owner's older ones: one row
            unchecked[uid] = unchecked.get(uid, 0) + 1
            continue
        except Exception as error:  # whatever fails, that folder only: no name stops the others' collect
            key = _refusal_key(name, owner_name(uid, owners))
            refusals[key] = refusals.get(key, 0) + 1
            if refusals[key] <= bounds.refusals:
                _refuse(result, name, error)
            continue
        secret = inbound_secret(inbound, submission)
        if secret is not None and usable_secret({SECRET: secret}):
            holders.setdefault(secret, []).append((first_held(submission), submission.student))
        accepted.setdefault(submission.student, []).append(submission)
    result.refused += capped_rows(result.assignment, refusals, bounds.refusals)
    result.refused += [
        over_budget(owner_name(uid, owners), count, bounds.entries) for uid, count in sorted(unchecked.items())
    ]
    return accepted


def _refusal_key(name: str, owner: str) -> tuple[str, str]:
    """Whose cap a refused folder's row counts against: a folder owned by the user it names, that student's own
    (claimed id, owner); any other, its owner's (one cap, whatever ids it claims). A classmate's forgeries
    never bury a student's own refusal, and no owner prints more than a few rows."""
    claimed_id = name.split("+", 1)[0]
    return (claimed_id, owner) if claimed_id == owner else ("", owner)


def _refuse_unread(result: Collected, submission: Submission, error: Exception, refused: int, cap: int) -> None:
    """The refusal row of a student's accepted folder that did not read (her `refused`-th), or past `cap` one more
    counted in an `and N more` row of hers (many cut-short notebooks do not flood the record)."""
    if refused <= cap:
        _refuse(result, submission.name, error)
        return
    name = f"{submission.student}+{result.assignment}+... (unreadable)"
    if refused == cap + 1:
        result.refused.append({"submission": name, "more": 0})
    row = next(row for row in result.refused if row["submission"] == name)
    row["more"] += 1
    row["reason"] = f"and {row['more']} more of {submission.student}'s own submissions could not be read or graded"


def _collect_student(
    submitted: Path,
    inbound: int,
    reads: StudentReads,
    result: Collected,
    ledger: dict[str, str],
    bounds: Bounds,
    holders: dict,
    newest_only: bool,
) -> None:
    """Read and write the student's newest submission that still reads as checked (the next older one, each in
    turn, if it does not: `broken_submit.BROKEN` promises her previous one); the rest are superseded. `newest_only`:
    her newest only (the class's first turn); else her older ones while her read budget lasts (`student_reads`), the
    rest refused in one row. One submission's bytes in memory at a time."""
    for submission in reads.to_read(newest_only):
        try:
            with reads.timed():
                submission.files = read_files(inbound, submission)
                why = broken(submission.files)  # a notebook grading would fail (a crash while saving): not her newest
            if why:
                raise Refused(why)
        except Exception as error:  # that folder only: an older one of the student's is tried
            submission.files = {}
            reads.refused += 1
            _refuse_unread(result, submission, error, reads.refused, bounds.refusals)
            continue
        reads.done = True
        _write_student(submitted, submission, result, ledger, holders)
        submission.files = {}
        result.superseded += superseded_rows(submission.student, reads.older, bounds.kept - 1)
        return
    if not newest_only and reads.unread:
        student = reads.newest_first[0].student
        result.refused.append(not_read(student, result.assignment, reads.unread, bounds.read_seconds))


def _write_student(
    submitted: Path, submission: Submission, result: Collected, ledger: dict[str, str], holders: dict
) -> None:
    """Write the submission read to submitted/ and report it, or refuse it with the reason (that student only)."""
    try:
        secret_note = _write(submitted, submission.student, result.assignment, submission, ledger, holders)
    except Exception as error:  # that student only
        reason = cannot_write(error, submitted.parent) if isinstance(error, OSError) else _reason(error)
        result.refused.append({"submission": submission.name, "reason": reason})
        return
    result.collected.append({"student": submission.student, "submission": submission.name, "time": _stamp(submission)})
    result.left_out += [{"submission": submission.name, "reason": reason} for reason in submission.left_out]
    result.notes += [{"submission": submission.name, "note": note} for note in submission.notes]
    if submission.more_strays:  # counted, not looked at one by one
        more = submission.more_strays
        result.left_out.append({"submission": submission.name, "reason": more_strays(more), "more": more})
    if secret_note is not None:
        result.left_out.append({"submission": submission.name, "reason": secret_note})


def _refuse(result: Collected, name: str, error: Exception) -> None:
    result.refused.append({"submission": name, "reason": _reason(error)})


def _reason(error: Exception) -> str:
    if isinstance(error, (Refused, ExchangeUnusable)):  # a ledger that cannot be written: its own reason
        return str(error)
    if isinstance(error, OSError):
        return f"cannot be read: {error.strerror}"
    return f"could not be checked (a fault of lrcourse collect's, please report it): {type(error).__name__}: {error}"


def _stamp(submission: Submission) -> str:
    return submission.time.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _write(
    submitted: Path, student: str, assignment: str, submission: Submission, ledger: dict[str, str], holders: dict
) -> str | None:
    """Replace submitted/<student>/<assignment> with the submission's files and its trusted time, by two renames: a
    crash leaves the old one or the new, or, between the two, neither in place (the old one as .replaced, which the
    next collect puts back: `crash_leftovers`). Refused, writing nothing, if either folder is a link or not a
    folder. The folder is `PRIVATE_FOLDER`, its secret 0600. What collect reports of the secret written
    (`submission_secrets.collect_note`), None if it is hers."""
    for path in (submitted / student, submitted / student / assignment):
        try:
            seen = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(seen.st_mode):  # lstat: a link is not a folder
            kind = "a symbolic link" if stat.S_ISLNK(seen.st_mode) else "not a folder"
            raise Refused(f"{path.relative_to(submitted.parent)} is {kind}: nothing written through it")
    folder = submitted / student / assignment
    folder.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    fresh = folder.parent / f".{folder.name}.collecting"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(mode=PRIVATE_FOLDER)
    os.chmod(fresh, PRIVATE_FOLDER)  # whatever the umask: no one else enters it, whatever the course's modes
    for name, data in submission.files.items():
        if name not in ("timestamp.txt", SECRET):  # both are written below: the kernel's time, a usable secret
            (fresh / name).write_bytes(data)
    (fresh / "timestamp.txt").write_text(_stamp(submission))
    secret, note = secret_recorded(submission.files, student, ledger, submitted.parent, assignment, holders)
    with os.fdopen(os.open(fresh / SECRET, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb") as file:
        file.write(secret)
    give_to_course_owner(fresh, submitted.parent)  # root's, the grader account's to replace (F24 M1(b))
    stale = folder.parent / f".{folder.name}.replaced"
    shutil.rmtree(stale, ignore_errors=True)
    if folder.exists():
        folder.rename(stale)
    fresh.rename(folder)
    shutil.rmtree(stale, ignore_errors=True)
    return note


def summary(result: Collected) -> str:
    """What the terminal shows: one line per collected student and per refusal (names escaped)."""
    lines = [
        f"collected {quoted(row['student'])} from {quoted(row['submission'])} ({row['time']})"
        for row in result.collected
    ]
    lines += [f"refused {quoted(row['submission'])}: {row['reason']}" for row in result.refused]
    lines += [f"left out of {quoted(row['submission'])}: {row['reason']}" for row in result.left_out]
    lines += [f"note on {quoted(row['submission'])}: {row['note']}" for row in result.notes]
    lines.append(
        f"{result.assignment}: {len(result.collected)} collected, "
        f"{result.refusals} refused, "
        f"{sum(row.get('more', 1) for row in result.superseded)} older submissions superseded, "
        f"{sum(row.get('more', 1) for row in result.left_out)} stray entries left out"
    )
    return "\n".join(lines)
