"""The order `make test` starts the suite in: the units of work that take minutes first."""

# The units of work that take minutes, longest first (measured with `--durations`). `make test` hands out whole
# files and test classes (`--dist loadscope --no-loadscope-reorder`) in collection order: a long unit started
# last would keep one worker busy after the others have finished.
LONGEST_FIRST = (
    "tests/test_grading_fidelity.py::TestAdaptiveSchedules",
    "tests/test_grading_fidelity.py::TestOrderedSchedules",
    "tests/test_class_grading.py::test_",
    "tests/test_export.py",
    "tests/test_notebooks.py",
    "tests/test_browser.py",
    "tests/test_class_grading.py::TestPlainNbgrader",
    "tests/test_grading_fidelity.py::TestTraining",
    "tests/test_grading_fidelity.py::TestChoosingTheRate",
    "tests/test_instructor_browser.py",
    "tests/test_hostile.py",
    "tests/test_learner_lab.py",
    "tests/test_grading_fidelity.py::TestLearningRate",
    "tests/test_sandbox.py",
    "tests/test_collect.py",
    "tests/test_manual_grades.py",
    "tests/test_grading_fidelity.py::TestCustomSchedules",
)


def rank(nodeid: str) -> int:
    """The place of a test's unit in LONGEST_FIRST; every other test after them all."""
    return next((i for i, unit in enumerate(LONGEST_FIRST) if nodeid.startswith(unit)), len(LONGEST_FIRST))
