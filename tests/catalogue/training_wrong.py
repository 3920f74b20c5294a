"""Chapters 5 and 6: plausible mistakes, each with the test cells it loses."""

from __future__ import annotations

from catalogue.answers import ALL, Answer
from catalogue.training import counting_variant, fit, fit_variant, other, range_test, range_variant

FIT_RATES, FIT_LOSSES = "test_fit_steps_rates", "test_fit_steps_losses"
RANGE_GROUPS, RANGE_RESTORES, RANGE_SUGGESTION = "test_range_groups", "test_range_restores", "test_range_suggestion"
# one mistake, one charge (issue 23, R23b): the stop is the losses' cell only, the rates' cell reads the rates of
# the steps taken, the groups' cell their ratio
RANGE_RATES, RANGE_LOSSES = "test_range_rates", "test_range_losses"
SIZING = "    scheduler = make_scheduler(optimizer, epochs * math.ceil(len(batches) / accumulation))\n"


OTHER_WRONG = [
    # chapter 5's sizing step: the schedule's length in optimizer steps; a wrong size trains another run
    fit(
        "fit_sized_in_batches",
        fit_variant(SIZING, "    scheduler = make_scheduler(optimizer, epochs * len(batches))\n"),
        fails=ALL,
    ),
    fit(
        "fit_sized_with_groups_across_epochs",
        fit_variant(
            SIZING, "    scheduler = make_scheduler(optimizer, math.ceil(epochs * len(batches) / accumulation))\n"
        ),
        fails=ALL,
    ),
    fit(
        "fit_sized_without_the_short_group",
        fit_variant(SIZING, "    scheduler = make_scheduler(optimizer, epochs * (len(batches) // accumulation))\n"),
        fails=ALL,
    ),
    # right only when an epoch ends in a short group: the rates and order cells' whole groups (9 batches of 128 in
    # groups of 3) and the losses cell's cost all 5 points (issue 23, R23e)
    fit(
        "fit_sized_floor_plus_one",
        fit_variant(SIZING, "    scheduler = make_scheduler(optimizer, epochs * (len(batches) // accumulation + 1))\n"),
        fails=ALL,
    ),
    fit(
        "fit_sized_with_a_precedence_slip",
        fit_variant(
            SIZING,
            "    scheduler = make_scheduler(optimizer, epochs * (len(batches) + accumulation - 1) // accumulation)\n",
        ),
        fails=ALL,
    ),
    fit(
        "fit_sized_as_a_float",
        fit_variant(SIZING, "    scheduler = make_scheduler(optimizer, epochs * len(batches) / accumulation)\n"),
        fails=ALL,
    ),
    fit(
        "fit_scheduler_built_every_epoch",
        fit_variant(
            SIZING,
            "",
            "    for epoch in range(epochs):\n",
            "    for epoch in range(epochs):\n"
            "        scheduler = make_scheduler(optimizer, math.ceil(len(batches) / accumulation))\n",
        ),
        fails=ALL,
    ),
    # chapter 5's `run` / `train_epochs` copied: one optimizer and scheduler step per batch
    fit(
        "fit_steps_every_batch",
        """
def fit_per_step(model, optimizer, make_scheduler, batches, val_set, epochs, accumulation=1):
    scheduler = make_scheduler(optimizer, epochs * math.ceil(len(batches) / accumulation))
    history = {"lr": [], "loss": [], "val_loss": []}
    for epoch in range(epochs):
        for inputs, targets in batches:
            history["lr"].append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            scheduler.step()
            history["loss"].append(loss.item())
        history["val_loss"].append(evaluate(model, val_set)[0])
    return history
""",
        fails=ALL,
    ),
    fit(
        "fit_scheduler_every_batch",
        counting_variant(
            """            loss = loss_fn(model(inputs), targets)
            (loss / in_group).backward()""",
            """            loss = loss_fn(model(inputs), targets)
            (loss / in_group).backward()
            if index + 1 != first + in_group:
                scheduler.step()""",
        ),
        fails=ALL,
    ),
    fit(
        "fit_drops_leftover_batches",
        counting_variant(
            "            if index + 1 == first + in_group:", "            if (index + 1) % accumulation == 0:"
        ),
        fails=ALL,
    ),
    fit(
        "fit_groups_run_across_epochs",
        """
def fit_per_step(model, optimizer, make_scheduler, batches, val_set, epochs, accumulation=1):
    scheduler = make_scheduler(optimizer, epochs * ((len(batches) + accumulation - 1) // accumulation))
    history = {"lr": [], "loss": [], "val_loss": []}
    seen, losses = 0, []
    for epoch in range(epochs):
        for inputs, targets in batches:
            if seen % accumulation == 0:
                optimizer.zero_grad()
                history["lr"].append(optimizer.param_groups[0]["lr"])
            loss = loss_fn(model(inputs), targets)
            (loss / accumulation).backward()
            losses.append(loss.item())
            seen += 1
            if seen % accumulation == 0:
                optimizer.step()
                scheduler.step()
                history["loss"].append(sum(losses) / len(losses))
                losses = []
        history["val_loss"].append(evaluate(model, val_set)[0])
    if losses:
        optimizer.step()
        scheduler.step()
        history["loss"].append(sum(losses) / len(losses))
    return history
""",
        fails=ALL,
    ),
    fit(
        "fit_steps_per_epoch",
        fit_variant(
            """            optimizer.step()
            scheduler.step()
            history["loss"].append(total / len(group))
        history["val_loss"].append(evaluate(model, val_set)[0])""",
            """            optimizer.step()
            history["loss"].append(total / len(group))
        scheduler.step()
        history["val_loss"].append(evaluate(model, val_set)[0])""",
        ),
        fails=ALL,
    ),
    fit(
        "fit_scheduler_before_optimizer",
        fit_variant(
            """            optimizer.step()
            scheduler.step()""",
            """            scheduler.step()
            optimizer.step()""",
        ),
        fails=ALL,
    ),
    fit(
        "fit_logs_rate_after_step",
        fit_variant(
            """            history["lr"].append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()""",
            """            optimizer.zero_grad()""",
        ).replace(
            """            scheduler.step()
            history["loss"]""",
            """            scheduler.step()
            history["lr"].append(optimizer.param_groups[0]["lr"])
            history["loss"]""",
        ),
        fails=(FIT_RATES,),
    ),
    fit(
        "fit_logs_rate_every_batch",
        counting_variant(
            """            if index == first:
                optimizer.zero_grad()
                history["lr"].append(optimizer.param_groups[0]["lr"])""",
            """            history["lr"].append(optimizer.param_groups[0]["lr"])
            if index == first:
                optimizer.zero_grad()""",
        ),
        fails=(FIT_RATES,),
    ),
    fit(
        "fit_divides_by_accumulation",
        fit_variant("(loss / len(group)).backward()", "(loss / accumulation).backward()"),
        fails=(FIT_LOSSES,),
    ),
    fit("fit_sums_gradients", fit_variant("(loss / len(group)).backward()", "loss.backward()"), fails=(FIT_LOSSES,)),
    fit(
        "fit_zero_grad_every_batch",
        counting_variant(
            """            if index == first:
                optimizer.zero_grad()
                history["lr"]""",
            """            optimizer.zero_grad()
            if index == first:
                history["lr"]""",
        ),
        fails=(FIT_LOSSES,),
    ),
    fit("fit_without_zero_grad", fit_variant("            optimizer.zero_grad()\n", ""), fails=(FIT_LOSSES,)),
    fit(
        "fit_logs_last_batch_loss",
        fit_variant('history["loss"].append(total / len(group))', 'history["loss"].append(loss.item())'),
        fails=(FIT_LOSSES,),
    ),
    other(
        "predict_one_cycle_wrong",  # not graded (0 points): a wrong prediction loses nothing
        "05_training",
        "predicted_one_cycle_per_epoch",
        "predicted_one_cycle_per_epoch = 'b'\n",
    ),
    # chapter 6's offline range test turned into a loop without its other two steps: one rate for every group
    # issue 23 (R23b): chapter 6's printed sweep retyped (its smoothing and stop included) without the two skills it
    # does not show, the groups' ratio and the restore: those carry 4 of the 7 points
    Answer(
        "range_printed_sweep_retyped",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio""",
            """        for group in optimizer.param_groups:
            group["lr"] = lr""",
            "    model.load_state_dict(saved_model)\n",
            "",
            "    optimizer.load_state_dict(saved_optimizer)\n",
            "",
        ),
        (RANGE_GROUPS, RANGE_RESTORES),
        score=3.0,
    ),
    range_test(
        "range_one_rate_for_every_group",
        range_variant(
            """        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio""",
            """        for group in optimizer.param_groups:
            group["lr"] = lr""",
        ),
        fails=(RANGE_GROUPS,),
    ),
    range_test(
        "range_ratio_read_after_first_group_set",
        range_variant(
            """        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio""",
            """        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr"] / optimizer.param_groups[0]["lr"]""",
        ),
        fails=(RANGE_GROUPS,),
    ),
    # issue 23 (R23w): the ratios taken against the constructor's rate, not the first group's current one. The fixture's
    # rates are half the constructor's (as after a scheduler's decay), so every group runs at half the test's rate:
    # the groups' ratio is kept, the first group's rates (and the losses they give) are wrong
    range_test(
        "range_ratio_against_defaults",
        range_variant(
            """    ratios = [group["lr"] / optimizer.param_groups[0]["lr"] for group in optimizer.param_groups]""",
            """    ratios = [group["lr"] / optimizer.defaults["lr"] for group in optimizer.param_groups]""",
        ),
        fails=(RANGE_RATES, RANGE_LOSSES, RANGE_SUGGESTION),
    ),
    Answer(  # never stops: the stop's point alone, as an answer that stops late or cuts its record (range_stops.py)
        "range_runs_every_step",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        if smoothed > diverge * best:
            break
""",
            "",
        ),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    # tests the stop before recording: the stop's step is taken, its rate and smoothed loss are not recorded. One
    # mistake, one charge: the losses' cell counts one loss too few; the rates' cell judges the rates listed against
    # the answer's own stop (each one right); the suggestion is unchanged (the lowest loss comes before the stop)
    Answer(
        "range_stops_before_recording",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > diverge * best:
            break""",
            """        best = min(best, smoothed)
        if smoothed > diverge * best:
            break
        lrs.append(lr)
        losses.append(smoothed)""",
        ),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    # records right, then takes one more optimizer step (at the next rate, recording nothing) before it breaks: the
    # losses' cell (the stop's point) counts the optimizer steps taken and charges it (issue 23, R23d's w13)
    Answer(
        "range_one_step_past_the_stop",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            "    for step in range(num_steps):\n",
            "    stop = False\n    for step in range(num_steps):\n",
            "        optimizer.step()\n",
            "        optimizer.step()\n        if stop:\n            break\n",
            "        if smoothed > diverge * best:\n            break",
            "        stop = smoothed > diverge * best",
        ),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    range_test(
        "range_linear_rates",
        range_variant(
            "lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))",
            "lr = start_lr + (end_lr - start_lr) * step / (num_steps - 1)",
        ),
        fails=(RANGE_RATES, RANGE_LOSSES, RANGE_SUGGESTION),
    ),
    range_test(
        "range_no_bias_correction",
        range_variant("smoothed = average / (1 - beta ** (step + 1))", "smoothed = average"),
        fails=(RANGE_LOSSES, RANGE_SUGGESTION),
    ),
    # the average started at the first loss instead of 0 and never corrected: close to the reference on some
    # cases (1.5e-3 at most on the hidden SGD case), far from it before the lowest loss on the visible one
    range_test(
        "range_average_starts_at_first_loss",
        range_variant(
            """        average = beta * average + (1 - beta) * loss.item()
        smoothed = average / (1 - beta ** (step + 1))""",
            """        average = loss.item() if step == 0 else beta * average + (1 - beta) * loss.item()
        smoothed = average""",
        ),
        fails=(RANGE_LOSSES,),
    ),  # its lowest loss is still right
    range_test(
        "range_cycle_repeats_first_pass",
        range_variant(
            "lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())",
            "import itertools\n    lrs, losses, average, best, stream = [], [], 0.0, math.inf, itertools.cycle(batches)",
        ),
        fails=(RANGE_LOSSES, RANGE_SUGGESTION),
    ),
    # divergence measured against the first smoothed loss, not the lowest so far: it stops late, or never
    range_test(
        "range_diverge_compared_with_first_loss",
        range_variant("""        if smoothed > diverge * best:""", """        if smoothed > diverge * losses[0]:"""),
        fails=(RANGE_LOSSES,),
    ),
    range_test(
        "range_suggests_minimum",
        range_variant(
            '"suggestion": lrs[losses.index(min(losses))] / 10', '"suggestion": lrs[losses.index(min(losses))]'
        ),
        fails=(RANGE_SUGGESTION,),
    ),
    other(
        "predict_steps_in_batches",  # not graded (0 points): a wrong prediction loses nothing
        "06_choosing_the_rate",
        "predicted_optimizer_steps",
        "predicted_optimizer_steps = 450\n",
    ),
]
