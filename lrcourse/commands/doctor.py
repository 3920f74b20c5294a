"""`lrcourse doctor [--course DIR]`: can students' code be graded here, and what is missing
(`grading.doctor.diagnose`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def add(sub) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check that students' code can be graded here: starts one sandboxed answer process and one "
        "sandboxed kernel, and says what is missing and how to fix it (exit 1 when grading cannot work)",
    )
    doctor.add_argument("--course", default=".", help="the course folder, for its sandbox limits (default: here)")
    doctor.add_argument(
        "--put-back",
        metavar="PATH",
        help="as root, in your course folder: move the class's inbound, found at PATH by the doctor's find (moved there "
        "by someone who could write in the course's folder), back as the course's missing inbound, following no link "
        "on its way; nothing else is checked or run",
    )
    doctor.set_defaults(run=command_doctor, refuse_first=refused_put_back)


def command_doctor(args) -> int:
    """Start one sandboxed answer process and one sandboxed kernel; a line per check; 1 if any check fails."""
    from lrcourse.grading.doctor.diagnose import diagnose, verdict

    if getattr(args, "put_back", None):  # a caller's args without the option (tests, scripts)
        return command_put_back(args)
    checks = []
    # absolute, not resolved: the path the instructor grades with, so a writable folder holding a link to the course
    # is seen (R20r W1; `course_folder_closed` follows the link itself)
    course = Path(args.course).absolute()
    for check in diagnose(course, lambda text: print(text, file=sys.stderr, flush=True)):
        print(check.line(), flush=True)
        checks.append(check)
    print(verdict(checks))
    return 1 if any(check.failed for check in checks) else 0


def refused_put_back(args) -> int | None:
    """Root's --put-back in a course folder root owns: refused unless it is root's through and through, as root's
    collect is (`options.refused_in_roots_course`: its nbgrader_config.py is Python root runs)."""
    from lrcourse.commands.options import refused_in_roots_course

    return refused_in_roots_course(args, "doctor --put-back") if getattr(args, "put_back", None) else None


def command_put_back(args) -> int:
    """`--put-back PATH`: the class's inbound moved back (`grading.doctor.put_back`), the collector the owner of the
    course folder it is run in; 1, with the reason, if refused."""
    from lrcourse.grading.doctor.put_back import PutBackRefused, put_back_found
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable, exchange_of

    if (status := refused_put_back(args)) is not None:  # also run by cli.main first
        return status
    course = Path(args.course).absolute()
    try:
        exchange = exchange_of(course)
        print(put_back_found(Path(args.put_back), exchange.inbound, os.stat(course).st_uid))
    except (PutBackRefused, ExchangeUnusable, OSError) as error:
        print(f"lrcourse doctor --put-back: not done: {error}", file=sys.stderr)
        return 1
    return 0
