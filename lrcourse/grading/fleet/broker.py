"""What the grading queue's two sides share (`fleet_grade` enqueues, `fleet_worker` grades): the Celery app over
a Redis broker, the broker's URL, and the course version a task and a worker must agree on.

The queue carries students' code, so Celery is told JSON only (never pickle: a pickled message runs code when
read), in both directions; a task is acknowledged only once graded (`acks_late`), and given back to the queue
if the process grading it dies (`reject_on_worker_lost`), one task at a time per process (prefetch 1). A broker
that loses a whole worker machine gives its task to another once `visibility_timeout` has passed: it must be
longer than a student's budget and grace (c.Sandbox.student_seconds + worker_grace_seconds), else a
slow student is handed out twice (the enqueuing command still writes each student once). Meanwhile a task's lease
(`fleet_lease`) tells the enqueuing command that its worker stopped answering.

Each course version has a queue of its own (`queue_name`): a worker of another checkout never sees a task it
would have to refuse, so a stale worker cannot drain the queue by failing its students. The version covers the
environment as well as the checkout (`environment`: Python's version and the installed versions of the packages that
compute or read a grade, torch first): a worker with another torch serves other queues, and a task that reaches it
anyway is refused with the packages that differ named (`environment_differences`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from urllib.parse import urlsplit

from lrcourse.grading.fleet import refusal as fleet_refusal
from lrcourse.grading.fleet.refusal import BrokerUrlError, refusal, source_of, with_password  # BrokerUrlError: here too

BROKER_VARIABLE = "LRCOURSE_BROKER_URL"
TASK = "lrcourse.grade_student"
URL_SCHEMES = ("redis://", "rediss://")
RESULT_PREFIX = "celery-task-meta-"  # Celery's Redis backend's key of a task's result (`result_key`)
COURSE_ID_FILE = ".lrcourse-course-id"  # in the course folder: see `course_id`
VISIBILITY_SECONDS = 3600  # see the module's text
RESULT_SECONDS = 7 * 24 * 3600  # results kept in Redis for a rerun after an interruption
RESTORE_SECONDS = 10  # a live worker looks for lost machines' tasks this often (`celery_app`)
# tasks the enqueuing command has out at once (`fleet_grade.Run.collect`): a class's parcels (up to intake's
# MAX_SUBMISSION_MB each) and results (about 1.2 MB each) would otherwise all sit in the broker's memory at the
# deadline. 64 keeps 32 worker processes busy with one task each queued behind; a larger fleet needs `--window` of
# about twice its processes
WINDOW = 64
MAX_ATTEMPTS = 3  # deliveries of one task (its worker died each time) before the student is failed
PACKAGE = Path(__file__).resolve().parents[2]  # the lrcourse package
# nbgrader_config.py's sections that only the enqueuing command reads, and that may differ between the course and its
# workers' checkouts: where its folders and gradebook are, late penalties (written here, from the trusted scores:
# `fleet_grade`), the exchange (any Exchange* section), the grades' export, the formgrader, logging
ENQUEUER_SECTIONS = frozenset(
    {"CourseDirectory", "LateSubmissionPlugin", "AssignLatePenalties", "ExportApp", "FormgradeExtension", "NbGrader"}
)
ROOT = PACKAGE.parent  # a checkout of the course
# the installed distributions whose version can change a grade: torch computes the answers and the references (its
# float32 kernels change from release to release), numpy, scikit-learn and matplotlib are what students' code calls,
# nbgrader, nbclient, nbconvert, nbformat, ipykernel, jupyter_client and pyzmq run the notebooks and read their
# outputs, nh3 cleans the feedback; Python itself beside them (`environment`)
GRADING_PACKAGES = (
    "torch",
    "numpy",
    "scikit-learn",
    "matplotlib",
    "nbgrader",
    "nbclient",
    "nbconvert",
    "nbformat",
    "ipykernel",
    "jupyter_client",
    "pyzmq",
    "nh3",
)


BROKER_STATUS = 3  # `lrcourse grade`'s exit status when the broker does not answer or is full (`BrokerUnreachable`)


class BrokerUnreachable(Exception):
    """The broker did not answer, refused this user (`fleet_refusal`), or is full (`fleet_full`), before or during the run (`away`:
    unreachable that long mid-run, `fleet_outage`): `lrcourse grade` says so in one line naming its host and port
    (never the URL: it holds the password) and what to do, and exits with BROKER_STATUS."""

    status = BROKER_STATUS

    def __init__(self, url: str, error: BaseException, away: float | None = None):
        said = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        password = urlsplit(url).password
        said = said.replace(password, "<password>") if password else said  # redis-py's texts do not hold it: in case
        from lrcourse.grading.fleet.full import FIX, is_full

        if is_full(error):  # it answers, and refuses writes: Redis's maxmemory is reached
            super().__init__(
                f"the broker at {broker_address(url)} is full (Redis's maxmemory is reached: it refuses writes); "
                f"grades written so far are kept; to make room: {FIX}; then run again"
            )
            return
        if refused := refusal(error, source_of(url, BROKER_VARIABLE)):  # it answers and refuses: no wait cures it
            refused = refused.replace(password, "<password>") if password else refused
            how = fleet_refusal.refused_as(refused)
            super().__init__(
                f"the broker at {broker_address(url)} answers but {how} ({refused}); grades written so far are kept; "
                "fix that, then run again"
            )
            return
        waited = f", unreachable for {away:.0f} s (--broker-wait)" if away is not None else ""
        super().__init__(
            f"the broker at {broker_address(url)} does not answer ({type(error).__name__}: {said}){waited}; grades "
            "written so far are kept; run again when the broker answers"
        )


GRADEBOOK_STATUS = 4  # `lrcourse grade`'s exit status when the gradebook refuses a write mid-run (`GradebookRefused`)


class GradebookRefused(Exception):
    """The gradebook refused to write a result (its database, not the result: a read-only or locked SQLite file, a
    full disk, a PostgreSQL server away or refusing): raised by `fleet_write.write`, it ends the enqueuing command at
    once (`fleet_grade.Run.collect` sets `written` and `left`), every result not yet written kept in the broker for
    the rerun; `lrcourse grade` says so and exits with GRADEBOOK_STATUS. Going on would fail every following student
    the same way, and forget their results in the broker."""

    status = GRADEBOOK_STATUS

    def __init__(self, student: str, error: BaseException):
        super().__init__(student, error)
        self.student, self.error = student, error
        self.written = self.left = 0

    def __str__(self) -> str:
        from lrcourse.grading.outcomes import shown, shown_reason

        cause = getattr(self.error, "orig", None) or self.error  # SQLAlchemy's wraps the driver's (its SQL left out)
        said = shown_reason(f"{type(cause).__name__}: {' '.join(str(cause).split())}", 300)
        return (
            f"the gradebook refused to write the result of {shown(self.student, 64)} ({said}): the run stops at once. "
            f"The {self.written} result(s) collected before it are kept; the {self.left} student(s) not written are "
            "not lost: their results stay in the broker (or are still being graded, or were not sent yet), none "
            "forgotten. Make the gradebook writable again (its file and its folder writable by this account, room on "
            "its disk, its server reachable, no other program holding it locked), then run the same command again: "
            "it writes the graded results already computed without grading them again and sends the rest: a stored "
            "result that is not a grade (a failure, one that cannot be read) is sent again to be graded, as is what "
            "was never sent. The refused student's autograded/ and feedback/ folders were already replaced by this "
            "result (files are written before grades), its grades not: the rerun writes both. This run's summary, "
            "reports and exports are not written: the rerun writes them."
        )


def broker_errors() -> tuple[type[BaseException], ...]:
    """What a broker that is down, unreachable, or refusing the password raises through redis-py and kombu."""
    import redis
    from kombu.exceptions import OperationalError

    return redis.RedisError, OperationalError


def broker_url(path: str | None, who: str = "lrcourse") -> str | None:
    """The broker's URL from a file (a password belongs there or in the environment, never on a command
    line), else $LRCOURSE_BROKER_URL, else None (no broker: local grading). A file others than its owner can read is
    warned about: the password lets one read every submission and forge results. An empty file, an empty variable or
    a URL of another scheme is an error (`BrokerUrlError`), never local grading or Celery's reading; so is one without
    a password, unless $LRCOURSE_BROKER_NO_PASSWORD is 1 (`fleet_refusal.with_password`)."""
    if path:
        try:
            mode = os.stat(path).st_mode & 0o777
            text = Path(path).read_text().strip()
        except (OSError, UnicodeDecodeError) as error:
            raise BrokerUrlError(f"the broker URL file {path} cannot be read: {type(error).__name__}") from None
        if mode & 0o077:
            print(
                f"{who}: warning: {path} has mode {mode:o}: it holds the broker's password; chmod 600 it",
                file=sys.stderr,
            )
        return with_password(checked_url(text, source := f"the broker URL file {path}"), source)
    if BROKER_VARIABLE in os.environ:
        return with_password(checked_url(os.environ[BROKER_VARIABLE].strip(), source := f"${BROKER_VARIABLE}"), source)
    return None


def checked_url(url: str, source: str) -> str:
    """`url` if it is a Redis URL (redis:// or rediss://, the forms the README documents). Checked before Celery
    sees it: Celery imports a URL of no known scheme as a module name, and its error prints the URL, password and
    all (`redis//:PW@host` gave "No module named 'redis//:PW@host'")."""
    if not url:
        raise BrokerUrlError(f"{source} is empty: it must hold the broker's URL, redis://:PASSWORD@HOST:6379/0")
    if not url.startswith(URL_SCHEMES):
        raise BrokerUrlError(
            f"{source} does not begin with {' or '.join(URL_SCHEMES)}: the URL is not shown here (it holds the "
            "password); it must read redis://:PASSWORD@HOST:6379/0 (or rediss:// for TLS)"
        )
    try:
        port = urlsplit(url).port  # redis-py raised a bare ValueError mid-run on "HOST:abc" (exit 1, a traceback)
    except ValueError:
        port = -1
    if port == -1:
        raise BrokerUrlError(f"{source} has a port that is not a number from 0 to 65535 (the URL is not shown)")
    return url


def broker_address(url: str) -> str:
    """HOST:PORT of a broker URL, for messages: never its password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def window_size(text: str) -> int:
    """`lrcourse grade --window`'s value: a whole number of at least 1 (argparse says which value is refused)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def celery_app(url: str, visibility_seconds: float = VISIBILITY_SECONDS, backend: type | None = None):
    """The Celery app of the grading queue, on the Redis broker at `url` (results kept there too, through `backend`, a
    subclass of Celery's Redis backend: a worker's waits for room in a full Redis, `fleet_full`)."""
    from celery import Celery

    checked_url(url, "the broker URL")
    app = Celery("lrcourse", broker=url, backend=url, set_as_current=False)
    app.backend_cls = backend
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_enable_remote_control=False,  # no broadcast commands: a worker runs the grading task, nothing else
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # a lost machine's task is restored by a live worker's sweep of the unacknowledged ones: every 10 s
        # (kombu's unacked_restore_interval) with a throttle of 1, where kombu's default throttle of 10 swept every
        # 100 s, so a task came back up to 100 s after its visibility timeout
        broker_transport_options={
            "visibility_timeout": visibility_seconds,
            "unacked_restore_interval": RESTORE_SECONDS,
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"visibility_timeout": visibility_seconds},
        result_expires=RESULT_SECONDS,
        result_extended=False,
    )
    return app


def code_version() -> str:
    """A hash of what grades: the lrcourse package and the grader's references (grader/), as files, and the
    environment they run in (`environment`), as installed now."""
    digest = hashlib.sha256()
    for base in (PACKAGE, ROOT / "grader"):
        _hash_tree(digest, base, base.parent)
    digest.update(b"\0environment\0" + json.dumps(environment(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def environment() -> dict[str, str]:
    """{"python": its version, each of GRADING_PACKAGES: its installed version, or "absent"}, read from the installed
    distributions' metadata at each call (what a process started now would import: a package upgraded under a
    running worker shows here, not in the modules that worker imported before)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in GRADING_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def mismatch(task: dict, assignment: str, mine: str, ours: dict[str, str]) -> str:
    """Why a worker at version `mine` of `assignment`, in environment `ours`, refuses `task` (from the broker: read as
    untrusted text)."""
    differences = environment_differences(task.get("environment"), ours)
    what = (
        f"the environments differ ({differences}): install the enqueuing machine's versions here (requirements.txt's "
        "pins), or the reverse"
        if differences
        else "the code, the assignment's source or nbgrader_config.py's grading settings differ (update its checkout "
        "to the enqueuing course's, or the reverse)"
    )
    return (
        f"version mismatch: the task is of course version {str(task.get('version'))[:32]}, this worker grades "
        f"{assignment} at version {mine}: {what}"
    )


def environment_differences(theirs, ours: dict[str, str]) -> str:
    """What differs between a task's environment (`theirs`: from the broker, untrusted; only the names of `ours` are
    read, each value shown cut to 40 printable characters) and this machine's, as text ("" if nothing does, or if
    the task carries none)."""
    if not isinstance(theirs, dict):
        return ""
    said = []
    for name, mine in ours.items():
        other = theirs.get(name)
        if not isinstance(other, str):
            continue
        other = "".join(c for c in other[:40] if c.isprintable())
        if other != mine:
            said.append(f"{name} {mine} here, {other} on the enqueuing machine")
    return "; ".join(said)


def course_version(course: Path, assignment: str, code: str | None = None, settings: bytes | None = None) -> str:
    """The version a task is graded at: the code's, the assignment's source notebooks (the hidden tests) and the
    course's grading settings (`grading_settings`). `code` and `settings`, when given, are what `code_version` and
    `grading_settings(course)` return: read once for several assignments (a worker's look covers them all)."""
    digest = hashlib.sha256((code or code_version()).encode())
    _hash_tree(digest, course / "source" / assignment, course / "source")
    digest.update(b"\0config\0" + (grading_settings(course) if settings is None else settings))
    return digest.hexdigest()[:16]


def grading_settings(course: Path) -> bytes:
    """The course's nbgrader configuration as it bears on a grade, as text: every section but those the enqueuing
    command alone reads (ENQUEUER_SECTIONS), so the sandbox's limits (a memory-hungry answer passes under one cap and
    fails under another), Execute's timeout, the autograde steps and the feedback's settings must be a worker's too.
    The config is read as nbgrader reads it (its code run: settings it computes count); this checkout's and the
    course's folders are written as one placeholder, since each machine's clone is elsewhere."""
    from lrcourse.grading.course import course_config

    config = course_config(course, "sqlite://")
    sections = {name: config[name] for name in sorted(config) if not _enqueuers(name)}
    text = json.dumps(sections, sort_keys=True, default=_named)
    for folder in sorted(
        {str(ROOT), str(course.resolve())}, key=len, reverse=True
    ):  # the longer first: one may hold the other
        text = text.replace(folder, "<folder>")
    return text.encode()


def _enqueuers(section: str) -> bool:
    return section in ENQUEUER_SECTIONS or section.startswith("Exchange")


def _named(value) -> str:
    """A class or a function by its dotted name (its repr may hold an address, different in every process)."""
    name = getattr(value, "__qualname__", None)
    return f"{getattr(value, '__module__', '')}.{name}" if name else repr(value)


def _hash_tree(digest, base: Path, relative_to: Path) -> None:
    # .npz: lrcourse/runs' stored trajectories, read while chapters 5 to 7 are graded (the feedback's numbers)
    wanted = (".py", ".json", ".ipynb", ".html", ".tpl", ".j2", ".css", ".js", ".txt", ".csv", ".npz")
    for path in sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in wanted):
        if "__pycache__" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        digest.update(path.relative_to(relative_to).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())


def queue_name(version: str) -> str:
    """The queue of one course version: a worker listens only to its own versions' queues, so it never takes (and
    refuses) a task of another version, and two courses can share one broker."""
    return f"lrcourse-{version}"


def task_id(version: str, assignment: str, student: str, fingerprint: str, course: str = "") -> str:
    """One task per submission of one course (`course_id`): the same on a rerun, so a result already computed is
    found and not redone; another course on the same broker, with the same student and the same bytes, has a task of
    its own (else one's forget would delete the other's result)."""
    key = "\0".join((course, version, assignment, student, fingerprint)).encode()
    return "lrcourse-" + hashlib.sha256(key).hexdigest()[:32]


def course_id(course: Path) -> str:
    """The course's own id in the broker: a random token made once and kept in the course folder (COURSE_ID_FILE),
    so two courses (or two sections of one) sharing a broker never share a task, and a rerun finds its own."""
    path = course / COURSE_ID_FILE
    if not path.exists():
        import secrets

        try:
            with path.open("x") as file:  # exclusive: two runs starting at once keep the first one's
                file.write(secrets.token_hex(16) + "\n")
        except FileExistsError:
            pass
    return path.read_text().strip()


def result_key(task: str) -> str:
    return RESULT_PREFIX + task


def attempts_key(task: str) -> str:
    return f"lrcourse:attempts:{task}"


def sent_key(task: str) -> str:
    return f"lrcourse:sent:{task}"


def done_key(task: str) -> str:
    """Set by the enqueuing command once it wrote the task's result (`fleet_ready.forget`): a copy of the task still
    held somewhere is then dropped by the worker that takes it, and its result, if graded meanwhile, is not written."""
    return f"lrcourse:done:{task}"
