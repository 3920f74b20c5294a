"""Chapter 3's Exercise 3.1, reading a logged run: the arguments inferred from it, the loop named for each log."""

from __future__ import annotations

from catalogue.answers import ALL, Answer

CHAPTER = "03_adaptive_schedules"


def inferred(name, fields, fails=()):
    """An answer whose dict has `fields`: the run's arguments with some changed."""
    run = {"factor": 0.2, "patience": 2, "cooldown": 3, "threshold_mode": "rel", "threshold": 0.02}
    return Answer(
        name, CHAPTER, "inferred_plateau_arguments", f"inferred_plateau_arguments = {run | fields!r}\n", fails
    )


def loops(name, fields, fails=()):
    right = {"A": "one epoch late", "B": "training loss", "C": "correct", "D": "per batch"}
    return Answer(name, CHAPTER, "diagnosed_loops", f"diagnosed_loops = {right | fields!r}\n", fails)


COUNTS, THRESHOLD = "test_inferred_counts", "test_inferred_threshold"

READING_CORRECT = [
    inferred("inferred_right", {}),
    inferred("inferred_other_threshold_in_range", {"threshold": 0.019}),  # the log allows [0.01875, 0.025)
    inferred("inferred_threshold_near_the_top", {"threshold": 0.0249}),
    Answer(
        "inferred_built_in_steps",
        CHAPTER,
        "inferred_plateau_arguments",
        """
ratio = 0.02 / 0.1
inferred_plateau_arguments = dict(factor=round(ratio, 6), patience=2, cooldown=3, threshold_mode="rel",
                                  threshold=2e-2)
""",
    ),
    loops("loops_right", {}),
]

READING_WRONG = [
    # the threshold: the log needs a relative one between 1.875 % and 2.5 %
    inferred("inferred_default_threshold", {"threshold": 1e-4}, fails=(THRESHOLD,)),
    inferred("inferred_absolute_threshold", {"threshold_mode": "abs", "threshold": 0.025}, fails=(THRESHOLD,)),
    inferred("inferred_threshold_too_strict", {"threshold": 0.03}, fails=(THRESHOLD,)),
    # the counts: each also changes the replayed run
    inferred("inferred_patience_plus_one", {"patience": 3}, fails=ALL),
    inferred("inferred_no_cooldown", {"cooldown": 0}, fails=ALL),
    inferred("inferred_cooldown_is_the_gap", {"cooldown": 6}, fails=ALL),
    inferred("inferred_factor_inverted", {"factor": 5.0}, fails=ALL),  # not a valid factor: the form fails
    inferred("inferred_factor_as_the_cut", {"factor": 0.8}, fails=ALL),  # "cuts by 80 %"
    Answer(
        "inferred_missing_key",
        CHAPTER,
        "inferred_plateau_arguments",
        'inferred_plateau_arguments = {"factor": 0.2, "patience": 2, "cooldown": 3, "threshold": 0.02}\n',
        ALL,
    ),
    Answer(
        "inferred_patience_as_float",
        CHAPTER,
        "inferred_plateau_arguments",
        'inferred_plateau_arguments = {"factor": 0.2, "patience": 2.0, "cooldown": 3, "threshold_mode": "rel", '
        '"threshold": 0.02}\n',
        ALL,
    ),
    # the loops: the one-epoch shift is the one that takes the rule
    loops("loops_late_and_correct_swapped", {"A": "correct", "C": "one epoch late"}, fails=ALL),
    loops("loops_training_and_per_batch_swapped", {"B": "per batch", "D": "training loss"}, fails=ALL),
    loops("loops_unknown_name", {"D": "per step"}, fails=ALL),
    Answer(
        "loops_a_list",
        CHAPTER,
        "diagnosed_loops",
        'diagnosed_loops = ["one epoch late", "training loss", "correct", "per batch"]\n',
        ALL,
    ),
]
