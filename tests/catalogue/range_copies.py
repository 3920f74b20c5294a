"""Chapter 6's range test run on deep copies, the originals never touched (issue 23, R23i W1): nothing to restore, and
correct. It scored 1 of 7 while the observer counted only the given optimizer's steps (a deep copy carries no hook:
`Optimizer.__getstate__` keeps defaults, state and groups); every optimizer's steps during the call are watched now,
and judged where the optimizer holds the model's parameters or those of a module that computed during the test (R23k
W1: a dry run's are not; `range_dry_runs`). A copy of the optimizer alone holds copies of the parameters, which
nothing computes with: its steps are no range test (none is judged), the losses never fall, and it loses every cell
(it kept the rates', the groups' and the restore's while its steps were judged: R23k N3). On copies, the steps are
judged at their end, and by a gradient where no Python forward hook ran (R23m W1): a closure's forward runs inside the
step, torch.func's gradients and a scripted model's forward run no module hook; those three correct forms scored 5, 1
and 1 of 7 while a step was judged at its start by the modules that had computed. The slip of a first batch stepped
twice, taken inside a closure, then went unseen by the rates' cell: it loses the rates' and the losses' cells."""

from __future__ import annotations

from catalogue.answers import ALL, Answer, variant
from catalogue.training import range_test, range_variant

NO_RESTORE = ("    model.load_state_dict(saved_model)\n    optimizer.load_state_dict(saved_optimizer)\n", "")


def on_copies(copying: str) -> str:
    """The reference with its saving replaced by the line `copying`, and no restore."""
    return range_variant(
        "    saved_model = copy.deepcopy(model.state_dict())\n    saved_optimizer = copy.deepcopy(optimizer.state_dict())\n",
        f"    {copying}  # test a copy: the originals are never touched\n",
        *NO_RESTORE,
    )


COPIES = "model, optimizer = copy.deepcopy((model, optimizer))"
TRAINING = """        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
"""
CLOSURE = """        def closure():
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            return loss

        loss = optimizer.step(closure)
"""
FUNC = """        weights = dict(model.named_parameters())
        grads, loss = torch.func.grad_and_value(
            lambda w: loss_fn(torch.func.functional_call(model, w, (inputs,)), targets)
        )(weights)
        for name, weight in weights.items():
            weight.grad = grads[name]
        optimizer.step()
"""
SCRIPTED = """        optimizer.zero_grad()
        loss = loss_fn(scripted(inputs), targets)
        loss.backward()
        optimizer.step()
"""
TWICE = """        loss = optimizer.step(closure)
        if step == 0:  # a slip: the first batch stepped twice at start_lr
            optimizer.step(closure)
"""


def on_copies_training(training: str) -> str:
    return variant(on_copies(COPIES), TRAINING, training)


RANGE_COPY_CORRECT = [
    range_test("range_on_deep_copies_of_model_and_optimizer", on_copies(COPIES)),
    range_test("range_on_copies_stepped_with_a_closure", on_copies_training(CLOSURE)),
    range_test("range_on_copies_through_torch_func", on_copies_training(FUNC)),
    range_test(
        "range_on_copies_through_a_scripted_model",
        variant(
            on_copies_training(SCRIPTED), "    lrs, losses,", "    scripted = torch.jit.script(model)\n    lrs, losses,"
        ),
    ),
]
RANGE_COPY_WRONG: list[Answer] = [
    range_test(
        "range_on_a_deep_copy_of_the_optimizer_only", on_copies("optimizer = copy.deepcopy(optimizer)"), fails=ALL
    ),
    range_test(
        "range_on_copies_first_batch_twice_in_a_closure",
        variant(on_copies_training(CLOSURE), "        loss = optimizer.step(closure)\n", TWICE),
        fails=("test_range_rates", "test_range_losses"),
    ),
]
