"""`lrcourse worker --broker-file F`: a grading worker of a queue (`grading.fleet.worker`)."""

from __future__ import annotations

import os
from pathlib import Path

from lrcourse.commands.options import broker_option, refused, refused_in_roots_course, sandbox_option, sandbox_ready
from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.start import worker_options


def add(sub) -> None:
    worker = sub.add_parser("worker", help="grade the students a queue holds (`grade --broker-file`), from a checkout")
    broker_option(worker)
    worker_options(worker)  # `fleet_start`
    sandbox_option(
        worker,
        "only for trusted submissions: students' code then runs as the worker, with its environment, files and "
        "network, so it can read the broker's URL and password, and with them every submission, and forge any result",
    )
    # root's worker runs the checkout's nbgrader_config.py and copies its source/: as root's grade (R20y W1)
    worker.set_defaults(run=command_worker, refuse_first=lambda args: refused_in_roots_course(args, "worker"))


def command_worker(args) -> int:
    """A grading worker of the queue, serving it until stopped; Celery's status (not 0 after "Unrecoverable error")."""
    from lrcourse.grading.fleet.worker import run

    try:
        url = fleet.broker_url(args.broker_file, "lrcourse worker")
    except fleet.BrokerUrlError as error:
        return refused(f"lrcourse worker: {error}")
    if not url:
        return refused(f"lrcourse worker: no broker: pass --broker-file or set ${fleet.BROKER_VARIABLE}")
    if not sandbox_ready(args):
        return 2
    name = args.name or f"lrcourse-{os.getpid()}@%h"
    return run(url, Path(args.course).resolve(), args.concurrency, not args.no_sandbox, args.visibility_seconds, name)
