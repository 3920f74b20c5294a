"""A worker's result is at most `parcel.MAX_RESULT_MB` (R25o M2): the broker holds a window's results, and the README
sizes its memory by that bound; a submission within every cap of `notebook_limits` made a 33 MB result, far from the
1.2 MB the README's formula used. A result past the cap is not sent: that student alone fails, with the reason, and
her classmates' results are as before."""

from __future__ import annotations

import base64
from types import SimpleNamespace

from lrcourse.grading import intake
from lrcourse.grading.fleet import parcel, worker as fleet_worker
from lrcourse.grading.outcomes import Outcome

ASSIGNMENT = "02_ordered_schedules"


def graded_with(tmp_path, monkeypatch, autograded_bytes: int) -> dict:
    """`Station.grade_here`'s result for a student whose grading leaves an autograded notebook of `autograded_bytes`
    (a sparse file: its size costs no disk) and a small feedback page; the grader itself a stand-in."""
    station = fleet_worker.Station(tmp_path / "checkout")
    station.scratch = tmp_path / "scratch"

    def grade_student(assignment: str, student: str, fingerprint) -> Outcome:
        for kind, size in (("autograded", autograded_bytes), ("feedback", 1000)):
            folder = station.scratch / kind / student / assignment
            folder.mkdir(parents=True)
            with open(folder / ("ordered_schedules.ipynb" if kind == "autograded" else "page.html"), "wb") as file:
                file.truncate(size)
        return Outcome(student, "graded", score=1.0, max_score=1.0)

    monkeypatch.setattr(fleet_worker, "worker", SimpleNamespace(grade_student=grade_student))
    monkeypatch.setattr(fleet_worker, "record_as_own", lambda *_: None)
    monkeypatch.setattr(intake, "refused", lambda *_: "")
    monkeypatch.setattr(station, "trusted_scores", lambda *_: {"t": 1.0})
    files = {"ordered_schedules.ipynb": base64.b64encode(b"{}").decode()}
    return station.grade_here(ASSIGNMENT, "amy", files)


def test_a_result_past_the_cap_fails_that_student_with_the_reason(tmp_path, monkeypatch):
    cap = parcel.MAX_RESULT_MB << 20
    result = graded_with(tmp_path, monkeypatch, cap * 3 // 4 + 1)  # packed as base64: 4/3
    assert result["outcome"]["status"] == "failed" and "autograded" not in result, result
    reason = result["outcome"]["reason"]
    assert f"more than the grading queue carries ({parcel.MAX_RESULT_MB} MB" in reason, reason
    assert "a result of 67 MB" in reason and "without --broker-file" in reason, reason
    assert "the largest file, ordered_schedules.ipynb, is 50 MB" in reason, reason  # named, not guessed (R25p M1)


def test_a_result_within_the_cap_is_sent_whole(tmp_path, monkeypatch):
    result = graded_with(tmp_path, monkeypatch, 3 << 20)
    assert result["outcome"]["status"] == "graded" and result["scores"] == {"t": 1.0}, result
    assert len(result["autograded"]["ordered_schedules.ipynb"]) == 4 << 20, list(result["autograded"])
    assert list(result["feedback"]) == ["page.html"]
    folders = [tmp_path / "scratch" / kind / "amy" / ASSIGNMENT for kind in ("autograded", "feedback")]
    assert parcel.result_too_large(folders) == ""
