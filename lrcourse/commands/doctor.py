"""`lrcourse doctor [--course DIR]`: can students' code be graded here, and what is missing
(`grading.doctor.diagnose`)."""

from __future__ import annotations

import sys
from pathlib import Path


def add(sub) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check that students' code can be graded here: starts one sandboxed answer process and one "
        "sandboxed kernel, and says what is missing and how to fix it (exit 1 when grading cannot work)",
    )
    doctor.add_argument("--course", default=".", help="the course folder, for its sandbox limits (default: here)")
    doctor.set_defaults(run=command_doctor)


def command_doctor(args) -> int:
    """Start one sandboxed answer process and one sandboxed kernel; a line per check; 1 if any check fails."""
    from lrcourse.grading.doctor.diagnose import diagnose, verdict

    checks = []
    # absolute, not resolved: the path the instructor grades with, so a writable folder holding a link to the course
    # is seen (R20r W1; `course_folder_closed` follows the link itself)
    course = Path(args.course).absolute()
    for check in diagnose(course, lambda text: print(text, file=sys.stderr, flush=True)):
        print(check.line(), flush=True)
        checks.append(check)
    print(verdict(checks))
    return 1 if any(check.failed for check in checks) else 0
