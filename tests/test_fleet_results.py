"""A worker's result as the enqueuing command reads it (`fleet_grade`): it crossed the network, so nothing in it is
trusted; a score that is not a finite number is refused before anything is written."""

from __future__ import annotations

import base64
import json

import pytest

from lrcourse.grading.fleet_grade import checked_scores, write


def result(scores_json: str) -> dict:
    """The backend's meta of a task whose worker returned `scores_json` (JSON text: NaN and Infinity included)."""
    notebook = base64.b64encode(b"{}").decode()
    text = '{"outcome": {"status": "graded", "feedback": true, "seconds": NaN}, "scores": %s, "autograded": %s}'
    return {"status": "SUCCESS", "result": json.loads(text % (scores_json, json.dumps({"ch.ipynb": notebook})))}


@pytest.mark.parametrize("scores", ['{"test_a": NaN}', '{"test_a": Infinity}', '{"test_a": -Infinity}'])
def test_a_non_finite_score_fails_that_student_and_writes_nothing(tmp_path, scores):
    outcome = write(tmp_path, None, "ch", "mallory", "fingerprint", result(scores))
    assert outcome.status == "failed" and "not a finite number" in outcome.reason, outcome
    assert not (tmp_path / "autograded").exists()


@pytest.mark.parametrize("raw", [{"test_a": True}, {"test_a": "1"}, ["test_a"], {"test_a": float("nan")}])
def test_scores_must_be_finite_numbers(raw):
    with pytest.raises(ValueError):
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
    from lrcourse.grading.fleet_grade import Writer
    from lrcourse.grading.watchdog import CtrlC

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

    from lrcourse.grading.watchdog import CtrlC

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
