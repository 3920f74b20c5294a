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

from lrcourse.commands import check, collect, demo, doctor, export, grade, worker, workspace
from lrcourse.commands.options import refused
from lrcourse.grading import course as grading_course
from lrcourse.grading.autograde.grade import Stopped
from lrcourse.grading.course import ensure_tools_on_path, refuse_outdated_config, skip_iri_format_check
from lrcourse.grading.exchange.roots_course import close_roots_umask
from lrcourse.grading.fleet import broker as fleet, lock as fleet_lock

VERBS = (collect, grade, worker, export, workspace, check, demo, doctor)  # in --help's order; one module each


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="lrcourse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="command", required=True)
    for verb in VERBS:
        verb.add(sub)  # its options, and its `command_<verb>` as `run`
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
    close_roots_umask()
    try:
        if (
            status := getattr(args, "refuse_first", lambda args: None)(args)
        ) is not None:  # root's export: R20u W2; grade: R20w W1
            return status  # refused before anything of the course is read, its nbgrader_config.py included
        refuse_outdated_config(getattr(args, "course", None))  # a course's older nbgrader_config.py: what to do, said
        return args.run(args)
    except Stopped:
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(130)  # as after Ctrl-C; not through the interpreter's exit, which waits on the pool's threads
    except KeyboardInterrupt:
        return 130
    except (fleet_lock.Held, grading_course.OutdatedCourseConfig) as error:  # the chapter held; an old config
        return refused(f"lrcourse {args.command}: {error}")  # refused before starting: exit 2, as --help says
    except (fleet.BrokerUnreachable, fleet.GradebookRefused) as error:  # the run itself could not go on: not 1
        return refused(f"lrcourse {args.command}: {error}", error.status)


if __name__ == "__main__":
    sys.exit(main())
