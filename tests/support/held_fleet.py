"""Stand-in workers and an enqueuer made quick for tests/test_fleet_held.py (a task held, waiting for room, sent again)
and tests/test_fleet_resent.py (a worker paused or lost): the worker's warm-up, lease, marks and hard time limit set by
the test, the enqueuer's looks every EVERY s (30 s as shipped), a real Redis with a password. Built on
`support.stub_fleet`'s scripts."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import contextmanager

from lrcourse.grading.fleet import broker as fleet, full as fleet_full

from support import stub_fleet
from support.paths import ROOT

CHAPTER = "02_ordered_schedules"
EVERY = 1.0  # the enqueuer's looks (`Lost`, `Unserved`; `Lapsed` too where the test quickens it), 30 s as shipped
RESENT = "waiting task(s) are in neither the queue nor a worker's hands"
STUB_SLEEP = 'time.sleep(float(student.split("-")[1]) if student.startswith("sleep-") else STEP)'


def worker_script(warm: float = 0.0, lease: float | None = None, held: tuple | None = None, pad: int = 0) -> str:
    """The stand-in worker (`stub_fleet.WORKER`) whose processes warm `warm` s, whose lease lapses `lease` s after its
    last renewal, whose main process's marks (`Held`) are renewed and lapse as `held` says (every, seconds), and whose
    feedback carries `pad` more bytes (a result that does not fit a nearly full broker)."""
    prelude = "from lrcourse.grading.fleet import lease as fleet_lease\n"
    if lease is not None:
        prelude += f"fleet_lease.Lease.__init__.__defaults__ = ({lease},)\n"
    if held is not None:
        prelude += f"fleet_lease.Held.__init__.__defaults__ = {held!r}\n"
    script = stub_fleet.WORKER.replace("url = sys.stdin", prelude + "url = sys.stdin", 1)
    if warm:
        script = script.replace("station.warm = lambda: print(", f"station.warm = lambda: time.sleep({warm}) or print(")
    if pad:
        script = script.replace('{"stub.html": page}', f'{{"stub.html": page, "pad.html": "QUFB" * {pad // 4}}}')
    assert script.count("fleet_lease") >= 1 and (not warm or "time.sleep(" + str(warm) in script)
    assert not pad or "pad.html" in script
    return script


def time_limited(script: str, seconds: int) -> str:
    """`script`'s worker with Celery's hard time limit made `seconds` (840 s with the course's settings)."""
    limited = script.replace(
        "app.conf.broker_transport_options =",
        f"app.conf.task_time_limit = {seconds}\napp.conf.broker_transport_options =",
        1,
    )
    assert f"task_time_limit = {seconds}" in limited
    return limited


def slow_first(script: str, mark, first: float, later: float) -> str:
    """`script`'s worker whose first grading takes `first` s and every later one `later` s (`mark`: a file that says
    the first began; a pool process killed by the hard time limit is replaced, so no process's memory would do)."""
    slow = (
        f"first = not os.path.exists({str(mark)!r}); open({str(mark)!r}, 'a').close(); "
        f"time.sleep({first} if first else {later})"
    )
    assert STUB_SLEEP in script
    return script.replace(STUB_SLEEP, slow, 1)


def slow_rewarm(script: str, mark, seconds: float) -> str:
    """`script`'s worker whose first process warms at once and every later one (a replacement for a process its hard
    time limit killed) `seconds` s (`mark`: a file that says the first warmed)."""
    warm = "station.warm = lambda: print("
    slow = f"station.warm = lambda: (time.sleep({seconds}) if os.path.exists({str(mark)!r}) else open({str(mark)!r}, 'a').close()) or print("
    assert warm in script
    return script.replace(warm, slow, 1)


def started_worker(script: str, url: str, name: str, log, concurrency: int = 1) -> subprocess.Popen:
    args = (str(ROOT), name, "3600", "0.3", str(concurrency), "30", "10")
    return stub_fleet.started(
        script, url, *args, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
    )


def quick_enqueue(url: str, course, errors, grace: float = 90.0) -> subprocess.Popen:
    """The enqueuing command, its lapsed-lease watch (`Lapsed`) looking every EVERY s too, saying a lease missing for
    `grace` s."""
    quick = (
        "from lrcourse.grading.fleet import lapsed as fleet_lapsed\n"
        f"fleet_lapsed.Lapsed.__init__.__defaults__ = ({grace}, {EVERY})  # (grace, every)\n"
    )
    script = stub_fleet.ENQUEUE.replace("url = sys.stdin", quick + "url = sys.stdin", 1)
    return stub_fleet.started(
        script, url, str(course), CHAPTER, "64", str(EVERY), stdout=subprocess.PIPE, stderr=errors.open("w"), cwd=course
    )


def stopped(*processes) -> None:
    """Each process still running stopped as a supervisor stops it (SIGTERM, its exit awaited), killed if it hangs."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:  # a worker in a session of its own: its pool too
                os.killpg(process.pid, signal.SIGKILL) if os.getpgid(process.pid) == process.pid else process.kill()
                process.wait(10)


def rerun_after(url: str, course, reason: str, errors, timeout: float) -> str:
    """After a run whose one student failed for `reason`, which must ask for a rerun (not say "not tried again"): that
    rerun (`quick_enqueue`, its errors to `errors`), its output; stopped here if it does not end within `timeout` s."""
    assert "run `lrcourse grade` again" in reason and "not tried again" not in reason, reason
    run = quick_enqueue(url, course, errors)
    try:
        out, _ = run.communicate(timeout=timeout)
    finally:
        stopped(run)
    return out


def fleet_task(client) -> str:
    """The one task a test's run has sent (its `sent` mark's id)."""
    marks = client.keys(fleet.sent_key("*"))
    return marks[0].decode().removeprefix(fleet.sent_key("")) if len(marks) == 1 else "none"


@contextmanager
def no_room_for_the_result(url: str, client, course, log, errors):
    """Once the worker (its log `log`) is warm: the quick enqueuer started on `course` (yielded: its process) and, once
    its task is leased, Redis (`client`) with room for small writes (the enqueuer's looks, the lease's renewals) but not
    for a result padded past 1 MB (`worker_script(pad=...)`), `noeviction`; room again on leaving. The enqueuer is
    stopped here if its task is never leased; `errors`: its error file, shown then."""
    assert stub_fleet.wait_for(lambda: "warm in" in log.read_text(), 120), log.read_text()[-2000:]
    run = quick_enqueue(url, course, errors)
    try:
        assert stub_fleet.wait_for(lambda: client.keys("lrcourse:lease:*"), 120), errors.read_text()
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", used + fleet_full.ROOM_MARGIN + (500 << 10))
    except BaseException:
        stopped(run)
        raise
    try:
        yield run
    finally:
        client.config_set("maxmemory", 0)
