"""A worker's result as the enqueuing command reads it (`fleet_grade`, `fleet_result`): it crossed the network, and
anyone with the broker's password can write one, so nothing in it is trusted: a result that is not JSON, a forged
exception, a number that is not finite or too large, a list that is not of strings, a claim of feedback with no
page fail that student with the reason before anything is written, and never raise out of the run."""

from __future__ import annotations

import base64
import json

import pytest

from lrcourse.grading.fleet.result import Refused, checked_scores, read
from lrcourse.grading.fleet.write import write


def result(scores_json: str) -> dict:
    """The backend's meta of a task whose worker returned `scores_json` (JSON text: NaN and Infinity included)."""
    notebook = base64.b64encode(b"{}").decode()
    text = '{"outcome": {"status": "graded", "feedback": true, "seconds": 1.5}, "scores": %s, "autograded": %s, %s}'
    feedback = '"feedback": ' + json.dumps({"ch.html": notebook})
    return {
        "status": "SUCCESS",
        "result": json.loads(text % (scores_json, json.dumps({"ch.ipynb": notebook}), feedback)),
    }


def graded(**changes) -> bytes:
    """A stored result as the broker holds it (Celery's meta as JSON): graded, with `changes` to its document."""
    document = result('{"test_a": 1}')["result"]
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = document
        for parent in parents:
            target = target[parent]
        target[name] = value
    return json.dumps({"status": "SUCCESS", "result": document, "traceback": None, "task_id": "t"}).encode()


FORGED = [  # what R25 planted in the broker (issue 25's review), and more of the same kind
    ("not JSON", b"not json"),
    ("not UTF-8", b"\xff\xfe"),
    ("a forged exception", b'{"status": "FAILURE", "result": {"exc_module": "os", "exc_type": "system"}}'),
    ("no final state", b'{"status": "STARTED", "result": null}'),
    ("a list", b"[1, 2]"),
    ("a score of 10**400", graded(scores={"test_a": 10**400})),
    ("an outcome's seconds of 10**400", graded(outcome__seconds=10**400)),
    ("overridden not of strings", graded(outcome__overridden=[1])),
    ("unchecked not of strings", graded(outcome__unchecked=[{"a": 1}])),
    ("feedback claimed without a page", graded(feedback={})),
    ("feedback claimed with no html page", graded(feedback={"x.txt": "eA=="})),
    ("graded without a notebook", graded(autograded={})),
    ("an unknown field", graded(extra=1)),
    ("an unknown outcome field", graded(outcome__student_id="bob")),
    ("a status of skipped", graded(outcome__status="skipped")),
    ("a reason not text", graded(outcome__reason=["x"])),
    ("feedback not a bool", graded(outcome__feedback=1)),
    ("a parcel of numbers", graded(autograded={"ch.ipynb": 1})),
    ("a deep nesting", b"[" * 100000 + b"]" * 100000),
]


@pytest.mark.parametrize("raw", [raw for _, raw in FORGED], ids=[name for name, _ in FORGED])
def test_a_forged_or_malformed_stored_result_fails_that_student_with_the_reason(tmp_path, raw):
    try:
        checked = read(raw)
    except Refused:
        pass
    else:
        assert checked.document is None and checked.status == "FAILURE", checked  # a failure, said as text
    outcome = write(tmp_path, None, "ch", "mallory", "fingerprint", json.loads(raw) if _json(raw) else raw)
    assert outcome.status == "failed" and outcome.reason, outcome
    assert not (tmp_path / "autograded").exists() and not (tmp_path / "feedback").exists()


def _json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def test_an_honest_result_is_accepted_whole():
    checked = read(graded())
    assert checked.status == "SUCCESS" and checked.document["scores"] == {"test_a": 1.0}
    assert read(graded(outcome__feedback=False, feedback={})).document["outcome"]["feedback"] is False
    failed = b'{"status": "SUCCESS", "result": {"outcome": {"student": "s", "status": "failed", "reason": "r", "score": null, "max_score": null, "seconds": 0.0, "overridden": [], "feedback": true, "unchecked": []}, "refused": true}}'
    assert read(failed).document["outcome"]["reason"] == "r"  # a worker's refusal: feedback true, no page


def test_a_failed_task_is_said_from_its_exception_as_text_only():
    said = read(
        b'{"status": "FAILURE", "result": {"exc_type": "TimeLimitExceeded", "exc_message": [420.0], "exc_module": "billiard.exceptions"}}'
    )
    assert "hard time limit (420 s" in said.reason
    said = read(
        b'{"status": "FAILURE", "result": {"exc_type": "system", "exc_message": ["rm -rf /"], "exc_module": "os"}}'
    )
    assert said.reason == "the grading worker failed: system: rm -rf /"


@pytest.mark.parametrize("scores", ['{"test_a": NaN}', '{"test_a": Infinity}', '{"test_a": -Infinity}'])
def test_a_non_finite_score_fails_that_student_and_writes_nothing(tmp_path, scores):
    outcome = write(tmp_path, None, "ch", "mallory", "fingerprint", result(scores))
    assert outcome.status == "failed" and "not a finite number" in outcome.reason, outcome
    assert not (tmp_path / "autograded").exists()


@pytest.mark.parametrize(
    "raw", [{"test_a": True}, {"test_a": "1"}, ["test_a"], {"test_a": float("nan")}, {"test_a": 10**400}]
)
def test_scores_must_be_finite_numbers(raw):
    with pytest.raises(Refused):
        checked_scores(raw)


def test_finite_scores_and_missing_verdicts_pass():
    assert checked_scores({"test_a": 1, "test_b": 0.5, "test_c": None}) == {"test_a": 1.0, "test_b": 0.5}
    assert checked_scores(None) == {}


class SwallowingApi:
    """nbgrader's API as it behaves: a bare except around its work, so an interrupt inside it is swallowed."""

    def generate_feedback(self, assignment, student, force=False):
        import os
        import signal

        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the page is being made
            for _ in range(100000):
                pass
            return {"success": True}
        except:  # noqa: E722 (nbgrader's utils.capture_log)
            return {"success": False, "error": "swallowed"}


def test_ctrl_c_while_a_late_page_is_remade_stops_the_command(tmp_path):
    """nbgrader's API would swallow a KeyboardInterrupt raised inside it: while the run's CtrlC is installed, the
    Ctrl-C is only noted there, and the run's next check stops the command."""
    from lrcourse.grading.autograde.watchdog import CtrlC
    from lrcourse.grading.fleet.write import Writer

    pages = Writer.__new__(Writer)
    pages.api = SwallowingApi()
    stop = CtrlC()
    with stop.installed():
        assert pages.remake("ch", "mallory") == ""  # the page was made: nothing raised inside nbgrader's API
        with pytest.raises(KeyboardInterrupt):
            stop.check()


def test_ctrl_c_is_taken_between_two_students_and_a_second_one_stops_at_once():
    import os
    import signal

    from lrcourse.grading.autograde.watchdog import CtrlC

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where the suite was started in the background
    stop = CtrlC()
    with stop.installed():
        os.kill(os.getpid(), signal.SIGINT)  # while a student is written: noted, not raised there
        for _ in range(100000):
            pass
        with pytest.raises(KeyboardInterrupt):
            stop.check()  # raised where the enqueuer checks, between two students
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10000000):
                pass
    assert signal.getsignal(signal.SIGINT) is before  # the handler it found, put back
