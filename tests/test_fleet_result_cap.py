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
FILES = {"ordered_schedules.ipynb": base64.b64encode(b"{}").decode()}


def station_grading(tmp_path, monkeypatch, sizes: dict[str, int]) -> fleet_worker.Station:
    """A `Station` whose grading leaves, for each student of `sizes`, an autograded notebook of her size in bytes (a
    sparse file: its size costs no disk) and a small feedback page; the grader itself a stand-in."""
    station = fleet_worker.Station(tmp_path / "checkout")
    station.scratch = tmp_path / "scratch"

    def grade_student(assignment: str, student: str, fingerprint) -> Outcome:
        for kind, size in (("autograded", sizes[student]), ("feedback", 1000)):
            folder = station.scratch / kind / student / assignment
            folder.mkdir(parents=True)
            with open(folder / ("ordered_schedules.ipynb" if kind == "autograded" else "page.html"), "wb") as file:
                file.truncate(size)
        return Outcome(student, "graded", score=1.0, max_score=1.0)

    monkeypatch.setattr(fleet_worker, "worker", SimpleNamespace(grade_student=grade_student))
    monkeypatch.setattr(fleet_worker, "record_as_own", lambda *_: None)
    monkeypatch.setattr(intake, "refused", lambda *_: "")
    monkeypatch.setattr(station, "trusted_scores", lambda *_: {"t": 1.0})
    return station


def graded_with(tmp_path, monkeypatch, autograded_bytes: int) -> dict:
    """`Station.grade_here`'s result for a student whose grading leaves an autograded notebook of `autograded_bytes`
    (`station_grading`)."""
    station = station_grading(tmp_path, monkeypatch, {"amy": autograded_bytes})
    return station.grade_here(ASSIGNMENT, "amy", FILES)


def test_a_result_past_the_cap_fails_that_student_with_the_reason(tmp_path, monkeypatch):
    cap = parcel.MAX_RESULT_MB << 20
    result = graded_with(tmp_path, monkeypatch, cap * 3 // 4 + 1)  # packed as base64: 4/3
    assert result["outcome"]["status"] == "failed" and "autograded" not in result, result
    reason = result["outcome"]["reason"]
    # in MiB, as the cap is (R25q N3: "a result of 67 MB, more than ... (64 MB", the cap being 64 << 20 bytes)
    assert f"more than the grading queue carries ({parcel.MAX_RESULT_MB} MiB" in reason, reason
    assert "a result of 64.1 MiB" in reason and "without --broker-file" in reason, reason
    assert "the largest file, ordered_schedules.ipynb, is 48.0 MiB" in reason, reason  # named, not guessed (R25p M1)


def test_a_result_within_the_cap_is_sent_whole(tmp_path, monkeypatch):
    result = graded_with(tmp_path, monkeypatch, 3 << 20)
    assert result["outcome"]["status"] == "graded" and result["scores"] == {"t": 1.0}, result
    assert len(result["autograded"]["ordered_schedules.ipynb"]) == 4 << 20, list(result["autograded"])
    assert list(result["feedback"]) == ["page.html"]
    folders = [tmp_path / "scratch" / kind / "amy" / ASSIGNMENT for kind in ("autograded", "feedback")]
    assert parcel.result_too_large(folders) == ""


def test_her_classmate_on_the_same_station_is_graded_as_before(tmp_path, monkeypatch):
    """The README's "her classmates are graded as before" (R25p N3): one `Station` (one worker process) takes her
    task, past the cap, then a classmate's: she fails with the reason, her scratch folders are removed, and the
    classmate's result is sent whole."""
    big, small = (parcel.MAX_RESULT_MB << 20) * 3 // 4 + 1, 3 << 20
    station = station_grading(tmp_path, monkeypatch, {"amy": big, "bob": small})
    monkeypatch.setattr(station, "version", lambda _: "v1")
    monkeypatch.setattr(station, "release", lambda _: None)  # the scratch course: set above, not opened
    task = {"assignment": ASSIGNMENT, "files": FILES, "version": "v1"}
    hers, theirs = (station.grade({**task, "student": student}) for student in ("amy", "bob"))
    assert hers["outcome"]["status"] == "failed" and "more than the grading queue carries" in hers["outcome"]["reason"]
    assert not any((tmp_path / "scratch" / kind / "amy").exists() for kind in ("submitted", "autograded", "feedback"))
    assert theirs["outcome"]["status"] == "graded" and theirs["scores"] == {"t": 1.0}, theirs["outcome"]
    assert len(theirs["autograded"]["ordered_schedules.ipynb"]) == 4 << 20 and list(theirs["feedback"]) == ["page.html"]
