"""What several of `lrcourse`'s verbs share: the gradebook, broker and sandbox options, the gradebook URL they give,
whether students' code can be sandboxed, and a refusal's message and status."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lrcourse.grading.fleet import broker as fleet

DB_URL_VARIABLE = "LRCOURSE_DB_URL"


def gradebook_url(args) -> str | None:
    """The gradebook URL from --db-url-file, --db-url or $LRCOURSE_DB_URL (a password belongs in the file or
    the variable: a command line is visible to every process on the machine)."""
    if getattr(args, "db_url_file", None):
        return Path(args.db_url_file).read_text().strip()
    return getattr(args, "db_url", None) or os.environ.get(DB_URL_VARIABLE) or None


def sandbox_ready(args) -> bool:
    """Whether students' code can be sandboxed here; without it, grading runs only with --no-sandbox."""
    from lrcourse.grading.sandbox.bwrap import SandboxUnavailable, check_available

    if getattr(args, "no_sandbox", False):
        print(
            "lrcourse: --no-sandbox: students' code runs with your rights (only for trusted submissions); PyTorch's "
            "scheduler module is replaced, but its file is readable: an answer that runs its source escapes the ban",
            file=sys.stderr,
        )
        return True
    try:
        check_available()
    except SandboxUnavailable as error:
        print(
            f"lrcourse: cannot sandbox students' code: {error}.\nInstall it, or pass --no-sandbox (trusted code only).",
            file=sys.stderr,
        )
        return False
    return True


def refused(why: str, status: int = 2) -> int:
    """A command refused before it starts: why, on stderr, and the status of a usage error (or `status`)."""
    print(why, file=sys.stderr)
    return status


def refused_unless_roots(verb: str, course: str, why: str) -> int | None:
    """Exit status 2 with the reason and the mend if what root's export reads or writes in `course` (as given) is not
    root's through and through (`not_roots_throughout`), else None; `why` says what root's `verb` would do there.
    Run by `cli.main` before the course is read. Root's grade and collect: `refused_in_roots_course`."""
    from lrcourse.grading.exchange.other_account import not_roots_throughout

    if os.path.exists(course) and not os.path.isdir(course):  # root's file: no folder's mend, which loops (R20w N1)
        return refused(f"lrcourse {verb}: {course} is not a folder (give --course the course's folder)")
    try:
        reason, mend = not_roots_throughout(course)
    except OSError as error:  # a part of the path missing, or not a folder: nothing of it read
        return refused(f"lrcourse {verb}: the course {course}: {error.strerror}: {error.filename}")
    if not reason:
        return None
    return refused(
        f"lrcourse {verb}: run as root in a course that is not root's through and through: {reason}; what another "
        f"account owns or may write there is its to point anywhere, so root's {verb} would read and write where it "
        f"says ({why}): {mend}"
    )


def refused_in_roots_course(args, verb: str) -> int | None:
    """Root's grade or collect in a course folder root owns: exit status 2 with the reason and the mend unless the
    course is root's through and through (`roots_course.refusal`), else None. Run by `cli.main` before the course is
    read, and by the command itself for a caller that does not go through `cli.main`: a course that passed is not
    walked again (seconds for a clone; no other account can change it in between)."""
    from lrcourse.grading.exchange.roots_course import refusal

    if getattr(args, "roots_course_passed", False):
        return None
    why = refusal(args.course, verb)
    if why:
        return refused(why)
    args.roots_course_passed = True
    return None


def broker_option(command) -> None:
    command.add_argument(
        "--broker-file", help=f"a file holding the Redis broker's URL with its password (or ${fleet.BROKER_VARIABLE})"
    )


def database_options(command) -> None:
    command.add_argument(
        "--db-url",
        help=f"gradebook URL (default: ${DB_URL_VARIABLE}, else the course's SQLite "
        "gradebook.db); keep a password out of it: use --db-url-file or the variable",
    )
    command.add_argument("--db-url-file", help="a file holding the gradebook URL")


def sandbox_option(command, trusted: str = "only for trusted submissions") -> None:
    command.add_argument("--no-sandbox", action="store_true", help=f"run students' code unsandboxed ({trusted})")


def gradebook_unwritable(course: Path, db_url: str | None, then: str) -> str:
    """Why the course's own sqlite gradebook cannot be written by this account (root's, made by root's grade before
    R20q M1), with the chown or chmod that mends it, then `then`, else "": nbgrader failed every student with "error
    accessing the nbgrader database ... `nbgrader db upgrade`", the wrong mend; `lrcourse export` ended in
    sqlalchemy's traceback (R20r N3)."""
    from lrcourse.grading.course import default_db_url
    from lrcourse.grading.exchange.other_account import cannot_write

    path = course / "gradebook.db"
    if (db_url and db_url != default_db_url(course)) or not path.is_file() or os.access(path, os.W_OK):
        return ""
    error = PermissionError(13, "Permission denied", str(path))
    return f"the gradebook {path} {cannot_write(error, course, then=then)}"
