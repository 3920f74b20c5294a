"""Chapter 6's stop rules other than the text's ("stop right after recording the first smoothed loss greater than
`diverge` times the lowest so far"), found by review R23f (issue 23): each kept the stop's point while every case used
diverge=4 and crossed the threshold in one step. The hidden cases with diverge 2.5 and 6 (or the visible one) charge
each of them the losses' point (the stop's) and nothing else: 6 of 7.

`RANGE_RECORDS`: one mistake about the stop or the record, each charged once (review rv57's W1: an answer that ran every
step and then cut its record at the first divergence, as the chapter's `range_test` does, lost the rates' cell as
well as the stop's, 5 of 7, below the answer that never stops, 6 of 7). The rates' cell judges that `result['lrs']`
lists the rates of the steps recorded: one per smoothed loss, or more, up to one per optimizer step taken plus the
stop's own step taken or not (rv27c W1, W2), that one only if the model computed a loss after its last step (a
forward pass seen after it: the stop's loss, its step untaken), and never more rates than num_steps, so the rate of a
step never tried is charged wherever the loop stopped (rv67 W1: the rate after a taken stop was free), however many
passes each step makes before its optimizer step (rv11's finding 1: an evaluation pass there freed it again). That rests on an
observation in the student's process (the README's security model) and stays lenient by that one rate where the
observer sees a pass after the last step that is not the stop's loss (an evaluation pass or a dummy `model(inputs)`
after the step) or sees fewer passes than optimizer steps (some hidden: a forward by hand from the weights, the
hooks cleared, patched or called by hand):
tests/test_range_stop_step.py pins it. How many steps were taken and where the record ends are the
losses' point (the answer that never stops is training_wrong's `range_runs_every_step`, 6 of 7). Records that list
rates other than those are the rates' mistake alone, their step taken or not. The record's mistakes come as twins
that differ only in taking the stop's own step, and each pair scores alike, a wrong stop with a record mistake too
(review rv9's finding 2: three such pairs, the last three here, scored 6 and 5 of 7; rv11's finding 1: the pair with
an evaluation pass before each step's training pass, 7 and 6), outside the leniency above: rv11's own twins with an
evaluation pass before the smoothing, which in the reference comes after `optimizer.step()`, each pair still one point apart
(rv13 N3)."""

from __future__ import annotations

from catalogue.answers import Answer
from catalogue.training import RANGE_REFERENCE, STOP_BEFORE_ITS_STEP, range_variant, variant

RANGE_RATES, RANGE_LOSSES = "test_range_rates", "test_range_losses"
RULES = (
    ("range_stop_hard_coded_4", "smoothed > 4.0 * best"),
    ("range_stop_hard_coded_2", "smoothed > 2.0 * best"),
    ("range_stop_at_half_diverge", "smoothed > 0.5 * diverge * best"),
    ("range_stop_at_three_quarters_diverge", "smoothed > 0.75 * diverge * best"),
    ("range_stop_at_or_above_nine_tenths_diverge", "smoothed >= 0.9 * diverge * best"),
    ("range_stop_at_five_quarters_diverge", "smoothed > 1.25 * diverge * best"),
    ("range_stop_at_one_and_a_half_diverge", "smoothed > 1.5 * diverge * best"),
)


def stop_rule(rule: str) -> str:
    """The reference with its stop test replaced by `rule`."""
    return range_variant("        if smoothed > diverge * best:", f"        if {rule}:")


RANGE_STOPS = [
    Answer(name, "06_choosing_the_rate", "lr_range_test", stop_rule(rule), (RANGE_LOSSES,), score=6.0)
    for name, rule in RULES
]


STOP = """        if smoothed > diverge * best:
            break
"""
RECORD = """        lrs.append(lr)
        losses.append(smoothed)
"""
NEXT_RATE = """        if smoothed > diverge * best:
            lrs.append(start_lr * (end_lr / start_lr) ** ((step + 1) / (num_steps - 1)))
            break
"""
RETURN = "    model.load_state_dict(saved_model)\n"
STEP = "        loss.backward()\n        optimizer.step()\n"
STOP_TEST = "        if smoothed > diverge * best:"
LATE, EARLY = "        if smoothed > 1.25 * diverge * best:", "        if smoothed > 2.0 * best:"
RATE_NOT_LOSS = (
    RECORD + "        best = min(best, smoothed)\n" + STOP,
    "        lrs.append(lr)\n        best = min(best, smoothed)\n" + STOP + "        losses.append(smoothed)\n",
)
EVAL_FIRST = (  # an evaluation pass before each step's training pass (rv11's finding 1: it freed the next rate taken)
    "        optimizer.zero_grad()\n",
    "        with torch.no_grad():\n            model(inputs)\n        optimizer.zero_grad()\n",
)
AFTER_THE_LOOP = (
    "    lrs.append(lrs[-1] * (end_lr / start_lr) ** (1 / (num_steps - 1)))\n    losses.append(losses[-1])\n"
)


def twins(taken: str, untaken: str, replacements: tuple, fails: tuple, score: float) -> list[Answer]:
    """A mistake made by the reference (the stop's own step taken) and by its twin that stops before that step's
    optimizer.step(): the twins differ in that step alone, which is free, so they must score alike (rv9's finding 2)."""
    return [
        Answer(name, "06_choosing_the_rate", "lr_range_test", variant(base, *replacements), fails, score=score)
        for name, base in ((taken, RANGE_REFERENCE), (untaken, STOP_BEFORE_ITS_STEP))
    ]


def run_every_step(recorded: str, cut: str) -> str:
    """The reference stepping all num_steps, remembering its first stop (`stop`), recording `recorded` at each step,
    then making the `cut` before it restores."""
    return range_variant(
        "    for step in range(num_steps):\n",
        "    stop = None\n    for step in range(num_steps):\n",
        RECORD,
        recorded,
        STOP,
        "        if stop is None and smoothed > diverge * best:\n            stop = step\n",
        RETURN,
        cut + RETURN,
    )


RANGE_RECORDS = [
    # rv57 W1: the chapter's range_test on the model in training: every step taken, the record cut at its stop
    Answer(
        "range_runs_every_step_then_cuts_at_the_stop",
        "06_choosing_the_rate",
        "lr_range_test",
        run_every_step(RECORD, "    if stop is not None:\n        lrs, losses = lrs[: stop + 1], losses[: stop + 1]\n"),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    # the same, recording only up to its stop as it goes
    Answer(
        "range_runs_every_step_recording_up_to_the_stop",
        "06_choosing_the_rate",
        "lr_range_test",
        run_every_step("        if stop is None:\n    " + RECORD.replace("\n        l", "\n            l"), ""),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    # every step taken, the record cut one step short of its stop (the stop's own step left out)
    Answer(
        "range_runs_every_step_then_cuts_before_the_stop",
        "06_choosing_the_rate",
        "lr_range_test",
        run_every_step(RECORD, "    if stop is not None:\n        lrs, losses = lrs[:stop], losses[:stop]\n"),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    # the stop's rate recorded, its loss not (the stop tested between the two): the losses' count, nothing else
    Answer(
        "range_records_the_stops_rate_not_its_loss",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(*RATE_NOT_LOSS),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    # the same with the stop's own step not taken (rv27c W1: it lost the rates' cell too, 5 of 7, below never stopping)
    Answer(
        "range_records_stop_rate_not_loss_step_untaken",
        "06_choosing_the_rate",
        "lr_range_test",
        variant(STOP_BEFORE_ITS_STEP, *RATE_NOT_LOSS),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    # the rates' mistakes: the stop's loss recorded but not its rate, its step taken or not (rv27c W2: not taken, it
    # kept every point); every planned rate listed, tried or not
    Answer(
        "range_records_the_stops_loss_not_its_rate",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            RECORD + "        best = min(best, smoothed)\n" + STOP,
            "        losses.append(smoothed)\n        best = min(best, smoothed)\n" + STOP + "        lrs.append(lr)\n",
        ),
        (RANGE_RATES,),
        score=6.0,
    ),
    Answer(
        "range_records_stop_loss_not_rate_step_untaken",
        "06_choosing_the_rate",
        "lr_range_test",
        variant(
            STOP_BEFORE_ITS_STEP,
            RECORD + "        best = min(best, smoothed)\n" + STOP + STEP,
            "        losses.append(smoothed)\n        best = min(best, smoothed)\n"
            + STOP
            + STEP
            + "        lrs.append(lr)\n",
        ),
        (RANGE_RATES,),
        score=6.0,
    ),
    # rv67 W1: the next step's rate listed at the stop (never tried), its step taken or not: it kept the point taken
    Answer(
        "range_lists_the_rate_after_the_stop",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(STOP, NEXT_RATE),
        (RANGE_RATES,),
        score=6.0,
    ),
    Answer(
        "range_lists_rate_after_stop_step_untaken",
        "06_choosing_the_rate",
        "lr_range_test",
        variant(STOP_BEFORE_ITS_STEP, STOP, NEXT_RATE),
        (RANGE_RATES,),
        score=6.0,
    ),
    Answer(
        "range_lists_every_planned_rate",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            "        lrs.append(lr)\n",
            "",
            RETURN,
            "    lrs = [start_lr * (end_lr / start_lr) ** (step / (num_steps - 1)) for step in range(num_steps)]\n"
            + RETURN,
        ),
        (RANGE_RATES,),
        score=6.0,
    ),
    # rv11's finding 1: the same with an evaluation pass before each step (more passes than steps): taken, it kept the
    # point, as the count of passes allowed one rate more; the rates' cell now asks for a pass after the last step
    *twins(
        "range_eval_first_lists_the_rate_after_the_stop",
        "range_eval_first_rate_after_stop_step_untaken",
        (STOP, NEXT_RATE, *EVAL_FIRST),
        (RANGE_RATES,),
        6.0,
    ),
    # rv9's finding 2: a wrong stop and a record mistake, each twin charged alike. A late stop whose record leaves
    # out its stop's loss: the stop's point alone (untaken, it lost the rates' too, 5 of 7, below never stopping)
    *twins(
        "range_late_stop_records_stop_rate_not_loss",
        "range_late_stop_rate_not_loss_step_untaken",
        (*RATE_NOT_LOSS, STOP_TEST, LATE),
        (RANGE_LOSSES,),
        6.0,
    ),
    # an early stop listing the next step's rate, never tried: both points (taken, it kept the rates' point)
    *twins(
        "range_early_stop_lists_the_next_rate",
        "range_early_stop_next_rate_step_untaken",
        (STOP, NEXT_RATE, STOP_TEST, EARLY),
        (RANGE_RATES, RANGE_LOSSES),
        5.0,
    ),
    # a rate and a loss listed after the loop (the next rate, the last loss again): a rate never tried and a record
    # one too long, both points (taken, it kept the rates' point)
    *twins(
        "range_lists_a_rate_and_loss_after_the_loop",
        "range_rate_and_loss_after_loop_step_untaken",
        (RETURN, AFTER_THE_LOOP + RETURN),
        (RANGE_RATES, RANGE_LOSSES),
        5.0,
    ),
]
