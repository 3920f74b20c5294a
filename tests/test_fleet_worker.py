"""A grading worker's scratch courses (`fleet_worker`): removed when its process ends, and those of processes that
died (kill -9) removed when the next one starts. test_fleet checks the same with real workers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrcourse.grading.fleet.worker import SCRATCH, Station, remove_leftovers

from support.paths import ROOT


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_dead_processs_scratch_course_is_removed_and_a_live_ones_kept():
    dead = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{dead_pid()}-"))
    (dead / "gradebook.db").write_text("")
    alive = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-"))
    try:
        remove_leftovers()
        assert not dead.exists()
        assert alive.is_dir()
    finally:
        for path in (dead, alive):
            shutil.rmtree(path, ignore_errors=True)


def test_closing_a_station_removes_its_scratch_course():
    station = Station(ROOT)
    station.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-"))
    (station.scratch / "submitted").mkdir()
    scratch = station.scratch
    station.close()
    assert not scratch.exists() and station.scratch is None


PROBE_WORKER = """
import sys
from pathlib import Path
from lrcourse.grading.fleet.worker import celery_main, make_app

app, station = make_app(sys.stdin.readline().strip(), Path(sys.argv[1]))
argv = ["worker", "--pool=solo", "--queues=probe", "--without-gossip", "--without-mingle", "--without-heartbeat"]
sys.exit(celery_main(app, [*argv, "--loglevel=INFO"]))
"""


def test_a_worker_registers_only_the_grading_task_and_refuses_celerys_built_in_ones(tmp_path):
    """Celery registers its built-in tasks (celery.accumulate, chain, chord, group, map, starmap, chunks,
    backend_cleanup, ...) on every app; a worker ran any of them a message named (R25: celery.accumulate returned [1, 2,
    3]). A real worker of `make_app`'s app is sent celery.accumulate: it refuses it unrun (Celery stores NotRegistered
    as its result)."""
    import redis

    from lrcourse.grading.fleet import broker as fleet
    from lrcourse.grading.fleet.worker import make_app

    from support.redis_broker import redis_server

    with redis_server() as url:
        app, _ = make_app(url, ROOT)
        app.conf.task_time_limit = 90  # as test_fleet_limits sets it: the task is bound to it when the app finalizes
        assert list(app.tasks) == [fleet.TASK] and app.tasks[fleet.TASK].time_limit == 90
        log = tmp_path / "worker.log"
        with log.open("w") as out:
            worker = subprocess.Popen(
                [sys.executable, "-c", PROBE_WORKER, str(ROOT)],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=out,
                text=True,
            )
            worker.stdin.write(url + "\n")
            worker.stdin.close()
            try:
                sender = fleet.celery_app(url)
                sender.send_task("celery.accumulate", args=[1, 2, 3], task_id="lrcourse-probe", queue="probe")
                # The worker first builds its course's release (about a minute at a load of 15): its 120 s to
                # answer start once it says it is ready.
                for wanted, seconds in (("ready.", 900), ("unregistered task", 120)):
                    deadline = time.monotonic() + seconds
                    while time.monotonic() < deadline and wanted not in log.read_text():
                        time.sleep(0.5)
                time.sleep(1)
                with redis.Redis.from_url(url) as client:
                    stored = client.get(fleet.result_key("lrcourse-probe"))
            finally:
                worker.terminate()
                worker.wait(60)
    said = log.read_text()
    assert "Received unregistered task of type 'celery.accumulate'" in said, said[-3000:]
    refused = json.loads(stored)  # not run: Celery's refusal stored as its result, not [1, 2, 3]
    assert refused["status"] == "FAILURE" and refused["result"]["exc_type"] == "NotRegistered", refused
