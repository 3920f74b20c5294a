"""The order `make test` starts the suite in: the units of work that take minutes first."""

# The units of work that take minutes, longest first, in worker-seconds of a 4-worker `--durations` run:
# test_class_grading's module tests 596; the fidelity classes of chapters 3 and 2 399 and 394 (chapter 2's since
# grades 5 students fewer), then chapters 6 and 5 (367 and 335: chapter 6 costs twice chapter 5 per student), then
# chapter 7 (its class alone took 299 s on a loaded 2-core machine, not measured in a 4-worker run);
# test_export 331 (since one grading worker fewer), test_notebooks 323, test_hostile 318, test_browser 200,
# TestPlainNbgrader 249 (since 9 students instead of 15). `make test` hands out whole files and test classes
# (`--dist loadscope --no-loadscope-reorder`) in collection order: a long unit started last would keep one worker
# busy after the others have finished. test_fleet (about 320 s of two queue workers grading a class) comes second.
# The fidelity classes of chapters 1, 4 and 5 grade with one worker (support/gradedclass.py: `workers_for`, under 30
# students; 6 and 7 have more): fewer CPU-seconds, a longer class alone; chapters 5 to 7 stay near the front for that.
# Since their catalogue students are graded without the chapter's demonstrations (support/demonstrations.py), the
# fidelity classes cost less than the seconds above (CPU-seconds of the class's whole process tree, a cpuacct cgroup,
# the class alone with -p no:xdist, 2026-12-05, load 8 to 15): chapter 7 665 before, 224 after; chapter 2 200
# before, 125 after; after, chapter 3 253, chapter 6 179, chapter 5 73, chapter 1 49, chapter 4 39. Since chapters 2
# and 3 pack their plain-data answers with correct ones (support/packing.py: chapter 3's 113 answers in 90 students,
# chapter 2's 54 in 48), measured alike at load 8 to 14: chapter 3 266 before, 240 after; chapter 2 131 before, 127
# after. The order above is the older measure's, not yet remade with these. test_fleet_limits (198 s, mostly
# waiting out a 90 s limit) was started last and lengthened the tail (a 3-worker `--durations` run, 2026-12-04).
# Alone (`-n 1`, 2026-12-05, load 3 to 7 from other work): test_fleet_versions 173 s, test_fleet_limits 134 s (its
# limit then 60 s, now 45 s: waited out), test_fleet_full 125 s (then a 25 s sleep, now 5 s),
# test_fleet_window 76 s, test_fleet_lost_worker 75 s, test_fleet_watch 62 s. test_fleet_versions and test_fleet_full
# (stub workers: they wait rather than compute) start with the long units, so that their waits overlap the grading.
# Not test_output_count: its control (no count caps) counts every one of 5,000 outputs arriving, and run beside
# the long units it lost 130 of them once (ZMQ's high-water mark under load).
# test_fleet_held and test_fleet_full (stub workers) grew since: in a 2-worker run of the fleet files beside a full
# `make test` (load 14 to 16, 2026-12-06), 8 of test_fleet_held's 11 tests took 76 to 168 s each (974 s together) and
# 6 of test_fleet_full's 9 took 92 to 183 s (823 s): one unit of a worker each, 16 and 14 minutes there (stub
# workers' warm-ups, the enqueuer's looks, time limits, each start slowed by the load). Unranked, test_fleet_held
# started after every unit above and could end the run alone; both now start next to test_fleet, and test_fleet_held
# is two files, two units (test_fleet_resent: its paused and lost workers, 4 tests, 546 s of the 974). The two run
# side by side (-n 2, load 12 to 14): 450 s and 456 s, 513 s in all. test_fleet_full likewise is two files
# (test_fleet_full_ends: a worker that ends on a full broker, 3 tests, 460 s of the 823); side by side (-n 2, load 11
# to 14): 280 s and 370 s, 414 s in all. test_fleet_full_before (a stand-in worker held past its hard limit while the
# broker is full) waits likewise, next to them.
LONGEST_FIRST = (
    "tests/test_class_grading.py::test_",
    "tests/test_fleet.py",
    "tests/test_fleet_held.py",
    "tests/test_fleet_resent.py",
    "tests/test_fleet_full.py",
    "tests/test_fleet_full_ends.py",
    "tests/test_fleet_full_before.py",
    "tests/test_grading_fidelity.py::TestAdaptiveSchedules",
    "tests/test_grading_fidelity.py::TestOrderedSchedules",
    "tests/test_grading_fidelity.py::TestChoosingTheRate",
    "tests/test_grading_fidelity.py::TestTraining",
    "tests/test_grading_fidelity.py::TestPractice",
    "tests/test_notebooks.py",
    "tests/test_hostile.py",
    "tests/test_export.py",
    "tests/test_browser.py",
    "tests/test_fleet_versions.py",
    "tests/test_fleet_limits.py",
    "tests/test_class_grading.py::TestPlainNbgrader",
    "tests/test_instructor_browser.py",
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
