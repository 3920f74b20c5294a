"""`lrcourse collect`: take students' submissions from nbgrader's exchange into `submitted/`, trusting none.

It replaces `nbgrader collect`, which takes any folder named after a student (a classmate can write one,
with a later timestamp), follows links as the instructor (a link to `source/` hands the student the
solutions) and reads FIFOs and devices. Here each inbound folder of the assignment is checked and read by
`inbound` (owner, name, kinds of files, sizes), each student's newest accepted submission is written to
`submitted/<id>/<assignment>/` with the time the kernel recorded as its `timestamp.txt` (nbgrader's late
penalty reads it), and every refusal is reported with its reason, on the terminal and in the collect record,
`reports/collect-<assignment>.json`. A stray entry beside the notebook (a lock file, a checkpoints folder, a
link) is left out, not copied, and reported the same way, with the submission collected without it.
nbgrader's `release_feedback` stops for the rest of the class at a submitted folder without
`submission_secret.txt`, so when a student's is missing or left out collect writes a fresh one and reports it
(`submission_secrets`, which also replaces a classmate's): that student's feedback cannot reach them through the
exchange (the secret it is filed under is not theirs), but everyone else's is released.

The exchange's root is writable by every student, so the course's folder in it and its inbound folder are
trusted only when reached without a symbolic link and owned by the collecting user or root; else collect
refuses the exchange (`ExchangeUnusable`). Every submission is checked before any is read, and only each
student's newest accepted one is read and written: memory holds one submission, whatever the others hold.
Nothing is written through a link in `submitted/` (a `submitted/<id>` made a link to `source/` must not
overwrite the solution); a student whose folder there is not a plain folder, or whose write fails, is
refused with the reason and the others are collected.

What one run reads and keeps is bounded (`Bounds`), whatever a student put in the inbound folder: at most
200,000 of its entries are read (past that, the run is refused before any is checked), each student's three
newest accepted submissions are kept while checking (the older ones counted in one superseded row), refusals
claiming one id take at most 20 rows (the rest one row, "and N more"), and each OS user is looked up once.

Nbgrader's exchange tells students apart only by the OS user owning each folder. Where every submission is
owned by one user (hubs whose pods all run as one uid, as many Kubernetes set-ups do), no owner check can
hold, so collect refuses the whole exchange (`ExchangeUnusable`) instead of trusting folder names.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lrcourse.grading.inbound import OPEN_FLAGS, Refused, Submission, check_submission, read_files, user_name
from lrcourse.grading.notebook_limits import MAX_NOTEBOOK_MB
from lrcourse.grading.submission_secrets import (
    NO_SECRET,
    SECRET,
    SHARED_SECRET,
    held_secrets,
    secret_to_keep,
    usable_secret,
)


@dataclass(frozen=True)
class Bounds:
    """How much of the inbound folder one run reads and keeps, whatever a student put there (collect runs inside
    the instructor's Jupyter server too, through formgrader's Collect button)."""

    names: int = 200_000  # entries read from the inbound folder: past it the run is refused, nothing collected
    kept: int = 3  # accepted submissions kept per student while checking, newest first (the next if one fails)
    refusals: int = 20  # refusal rows per claimed id; the rest become one row, "and N more"


class ExchangeUnusable(Exception):
    """The exchange cannot be read, or cannot tell one student from another."""


@dataclass
class Exchange:
    root: Path
    course_id: str

    @property
    def inbound(self) -> Path:
        return self.root / self.course_id / "inbound"


@dataclass
class Collected:
    assignment: str
    inbound: str
    collected: list[dict] = field(default_factory=list)  # {student, submission, time}
    refused: list[dict] = field(default_factory=list)  # {submission, reason[, more]}
    superseded: list[dict] = field(default_factory=list)  # older accepted ones of a student[, more: counted]
    left_out: list[dict] = field(default_factory=list)  # {submission, reason[, more]}: strays of a collected one

    @property
    def refusals(self) -> int:
        """Submissions refused, a row's `more` counted (`Bounds.refusals`)."""
        return sum(row.get("more", 1) for row in self.refused)


def exchange_of(course: Path) -> Exchange:
    """The exchange as nbgrader's own commands would find it: the system-wide and user nbgrader_config.py
    files (a hub's /etc/jupyter), then the course folder's."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(course)]:
        if (Path(folder) / "nbgrader_config.py").is_file():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    root = config.get("Exchange", {}).get("root", "/usr/local/share/nbgrader/exchange")
    course_id = config.get("CourseDirectory", {}).get("course_id", "")
    if not course_id:
        raise ExchangeUnusable("no course id (c.CourseDirectory.course_id) in nbgrader_config.py")
    return Exchange(Path(root), course_id)


def collect(
    course: Path, assignment: str, exchange: Exchange, bounds: Bounds = Bounds(), only: str | None = None
) -> Collected:
    """Check every inbound submission of `assignment`, copy each student's newest accepted one to submitted/;
    `only` one student's (nbgrader collect's `--student`)."""
    notebooks = {path.name for path in (course / "source" / assignment).glob("*.ipynb")}
    if not notebooks:
        raise ExchangeUnusable(f"no notebook in source/{assignment}: is {assignment!r} an assignment?")
    inbound = _open_inbound(exchange)
    result = Collected(assignment, str(exchange.inbound))
    try:
        names = _names(inbound, exchange.inbound, bounds.names)
        _check_owners_tell_apart(inbound, names, exchange.inbound)
        ours = [n for n in names if f"+{assignment}+" in n and (only is None or n.startswith(f"{only}+"))]
        accepted = _check_all(inbound, ours, notebooks, bounds, result)
        secrets_held = held_secrets(course / "submitted", assignment)
        for student in sorted(accepted, key=lambda name: (max(s.time for s in accepted[name]), name)):  # first first
            _collect_student(course / "submitted", assignment, inbound, accepted[student], result, secrets_held)
    finally:
        os.close(inbound)
    return result


def _names(inbound: int, path: Path, most: int) -> list[str]:
    """The inbound folder's entries, at most `most` read: past that the run is refused, before any is checked."""
    names: list[str] = []
    with os.scandir(inbound) as entries:
        for entry in entries:
            if len(names) == most:
                raise ExchangeUnusable(
                    f"{path} holds more than {most} entries: nothing collected (someone may be flooding it; "
                    "remove what is not a submission, then collect again)"
                )
            names.append(entry.name)
    return names


def _check_all(inbound: int, names: list[str], notebooks: set[str], bounds: Bounds, result: Collected) -> dict:
    """Check each name; the newest `bounds.kept` accepted per student (the older ones counted as superseded),
    at most `bounds.refusals` refusal rows per claimed id (the rest one row)."""
    accepted: dict[str, list[Submission]] = {}
    uids: dict = {}  # this run's OS user lookups
    refusals: dict[str, int] = {}
    for name in sorted(names):
        try:
            submission = check_submission(
                inbound, name, result.assignment, notebooks, MAX_NOTEBOOK_MB << 20, uids=uids
            )  # the notebook limit `lrcourse grade` applies
        except (Refused, OSError) as error:
            claimed_id = name.split("+", 1)[0]
            refusals[claimed_id] = refusals.get(claimed_id, 0) + 1
            if refusals[claimed_id] <= bounds.refusals:
                _refuse(result, name, error)
            continue
        kept = accepted.setdefault(submission.student, [])
        kept.append(submission)
        if len(kept) > bounds.kept:
            kept.remove(min(kept, key=lambda s: s.time))
            _supersede(result, submission.student)
    for claimed_id, count in sorted(refusals.items()):
        if count > bounds.refusals:
            more = count - bounds.refusals
            reason = f"and {more} more submissions claiming {claimed_id!r} refused"
            result.refused.append(
                {"submission": f"{claimed_id}+{result.assignment}+...", "reason": reason, "more": more}
            )
    return accepted


def _supersede(result: Collected, student: str) -> None:
    """Count one more older accepted submission of `student` dropped while checking (one row per student)."""
    row = next((row for row in result.superseded if row.get("student") == student), None)
    if row is None:
        result.superseded.append({"student": student, "submission": f"{student}: older submissions", "more": 0})
        row = result.superseded[-1]
    row["more"] += 1


def _open_inbound(exchange: Exchange) -> int:
    """The inbound folder, opened below the exchange's root without following a link, each folder on the way
    owned by this user or root: the root is writable by every student, who could otherwise put a folder of
    their own (or a link to one) in the course's place."""
    path, fd = exchange.root, -1
    try:
        fd = os.open(path, (OPEN_FLAGS & ~os.O_NOFOLLOW) | os.O_DIRECTORY)  # the root: the admin's own path
        for part in (exchange.course_id, "inbound"):
            path = path / part
            seen = os.stat(part, dir_fd=fd, follow_symlinks=False)
            _check_exchange_folder(seen, path)
            parent, fd = fd, -1
            try:
                fd = os.open(part, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=parent)
            finally:
                os.close(parent)
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
                raise ExchangeUnusable(f"{path} was replaced while it was being opened")
        return fd
    except BaseException as error:
        if fd >= 0:
            os.close(fd)
        if isinstance(error, OSError):
            raise ExchangeUnusable(
                f"cannot open the inbound folder {exchange.inbound}: {error.strerror} ({path})"
            ) from None
        raise


def _check_exchange_folder(seen: os.stat_result, path: Path) -> None:
    if stat.S_ISLNK(seen.st_mode) or not stat.S_ISDIR(seen.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(seen.st_mode) else "not a folder"
        raise ExchangeUnusable(
            f"{path} is {kind}: the exchange's course and inbound folders must be folders of the instructor's "
            "(a student may have put their own in its place; see the README's hub set-up: chmod 1777)"
        )
    if seen.st_uid not in (os.geteuid(), 0):
        allowed = " or ".join(sorted({user_name(os.geteuid()), user_name(0)}))
        raise ExchangeUnusable(
            f"{path} is owned by {user_name(seen.st_uid)}, not by {allowed} (the collecting user or root): a "
            "student may have put their own folder in its place (see the README's hub set-up: chmod 1777)"
        )


def _collect_student(
    submitted: Path,
    assignment: str,
    inbound: int,
    submissions: list[Submission],
    result: Collected,
    secrets_held: dict[bytes, str],
) -> None:
    """Read and write the student's newest submission that still reads as checked (an older one if it does
    not); the rest are superseded. One submission's bytes in memory at a time."""
    submissions = sorted(submissions, key=lambda s: s.time, reverse=True)  # the kernel's time: not movable back
    for index, submission in enumerate(submissions):
        try:
            submission.files = read_files(inbound, submission)
        except (Refused, OSError) as error:
            _refuse(result, submission.name, error)
            continue
        try:
            shared = _write(submitted, submission.student, assignment, submission, secrets_held)
        except (Refused, OSError) as error:
            reason = str(error) if isinstance(error, Refused) else f"cannot be written: {error}"
            result.refused.append({"submission": submission.name, "reason": reason})
        else:
            result.collected.append(
                {"student": submission.student, "submission": submission.name, "time": _stamp(submission)}
            )
            result.left_out += [{"submission": submission.name, "reason": reason} for reason in submission.left_out]
            if submission.more_strays:  # counted, not looked at one by one
                more = submission.more_strays
                result.left_out.append({"submission": submission.name, "reason": more_strays(more), "more": more})
            if not usable_secret(submission.files):
                result.left_out.append({"submission": submission.name, "reason": NO_SECRET})
            elif shared:
                result.left_out.append({"submission": submission.name, "reason": SHARED_SECRET.format(shared)})
        submission.files = {}
        result.superseded += [{"submission": s.name} for s in submissions[index + 1 :]]
        return


def more_strays(count: int) -> str:
    return f"and {count} more entries left out (not part of the assignment)"


def _refuse(result: Collected, name: str, error: Exception) -> None:
    reason = str(error) if isinstance(error, Refused) else f"cannot be read: {error.strerror}"
    result.refused.append({"submission": name, "reason": reason})


def _check_owners_tell_apart(inbound: int, names: list[str], path: Path) -> None:
    """Refuse an exchange whose submissions, naming several students, all belong to one OS user who is none
    of them (every pod running as one uid). One student forging classmates' folders is not that: their
    own folders are owned by the user they name, and the forgeries are refused one by one."""
    owners, students = set(), set()
    for name in names:
        if len(owners) > 1:  # two owners: the exchange tells students apart, no need to stat the rest
            return
        if name.count("+") >= 2:
            try:
                owners.add(os.stat(name, dir_fd=inbound, follow_symlinks=False).st_uid)
            except OSError:  # removed meanwhile
                continue
            students.add(name.split("+", 1)[0])
    if len(students) > 1 and len(owners) == 1 and user_name(next(iter(owners))) not in students:
        raise ExchangeUnusable(
            f"every submission in {path} is owned by one OS user ({user_name(owners.pop())}) though they name "
            f"{len(students)} students: this exchange cannot tell students apart, so no submission in it can "
            "be trusted (see the README: give each student their own uid, or collect another way)"
        )


def _stamp(submission: Submission) -> str:
    return submission.time.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _write(
    submitted: Path, student: str, assignment: str, submission: Submission, secrets_held: dict[bytes, str]
) -> str | None:
    """Replace submitted/<student>/<assignment> with the submission's files and its trusted time; a crash
    leaves the old one or the new. Refused, writing nothing, if either folder is a link or not a folder. The
    classmate whose secret the submission holds, if it does (a fresh one is written: `SHARED_SECRET`)."""
    for path in (submitted / student, submitted / student / assignment):
        try:
            seen = os.lstat(path)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(seen.st_mode):  # lstat: a link is not a folder
            kind = "a symbolic link" if stat.S_ISLNK(seen.st_mode) else "not a folder"
            raise Refused(f"{path.relative_to(submitted.parent)} is {kind}: nothing written through it")
    folder = submitted / student / assignment
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = folder.parent / f".{folder.name}.collecting"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    for name, data in submission.files.items():
        if name not in ("timestamp.txt", SECRET):  # both are written below: the kernel's time, a usable secret
            (fresh / name).write_bytes(data)
    (fresh / "timestamp.txt").write_text(_stamp(submission))
    secret, holder = secret_to_keep(submission.files, student, secrets_held)
    (fresh / SECRET).write_bytes(secret)
    stale = folder.parent / f".{folder.name}.replaced"
    shutil.rmtree(stale, ignore_errors=True)
    if folder.exists():
        folder.rename(stale)
    fresh.rename(folder)
    shutil.rmtree(stale, ignore_errors=True)
    return holder if holder != student else None


def write_collect_record(course: Path, result: Collected) -> Path:
    """The collect record: what was collected, refused, superseded and left out, as JSON."""
    path = course / "reports" / f"collect-{result.assignment}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.__dict__, indent=1))
    return path


def summary(result: Collected) -> str:
    """What the terminal shows: one line per collected student and per refusal (names escaped)."""
    lines = [f"collected {row['student']!r} from {row['submission']!r} ({row['time']})" for row in result.collected]
    lines += [f"refused {row['submission']!r}: {row['reason']}" for row in result.refused]
    lines += [f"left out of {row['submission']!r}: {row['reason']}" for row in result.left_out]
    lines.append(
        f"{result.assignment}: {len(result.collected)} collected, "
        f"{result.refusals} refused, "
        f"{sum(row.get('more', 1) for row in result.superseded)} older submissions superseded, "
        f"{sum(row.get('more', 1) for row in result.left_out)} stray entries left out"
    )
    return "\n".join(lines)
