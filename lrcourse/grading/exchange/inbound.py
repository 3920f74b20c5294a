"""One submission in nbgrader's exchange, read as `lrcourse collect` trusts it: not at all until checked.

The exchange's inbound folder is writable by every student (nbgrader's design), so anything in it may be a
classmate's forgery or a trap for the instructor's account that collects it. A submission folder
`<id>+<assignment>+<timestamp>[+random]` is accepted only when:

- its name has that shape, with an id `lrcourse grade` accepts (`intake.STUDENT_ID`) and a timestamp not in the
  future (a zone the name gives as an abbreviation dateutil does not know, such as JST or CEST, may be up to
  14 hours ahead of UTC: that time only guards against names from the future, the trusted time is the kernel's);
- the folder and every entry in it are owned by the OS user whose name is exactly the id (the owner's uid
  looked up once per run with `pwd.getpwuid`, never the id by name: a directory that folds case would map
  `Bob` to bob): the kernel, not the student, says who made it;
- the folder and its entries are on the inbound folder's own file system (nothing mounted there; on an overlay
  whose layers are on other file systems, files report a device of the overlay's own that no mount lists, and
  only a device the mount table lists is another file system);
- every notebook of the assignment in it is a plain file with one name (no symbolic or hard link, FIFO,
  socket, device or folder) within its size limit, and there is at least one;
- it holds the `submission_secret.txt` nbgrader writes last: else it is an unfinished submit (`unfinished_submit`),
  refused, and the student's previous accepted submission is taken instead;
- no notebook of it is empty (a crash while saving: `broken_submit`, which `collect` also asks of the notebooks
  it reads), refused the same way.

Any other entry that is not such a plain file of the student's, named as nbgrader's own `timestamp.txt` /
`submission_secret.txt` (a stray: an image or data file of the assignment folder, which nbgrader submit copies
whole, an editor's lock file, a `.ipynb_checkpoints` folder, a link, a FIFO, a classmate's file) is left out,
never opened nor copied, and the reason is kept (`Submission.left_out`) for the instructor: a stray costs the
student nothing, and the notebook is collected. Only the first few strays are looked at and named, the rest
counted; a folder of more than MAX_ENTRIES names is refused without reading the rest, and a run lists at most a
budget of entries in all of one owner's folders (`EntryBudget`). A notebook that is not such a file refuses the
submission (the student's earlier accepted one, if any, is taken instead).

Checking (`check_submission`) reads no file's bytes, so every submission of a class can be checked while
only the one collected per student is read (`read_files`). Reading never follows a link and never leaves the
folder: entries are opened relative to the folder's own descriptor with O_NOFOLLOW and O_NONBLOCK (a FIFO
cannot block), and the opened descriptor is checked again (fstat: the same file, its size and change time as
checked), so a file swapped or changed after the check is refused too. The submission time is the newest change time
(ctime) of the collected files and of the folder itself: the kernel sets it, and a student can only move it later,
never earlier; the `timestamp.txt` the student wrote is not read. The folder's ctime counts because a folder
written before the deadline and renamed (or moved) into a submission's name after it keeps its files' times but
not its own. A folder changed well after its files (`RENAMED_AFTER`) is noted (`Submission.notes`): where the
inbound folder has no sticky bit it may be a classmate who renamed it, making it look late. So is a folder writable
by group or others (`OTHERS_WRITE`), as nbgrader's own submit leaves it (the course's, `lrcourse.exchange_submit`,
leaves it 0755, failed or not): a classmate may have renamed entries in it. Such a folder is still the student's
work (every file taken is the student's own), so it is noted, not refused: refusing it would cost the student their
submission for what a classmate could do to it."""

from __future__ import annotations

import datetime
import os
import pwd
import re
import stat
import warnings
from dataclasses import dataclass, field

import dateutil.parser
import dateutil.tz

from lrcourse.grading.exchange.broken_submit import empty_notebook
from lrcourse.grading.exchange.unfinished_submit import UNFINISHED, unfinished
from lrcourse.grading.intake import NBGRADER_FILES, STUDENT_ID_RULE, valid_student_id
from lrcourse.notebook_limits import MAX_FOLDER_ENTRIES as MAX_ENTRIES  # more: not read on (the submit says so first)
from lrcourse.shell_words import quoted

TIMESTAMP_PATTERN = re.compile(r"[0-9A-Za-z :._-]{1,64}\Z")
RANDOM_PATTERN = re.compile(r"[A-Za-z0-9_=-]{0,64}\Z")
STRAYS_NAMED = 8  # strays checked and named one by one; the rest are counted
SMALL_FILE_BYTES = 64 << 10  # nbgrader's own files hold a line
RENAMED_AFTER = datetime.timedelta(minutes=1)  # a folder changed this long after its files is noted
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)  # clocks of the students' servers may run a little ahead
UNKNOWN_ZONE_AHEAD = datetime.timedelta(hours=14)  # the largest UTC offset (UTC+14): a zone we cannot read may be it
OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH  # a folder others may write in: they may rename or remove its entries
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class Refused(Exception):
    """Why a submission is not taken (the message is the reason, as the collect record shows it)."""


class HardLinked(Refused):
    """An entry with another name somewhere: a classmate's hard link where fs.protected_hardlinks is not 1."""

    def __init__(self, reason: str, inode: int):
        super().__init__(reason)
        self.inode = inode

    def advice(self) -> str:
        """What the instructor does when it refuses a notebook (a stray left out needs nothing)."""
        return (
            f"{self}: where fs.protected_hardlinks is not 1 (`lrcourse doctor` checks it) a classmate who learned the "
            "folder's name can make one, which moves the file's change time. As root, find the other names (`find "
            f"<the inbound folder> -xdev -inum {self.inode}`), remove those that are not the student's, and collect "
            "again; its time is then the removal's, so judge its lateness by the folder's own change time (`stat -c "
            "%z <folder>`), which a link elsewhere does not move"
        )


class OverBudget(Refused):
    """The folder's owner has had all the directory entries read that one run reads for an owner (`EntryBudget`)."""


@dataclass
class EntryBudget:
    """The directory entries still to be read in one owner's submission folders over a run: a folder is listed
    entry by entry, so what one owner's folders cost is bounded by this, not by MAX_ENTRIES times their number."""

    left: int
    read: int = 0

    @property
    def spent(self) -> bool:
        return self.left <= 0

    def take(self) -> None:
        """Count one entry read; OverBudget if none is left."""
        if self.spent:
            raise OverBudget(f"its owner's folders hold more entries than one run reads ({self.read})")
        self.left -= 1
        self.read += 1


@dataclass
class Submission:
    """An accepted submission: what was checked (the folder's and each entry's stat) and the time the kernel
    recorded; `files` holds the bytes once `read_files` has read them."""

    name: str  # the inbound folder's name
    student: str
    time: datetime.datetime  # UTC, naive (as nbgrader's gradebook keeps times)
    uid: int
    folder: os.stat_result
    entries: dict[str, os.stat_result] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)  # why each stray entry named was left out
    more_strays: int = 0  # strays beyond those named: counted, not looked at
    notes: list[str] = field(default_factory=list)  # what the instructor should know (a folder renamed late)


def claimed(name: str, assignment: str) -> tuple[str, datetime.datetime, datetime.timedelta]:
    """The student id and time a folder's name claims, with how far ahead of UTC that time may be (its zone
    unknown: up to UNKNOWN_ZONE_AHEAD); Refused if the name is not nbgrader's shape."""
    parts = name.split("+")
    if len(parts) not in (3, 4) or parts[1] != assignment:
        raise Refused(f"the folder's name is not <id>+{assignment}+<timestamp>[+random]")
    student, _, timestamp = parts[:3]
    if not valid_student_id(student):
        raise Refused(f"the student id {quoted(student)} is not {STUDENT_ID_RULE}")
    if not TIMESTAMP_PATTERN.match(timestamp) or (len(parts) == 4 and not RANDOM_PATTERN.match(parts[3])):
        raise Refused("the folder's name holds characters nbgrader never writes")
    try:
        when, zone_known = parse_utc(timestamp)
    except (ValueError, OverflowError, dateutil.parser.ParserError) as error:
        raise Refused(f"the folder's timestamp {quoted(timestamp)} is not a time ({error})") from None
    return student, when, datetime.timedelta(0) if zone_known else UNKNOWN_ZONE_AHEAD


def parse_utc(timestamp: str) -> tuple[datetime.datetime, bool]:
    """A timestamp as nbgrader writes it (`date time zone`, the zone a name) or ISO, as naive UTC, and whether
    its zone was known (if not, the time is the name's clock as written, read as UTC)
    (`nbgrader.utils.parse_utc` does the same, but importing it costs seconds)."""
    date_time, _, zone = timestamp.rpartition(" ")
    named = timestamp.count(" ") == 2 and zone[:1].isalpha()
    with warnings.catch_warnings():  # a zone dateutil cannot read warns once per name: a student could flood
        warnings.simplefilter("ignore", dateutil.parser.UnknownTimezoneWarning)
        known = dateutil.tz.gettz(zone) if named else None
        when = dateutil.parser.parse(date_time if named else timestamp)  # an unknown zone dropped, not guessed
    if known:
        when = when.replace(tzinfo=known)
    return (when.astimezone(datetime.UTC).replace(tzinfo=None), True) if when.tzinfo else (when, False)


def read_submission(
    inbound_fd: int, name: str, assignment: str, notebooks: set[str], max_notebook_bytes: int, now=None
) -> Submission:
    """Check and read the inbound folder `name` (in the folder open at `inbound_fd`); Refused with the reason."""
    submission = check_submission(inbound_fd, name, assignment, notebooks, max_notebook_bytes, now)
    submission.files = read_files(inbound_fd, submission)
    return submission


def check_submission(
    inbound_fd: int,
    name: str,
    assignment: str,
    notebooks: set[str],
    max_notebook_bytes: int,
    now=None,
    owners: dict | None = None,
    budget: EntryBudget | None = None,
    listed_devices: set[int] | None = None,
) -> Submission:
    """Check the inbound folder `name` (in the folder open at `inbound_fd`) without reading any file's bytes;
    Refused with the reason. `owners` caches the OS user names looked up over one run (`owner_name`); `budget`
    counts the entries listed against the owner's (OverBudget once it is spent). `listed_devices`: on an
    overlay, the devices the mount table lists, and only a file on one of them is mounted there (`mounts`)."""
    student, when, ahead = claimed(name, assignment)
    now = now or datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    if when > now + FUTURE_TOLERANCE + ahead:  # no arithmetic on the name's time: it may be year 1 or 9999
        zone = "" if not ahead else f", its zone unknown and taken as at most {ahead.seconds // 3600} hours ahead"
        raise Refused(f"the folder's name claims a time in the future ({when:%Y-%m-%d %H:%M:%S} UTC{zone})")
    seen = os.stat(name, dir_fd=inbound_fd, follow_symlinks=False)  # the owner first: no lookup by the name's id
    _check_kind(seen, "the submission folder", folder=True)
    check_owner(seen, student, os.fstat(inbound_fd).st_dev, {} if owners is None else owners)
    folder = os.open(name, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=inbound_fd)
    try:
        opened = os.fstat(folder)
        _same(opened, seen, "the submission folder")
        entries, left_out, more = _check_entries(
            folder, opened, student, notebooks, max_notebook_bytes, budget, listed_devices
        )
        cut_short = unfinished(folder)
    finally:
        os.close(folder)
    if not any(entry in notebooks for entry in entries):
        raise Refused(f"no notebook of the assignment ({', '.join(sorted(notebooks))}) in it")
    if cut_short:
        raise Refused(UNFINISHED)
    empty = empty_notebook(entries)  # a finished submit of a notebook saved empty: never her newest
    if empty:
        raise Refused(empty)
    files = _utc(max(st.st_ctime_ns for st in entries.values()))
    time = max(files, _utc(opened.st_ctime_ns))  # a folder renamed into this name after its files were written
    submission = Submission(name, student, time, opened.st_uid, opened, entries, left_out=left_out, more_strays=more)
    if opened.st_mode & OTHERS_WRITE:
        submission.notes.append(
            f"its folder (mode {stat.S_IMODE(opened.st_mode):04o}) is writable by other users (nbgrader's own submit "
            "leaves it so; the course's, lrcourse.exchange_submit, closes it even when the submit fails, and tells the "
            "student when it cannot): a classmate who learned its name could have renamed it or its notebook (a later "
            "time: look before penalising it as late), or taken a newer submission of the student's out the same way"
        )
    if time - files > RENAMED_AFTER:
        submission.notes.append(
            f"its folder changed {(time - files).total_seconds():.0f} s after its files (renamed or moved into this "
            "name, or an entry added or removed, after they were written): the folder's time is taken"
        )
    return submission


def _utc(ctime_ns: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ctime_ns / 1e9, datetime.UTC).replace(tzinfo=None)


def check_owner(seen: os.stat_result, student: str, device: int, owners: dict) -> None:
    """Refused unless the submission folder `seen` is `student`'s, whom its name claims, and on inbound's `device`."""
    if (owner := owner_name(seen.st_uid, owners)) != student:
        raise Refused(f"the submission folder is owned by {owner}, not by {student}")
    if seen.st_dev != device:
        raise Refused("the submission folder is on another file system than the inbound folder (mounted there)")


def owner_name(uid: int, owners: dict) -> str:
    """The OS user `uid`'s name (`uid N` if none), looked up once per `owners`, a run's cache (not per name's id)."""
    if uid not in owners:
        owners[uid] = user_name(uid)
    return owners[uid]


def _check_entries(
    folder: int,
    opened: os.stat_result,
    student: str,
    notebooks: set[str],
    max_notebook_bytes: int,
    budget: EntryBudget | None,
    listed_devices: set[int] | None,
):
    """The stat of every entry to collect, why each stray named was left out and how many more were; Refused naming
    every notebook that is not a plain file of the student's within its limit."""
    wanted, strays, more = _list_entries(folder, notebooks, budget)
    problems, left_out, checked = [], [], {}
    for entry in sorted(wanted) + strays:  # only a few strays: their reason is told, the rest only counted
        try:
            checked[entry] = _check_file(folder, entry, opened, student, notebooks, max_notebook_bytes, listed_devices)
        except Refused as problem:
            checked.pop(entry, None)
            if entry not in notebooks:
                left_out.append(str(problem))
            else:  # a hard-linked notebook refuses the submission: say what to do
                problems.append(problem.advice() if isinstance(problem, HardLinked) else str(problem))
    if problems:
        raise Refused("; ".join(problems))  # at most one per notebook of the assignment
    return checked, left_out, more


def _list_entries(folder: int, notebooks: set[str], budget: EntryBudget | None) -> tuple[list[str], list[str], int]:
    """The assignment's and nbgrader's names in the folder, the first STRAYS_NAMED other names, and how many
    more there are; Refused past MAX_ENTRIES (a folder of millions is not read into memory), OverBudget past the
    owner's `budget`. nbgrader submit copies the whole assignment folder, so a student's images and data are
    strays, left out but no fault."""
    wanted, strays, more = [], [], 0
    with os.scandir(folder) as listing:
        for count, entry in enumerate(listing, 1):
            if count > MAX_ENTRIES:
                raise Refused(f"the folder holds more than {MAX_ENTRIES} entries: not read")
            if budget is not None:
                budget.take()
            if entry.name in notebooks or entry.name in NBGRADER_FILES:
                wanted.append(entry.name)
            elif len(strays) < STRAYS_NAMED:
                strays.append(entry.name)
            else:
                more += 1
    return wanted, sorted(strays), more


def _check_file(
    folder: int,
    entry: str,
    opened: os.stat_result,
    student: str,
    notebooks: set[str],
    max_notebook_bytes: int,
    listed_devices: set[int] | None,
):
    """The stat of an entry to collect; Refused if it is not a plain file of the student's on the folder's own
    file system (on an overlay, on no device `listed_devices` holds but its folder's), of the assignment, within
    its limit."""
    try:
        seen = os.stat(entry, dir_fd=folder, follow_symlinks=False)
    except OSError as error:  # removed meanwhile, or a name the file system will not look up
        raise Refused(f"{quoted(entry)} cannot be read: {error.strerror}") from None
    _check_entry(seen, quoted(entry), opened.st_uid, student)
    if seen.st_dev != opened.st_dev and (listed_devices is None or seen.st_dev in listed_devices):
        raise Refused(f"{quoted(entry)} is on another file system than its folder (mounted there)")
    if entry not in notebooks and entry not in NBGRADER_FILES:
        raise Refused(f"{quoted(entry)} is not part of the assignment (expected {', '.join(sorted(notebooks))})")
    limit = max_notebook_bytes if entry in notebooks else SMALL_FILE_BYTES
    if seen.st_size > limit:
        raise Refused(f"{quoted(entry)} is larger than {limit / (1 << 20):g} MB")
    return seen


def read_files(inbound_fd: int, submission: Submission) -> dict[str, bytes]:
    """The bytes of a checked submission's entries, each the very file checked, unchanged since; Refused if not."""
    folder = os.open(submission.name, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=inbound_fd)
    try:
        _same(os.fstat(folder), submission.folder, "the submission folder")
        return {
            entry: _read_file(folder, entry, seen, submission.uid, submission.student)
            for entry, seen in submission.entries.items()
        }
    finally:
        os.close(folder)


def _read_file(folder: int, entry: str, seen: os.stat_result, uid: int, student: str) -> bytes:
    """The bytes of one checked entry, opened without following links and checked again once open."""
    fd = os.open(entry, OPEN_FLAGS, dir_fd=folder)
    with os.fdopen(fd, "rb") as file:
        opened = os.fstat(fd)
        _same(opened, seen, quoted(entry))
        _check_entry(opened, quoted(entry), uid, student)
        data = file.read(seen.st_size + 1)  # its size was checked against its limit
        after = os.fstat(fd)
    if {opened.st_ctime_ns, after.st_ctime_ns} != {seen.st_ctime_ns} or len(data) != seen.st_size:
        raise Refused(f"{quoted(entry)} changed while it was being collected")
    return data


def _check_entry(st: os.stat_result, what: str, uid: int, student: str) -> None:
    _check_kind(st, what)
    if st.st_uid != uid:
        raise Refused(f"{what} is owned by {user_name(st.st_uid)}, not by {student}")
    if st.st_nlink != 1:
        raise HardLinked(f"{what} is a hard link ({st.st_nlink} names for one file)", st.st_ino)


def _check_kind(st: os.stat_result, what: str, folder: bool = False) -> None:
    kind = _kind(st.st_mode)
    wanted = "a folder" if folder else "a plain file"
    if kind != wanted:
        raise Refused(f"{what} is {kind}, not {wanted}")


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISREG, "a plain file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return kind
    return "of an unknown kind"


def _same(opened: os.stat_result, seen: os.stat_result, what: str) -> None:
    if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
        raise Refused(f"{what} was replaced while it was being collected")


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
