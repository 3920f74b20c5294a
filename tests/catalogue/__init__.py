"""The catalogue: students' answers for the graded exercises: correct ones written differently, plausible mistakes,
use of PyTorch's schedulers, and broken code.

Each `Answer` replaces the source of one autograded-answer cell. `fails` names exactly the test cells
it must lose (empty: full marks; `ALL`: every test cell of that exercise); every other test cell must
give full marks. A mistake usually shows in more than the cell written for it (a wrong patience rule
also changes the rates in the cooldown cell): those cells are listed too, each one checked by hand. The grading tests submit each
one through real `nbgrader autograde` and check the score of every test cell.

One module per exercise family, the mistakes apart from the correct answers: `answers` (what an answer is),
`noise_floor` (chapter 1's rate for a noise floor solved numerically, and read in float32), `range_stops`
(chapter 6's stop rules other than the text's, and its records cut or kept at the stop), `range_groups` (its ratios
taken against another group than the first), `range_restores` (its range tests that put back less than they found),
`range_copies` (its range test run on deep copies), `range_hooks` (its rates set or moved in the optimizer's own step hooks), `range_dry_runs` (its range
test beside a dry run's throwaway optimizer, and a step past the stop hidden in another optimizer over the weights),
`range_judged_steps` (its range test with a dry run over the model's weights, one optimizer per group, tensor rates),
`range_schedulers` (chapter 6's range test with PyTorch's schedulers, which it
allows), `wsd_stateful` (chapter 7's correct factors that keep state between calls), `wsd_dodges` and
`wsd_resume_dodges` (chapter 7's answers aimed at the grader). The lists:

CORRECT = (
    STEP_CORRECT + PLATEAU_CORRECT + PLATEAU_CHOICES + READING_CORRECT + FLOOR_CORRECT + EARLY_CORRECT + NOISE_FLOOR_CORRECT
    + OTHER_CORRECT
    + RANGE_SCHEDULER_CORRECT + RANGE_COPY_CORRECT + RANGE_HOOK_CORRECT + RANGE_DRY_RUN_CORRECT + RANGE_JUDGED_CORRECT
    + WSD_CORRECT
    + WSD_CONTROLS
)
WRONG = STEP_WRONG + PLATEAU_WRONG + READING_WRONG + FLOOR_WRONG + EARLY_WRONG + NOISE_FLOOR_WRONG + OTHER_WRONG
    + RANGE_STOPS
    + RANGE_RECORDS + RANGE_GROUP_WRONG + RANGE_RESTORE_WRONG + RANGE_SCHEDULER_WRONG + RANGE_COPY_WRONG
    + RANGE_HOOK_WRONG + RANGE_HIDDEN_STEPS + RANGE_JUDGED_WRONG + WSD_WRONG
    + WSD_GRADER_DODGES (answers that tell the grader's observations apart) + WSD_RESUME_DODGES (that fake the resume)
FORBIDDEN = STEP_FORBIDDEN + PLATEAU_FORBIDDEN + FLOOR_FORBIDDEN + EARLY_FORBIDDEN + WSD_FORBIDDEN
"""

from __future__ import annotations

from catalogue.answers import ALL, CELLS, PLATEAU_CELLS, STEP_CELLS, Answer
from catalogue.early import EARLY_CORRECT, EARLY_FORBIDDEN, EARLY_WRONG
from catalogue.noise_floor import NOISE_FLOOR_CORRECT, NOISE_FLOOR_WRONG
from catalogue.plateau import PLATEAU_BROKEN, PLATEAU_CORRECT, PLATEAU_FORBIDDEN
from catalogue.plateau_floor import FLOOR_CORRECT, FLOOR_FORBIDDEN, FLOOR_WRONG
from catalogue.plateau_reading import READING_CORRECT, READING_WRONG
from catalogue.plateau_wrong import PLATEAU_CHOICES, PLATEAU_WRONG
from catalogue.range_copies import RANGE_COPY_CORRECT, RANGE_COPY_WRONG
from catalogue.range_dry_runs import RANGE_DRY_RUN_CORRECT, RANGE_HIDDEN_STEPS
from catalogue.range_groups import RANGE_GROUP_WRONG
from catalogue.range_hooks import RANGE_HOOK_CORRECT, RANGE_HOOK_WRONG
from catalogue.range_judged_steps import RANGE_JUDGED_CORRECT, RANGE_JUDGED_WRONG
from catalogue.range_restores import RANGE_RESTORE_WRONG
from catalogue.range_schedulers import RANGE_SCHEDULER_CORRECT, RANGE_SCHEDULER_WRONG
from catalogue.range_stops import RANGE_RECORDS, RANGE_STOPS
from catalogue.step_lr import STEP_BROKEN, STEP_CORRECT, STEP_FORBIDDEN, STEP_HANGS_AT_DEFINITION
from catalogue.step_lr_reading import STEP_READING_CORRECT, STEP_READING_WRONG
from catalogue.step_lr_wrong import STEP_WRONG
from catalogue.training import OTHER_CORRECT
from catalogue.training_wrong import OTHER_WRONG
from catalogue.wsd import WSD_CORRECT
from catalogue.wsd_dodges import WSD_CONTROLS, WSD_FORBIDDEN, WSD_GRADER_DODGES
from catalogue.wsd_resume_dodges import WSD_RESUME_DODGES
from catalogue.wsd_wrong import WSD_WRONG

CORRECT = (
    STEP_CORRECT
    + STEP_READING_CORRECT
    + PLATEAU_CORRECT
    + PLATEAU_CHOICES
    + READING_CORRECT
    + FLOOR_CORRECT
    + EARLY_CORRECT
    + NOISE_FLOOR_CORRECT
    + OTHER_CORRECT
    + RANGE_SCHEDULER_CORRECT
    + RANGE_COPY_CORRECT
    + RANGE_HOOK_CORRECT
    + RANGE_DRY_RUN_CORRECT
    + RANGE_JUDGED_CORRECT
    + WSD_CORRECT
    + WSD_CONTROLS
)
WRONG = (
    STEP_WRONG
    + STEP_READING_WRONG
    + PLATEAU_WRONG
    + READING_WRONG
    + FLOOR_WRONG
    + EARLY_WRONG
    + NOISE_FLOOR_WRONG
    + OTHER_WRONG
    + RANGE_STOPS
    + RANGE_RECORDS
    + RANGE_GROUP_WRONG
    + RANGE_RESTORE_WRONG
    + RANGE_SCHEDULER_WRONG
    + RANGE_COPY_WRONG
    + RANGE_HOOK_WRONG
    + RANGE_HIDDEN_STEPS
    + RANGE_JUDGED_WRONG
    + WSD_WRONG
    + WSD_GRADER_DODGES
    + WSD_RESUME_DODGES
)
FORBIDDEN = STEP_FORBIDDEN + PLATEAU_FORBIDDEN + FLOOR_FORBIDDEN + EARLY_FORBIDDEN + WSD_FORBIDDEN
BROKEN = STEP_BROKEN + PLATEAU_BROKEN

__all__ = [
    "ALL", "BROKEN", "CELLS", "CORRECT", "EARLY_CORRECT", "EARLY_FORBIDDEN", "EARLY_WRONG", "FORBIDDEN",
    "OTHER_CORRECT", "OTHER_WRONG", "PLATEAU_BROKEN", "PLATEAU_CELLS", "PLATEAU_CHOICES", "PLATEAU_CORRECT",
    "PLATEAU_FORBIDDEN", "PLATEAU_WRONG", "STEP_BROKEN", "STEP_CELLS", "STEP_CORRECT", "STEP_FORBIDDEN", "STEP_HANGS_AT_DEFINITION",
    "STEP_WRONG", "WRONG", "WSD_CORRECT", "WSD_FORBIDDEN", "WSD_GRADER_DODGES", "WSD_RESUME_DODGES", "WSD_WRONG",
    "Answer",
]  # fmt: skip
