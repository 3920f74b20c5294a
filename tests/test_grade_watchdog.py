"""`lrcourse grade`'s watchdog, without nbgrader: a worker held on one student past the student's budget and
the worker's grace is stopped, that student fails with the reason, every other student is graded."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import Future
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

from traitlets.config import Config

from lrcourse.grading.autograde import grade, watchdog, worker
from lrcourse.grading.outcomes import Outcome, RunOutcomes, summary
from lrcourse.grading.sandbox.limits import Limits

from support import stuck_worker


def test_a_worker_held_past_its_students_deadline_is_stopped_and_the_others_graded(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "start", stuck_worker.start)  # the pool's processes start a `Stuck`
    limits = Limits(student_seconds=2, worker_grace_seconds=1)
    todo = [(student, "") for student in ("a", stuck_worker.STUCK, "b", "c", "d")]
    started = time.monotonic()
    outcomes = grade.run_workers(tmp_path, "ch", todo, 2, "sqlite://", False, False, limits)
    took = time.monotonic() - started
    by_student = {o.student: (o.status, o.reason) for o in outcomes}
    assert by_student == {
        **{s: ("graded", "") for s in "abcd"},
        stuck_worker.STUCK: (
            "failed",
            "grading took longer than 3 s (the student's budget and the worker's grace): stopped",
        ),
    }, by_student
    assert took < 60, took  # stopped at its deadline (3 s), not after its hour


def test_a_worker_that_dies_is_charged_to_its_student_only_and_the_others_graded(tmp_path, monkeypatch):
    """A worker aborting on one student (libzmq under RLIMIT_DATA) breaks its pool twice: that student fails
    with how the worker died; the students queued or running beside it are graded, never charged."""
    monkeypatch.setattr(worker, "start", stuck_worker.start)
    todo = [(student, "") for student in ("a", stuck_worker.CRASH, "b", "c")]
    outcomes = grade.run_workers(tmp_path, "ch", todo, 2, "sqlite://", False, False, Limits())
    by_student = {o.student: (o.status, o.reason) for o in outcomes}
    assert by_student == {
        **{s: ("graded", "") for s in "abc"},
        stuck_worker.CRASH: (
            "failed",
            "the grading worker died twice while grading this student (killed by SIGABRT, as libzmq aborts when "
            f"refused memory: a message past the worker's memory cap ({Limits().worker_memory_mb} MB, "
            "c.Sandbox.worker_memory_mb) under "
            "RLIMIT_DATA, say)",
        ),
    }, by_student


def test_a_broken_pools_death_is_charged_to_its_student_else_to_all_it_held():
    """Who a broken pool charges (`retry_or_fail`): the student whose worker died, not those beside it; a pool
    broken with no one to blame charges everyone, so workers that can never start still end the run."""
    attempts = {}
    broken = [("x", "", "", "killed by SIGKILL"), ("y", "", "", ""), ("z", "", "late: stopped", "late: stopped")]
    failed, retry = grade.retry_or_fail(broken, attempts)
    assert failed == [Outcome("z", "failed", "late: stopped")] and retry == [("x", ""), ("y", "")], (failed, retry)
    failed, retry = grade.retry_or_fail(broken[:2], attempts)
    assert failed == [
        Outcome("x", "failed", "the grading worker died twice while grading this student (killed by SIGKILL)")
    ]
    assert retry == [("y", "")] and attempts == {"x": 2}, (retry, attempts)
    failed, retry = grade.retry_or_fail([("y", "", "", "")], attempts)  # nobody to blame: y is charged
    assert (failed, retry) == ([], [("y", "")]), (failed, retry)
    failed, retry = grade.retry_or_fail([("y", "", "", "")], attempts)
    assert failed == [Outcome("y", "failed", "the grading worker died twice, not known while grading whom")]
    assert retry == [], retry


def test_a_student_that_just_ended_past_its_deadline_is_not_taken_for_a_held_worker():
    """The watchdog hears a student's end before it looks for late workers: a worker whose student finished as
    the deadline passed is not stopped (stopping it would break the pool, restarting every student in it)."""
    watch = watchdog.Watchdog(queue.Queue(), seconds=0.01, memory_mb=100)
    watch.starts.put(("a", os.getpid()))  # our own pid: a process `end_workers` never touches (not a child)
    watch.starts.put(("b", os.getpid()))
    watch.hear_starts()  # the main process heard both starts
    time.sleep(0.05)  # both past their deadline; only a's result has arrived
    done = Future()
    done.set_result(None)
    ended, stopped = watchdog.ended_then_checked(watch, {done: ("a", "")}, {done})
    assert ended == {done: watchdog.End("", os.getpid())} and stopped, (ended, stopped)
    assert watch.stopped == {"b"}, watch.stopped


def test_a_failed_students_older_feedback_is_withdrawn_and_only_theirs(tmp_path):
    """release_feedback sends whatever feedback/<id>/<chapter> holds: a failed student's, or one graded without
    feedback, is an older run's."""
    for student in ("stopped", "graded", "other-chapter", "kernel-died"):
        (tmp_path / "feedback" / student / ("ch" if student != "other-chapter" else "ch2")).mkdir(parents=True)
    (tmp_path / "feedback" / "stopped" / "ch" / "nb.html").write_text("an older submission's feedback")
    (tmp_path / "ch").mkdir()  # feedback/../ch
    outcomes = [
        Outcome("stopped", "failed", "grading took longer than 3 s"),
        Outcome("graded", "graded", ""),
        Outcome("kernel-died", "graded", "notebook run: Kernel died; no feedback", feedback=False),
        Outcome("other-chapter", "failed", "x"),
        Outcome("..", "failed", "the student id is not ..."),  # never a path outside feedback/
    ]
    assert grade.withdraw_feedback(tmp_path, "ch", outcomes) == ["stopped", "kernel-died"]
    assert not (tmp_path / "feedback" / "stopped" / "ch").exists()
    assert not (tmp_path / "feedback" / "kernel-died" / "ch").exists()
    assert (
        (tmp_path / "ch").is_dir()
        and (tmp_path / "feedback" / "graded" / "ch").is_dir()
        and (tmp_path / "feedback" / "other-chapter" / "ch2").is_dir()
    )


def test_a_warm_pool_grades_assignment_after_assignment_in_one_worker_and_replaces_it_only_when_broken(
    tmp_path, monkeypatch
):
    """`lrcourse check`'s chapters: one worker's start-up for all of them; a worker that died is replaced."""
    monkeypatch.setattr(worker, "start", stuck_worker.start)

    def grade_in(pool, assignment, students):
        outcomes = grade.run_workers(
            tmp_path, assignment, [(s, "") for s in students], 1, "sqlite://", False, False, Limits(), pool
        )
        return {o.student: o.status for o in outcomes}, {p.pid for p in multiprocessing.active_children()}

    with closing(grade.WorkerPool(tmp_path, "sqlite://", sandboxed=False)) as pool:
        first, warm = grade_in(pool, "ch1", ["a"])
        second, still = grade_in(pool, "ch2", ["a", "b"])
        assert (first, second) == ({"a": "graded"}, {"a": "graded", "b": "graded"})
        assert len(warm) == 1 and still == warm, "the same worker grades the next assignment"
        broken, _ = grade_in(pool, "ch3", [stuck_worker.CRASH, "a"])
        after, new = grade_in(pool, "ch4", ["a"])
        assert broken == {stuck_worker.CRASH: "failed", "a": "graded"} and after == {"a": "graded"}
        assert len(new) == 1 and not new & warm, "a broken pool's workers are replaced"
    assert not multiprocessing.active_children(), "the pool's end ends its worker"


def test_a_student_whose_time_budget_ran_out_is_graded_in_part_not_done_and_named(tmp_path, monkeypatch):
    """The worker's side: a budget that ran out before every test cell was checked leaves those cells at 0, the
    student graded in part (the cells named) and not marked done, so that a re-run grades them again."""
    (tmp_path / "autograded" / "slow" / "ch").mkdir(parents=True)
    (tmp_path / "autograded" / "slow" / "ch" / "nb.ipynb").write_text("{}")  # nbgrader's graded notebook
    api = SimpleNamespace(
        autograde=lambda *a, **k: {"success": True},
        generate_feedback=lambda *a, **k: {"success": True},
        config=Config(),  # where the worker names source/'s stray files for autograde to leave out
    )
    kernels = SimpleNamespace(handle=None, deadline=None, limit_hit=lambda folder: "")
    graded = worker.Worker(tmp_path, "sqlite://", api, None, kernels, Limits(student_seconds=5))
    graded.exercises["ch"] = SimpleNamespace(notebook="nb", answers={})
    decided = SimpleNamespace(cells={"test_a": None, "test_b": None}, out_of_time=["test_b"], overridden=[])
    monkeypatch.setattr(graded, "ready", lambda exercise: None)
    monkeypatch.setattr(graded, "decide", lambda *a: decided)
    monkeypatch.setattr(graded, "scores", lambda *a: (1.0, 2.0))  # after the late penalty, from the gradebook
    done = []
    monkeypatch.setattr(worker.intake, "mark_done", lambda *a: done.append(a))
    outcome = graded.grade("ch", "slow", "fingerprint")
    assert (outcome.status, outcome.unchecked, outcome.feedback) == ("graded", ["test_b"], True), outcome
    assert "ran out: 1 of 2 test cell(s) not checked, scored 0 (test_b)" in outcome.reason
    assert done == [], "a student graded in part is not done"
    decided.out_of_time = []
    assert graded.grade("ch", "slow", "fingerprint").unchecked == [] and len(done) == 1


def test_a_run_with_a_student_graded_in_part_is_not_clean_and_says_who(tmp_path, monkeypatch):
    """The command's side (`lrcourse grade` exits 0 only for a clean run): a student whose budget ran out is
    reported with the reason, the others graded."""
    monkeypatch.setattr(worker, "start", stuck_worker.start)
    todo = [(student, "") for student in ("a", stuck_worker.SLOW)]
    result = RunOutcomes("ch", grade.run_workers(tmp_path, "ch", todo, 1, "sqlite://", False, False, Limits()))
    assert [o.student for o in result.cut_short] == [stuck_worker.SLOW] and not result.failed
    assert not result.clean, "the exit status says a grade is incomplete"
    text = summary(result)
    assert stuck_worker.SLOW_REASON in text
    assert text.splitlines()[-1] == "1 student(s) graded in part, their time budget ran out (the cells left " + (
        "unchecked are on their line): slow"
    )
    assert RunOutcomes("ch", [o for o in result.outcomes if o.student == "a"]).clean


def test_lrcourse_check_of_a_chapter_graded_in_part_fails_and_says_so():
    """`lrcourse check`: a chapter whose budget ran out keeps its score, but the check exits 1 (not complete)."""
    from lrcourse.self_check import ChapterResult, total_lines

    full = ChapterResult("01_a", grades=SimpleNamespace(autograded_total=lambda s: (2.0, 2.0)), feedback=[Path("f")])
    part = ChapterResult(
        "02_b", grades=full.grades, feedback=[Path("f")], failed=stuck_worker.SLOW_REASON, unchecked=["test_b"]
    )
    assert full.complete and not part.complete
    assert total_lines([full, part], 1)[-1] == (
        "Graded in part, the time budget ran out (its note above names the cells): 02_b."
    )


def test_a_second_ctrl_c_while_the_graded_students_finish_stops_them_as_sigterm_does():
    """Ctrl-C waits for the students being graded (`drain`); a second Ctrl-C during that wait is `Stopped`, which
    ends the workers at once and clears their sandboxes (`run_workers`), whatever Python's pool does with an
    interrupted wait (on 3.11 it happens to stop waiting; tests/test_class_grading.py runs the whole command)."""

    class Pool:
        def shutdown(self, wait, cancel_futures):
            assert cancel_futures
            raise KeyboardInterrupt  # the second Ctrl-C, while the students being graded finish

    raised = None
    try:
        watchdog.drain(Pool(), {}, set(), watchdog.Watchdog(queue.Queue(), seconds=1, memory_mb=100))
    except KeyboardInterrupt as interrupt:  # caught here whatever it is: pytest would end the session on one
        raised = interrupt
    assert type(raised) is grade.Stopped, "the second Ctrl-C was not a stop"


def test_while_ctrl_c_lets_the_students_being_graded_finish_the_watchdog_still_stops_a_held_worker(
    tmp_path, monkeypatch, capsys
):
    """One Ctrl-C while a student holds its worker forever (outside the student's budget, as a locked gradebook
    would): the drain still watches, stops that worker at its deadline (budget and grace: 3 s), reports the student,
    and the command ends; the students not started wait for the next run. Without
    the watch the drain waited out the student's hour (here: until a second Ctrl-C 60 s later, a stop)."""
    monkeypatch.setattr(worker, "start", stuck_worker.start)
    interrupts, timers = [], [threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)) for delay in (0.2, 60)]

    def hear_starts(watch):  # Ctrl-C once the stuck student's start is heard, a second one a minute later
        hear(watch)
        if stuck_worker.STUCK in watch.running and not interrupts:
            interrupts.append(time.monotonic())
            for timer in timers:
                timer.start()

    hear = watchdog.Watchdog.hear_starts
    monkeypatch.setattr(watchdog.Watchdog, "hear_starts", hear_starts)
    limits = Limits(student_seconds=2, worker_grace_seconds=1)
    todo = [(student, "") for student in ("a", "b", stuck_worker.STUCK, "c", "d", "e", "f")]
    raised = None
    try:
        grade.run_workers(tmp_path, "ch", todo, 1, "sqlite://", False, False, limits)
    except KeyboardInterrupt as interrupt:  # caught here whatever it is: pytest would end the session on one
        raised = interrupt
    finally:
        for timer in timers:
            timer.cancel()
    took = time.monotonic() - interrupts[0]
    err = capsys.readouterr().err
    assert type(raised) is KeyboardInterrupt, f"{type(raised).__name__} after {took:.0f} s: {err}"
    assert took < 30, took  # the deadline (3 s) and a worker's stop (at most 5 s), not the student's hour
    assert (
        "stuck: grading took longer than 3 s (the student's budget and the worker's grace): stopped; not graded" in err
    ), err
    assert "cancelling the rest" in err and "run the command again to grade the rest" in err
    # graded before, cancelled, or queued and never started (c and d, whose pool the stop broke): no report
    assert not any(f"\n{student}: " in err for student in "abcdef"), err


def interrupted_run(tmp_path, monkeypatch, students, workers: int, limits: Limits, once: str):
    """`run_workers` with stand-in workers, Ctrl-C 0.2 s after the start of `once` is heard. Returns what it raised,
    the starts heard in order, how each student the drain waited for ended, and whether the Ctrl-C was sent."""
    monkeypatch.setattr(worker, "start", stuck_worker.start)
    interrupt = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    heard, hear = [], watchdog.Watchdog.hear_starts

    def hear_starts(watch):
        hear(watch)
        heard.extend(student for student in watch.running if student not in heard)
        if once in heard and not interrupt.is_alive() and not interrupt.finished.is_set():
            interrupt.start()

    monkeypatch.setattr(watchdog.Watchdog, "hear_starts", hear_starts)
    drained, not_drained = {}, watchdog.not_drained

    def ended(student, future, end):
        drained[student] = "cancelled" if future.cancelled() else future.exception() or future.result().status
        return not_drained(student, future, end)

    monkeypatch.setattr(watchdog, "not_drained", ended)
    raised = None
    try:
        grade.run_workers(tmp_path, "ch", [(s, "") for s in students], workers, "sqlite://", False, False, limits)
    except KeyboardInterrupt as interrupted:  # caught here whatever it is: pytest would end the session on one
        raised = interrupted
    finally:
        interrupt.cancel()
    return raised, heard, drained, interrupt.finished.is_set()


def test_while_ctrl_c_drains_a_held_worker_is_stopped_only_once_the_others_being_graded_are_done(
    tmp_path, monkeypatch, capsys
):
    """Stopping one worker ends the pool's others: during the drain the watchdog waits until every student being
    graded is past its deadline (5 s), so a classmate graded in the meantime keeps its grade. Two workers: one
    stuck, the other grades `sleep-2` then `sleep-4.6` (Ctrl-C once its start is heard: no student starts after
    it), which ends 1.6 s after the stuck one's deadline and within its own (control: stopped at the stuck one's
    deadline, the classmate's worker went with it)."""
    students = (stuck_worker.STUCK, "sleep-2", "sleep-4.6", "c", "d")
    limits = Limits(student_seconds=4, worker_grace_seconds=1)
    raised, _, drained, sent = interrupted_run(tmp_path, monkeypatch, students, 2, limits, "sleep-4.6")
    err = capsys.readouterr().err
    assert type(raised) is KeyboardInterrupt and sent, err
    assert "stuck: grading took longer than 5 s" in err, err
    assert drained["sleep-4.6"] == "graded", (drained, err)


def test_after_the_first_ctrl_c_no_student_starts_not_even_the_one_the_pool_has_queued(tmp_path, monkeypatch, capsys):
    """One worker grading `sleep-4`; besides it the process pool's call queue holds `crash` (up to one student more
    than its workers), which cancelling cannot reach. Ctrl-C: `sleep-4` finishes and is graded, no other student
    starts, and the command ends reporting none. Control (without `WorkerPool.halt`): `crash` started after the
    Ctrl-C, aborted its worker and was reported as not graded."""
    students = ("sleep-4", stuck_worker.CRASH, "c", "d")
    raised, heard, drained, sent = interrupted_run(tmp_path, monkeypatch, students, 1, Limits(), "sleep-4")
    err = capsys.readouterr().err
    assert type(raised) is KeyboardInterrupt and sent, err
    assert heard == ["sleep-4"], (heard, err)
    assert drained["sleep-4"] == "graded" and drained[stuck_worker.CRASH] == "skipped", (drained, err)
    assert "Interrupted: finishing the 1 student(s) being graded" in err and f"\n{stuck_worker.CRASH}" not in err, err


def test_a_ctrl_c_landing_outside_the_loops_wait_still_drains_watched(tmp_path, monkeypatch, capsys):
    """The first Ctrl-C may land anywhere in the run's loop, not only in its wait: here while it reads who ended
    (held 1.5 s there to hit that window every time). It is noted and acted on at the loop's next turn: the drain
    watches, the stuck student is stopped at its deadline (3 s), the command ends (attacker review R3 of stop 35:
    it went to the pool's unwatched shutdown and held the command until a second Ctrl-C 25 s later)."""
    monkeypatch.setattr(worker, "start", stuck_worker.start)
    timers = [threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)) for delay in (0.2, 60)]
    interrupted = []
    checked = grade.ended_then_checked

    def slow_check(watch, futures, done):  # the Ctrl-C lands while the loop is here, outside `wait`
        if stuck_worker.STUCK in watch.running and not interrupted:
            interrupted.append(time.monotonic())
            for timer in timers:
                timer.start()
            time.sleep(1.5)
        return checked(watch, futures, done)

    monkeypatch.setattr(grade, "ended_then_checked", slow_check)
    todo = [(student, "") for student in ("a", stuck_worker.STUCK, "c", "d")]
    raised = None
    try:
        grade.run_workers(
            tmp_path, "ch", todo, 1, "sqlite://", False, False, Limits(student_seconds=2, worker_grace_seconds=1)
        )
    except KeyboardInterrupt as interrupt:  # caught here whatever it is: pytest would end the session on one
        raised = interrupt
    finally:
        for timer in timers:
            timer.cancel()
    took = time.monotonic() - interrupted[0]
    err = capsys.readouterr().err
    assert type(raised) is KeyboardInterrupt, f"{type(raised).__name__} after {took:.0f} s: {err}"
    assert took < 30, took  # the deadline and a worker's stop, not the second Ctrl-C a minute later
    assert "Interrupted: finishing the" in err and "stuck: grading took longer than 3 s" in err, err


def test_the_drain_says_why_each_student_being_graded_was_not_graded():
    """A student failed during the drain is reported with its reason (it was silent); a broken pool is said to have
    ended its workers, not blamed on the watchdog (a worker may have died of itself: review R3 of stop 35)."""
    from concurrent.futures.process import BrokenProcessPool

    def future(result=None, error=None, cancel=False):
        made = Future()
        if cancel:
            made.cancel()
        elif error is not None:
            made.set_exception(error)
        else:
            made.set_result(result)
        return made

    end = watchdog.End(pid=12345)  # its start was heard
    failed = future(Outcome("f", "failed", "the notebook could not be read"))
    assert watchdog.not_drained("f", failed, end) == "f: the notebook could not be read; not graded"
    broken = watchdog.not_drained("b", future(error=BrokenProcessPool("x")), end)
    assert broken.startswith("b: not graded (the grading workers ended") and "watchdog stopped" not in broken
    assert watchdog.not_drained("q", future(error=BrokenProcessPool("x")), watchdog.End()) == ""  # never started
    assert watchdog.not_drained("h", future(Outcome("h", "skipped", worker.NOT_STARTED)), watchdog.End()) == ""
    assert watchdog.not_drained("g", future(Outcome("g", "graded", "")), end) == ""
    assert watchdog.not_drained("c", future(cancel=True), end) == ""
    assert watchdog.not_drained("s", future(cancel=True), watchdog.End(stopped="stopped")) == "s: stopped; not graded"
