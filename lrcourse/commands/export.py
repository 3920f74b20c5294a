"""`lrcourse export [ASSIGNMENT ...]`: per-item grades, a Canvas file and class reports, from the gradebook
(`grading.reports`); `lrcourse grade --export` writes the same."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lrcourse.commands.options import (
    database_options,
    gradebook_unwritable,
    gradebook_url,
    refused,
    refused_unless_roots,
)
from lrcourse.grading.course import default_db_url


def add(sub) -> None:
    export = sub.add_parser(
        "export", help="per-item grades, a Canvas import file and class reports, from the gradebook"
    )
    export.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment")
    database_options(export)
    export.add_argument("--course", default=".", help="the course folder (default: here)")
    export_options(export)
    export.set_defaults(run=command_export, refuse_first=refused_as_root)


def export_options(command) -> None:
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


def exported(course: Path, book, args) -> list[str]:
    from lrcourse.grading.reports.export import ExportOptions, export_class

    return export_class(course, book, ExportOptions.given(args))


def refused_as_root(args) -> int | None:
    """Exit status 2 with the reason if root runs export in a course that is not root's through and through
    (`not_roots_throughout`), else None; `cli.main` runs it before anything of the course is read (R20u W2). In such
    a course every path export reads and writes (its folders, the gradebook, the student and chapter names in it) is
    another account's to point anywhere, and export needs none of root's rights: root's export read another course's
    root-only files through them into a page handed to the owner (R20s W1, W2; R20t W1; R20u W1: the course path a
    link to a root-owned folder others can write; M1: a root-owned course of the owner's files; R20v W1: a root-owned
    folder or file in it that others may write, or a link in it)."""
    return refused_unless_roots("export", args.course, "export needs no root") if os.geteuid() == 0 else None


def command_export(args) -> int:
    """Per-item grades of the whole gradebook (or ASSIGNMENTs), a Canvas file with --roster, a report per chapter."""
    from lrcourse.grading.reports.class_report import report_failure, write_chapter_report
    from lrcourse.grading.reports.results import read_gradebook, why_not_plain

    if (status := refused_as_root(args)) is not None:  # also run by cli.main first: called directly, here
        return status
    course = Path(args.course).resolve()
    if not course.is_dir():  # a mistyped --course: said, not sqlalchemy's "unable to open database file" (R25v N3)
        return refused(f"lrcourse export: {args.course} is not a course folder (give --course the course's folder)")
    unwritable = gradebook_unwritable(course, gradebook_url(args), then="export again")
    if unwritable:  # root's gradebook, left by root's grade before R20q M1: its chown, not sqlalchemy's traceback
        return refused(f"lrcourse export: {unwritable}")
    db_url = gradebook_url(args) or default_db_url(course)
    book = read_gradebook(course, db_url, args.assignments or None)  # the one read of the gradebook
    for name in book.not_plain:  # the gradebook is the course owner's to write: no path made of such a name
        print(f"not exported: the assignment {name!r}: {why_not_plain(name)}", file=sys.stderr)
    try:
        print("\n".join(exported(course, book, args)))
        for grades in book.assignments:
            if grades.totals:
                print(f"class report: {write_chapter_report(course, grades)}")
    except PermissionError as error:  # root's reports/ or exports/, a read-only file: its mend, not a traceback (G21)
        return refused(f"lrcourse export: not written: {report_failure(error, course, then='export again')}", 1)
    return 0
