"""What a worker's version covers (`fleet.code_version`, `fleet.environment`): another torch is another version,
refused with the packages named."""

from __future__ import annotations

from importlib import metadata

from lrcourse.grading import fleet
from lrcourse.grading.fleet_worker import Station

from support.paths import ROOT

CHAPTER = "02_ordered_schedules"
OTHER_TORCH = "2.12.0"


def test_the_environment_names_python_and_every_grading_package_at_its_installed_version():
    found = fleet.environment()
    assert list(found) == ["python", *fleet.GRADING_PACKAGES]
    assert found["torch"] == metadata.version("torch") and found["nbgrader"] == metadata.version("nbgrader")
    assert "absent" not in found.values(), found


def test_another_torch_is_another_code_version_and_course_version(monkeypatch):
    code, course = fleet.code_version(), fleet.course_version(ROOT, CHAPTER)
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: OTHER_TORCH if name == "torch" else real(name))
    assert fleet.environment()["torch"] == OTHER_TORCH
    assert fleet.code_version() != code
    assert fleet.course_version(ROOT, CHAPTER) != course


def test_a_worker_with_another_torch_refuses_a_task_naming_both_torches(monkeypatch):
    task = {
        "assignment": CHAPTER,
        "student": "alice",
        "version": fleet.course_version(ROOT, CHAPTER),  # the enqueuing machine's: this environment
        "environment": fleet.environment(),
        "files": {},
    }
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: OTHER_TORCH if name == "torch" else real(name))
    station = Station(ROOT)  # a worker whose torch is another
    result = station.grade(task)
    reason = result["outcome"]["reason"]
    assert result["refused"] and result["outcome"]["status"] == "failed"
    assert "version mismatch" in reason and "the environments differ" in reason, reason
    assert f"torch {OTHER_TORCH} here, {task['environment']['torch']} on the enqueuing machine" in reason, reason
    assert "nbgrader" not in reason  # only what differs is named
    assert station.scratch is None  # refused before anything was opened


def test_a_tasks_environment_is_read_as_untrusted_text():
    ours = {"torch": "2.13.0", "nbgrader": "0.9.6"}
    said = fleet.environment_differences({"torch": "\x1b[2J" + "9" * 100, "nbgrader": 7, "other": "x"}, ours)
    assert said == "torch 2.13.0 here, [2J" + "9" * 36 + " on the enqueuing machine"
    assert fleet.environment_differences(["not", "a", "dict"], ours) == ""
    assert fleet.environment_differences(dict(ours), ours) == ""
