"""Chapter cells with a helper, for the tests of which helper bindings the visible checks accept
(tests/test_answer_globals.py, tests/test_answer_globals_bindings.py)."""

from __future__ import annotations

from support.course import solution_answers

RANGE = ("06_choosing_the_rate", "choosing_the_rate.ipynb", "lr_range_test")
PLATEAU = ("03_adaptive_schedules", "adaptive_schedules.ipynb", "my_reduce_lr_on_plateau", "MyReduceLROnPlateau")
SETTING = '        for group, ratio in zip(optimizer.param_groups, ratios):\n            group["lr"] = lr * ratio\n'
RIGHT = "def set_rates(optimizer, lr, ratios):\n    for group, ratio in zip(optimizer.param_groups, ratios):\n"
RIGHT += "        group['lr'] = lr * ratio\n"


def range_test_calling(helper: str) -> str:
    """Chapter 6's solution setting the rates through `set_rates`, the cell defining `helper` above it."""
    solved = solution_answers(RANGE[0])[RANGE[2]]
    assert SETTING in solved
    return helper + "\n\n" + solved.replace(SETTING, "        set_rates(optimizer, lr, ratios)\n", 1)
