"""Chapter 6's range test that sets or moves its rates in the optimizer's own step hooks (R23m N1). Correct: each step
runs at the asked rates. The judge read each step's rates in a global step pre-hook, which torch runs before the
optimizer's own pre-hooks, so the answer that sets its rates in one lost the rates' cell with a false message ("step
0 used lr 0.0015", the rate it had found). The rates are read after the optimizer's own pre-hooks now, and still
before its post-hooks, in which the other answer steps its ExponentialLR to the next step's rate.

Wrong: the first batch stepped a second time through the optimizer's unwrapped step (`type(optimizer).step.
__wrapped__`), which runs no hook (R23n N1): the rates' cell judges the steps it sees and keeps its point, and the
losses' cell, which compares the training with the grader's, loses it."""

from __future__ import annotations

from catalogue.answers import Answer, variant
from catalogue.range_schedulers import RANGE_BY_EXPONENTIAL_LR
from catalogue.training import range_test, range_variant

SET_IN_A_PRE_HOOK = range_variant(
    "    lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())\n",
    """    lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())
    rate = {}

    def set_rates(opt, args, kwargs):
        for group, ratio in zip(opt.param_groups, ratios):
            group["lr"] = rate["lr"] * ratio

    handle = optimizer.register_step_pre_hook(set_rates)
""",
    '        for group, ratio in zip(optimizer.param_groups, ratios):\n            group["lr"] = lr * ratio\n',
    '        rate["lr"] = lr\n',
    "    model.load_state_dict(saved_model)\n",
    "    handle.remove()\n    model.load_state_dict(saved_model)\n",
)

STEPPED_IN_A_POST_HOOK = variant(
    RANGE_BY_EXPONENTIAL_LR,
    "    lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())\n",
    """    handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: growth.step())
    lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())
""",
    "        growth.step()\n",
    "",
    "    model.load_state_dict(saved_model)\n",
    "    handle.remove()\n    model.load_state_dict(saved_model)\n",
)

STEP = """        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
"""
SET_RATES = '        for group, ratio in zip(optimizer.param_groups, ratios):\n            group["lr"] = lr * ratio\n'

SET_IN_THE_CLOSURE = range_variant(
    SET_RATES,
    "",
    STEP,
    """        def closure():
            for group, ratio in zip(optimizer.param_groups, ratios):
                group["lr"] = lr * ratio
            optimizer.zero_grad()
            out = loss_fn(model(inputs), targets)
            out.backward()
            return out

        loss = optimizer.step(closure)
""",
)

RANGE_HOOK_CORRECT = [
    range_test("range_rates_set_in_the_optimizers_step_pre_hook", SET_IN_A_PRE_HOOK),
    range_test("range_exponential_lr_stepped_in_a_step_post_hook", STEPPED_IN_A_POST_HOOK),
    range_test("range_rates_set_in_the_steps_closure", SET_IN_THE_CLOSURE),
]

UNWRAPPED_SECOND_STEP = range_variant(
    "        optimizer.step()\n",
    """        optimizer.step()
        if step == 0:  # the first batch stepped again, out of the hooks' sight
            type(optimizer).step.__wrapped__(optimizer)
""",
)

DOUBLED_IN_THE_CLOSURE = range_variant(
    STEP,
    """        def closure():  # every step runs at twice the rate set before it, which result['lrs'] lists
            for group in optimizer.param_groups:
                group["lr"] = group["lr"] * 2
            optimizer.zero_grad()
            out = loss_fn(model(inputs), targets)
            out.backward()
            return out

        loss = optimizer.step(closure)
""",
)

RANGE_HOOK_WRONG: list[Answer] = [
    range_test("range_first_batch_again_by_the_unwrapped_step", UNWRAPPED_SECOND_STEP, fails=("test_range_losses",)),
    range_test(
        "range_rates_doubled_in_the_steps_closure",
        DOUBLED_IN_THE_CLOSURE,
        fails=("test_range_rates", "test_range_losses", "test_range_suggestion"),
    ),
]
