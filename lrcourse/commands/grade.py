"""`lrcourse grade ASSIGNMENT`: grade a class, here (`grading.autograde.grade`) or through a queue
(`grading.fleet.grade`), holding the course's lock (`grading.fleet.lock`); then the class report, and with --export
what `lrcourse export` writes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lrcourse.commands.export import export_options, exported
from lrcourse.commands.options import (
    broker_option,
    database_options,
    gradebook_unwritable,
    gradebook_url,
    refused,
    refused_in_roots_course,
    sandbox_option,
    sandbox_ready,
)
from lrcourse.grading.autograde.grade import grade_class
from lrcourse.grading.course import default_db_url
from lrcourse.grading.exchange.ledger_folder import LedgerUnsafe
from lrcourse.grading.exchange.root_links import EXPORT_FILES, planted_links, sqlite_files
from lrcourse.grading.exchange.submission_secrets import LedgerUnreadable, read_ledger
from lrcourse.grading.fleet import broker as fleet, lock as fleet_lock
from lrcourse.grading.fleet.outage import BROKER_WAIT_SECONDS, waited_limit
from lrcourse.grading.outcomes import summary
from lrcourse.grading.reports.results import why_not_plain
from lrcourse.grading.source_files import StrayFiles


def add(sub) -> None:
    what = "autograde every submission of an assignment, in parallel"
    statuses = "exit status 0: all graded; 1: not all; 2: refused before starting; 3: the broker did not answer, "
    statuses += "refused this user, or is full; 4: the gradebook refused a write (with a broker)"
    grade = sub.add_parser("grade", help=what, description=f"{what} ({statuses})")
    grade.add_argument("assignment")
    grade.add_argument("--workers", type=int, help="worker processes (default: cores; not with a broker)")
    grade.add_argument("--force", action="store_true", help="regrade students already graded")
    database_options(grade)
    grade.add_argument("--course", default=".", help="the course folder (default: here)")
    sandbox_option(grade)
    grade.add_argument("--export", action="store_true", help="then export, as `lrcourse export` does")
    export_options(grade)
    broker_option(grade)
    window = f"with a broker: tasks out at once ({fleet.WINDOW})"
    grade.add_argument("--window", type=fleet.window_size, default=fleet.WINDOW, help=window)
    wait = f"with a broker: how long one that stops answering mid-run is waited for ({BROKER_WAIT_SECONDS:.0f})"
    grade.add_argument("--broker-wait", type=waited_limit, default=BROKER_WAIT_SECONDS, metavar="SECONDS", help=wait)
    grade.set_defaults(run=command_grade, refuse_first=lambda args: refused_in_roots_course(args, "grade"))


def command_grade(args) -> int:
    if (status := refused_in_roots_course(args, "grade")) is not None:  # also run by cli.main first (R20w W1)
        return status
    course = Path(args.course).resolve()
    if why_not_plain(args.assignment):  # its report's file name, reports/<name>.html, cannot be made (R20u N4)
        return refused(f"lrcourse grade: the assignment {args.assignment!r}: {why_not_plain(args.assignment)}")
    if not (course / "source" / args.assignment).is_dir():
        return refused(f"no assignment {args.assignment!r}: expected a folder source/{args.assignment} in {course}")
    try:  # an unreadable or planted secret ledger stops grading too: it would give secrets to whoever holds them
        read_ledger(course, args.assignment)
        broker = fleet.broker_url(args.broker_file, "lrcourse grade")
    except (fleet.BrokerUrlError, LedgerUnreadable, LedgerUnsafe) as error:
        return refused(f"lrcourse grade: {error}")
    if broker and (args.workers is not None or args.no_sandbox):  # options of local grading only
        return refused(
            "lrcourse grade: --workers and --no-sandbox are not used with a broker: the workers grade; give "
            "`lrcourse worker` its --concurrency and --no-sandbox"
        )
    if not broker and not sandbox_ready(args):  # through a queue, the workers run students' code, not this
        return 2
    written = sqlite_files(gradebook_url(args))  # as given: a link in the course along them is refused (R20u N2, N3)
    written += tuple(Path(args.out) / name for name in EXPORT_FILES) if args.export and args.out else ()
    planted = planted_links(course, args.assignment, args.export, written)
    if planted:  # root in another account's course: nothing of root's written where that account points (issue 20)
        return refused("lrcourse grade: " + "; ".join(planted))
    # one run per course and chapter, local or through a queue, from its release to its last export (`fleet_lock`)
    with fleet_lock.held(course, args.assignment):
        args.db_url = gradebook_url(args)
        unwritable = gradebook_unwritable(course, args.db_url, then="grade again")
        if unwritable:
            return refused(f"lrcourse grade: {unwritable}")
        from lrcourse.build import ensure_released

        try:
            ensure_released(course, args.assignment, args.db_url)
        except StrayFiles as error:  # an editor's backup beside the notebook: the release would hand it out
            return refused(f"lrcourse grade: {error}")
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
        reported = report_and_export(course, args)
        return 0 if result.clean and reported else 1  # a failed student, no feedback, no report: not done


def report_and_export(course: Path, args) -> bool:
    """After grading: the class report always; with --export, the per-item CSV and Canvas file too. False if
    they failed (the grades are written all the same)."""
    from lrcourse.grading.reports.class_report import report_failure, write_chapter_report
    from lrcourse.grading.reports.results import read_gradebook

    db_url = args.db_url or default_db_url(course)
    try:
        book = read_gradebook(course, db_url, None if args.export else [args.assignment])  # read once
        print(f"class report: {write_chapter_report(course, book.assignment(args.assignment))}")
        for name in book.not_plain:  # as `lrcourse export` says it (R20t N1)
            print(f"not exported: the assignment {name!r}: {why_not_plain(name)}", file=sys.stderr)
        if args.export:
            print("\n".join(exported(course, book, args)))
    except Exception as error:  # the grades are written; a report that fails must not hide that
        print(f"lrcourse: the class report or export failed: {report_failure(error, course)}", file=sys.stderr)
        return False
    return True
