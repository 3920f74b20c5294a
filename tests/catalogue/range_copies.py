"""Chapter 6's range test run on deep copies, the originals never touched (issue 23, R23i W1): nothing to restore, and
correct. It scored 1 of 7 while the observer counted only the given optimizer's steps (a deep copy carries no hook:
`Optimizer.__getstate__` keeps defaults, state and groups); every optimizer's steps during the call are watched now,
and judged where the optimizer holds the model's parameters or those of a module that computed during the test (R23k
W1: a dry run's are not; `range_dry_runs`). A copy of the optimizer alone holds copies of the parameters, which
nothing computes with: its steps are no range test (none is judged), the losses never fall, and it loses every cell
(it kept the rates', the groups' and the restore's while its steps were judged: R23k N3)."""

from __future__ import annotations

from catalogue.answers import ALL, Answer
from catalogue.training import range_test, range_variant

NO_RESTORE = ("    model.load_state_dict(saved_model)\n    optimizer.load_state_dict(saved_optimizer)\n", "")


def on_copies(copying: str) -> str:
    """The reference with its saving replaced by the line `copying`, and no restore."""
    return range_variant(
        "    saved_model = copy.deepcopy(model.state_dict())\n    saved_optimizer = copy.deepcopy(optimizer.state_dict())\n",
        f"    {copying}  # test a copy: the originals are never touched\n",
        *NO_RESTORE,
    )


RANGE_COPY_CORRECT = [
    range_test(
        "range_on_deep_copies_of_model_and_optimizer", on_copies("model, optimizer = copy.deepcopy((model, optimizer))")
    )
]
RANGE_COPY_WRONG: list[Answer] = [
    range_test(
        "range_on_a_deep_copy_of_the_optimizer_only", on_copies("optimizer = copy.deepcopy(optimizer)"), fails=ALL
    )
]
