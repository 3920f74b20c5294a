"""What the exercises' test cells use to compare a student's answer with PyTorch.

Every check has two halves, so that the same test cell can run in two places:

- an *observer* runs the student's code and records what it did (rates after each step, values returned,
  the exception raised), as plain data (`lrcourse.wire`). In a notebook's kernel it runs right
  there; under `lrcourse grade` it runs in a fresh process of the student's own, which the grader drives
  (`lrcourse.grading.autograde.remote`), and only the observations come back.
- a *judge* compares the observations with PyTorch's reference, computed where the judge runs, and raises
  a `CheckFailed` (an AssertionError) that says what was configured, at which step, what was expected, what
  came out, and the likely cause; in a notebook it shows as that message, not the checker's traceback
  (`NotAnswered`, one line, when the answer is still nbgrader's stub).

So in the kernel the checks give the student their messages, and under `lrcourse grade` the very same test
cells decide the grade in the grader's own process: the expected values never reach the student's code.

The observer's guard keeps grading fair in both directions: anything the student's code prints or warns
is captured (nbgrader zeroes a cell that writes to stderr), and a loop that never ends is cut after a few
seconds. Using `torch.optim.lr_scheduler` inside the scheduler exercises earns no marks (under `lrcourse
grade` that module is not even there to use).

This module holds no answer: it only runs the student's code and PyTorch's.

This package's namespace is the test cells' API: the names test cells import (and the failures they raise),
nothing else; the grader imports its plumbing from the modules. One module per job:
`observe` (where the student's code runs; its `check_self_contained` for chapter 1's cells, which call the answer
themselves), `guard` (the guard and the rule against PyTorch's schedulers),
`expect` (readable failures, the tolerances), `self_contained` (and `answer_replay`: a plain-data answer still
what its cell gives; `saved_answer`: the answer cell as saved, the one graded, which the reading exercises' checks
read, with `answer_cell_schedulers` and `answer_cell_runs`), `expected` (the training exercises'
expected values), and one module per exercise family: `scheduler_cases`, `scheduler_observers` and
`schedulers` (chapters 2-3), `step_lr_own` (2) and `plateau_own` (3: a class judged against its own decays, its
own patience, in the cells that test something else), `step_lr_reading` (2, reading a StepLR's log; its
answer's forms in `answer_forms`, shared with 3's and 4's: any whole number is a count, as the grader sees it),
`plateau_reading` (3, reading a logged run), `plateau_floor` (3, a stalled run's floor), `recipes` (4),
`fit_steps` (5),
`range_test` (6; what it must leave of the optimizer's groups in `range_groups`, the steps it is judged by in
`range_steps`, whether it tried the stop's own rate, a forward pass of the model seen after its last step, in
`range_tried`, its stop and record in
`range_stop`),
`wsd` (7; its observer `wsd_observer`, its resume run where the judge runs `wsd_resume`, and
the answer's side of that `factor_server`), plus `preview`.
Nothing here imports `lrcourse.grading`: a student's kernel loads the checker and nothing of the grader.
"""

# The observers register themselves when their modules are imported: every one is imported here, so that
# `import lrcourse.checking` (the answers' zygote does) knows them all.
from lrcourse.checking import scheduler_observers  # noqa: F401
from lrcourse.checking.answer_forms import is_count, is_number
from lrcourse.checking.expect import CheckFailed, NotAnswered, expect, expect_close, expect_equal, passed
from lrcourse.checking.fit_steps import check_fit_steps_losses, check_fit_steps_order, check_fit_steps_rates
from lrcourse.checking.observe import check_self_contained
from lrcourse.checking.plateau_floor import check_floor
from lrcourse.checking.plateau_reading import (
    check_argument,
    check_diagnosis,
    check_diagnosis_form,
    check_range_end,
    check_reading_form,
)
from lrcourse.checking.preview import preview
from lrcourse.checking.range_test import (
    check_range_groups,
    check_range_losses,
    check_range_rates,
    check_range_restores,
    check_range_suggestion,
)
from lrcourse.checking.recipes import check_recipe
from lrcourse.checking.scheduler_cases import PlateauCase, StepLRCase
from lrcourse.checking.schedulers import check_plateau, check_step_lr
from lrcourse.checking.step_lr_own import (
    check_step_lr_counter,
    check_step_lr_groups,
    check_step_lr_hand_edit,
    check_step_lr_reports,
)
from lrcourse.checking.step_lr_reading import check_step_reading, check_step_reading_form
from lrcourse.checking.wsd import check_wsd, check_wsd_edges, check_wsd_resume

__all__ = [
    "CheckFailed",
    "NotAnswered",
    "PlateauCase",
    "StepLRCase",
    "check_argument",
    "check_diagnosis",
    "check_diagnosis_form",
    "check_fit_steps_losses",
    "check_fit_steps_order",
    "check_fit_steps_rates",
    "check_floor",
    "check_plateau",
    "check_range_groups",
    "check_range_losses",
    "check_range_rates",
    "check_range_restores",
    "check_range_suggestion",
    "check_reading_form",
    "check_self_contained",
    "check_recipe",
    "check_range_end",
    "check_step_lr",
    "check_step_lr_counter",
    "check_step_lr_groups",
    "check_step_lr_hand_edit",
    "check_step_lr_reports",
    "check_step_reading",
    "check_step_reading_form",
    "check_wsd",
    "check_wsd_edges",
    "check_wsd_resume",
    "expect",
    "expect_close",
    "expect_equal",
    "is_count",
    "is_number",
    "passed",
    "preview",
]
