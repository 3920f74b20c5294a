"""Chapter 6's range tests that put back less than they found, each losing the restore's cell only: the weights saved
late, the optimizer's state or its groups not restored, nothing restored when the test diverges, or a restore only
when it does."""

from __future__ import annotations

from catalogue.training import range_test, range_variant

RANGE_RESTORES = "test_range_restores"


RANGE_RESTORE_WRONG = [
    # the weights saved after the test's first step (at start_lr, the smallest rate): what they restore is one
    # small step off; the optimizer's state is restored right
    range_test(
        "range_saves_the_weights_after_the_first_step",
        range_variant(
            """        optimizer.step()
        average""",
            """        optimizer.step()
        if step == 0:
            saved_model = copy.deepcopy(model.state_dict())
        average""",
        ),
        fails=(RANGE_RESTORES,),
    ),
    # issue 23 (R23u): the state deep-copied as a dict and put back under the copies of the parameters that
    # deepcopy made of its keys: the rates and weights are right, but the model's parameters have no state again
    range_test(
        "range_restores_state_under_copied_keys",
        range_variant(
            "    saved_optimizer = copy.deepcopy(optimizer.state_dict())\n",
            "    saved_state = copy.deepcopy(optimizer.state)\n"
            '    saved_lrs = [group["lr"] for group in optimizer.param_groups]\n',
            "    optimizer.load_state_dict(saved_optimizer)\n",
            "    optimizer.state.clear()\n"
            "    optimizer.state.update(saved_state)\n"
            "    for group, lr in zip(optimizer.param_groups, saved_lrs):\n"
            '        group["lr"] = lr\n',
        ),
        fails=(RANGE_RESTORES,),
    ),
    range_test(
        "range_restores_model_only",
        range_variant("    optimizer.load_state_dict(saved_optimizer)\n", ""),
        fails=(RANGE_RESTORES,),
    ),
    range_test(
        "range_restores_rates_not_state",
        range_variant(
            "    optimizer.load_state_dict(saved_optimizer)\n",
            """    for group, saved in zip(optimizer.param_groups, saved_optimizer["param_groups"]):
        group["lr"] = saved["lr"]
""",
        ),
        fails=(RANGE_RESTORES,),
    ),
    # damps momentum once the test diverges (so the blow-up does not carry on) and restores the weights, the state and
    # the rates by hand: momentum stays 0 (issue 23, R23s: the groups' key names were compared, not their values).
    # Only SGD has momentum (the restore's hidden case), and only after the last step: no other cell can tell
    range_test(
        "range_leaves_momentum_changed",
        range_variant(
            """    saved_optimizer = copy.deepcopy(optimizer.state_dict())
""",
            """    saved_state = {param: copy.deepcopy(state) for param, state in optimizer.state.items()}
    saved_lrs = [group["lr"] for group in optimizer.param_groups]
""",
            """        if smoothed > diverge * best:
            break""",
            """        if smoothed > diverge * best:
            for group in optimizer.param_groups:
                if "momentum" in group:
                    group["momentum"] = 0.0
            break""",
            """    optimizer.load_state_dict(saved_optimizer)
""",
            """    optimizer.state.clear()
    optimizer.state.update(saved_state)
    for group, lr in zip(optimizer.param_groups, saved_lrs):
        group["lr"] = lr
""",
        ),
        fails=(RANGE_RESTORES,),
    ),
    # returns from inside the loop when the test diverges: the weights, optimizer state and rates stay as the test
    # left them (only a case that reaches the stop can tell)
    range_test(
        "range_returns_without_restoring_when_it_diverges",
        range_variant(
            """        if smoothed > diverge * best:
            break""",
            """        if smoothed > diverge * best:
            return {"lrs": lrs, "losses": losses, "suggestion": lrs[losses.index(min(losses))] / 10}""",
        ),
        fails=(RANGE_RESTORES,),
    ),
    # restores only when the test diverges (issue 23, R23w): the restore's visible and first hidden cases both diverge,
    # so only its hidden case that runs all its steps (end_lr=1.0) sees the weights and state left changed
    range_test(
        "range_restores_only_when_it_diverges",
        range_variant(
            """        if smoothed > diverge * best:
            break
    model.load_state_dict(saved_model)
    optimizer.load_state_dict(saved_optimizer)
""",
            """        if smoothed > diverge * best:
            model.load_state_dict(saved_model)
            optimizer.load_state_dict(saved_optimizer)
            break
""",
        ),
        fails=(RANGE_RESTORES,),
    ),
]
