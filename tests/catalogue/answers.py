"""What a catalogued answer is: the exercise's cell it replaces and the test cells it must lose."""

from __future__ import annotations

from dataclasses import dataclass

STEP_CELLS = (
    "test_my_step_lr_one_group",
    "test_my_step_lr_groups",
    "test_my_step_lr_hand_edit",
    "test_my_step_lr_get_last_lr",
    "test_my_step_lr_last_epoch",
)
PLATEAU_CELLS = (
    "test_plateau_improvement",
    "test_plateau_patience",
    "test_plateau_cooldown",
    "test_plateau_min_lr_eps",
    "test_plateau_groups_and_tensors",
)
READING_CELLS = (
    "test_inferred_factor",
    "test_inferred_patience",
    "test_inferred_cooldown",
    "test_inferred_threshold_mode",
    "test_inferred_threshold_low",
    "test_inferred_threshold_high",
)
STEP_READING_CELLS = ("test_inferred_step_size", "test_inferred_gamma", "test_inferred_hand_set_rate")
LOOPS_CELLS = ("test_diagnosed_log_a", "test_diagnosed_log_b", "test_diagnosed_log_c", "test_diagnosed_log_d")
PLATEAU_FLOOR_CELLS = (
    "test_floor_rate",
    "test_floor_eps",
    "test_floor_first_epoch",
    "test_floor_spacing",
    "test_floor_long_waits",
)
LARGEST_CELLS = ("test_largest_stable_lr", "test_largest_stable_lr_directions")
FLOOR_CELLS = ("test_rate_for_noise_floor", "test_rate_for_noise_floor_stable")
RECIPE_CELLS = ("test_recipe_warmup", "test_recipe_decay", "test_recipe_edge_cases")
FIT_CELLS = ("test_fit_steps_rates", "test_fit_steps_order", "test_fit_steps_losses")
PREDICT_CYCLE_CELLS = ("test_predict_one_cycle",)
RANGE_CELLS = (
    "test_range_rates",
    "test_range_losses",
    "test_range_groups",
    "test_range_restores",
    "test_range_suggestion",
)
PREDICT_STEPS_CELLS = ("test_predict_accumulation",)
WSD_CELLS = ("test_wsd_warmup", "test_wsd_decay", "test_wsd_edges", "test_wsd_resume")
CELLS = {
    "my_step_lr": STEP_CELLS,
    "inferred_step_lr": STEP_READING_CELLS,
    "my_reduce_lr_on_plateau": PLATEAU_CELLS,
    "inferred_plateau_arguments": READING_CELLS,
    "diagnosed_loops": LOOPS_CELLS,
    "epochs_to_floor": PLATEAU_FLOOR_CELLS,
    "largest_stable_lr": LARGEST_CELLS,
    "rate_for_noise_floor": FLOOR_CELLS,
    "recipe_from_rates": RECIPE_CELLS,
    "predicted_drop_steps": ("test_predict_drop_steps",),
    "fit_per_step": FIT_CELLS,
    "predicted_one_cycle_per_epoch": PREDICT_CYCLE_CELLS,
    "lr_range_test": RANGE_CELLS,
    "predicted_optimizer_steps": PREDICT_STEPS_CELLS,
    "wsd_factor": WSD_CELLS,
}
ALL = "all"


@dataclass(frozen=True)
class Answer:
    name: str
    chapter: str
    cell: str
    source: str
    fails: tuple | str = ()
    score: float | None = None  # the exercise's score it must get, where the catalogue states it
    # the cells it may lose instead of `fails`, where it tosses a coin of its own: one tuple of cells, or a tuple of
    # such tuples where its coins can land more ways
    or_fails: tuple = ()
    # files the learner's folder holds beside the notebook, (name, text) pairs: in the kernel only, the grader has
    # the notebook alone (R23o W3)
    beside: tuple = ()
    # a scratch cell the learner ran (not an answer cell, so not graded): in the kernel only (R23p W4)
    scratch: str = ""

    @property
    def failings(self) -> list[set[str]]:
        """Each set of cells the answer may lose: `failing`, or one of `or_fails` where it tosses a coin."""
        nested = bool(self.or_fails) and isinstance(self.or_fails[0], tuple)
        alternatives = self.or_fails if nested else ((self.or_fails,) if self.or_fails else ())
        return [self.failing, *(set(cells) for cells in alternatives)]

    @property
    def cells(self) -> tuple[str, ...]:
        """The test cells of the answer's exercise (a chapter may have several exercises)."""
        return CELLS[self.cell]

    @property
    def failing(self) -> set[str]:
        return set(self.cells) if self.fails == ALL else set(self.fails)


def variant(reference: str, *replacements: str) -> str:
    """The reference with each (old, new) pair of replacements made in turn; each old text must be there."""
    source = reference
    for old, new in zip(replacements[::2], replacements[1::2]):
        assert old in source, old
        source = source.replace(old, new)
    return source


def step(name, source, fails=(), score=None):
    return Answer(name, "02_ordered_schedules", "my_step_lr", source, fails, score)


def plateau(name, source, fails=()):
    return Answer(name, "03_adaptive_schedules", "my_reduce_lr_on_plateau", source, fails)
