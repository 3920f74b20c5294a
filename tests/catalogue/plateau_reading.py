"""Chapter 3's Exercise 3.4, reading a logged run: the arguments inferred from it, the loop named for each log."""

from __future__ import annotations

from catalogue.answers import ALL, Answer

CHAPTER = "03_adaptive_schedules"


RANGE = (1 - 1.91 / 1.97, 1 - 0.48477 / 0.50)  # the thresholds the log allows: [0.0304569, 0.03046)


def inferred(name, fields, fails=()):
    """An answer whose dict has `fields`: the run's arguments with some changed."""
    run = {"factor": 0.4, "patience": 4, "cooldown": 6, "threshold_mode": "rel", "threshold_range": RANGE}
    return Answer(
        name, CHAPTER, "inferred_plateau_arguments", f"inferred_plateau_arguments = {run | fields!r}\n", fails
    )


# issue 23 (R23b): a replay through PyTorch's ReduceLROnPlateau to check the reading, which the setup cell imports and
# the text suggests, in a separate cell or after the answer is bound
REPLAY = """
optimizer = make_optimizer(0.1)
replay = ReduceLROnPlateau(optimizer, factor=0.4, patience=4, cooldown=6, threshold=0.03046, threshold_mode="rel")
replayed = []
for loss in READ_RUN["val_loss"]:
    replay.step(loss)
    replayed.append(optimizer.param_groups[0]["lr"])
"""
ANSWER = (
    'inferred_plateau_arguments = {"factor": 0.4, "patience": 4, "cooldown": 6, "threshold_mode": "rel", '
    '"threshold_range": (1 - 1.91 / 1.97, 1 - 0.48477 / 0.50)}\n'
)

# R23f W1: the replay as a function defined before the answer and called only after it: graded, the call raises once
# the answer is bound (6 / 6), and the visible test cells pass it (a function's body runs where it is called)
REPLAY_DEFINED = """
def replays(arguments):
    optimizer = make_optimizer(0.1)
    replay = ReduceLROnPlateau(optimizer, **arguments)
    rates = []
    for loss in READ_RUN["val_loss"]:
        replay.step(loss)
        rates.append(optimizer.param_groups[0]["lr"])
    return rates

"""
CALLED_AFTER = """
for threshold in inferred_plateau_arguments["threshold_range"]:
    arguments = {k: v for k, v in inferred_plateau_arguments.items() if k != "threshold_range"}
    print(replays(dict(arguments, threshold=threshold)) == READ_RUN["rates"])
"""
# R23f M1: the scheduler imported under a name of the student's own in the answer cell, the replay, then the answer:
# graded, Plateau(...) raises before the answer is bound, 0 / 6 (the visible test cells now say so)
ALIASED_REPLAY = "from torch.optim.lr_scheduler import ReduceLROnPlateau as Plateau\n" + REPLAY.replace(
    "ReduceLROnPlateau(", "Plateau("
)

# R23d W1: part (b) invites a replay of the four loops most directly; in the answer cell it binds nothing when graded
LOOPS_REPLAY = """
def replay(kind):
    optimizer = make_optimizer(0.01)
    scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=2, cooldown=2, threshold=0.01)
    started, previous = [], float("inf")
    for epoch in range(16):
        started.append(optimizer.param_groups[0]["lr"])
        value = {"training loss": LOOPS["train_loss"][epoch], "one epoch late": previous,
                 "correct": LOOPS["val_loss"][epoch], "accuracy": LOOPS["val_accuracy"][epoch]}[kind]
        scheduler.step(value)
        previous = LOOPS["val_loss"][epoch]
    return started

kinds = ["correct", "training loss", "one epoch late", "accuracy"]
diagnosed_loops = {
    log: next(k for k in kinds if all(abs(a - b) < 1e-12 for a, b in zip(replay(k), LOOPS["rates"][log])))
    for log in LOOPS["rates"]
}
"""


def loops(name, fields, fails=()):
    right = {"A": "training loss", "B": "one epoch late", "C": "accuracy", "D": "correct"}
    return Answer(name, CHAPTER, "diagnosed_loops", f"diagnosed_loops = {right | fields!r}\n", fails)


FACTOR, PATIENCE, COOLDOWN, MODE = (
    f"test_inferred_{name}" for name in ("factor", "patience", "cooldown", "threshold_mode")
)
LOW, HIGH = "test_inferred_threshold_low", "test_inferred_threshold_high"
LOG_A, LOG_B, LOG_C, LOG_D = (f"test_diagnosed_log_{log}" for log in "abcd")

READING_CORRECT = [
    inferred("inferred_right", {}),
    inferred("inferred_range_rounded", {"threshold_range": [0.03045685, 0.03046]}),  # the ends to a relative 1e-6
    Answer(
        "inferred_built_in_steps",
        CHAPTER,
        "inferred_plateau_arguments",
        """
ratio = 0.04 / 0.1
inferred_plateau_arguments = dict(factor=round(ratio, 6), patience=4, cooldown=6, threshold_mode="rel",
                                  threshold_range=(1 - 1.91 / 1.97, 1 - 0.48477 / 0.5))
""",
    ),
    # issue 23 (finding 6): numbers in any form ReduceLROnPlateau takes, the range as any pair
    Answer(
        "inferred_patience_as_float",
        CHAPTER,
        "inferred_plateau_arguments",
        'inferred_plateau_arguments = {"factor": 0.4, "patience": 4.0, "cooldown": 6, "threshold_mode": "rel", '
        '"threshold_range": (0.03045685, 0.03046)}\n',
    ),
    Answer(
        "inferred_numpy_forms",
        CHAPTER,
        "inferred_plateau_arguments",
        "import numpy as np\n"
        'inferred_plateau_arguments = {"factor": np.float64(0.4), "patience": np.int64(4), "cooldown": np.int32(6), '
        '"threshold_mode": "rel", "threshold_range": (np.float64(1 - 1.91 / 1.97), np.float32(1 - 0.48477 / 0.50))}\n',
    ),
    # graded without PyTorch's schedulers, the replay raises only once the answer is bound: 6 / 6 (the test cells in
    # the notebook pass it too: `answer_cell_schedulers` reads only what runs before the answer)
    Answer("inferred_replayed_after_the_answer", CHAPTER, "inferred_plateau_arguments", ANSWER + REPLAY, score=6),
    loops("loops_right", {}),
    Answer(
        "replay_defined_before_called_after",
        CHAPTER,
        "inferred_plateau_arguments",
        REPLAY_DEFINED + ANSWER + CALLED_AFTER,
        score=6,
    ),
]

READING_WRONG = [
    # issue 23 (R23b): the replay in the answer cell, before the answer: graded without PyTorch's schedulers the cell
    # stops at ReduceLROnPlateau(...) and binds nothing, 0 / 6 (the notebook's test cells now say so before submitting)
    Answer(
        "inferred_replayed_in_the_answer_cell", CHAPTER, "inferred_plateau_arguments", REPLAY + ANSWER, ALL, score=0
    ),
    # R23d W1: the four loops replayed in the answer cell: graded without PyTorch's schedulers, the first
    # ReduceLROnPlateau(...) raises before diagnosed_loops is bound, 0 / 4 (the notebook's test cells say so)
    Answer("loops_replayed_in_the_answer_cell", CHAPTER, "diagnosed_loops", LOOPS_REPLAY, ALL, score=0),
    Answer(
        "aliased_replay_in_the_answer_cell",
        CHAPTER,
        "inferred_plateau_arguments",
        ALIASED_REPLAY + ANSWER,
        ALL,
        score=0,
    ),
    # each argument earns its own point: a wrong one loses only its cell
    inferred("inferred_patience_plus_one", {"patience": 5}, fails=(PATIENCE,)),
    inferred("inferred_patience_from_epoch_4", {"patience": 3}, fails=(PATIENCE,)),  # 1.97 taken as an improvement
    inferred("inferred_no_cooldown", {"cooldown": 0}, fails=(COOLDOWN,)),
    inferred("inferred_cooldown_is_the_gap", {"cooldown": 11}, fails=(COOLDOWN,)),
    inferred("inferred_factor_as_the_cut", {"factor": 0.6}, fails=(FACTOR,)),  # "cuts by 60 %"
    inferred("inferred_absolute_mode", {"threshold_mode": "abs"}, fails=(MODE,)),
    # the range: a point inside it is not its ends; a grid's nearest values miss them by more than 1e-6
    inferred("inferred_one_threshold_inside", {"threshold_range": (0.030458, 0.030459)}, fails=(LOW, HIGH)),
    inferred("inferred_range_from_a_grid", {"threshold_range": (0.0304, 0.0305)}, fails=(LOW, HIGH)),
    inferred(
        "inferred_absolute_range", {"threshold_range": (0.06, 0.01523)}, fails=(LOW, HIGH)
    ),  # read as absolute drops
    inferred("inferred_high_from_epoch_22", {"threshold_range": (RANGE[0], 1 - 0.50 / 0.545)}, fails=(HIGH,)),
    inferred("inferred_factor_inverted", {"factor": 2.5}, fails=(FACTOR,)),  # not a valid factor: its form fails
    inferred("inferred_patience_fractional", {"patience": 4.5}, fails=(PATIENCE,)),  # not a whole number
    Answer(
        "inferred_missing_key",
        CHAPTER,
        "inferred_plateau_arguments",
        'inferred_plateau_arguments = {"factor": 0.4, "patience": 4, "cooldown": 6, "threshold": 0.03045}\n',
        (MODE, LOW, HIGH),  # each key is checked in its own cell
    ),
    # the loops, one point per log: a guess between two logs costs those two, not the exercise
    loops("loops_late_and_correct_swapped", {"B": "correct", "D": "one epoch late"}, fails=(LOG_B, LOG_D)),
    # the training loss falls every epoch, so "it never reduces": its log taken for the accuracy's and back
    loops("loops_training_and_accuracy_swapped", {"A": "accuracy", "C": "training loss"}, fails=(LOG_A, LOG_C)),
    # the logs read by their order, not replayed: the earliest drops taken for the correct loop, the next for the
    # late one (the threshold makes 0.796 at epoch 5 a bad epoch, which the order does not tell)
    loops(
        "loops_read_by_order",
        {"A": "correct", "B": "training loss", "D": "one epoch late"},
        fails=(LOG_A, LOG_B, LOG_D),
    ),
    # R23q item 4: each loop wrote one log, so a loop named twice fails the form (every cell); one name for every
    # log earned the point of the log that loop wrote (1 of 4, was fails A, B, C)
    loops("loops_all_correct", {"A": "correct", "B": "correct", "C": "correct", "D": "correct"}, fails=ALL),
    loops("loops_all_training_loss", {"B": "training loss", "C": "training loss", "D": "training loss"}, fails=ALL),
    loops("loops_late_named_twice", {"D": "one epoch late"}, fails=ALL),
    loops("loops_unknown_name", {"C": "per batch"}, fails=ALL),
    Answer(
        "loops_a_list",
        CHAPTER,
        "diagnosed_loops",
        'diagnosed_loops = ["training loss", "one epoch late", "accuracy", "correct"]\n',
        ALL,
    ),
]
