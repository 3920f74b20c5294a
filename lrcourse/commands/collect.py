"""`lrcourse collect ASSIGNMENT`: take submissions from nbgrader's exchange (`grading.exchange.collect`)."""

from __future__ import annotations

import traceback
from pathlib import Path

from lrcourse.commands.options import refused, refused_in_roots_course


def add(sub) -> None:
    collect = sub.add_parser(
        "collect",
        help="take each student's newest submission from nbgrader's exchange into submitted/ (replaces "
        "`nbgrader collect`): only folders and plain files owned by the student's OS user, no links, FIFOs or "
        "devices; every refusal recorded with its reason (the collect record, reports/collect-ASSIGNMENT.json)",
    )
    collect.add_argument("assignment")
    collect.add_argument("--course", default=".", help="the course folder (default: here)")
    collect.add_argument("--allow-tmpfs", action="store_true", help="collect on tmpfs/unknown overlay: times untrusted")
    collect.set_defaults(run=command_collect, refuse_first=lambda args: refused_in_roots_course(args, "collect"))


def command_collect(args) -> int:
    """Newest good submissions into submitted/; 1: any refused, 2: exchange, ledger or record unusable, 3: a fault."""
    from lrcourse.grading.exchange.collect import collect, summary
    from lrcourse.grading.exchange.collect_record import write_collect_record
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable, exchange_of
    from lrcourse.grading.exchange.other_account import cannot_write

    if (status := refused_in_roots_course(args, "collect")) is not None:  # also run by cli.main first (R20w W1)
        return status
    course = Path(args.course).resolve()
    try:
        exchange = exchange_of(course)
        exchange.memory_fs_ok = getattr(args, "allow_tmpfs", False)
        result = collect(course, args.assignment, exchange)
    except ExchangeUnusable as error:
        return refused(f"lrcourse collect: {error}")
    except Exception:  # a traceback's own status, 1, would read as "some refused"
        traceback.print_exc()
        return 3
    try:
        record = write_collect_record(course, result)  # first: a print that fails (an ASCII terminal) loses nothing
    except OSError as error:  # root's record (F24 M1(b)): what was collected is still said, and why no record
        record = f"not written, {cannot_write(error, course)}"
    print(f"{summary(result)}\ncollect record: {record}")
    return 1 if result.refused else 2 if isinstance(record, str) else 0  # str: the record not written
