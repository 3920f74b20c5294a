"""`lrcourse demo`: grade the example class in examples/ (`lrcourse.examples`)."""

from __future__ import annotations

import os

from lrcourse.commands.options import sandbox_option, sandbox_ready


def add(sub) -> None:
    demo = sub.add_parser("demo", help="grade the example class shipped in examples/class")
    demo.add_argument("--workers", type=int, default=os.cpu_count())
    sandbox_option(demo)
    demo.set_defaults(run=command_demo)


def command_demo(args) -> int:
    """Submit a copy of the example class (examples/class) and grade it in build/demo/ with one command."""
    from lrcourse.examples import grade_example_class

    if not sandbox_ready(args):
        return 2
    return grade_example_class(args.workers, sandboxed=not args.no_sandbox)
