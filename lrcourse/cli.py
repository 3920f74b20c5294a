"""The `lrcourse` command.

lrcourse collect ASSIGNMENT                                        take submissions from nbgrader's exchange
lrcourse grade ASSIGNMENT [--workers N] [--force] [--db-url URL]   grade a class (instructors)
lrcourse export [ASSIGNMENT ...] [--roster FILE] [--db-url URL]    per-item grades, Canvas file, class reports
lrcourse check [CHAPTER ...]                                       grade your workspace (self-study; 03 or its name)
lrcourse demo                                                      grade the example class in examples/
lrcourse doctor [--course DIR]                                     can students' code be graded here? what is missing
lrcourse worker --broker-file F [--concurrency N]                   a grading worker of a queue (`grade --broker-file`)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from lrcourse.grading import course as grading_course
from lrcourse.grading.autograde.grade import Stopped, grade_class
from lrcourse.grading.course import default_db_url, ensure_tools_on_path, refuse_outdated_config, skip_iri_format_check
from lrcourse.grading.exchange.ledger_folder import LedgerUnsafe
from lrcourse.grading.exchange.submission_secrets import LedgerUnreadable, read_ledger
from lrcourse.grading.fleet import broker as fleet, lock as fleet_lock
from lrcourse.grading.fleet.outage import BROKER_WAIT_SECONDS, waited_limit
from lrcourse.grading.fleet.start import worker_options
from lrcourse.grading.outcomes import summary
from lrcourse.grading.source_files import StrayFiles

DB_URL_VARIABLE = "LRCOURSE_DB_URL"


def _db_url(args) -> str | None:
    """The gradebook URL from --db-url-file, --db-url or $LRCOURSE_DB_URL (a password belongs in the file or
    the variable: a command line is visible to every process on the machine)."""
    if getattr(args, "db_url_file", None):
        return Path(args.db_url_file).read_text().strip()
    return getattr(args, "db_url", None) or os.environ.get(DB_URL_VARIABLE) or None


def _sandbox_ready(args) -> bool:
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


def command_collect(args) -> int:
    """Newest good submissions into submitted/; 1: any refused, 2: exchange, ledger or record unusable, 3: a fault."""
    from lrcourse.grading.exchange.collect import collect, summary
    from lrcourse.grading.exchange.collect_record import write_collect_record
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable, exchange_of
    from lrcourse.grading.exchange.other_account import cannot_write

    course = Path(args.course).resolve()
    try:
        exchange = exchange_of(course)
        exchange.memory_fs_ok = getattr(args, "allow_tmpfs", False)
        result = collect(course, args.assignment, exchange)
    except ExchangeUnusable as error:
        return _refused(f"lrcourse collect: {error}")
    except Exception:  # a traceback's own status, 1, would read as "some refused"
        traceback.print_exc()
        return 3
    try:
        record = write_collect_record(course, result)  # first: a print that fails (an ASCII terminal) loses nothing
    except OSError as error:  # root's record (F24 M1(b)): what was collected is still said, and why no record
        record = f"not written, {cannot_write(error, course)}"
    print(f"{summary(result)}\ncollect record: {record}")
    return 1 if result.refused else 2 if isinstance(record, str) else 0  # str: the record not written


def command_grade(args) -> int:
    course = Path(args.course).resolve()
    if not (course / "source" / args.assignment).is_dir():
        return _refused(f"no assignment {args.assignment!r}: expected a folder source/{args.assignment} in {course}")
    try:  # an unreadable or planted secret ledger stops grading too: it would give secrets to whoever holds them
        read_ledger(course, args.assignment)
        broker = fleet.broker_url(args.broker_file, "lrcourse grade")
    except (fleet.BrokerUrlError, LedgerUnreadable, LedgerUnsafe) as error:
        return _refused(f"lrcourse grade: {error}")
    if broker and (args.workers is not None or args.no_sandbox):  # options of local grading only
        return _refused(
            "lrcourse grade: --workers and --no-sandbox are not used with a broker: the workers grade; give "
            "`lrcourse worker` its --concurrency and --no-sandbox"
        )
    if not broker and not _sandbox_ready(args):  # through a queue, the workers run students' code, not this
        return 2
    # one run per course and chapter, local or through a queue, from its release to its last export (`fleet_lock`)
    with fleet_lock.held(course, args.assignment):
        args.db_url = _db_url(args)
        from lrcourse.build import ensure_released

        try:
            ensure_released(course, args.assignment, args.db_url)
        except StrayFiles as error:  # an editor's backup beside the notebook: the release would hand it out
            return _refused(f"lrcourse grade: {error}")
        if broker:
            from lrcourse.grading.fleet.grade import grade_class_remote

            options = {"window": args.window, "broker_wait": args.broker_wait}
            result = grade_class_remote(course, args.assignment, broker, args.force, args.db_url, **options)
        else:
            result = grade_class(
                course,
                args.assignment,
                workers=args.workers or os.cpu_count(),
                force=args.force,
                db_url=args.db_url,
                sandboxed=not args.no_sandbox,
            )
        print(summary(result))
        print(
            f"grades: {course / 'grades.csv'}   outcomes: {course / 'reports' / (args.assignment + '.csv')}   "
            f"feedback: {course / 'feedback'}"
        )
        reported = _report_and_export(course, args)
        return 0 if result.clean and reported else 1  # a failed student, no feedback, no report: not done


def _report_and_export(course: Path, args) -> bool:
    """After grading: the class report always; with --export, the per-item CSV and Canvas file too. False if
    they failed (the grades are written all the same)."""
    from lrcourse.grading.reports.class_report import report_failure, write_chapter_report
    from lrcourse.grading.reports.results import read_gradebook

    db_url = args.db_url or default_db_url(course)
    try:
        book = read_gradebook(course, db_url, None if args.export else [args.assignment])  # read once
        print(f"class report: {write_chapter_report(course, book.assignment(args.assignment))}")
        if args.export:
            print("\n".join(_export(course, book, args)))
    except Exception as error:  # the grades are written; a report that fails must not hide that
        print(f"lrcourse: the class report or export failed: {report_failure(error, course)}", file=sys.stderr)
        return False
    return True


def _export(course: Path, book, args) -> list[str]:
    from lrcourse.grading.reports.export import ExportOptions, export_class

    return export_class(course, book, ExportOptions.given(args))


def command_export(args) -> int:
    """Per-item grades of the whole gradebook (or ASSIGNMENTs), a Canvas file with --roster, a report per chapter."""
    from lrcourse.grading.reports.class_report import write_chapter_report
    from lrcourse.grading.reports.results import read_gradebook

    course = Path(args.course).resolve()
    db_url = _db_url(args) or default_db_url(course)
    book = read_gradebook(course, db_url, args.assignments or None)  # the one read of the gradebook
    print("\n".join(_export(course, book, args)))
    for grades in book.assignments:
        if grades.totals:
            print(f"class report: {write_chapter_report(course, grades)}")
    return 0


def _export_options(command) -> None:
    command.add_argument("--roster", help="a gradebook CSV exported from Canvas: writes exports/canvas-import.csv")
    command.add_argument(
        "--roster-id-column",
        default="SIS Login ID",
        choices=["SIS Login ID", "ID", "SIS User ID"],
        help="the roster column holding nbgrader's student ids (default: SIS Login ID)",
    )
    command.add_argument("--id-map", help="a CSV nbgrader_id,roster_value when the ids differ from the roster's")
    command.add_argument(
        "--canvas-column",
        action="append",
        default=[],
        metavar="ASSIGNMENT=COLUMN",
        help="the Canvas column of an assignment (default: the roster's column named after it)",
    )
    command.add_argument("--out", help="folder for the exported files (default: COURSE/exports)")


def command_workspace(args) -> int:
    """Make or bring up to date the learner's workspace (lrcourse.workspace), then write its start page."""
    from lrcourse.start_page import write_start_page
    from lrcourse.workspace import RECORD, RELEASE, ROOT, describe, update_workspace

    if not RELEASE.is_dir():  # an installed lrcourse (a hub's students' wheel) has no release to copy
        print(f"lrcourse workspace: no course release here ({RELEASE} is missing): it runs in a course checkout")
        return 2
    workspace = Path(args.workspace or ROOT / "workspace").resolve()
    first = not (workspace / RECORD).exists()
    update = update_workspace(workspace)
    if first:
        print(f"Your workspace is {workspace}: your answers live there, and no course command overwrites them.")
    else:
        print("\n".join(describe(update, workspace)))
    print(f"start page: {write_start_page(workspace)}")
    return 0


def command_check(args) -> int:
    """Grade a copy of the learner's workspace with the full hidden tests (lrcourse.self_check)."""
    from lrcourse.build import chapters
    from lrcourse.self_check import ROOT, UnknownChapter, chapter_names, check

    if not (ROOT / "source").is_dir():  # an installed lrcourse (a hub's students' wheel) has no course folder
        missing = f"no course folder here ({ROOT / 'source'} is missing): it runs in a course checkout"
        return _refused(f"lrcourse check: {missing}")
    try:
        names = chapter_names(args.chapters, chapters())
    except UnknownChapter as error:
        return _refused(f"lrcourse check: {error}")
    if not _sandbox_ready(args):
        return 2
    return check(names, sandboxed=not args.no_sandbox)


def command_demo(args) -> int:
    """Submit a copy of the example class (examples/class) and grade it in build/demo/ with one command."""
    from lrcourse.examples import grade_example_class

    if not _sandbox_ready(args):
        return 2
    return grade_example_class(args.workers, sandboxed=not args.no_sandbox)


def command_doctor(args) -> int:
    """Start one sandboxed answer process and one sandboxed kernel; a line per check; 1 if any check fails."""
    from lrcourse.grading.doctor.diagnose import diagnose, verdict

    checks = []
    for check in diagnose(Path(args.course).resolve(), lambda text: print(text, file=sys.stderr, flush=True)):
        print(check.line(), flush=True)
        checks.append(check)
    print(verdict(checks))
    return 1 if any(check.failed for check in checks) else 0


def _refused(why: str, status: int = 2) -> int:
    """A command refused before it starts: why, on stderr, and the status of a usage error (or `status`)."""
    print(why, file=sys.stderr)
    return status


def command_worker(args) -> int:
    """A grading worker of the queue, serving it until stopped; Celery's status (not 0 after "Unrecoverable error")."""
    from lrcourse.grading.fleet.worker import run

    try:
        url = fleet.broker_url(args.broker_file, "lrcourse worker")
    except fleet.BrokerUrlError as error:
        return _refused(f"lrcourse worker: {error}")
    if not url:
        return _refused(f"lrcourse worker: no broker: pass --broker-file or set ${fleet.BROKER_VARIABLE}")
    if not _sandbox_ready(args):
        return 2
    name = args.name or f"lrcourse-{os.getpid()}@%h"
    return run(url, Path(args.course).resolve(), args.concurrency, not args.no_sandbox, args.visibility_seconds, name)


def _broker_option(command) -> None:
    command.add_argument(
        "--broker-file", help=f"a file holding the Redis broker's URL with its password (or ${fleet.BROKER_VARIABLE})"
    )


def _database_options(command) -> None:
    command.add_argument(
        "--db-url",
        help=f"gradebook URL (default: ${DB_URL_VARIABLE}, else the course's SQLite "
        "gradebook.db); keep a password out of it: use --db-url-file or the variable",
    )
    command.add_argument("--db-url-file", help="a file holding the gradebook URL")


def _sandbox_option(command, trusted: str = "only for trusted submissions") -> None:
    command.add_argument("--no-sandbox", action="store_true", help=f"run students' code unsandboxed ({trusted})")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="lrcourse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="command", required=True)
    collect = sub.add_parser(
        "collect",
        help="take each student's newest submission from nbgrader's exchange into submitted/ (replaces "
        "`nbgrader collect`): only folders and plain files owned by the student's OS user, no links, FIFOs or "
        "devices; every refusal recorded with its reason (the collect record, reports/collect-ASSIGNMENT.json)",
    )
    collect.add_argument("assignment")
    collect.add_argument("--course", default=".", help="the course folder (default: here)")
    collect.add_argument("--allow-tmpfs", action="store_true", help="collect on tmpfs/unknown overlay: times untrusted")
    collect.set_defaults(run=command_collect)
    what = "autograde every submission of an assignment, in parallel"
    statuses = "exit status 0: all graded; 1: not all; 2: refused before starting; 3: the broker did not answer, "
    statuses += "refused this user, or is full; 4: the gradebook refused a write (with a broker)"
    grade = sub.add_parser("grade", help=what, description=f"{what} ({statuses})")
    grade.add_argument("assignment")
    grade.add_argument("--workers", type=int, help="worker processes (default: cores; not with a broker)")
    grade.add_argument("--force", action="store_true", help="regrade students already graded")
    _database_options(grade)
    grade.add_argument("--course", default=".", help="the course folder (default: here)")
    _sandbox_option(grade)
    grade.add_argument("--export", action="store_true", help="then export, as `lrcourse export` does")
    _export_options(grade)
    _broker_option(grade)
    window = f"with a broker: tasks out at once ({fleet.WINDOW})"
    grade.add_argument("--window", type=fleet.window_size, default=fleet.WINDOW, help=window)
    wait = f"with a broker: how long one that stops answering mid-run is waited for ({BROKER_WAIT_SECONDS:.0f})"
    grade.add_argument("--broker-wait", type=waited_limit, default=BROKER_WAIT_SECONDS, metavar="SECONDS", help=wait)
    grade.set_defaults(run=command_grade)
    worker = sub.add_parser("worker", help="grade the students a queue holds (`grade --broker-file`), from a checkout")
    _broker_option(worker)
    worker_options(worker)  # `fleet_start`
    _sandbox_option(
        worker,
        "only for trusted submissions: students' code then runs as the worker, with its environment, files and "
        "network, so it can read the broker's URL and password, and with them every submission, and forge any result",
    )
    worker.set_defaults(run=command_worker)
    export = sub.add_parser(
        "export", help="per-item grades, a Canvas import file and class reports, from the gradebook"
    )
    export.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment")
    _database_options(export)
    export.add_argument("--course", default=".", help="the course folder (default: here)")
    _export_options(export)
    export.set_defaults(run=command_export)
    workspace = sub.add_parser(
        "workspace",
        help="make your workspace from the release, or bring a course update into it without overwriting "
        "anything you wrote, then write its start page (`make lab` runs it)",
    )
    workspace.add_argument("workspace", nargs="?", help="default: workspace/ in the course checkout")
    workspace.set_defaults(run=command_workspace)
    check = sub.add_parser(
        "check", help="grade a copy of your workspace with the full hidden tests (a chapter: 03 or its name)"
    )
    check.add_argument("chapters", nargs="*", metavar="CHAPTER", help="default: every chapter")
    _sandbox_option(check)
    check.set_defaults(run=command_check)
    demo = sub.add_parser("demo", help="grade the example class shipped in examples/class")
    demo.add_argument("--workers", type=int, default=os.cpu_count())
    _sandbox_option(demo)
    demo.set_defaults(run=command_demo)
    doctor = sub.add_parser(
        "doctor",
        help="check that students' code can be graded here: starts one sandboxed answer process and one "
        "sandboxed kernel, and says what is missing and how to fix it (exit 1 when grading cannot work)",
    )
    doctor.add_argument("--course", default=".", help="the course folder, for its sandbox limits (default: here)")
    doctor.set_defaults(run=command_doctor)
    return top


def _stop(signum, frame):
    signal.signal(signum, signal.SIG_DFL)  # a second one ends the command outright
    raise Stopped()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    ensure_tools_on_path()
    skip_iri_format_check()
    getattr(sys.stdout, "reconfigure", lambda **_: None)(errors="backslashreplace")  # any name prints, even in ASCII
    # SIGTERM or SIGHUP (a scheduler's stop, `kill`, a closed terminal) stop a run at once, keeping written grades
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    try:
        refuse_outdated_config(getattr(args, "course", None))  # a course's older nbgrader_config.py: what to do, said
        return args.run(args)
    except Stopped:
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(130)  # as after Ctrl-C; not through the interpreter's exit, which waits on the pool's threads
    except KeyboardInterrupt:
        return 130
    except (fleet_lock.Held, grading_course.OutdatedCourseConfig) as error:  # the chapter held; an old config
        return _refused(f"lrcourse {args.command}: {error}")  # refused before starting: exit 2, as --help says
    except (fleet.BrokerUnreachable, fleet.GradebookRefused) as error:  # the run itself could not go on: not 1
        return _refused(f"lrcourse {args.command}: {error}", error.status)


if __name__ == "__main__":
    sys.exit(main())
