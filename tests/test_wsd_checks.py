"""Chapter 7's checks in this process, fast: what each judge accepts and what its messages say (the grading itself,
through nbgrader, the trusted verdicts and the sandbox, is tests/test_grading_fidelity.py::TestPractice)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler

from lrcourse.checking import CheckFailed, NotAnswered, check_wsd, check_wsd_edges, check_wsd_resume
from lrcourse.checking.expected import ExpectedValues

from catalogue.answers import variant
from catalogue.wsd import WSD_CORRECT, WSD_REFERENCE
from catalogue.wsd_wrong import WSD_WRONG


def answer(source: str):
    """The `wsd_factor` an answer cell defines, run after what the chapter's setup imports."""
    namespace = {"math": math, "np": np, "torch": torch, "nn": nn, "lr_scheduler": lr_scheduler}
    exec(source, namespace)
    return namespace["wsd_factor"]


def closed_form(step: int, warmup: int, stable: int, decay: int, start: float) -> float:
    if step < warmup:
        return start + (1 - start) * step / warmup
    return 1.0 if step < warmup + stable else max(0.0, (warmup + stable + decay - step) / decay) ** 2


@pytest.mark.parametrize("case", [(5, 10, 5, 0.1), (1, 0, 1, 0.5), (4, 0, 3, 1.0)])
def test_the_grader_s_sequential_lr_is_the_schedule_the_exercise_states(case):
    payload = dict(zip(("warmup", "stable", "decay", "start_factor"), case)) | {"lr": 0.5, "steps": sum(case[:3]) + 3}
    rates = ExpectedValues().reference_wsd(payload)["lrs"]
    assert np.allclose(rates, [0.5 * closed_form(s, *case) for s in range(payload["steps"])], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("correct", WSD_CORRECT, ids=lambda a: a.name)
def test_every_catalogued_correct_answer_passes_every_judge(correct):
    factory = answer(correct.source)
    check_wsd(factory, warmup=3, stable=0, decay=4, start_factor=0.25, lr=2.0)
    check_wsd_resume(factory, warmup=4, stable=3, decay=8, start_factor=0.25, resume_at=9)


def test_a_wrong_boundary_is_named_by_step_phase_and_both_rates():
    late = answer(variant(WSD_REFERENCE, "(total - step) / decay_steps", "(total - 1 - step) / decay_steps"))
    check_wsd(late, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("warm-up",))  # the warm-up is right
    with pytest.raises(CheckFailed) as failed:
        check_wsd(late, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    message = str(failed.value)
    assert "at step 15, the decay's step 1 of 5 (steps 15 to 19), the optimizer's rate is 0.064" in message
    assert "SequentialLR of LinearLR, ConstantLR and PolynomialLR) is 0.1" in message
    assert "total" not in message  # the formula is not given away


def test_a_factor_that_counts_its_calls_fails_the_resume_as_a_closure_and_as_an_object():
    counting = answer(
        variant(
            WSD_REFERENCE,
            "    def factor(step):\n",
            "    calls = [0]\n\n    def factor(_):\n        step = calls[0]\n        calls[0] += 1\n",
        )
    )
    check_wsd(counting, warmup=5, stable=10, decay=5, start_factor=0.1)  # right in one go
    with pytest.raises(CheckFailed, match="resumed in a new optimizer and a new LambdaLR .* at step 18"):
        check_wsd_resume(counting, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)
    [as_object] = [a for a in WSD_WRONG if a.name == "callable_object_counts_its_calls"]
    with pytest.raises(CheckFailed, match="stepped through the steps"):  # its count is saved: only the probe sees it
        check_wsd_resume(answer(as_object.source), warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


@pytest.mark.parametrize(
    "scheduler",
    ["lr_scheduler.ConstantLR(optimizer, factor=0.5)", "torch.optim.swa_utils.SWALR(optimizer, swa_lr=0.5)"],
)
def test_any_use_of_pytorch_s_schedulers_by_the_answer_fails(scheduler):
    source = variant(
        WSD_REFERENCE,
        "    total = ",
        f"    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)\n    {scheduler}\n    total = ",
    )
    with pytest.raises(CheckFailed, match="wsd_factor ran PyTorch's schedulers"):
        check_wsd(answer(source), warmup=5, stable=10, decay=5, start_factor=0.1)


def test_an_unanswered_exercise_says_so_and_a_constant_factor_has_no_resume_to_judge():
    def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
        raise NotImplementedError()

    with pytest.raises(NotAnswered):
        check_wsd(wsd_factor, warmup=5, stable=10, decay=5, start_factor=0.1)
    with pytest.raises(CheckFailed, match=r"your rate is 0\.1 at every step, so a resume, right or wrong, would give"):
        check_wsd_resume(lambda *args: lambda step: 1.0, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


def test_a_wrong_decay_flat_at_the_checkpoint_is_saved_where_its_rates_still_change():
    """Reviewer R24e: a decay that is all zeros from step 16 (floor division) or from the decay's start (counted from
    the warm-up's end), or a placeholder 1.0 for the decay, is flat after step 17: the run is saved at the last step
    before it after which the answer's own rates change, and a function of the step resumes exactly there. A call
    counter is still caught, saved there too."""
    for name in ("decay_by_floor_division", "decay_counted_from_the_warmup_end", "warmup_only", "warmup_a_placeholder"):
        flat = wrong(name)
        for case in [(5, 10, 5, 0.1, 17), (27, 189, 54, 1 / 27, 243), (4, 3, 8, 0.25, 8), (10, 20, 10, 0.1, 38)]:
            check_wsd_resume(flat, *case)
    [from_warmup_end] = [a for a in WSD_WRONG if a.name == "decay_counted_from_the_warmup_end"]
    counter = "    calls = 0\n\n    def factor(_):\n        nonlocal calls\n        step, calls = calls, calls + 1\n"
    counted = answer(variant(from_warmup_end.source, "    def factor(step):\n", counter))
    with pytest.raises(CheckFailed, match=r"saved at step 14 .* at step 15, the decay's step 1 of 5"):
        check_wsd_resume(counted, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


def test_the_resume_is_judged_against_the_answer_s_own_run_not_pytorch_s():
    """A decay off by one, or any function of the step, is the decay test's: resumed, it goes on exactly as it would
    have, and earns the resume."""
    off_by_one = wrong("decay_one_step_ahead")
    with pytest.raises(CheckFailed):
        check_wsd(off_by_one, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    for case in [(5, 10, 5, 0.1, 17), (27, 189, 54, 1 / 27, 243), (10, 20, 10, 0.1, 38)]:
        check_wsd_resume(off_by_one, *case)

    def falling(warmup_steps, stable_steps, decay_steps, start_factor):
        return lambda step: 1 / (1 + step)  # every phase wrong, and it resumes exactly

    check_wsd_resume(falling, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


class Scaled:
    """Not a number, but LambdaLR's base_lr * factor makes one of it."""

    def __init__(self, value):
        self.value = value

    def __rmul__(self, other):
        return other * self.value


def test_a_factor_judged_by_the_rate_lambda_lr_makes_of_it_run_and_out_of_order_alike():
    """The steps out of order go through LambdaLR as the run does (issue 24, R24k), so what is judged there is the
    rate LambdaLR makes of the factor, a number here, as in the run: the resume has nothing to charge."""
    reference = answer(WSD_REFERENCE)
    boxed = lambda *arguments: lambda step: Scaled(reference(*arguments)(step))  # noqa: E731
    check_wsd_resume(boxed, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)
    check_wsd(boxed, warmup=5, stable=10, decay=5, start_factor=0.1)


def correct(name: str, old: str = "", new: str = ""):
    """The catalogue's correct answer `name`, with `old` replaced by `new` if given, as a function."""
    source = next(a.source for a in WSD_CORRECT if a.name == name)
    return answer(variant(source, old, new) if old else source)


def test_a_zero_dimensional_numpy_array_is_a_number():
    where = correct("numpy_where")
    assert type(where(5, 10, 5, 0.1)(3)) is np.ndarray
    check_wsd_resume(where, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


def test_a_factor_that_cannot_be_checkpointed_is_told_that_state_dict_failed():
    slotted = correct(
        "callable_object", "class WSD:\n", "class WSD:\n    __slots__ = ('warmup', 'decay_start', 'decay', 'start')\n\n"
    )
    check_wsd(slotted, warmup=5, stable=10, decay=5, start_factor=0.1)  # right, until it is saved
    with pytest.raises(
        CheckFailed,
        match=r"start_factor=0.1\)\): LambdaLR.s state_dict\(\) could not be saved at step 17 \(AttributeError: "
        r".*cannot be checkpointed",
    ):
        check_wsd_resume(slotted, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


def test_what_of_a_callable_object_s_state_is_not_plain_data_stays_as_the_new_factor_built_it():
    """The checkpoint crosses to a new process as plain data: a module (or a lambda) in the object's __dict__ cannot,
    and the new factor keeps its own, built from the same arguments, so a correct object resumes (it once failed here:
    the copy in memory the tests kept could not copy a module). What is plain data crosses: an object that keeps its
    count in __dict__ resumes the run, as LambdaLR's state_dict() lets it, and loses only the steps out of order."""
    holding = correct(
        "callable_object",
        "        self.decay, self.start = decay_steps, start_factor\n",
        "        self.decay, self.start = decay_steps, start_factor\n        self.np = np  # a module in its state\n",
    )
    check_wsd_resume(holding, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)
    counting = wrong("callable_object_counts_its_calls")
    with pytest.raises(
        CheckFailed, match=r"stepped through the steps \[40, 22, 17, 4, 0, 19, 2, 5, 17, 15, 1\] in this order"
    ):
        check_wsd_resume(counting, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


def test_a_factor_that_comes_back_after_the_end_fails_far_past_it():
    back = answer(
        variant(
            WSD_REFERENCE,
            "        return max(0.0,",
            "        if step >= total + 3:\n            return 1.0\n        return max(0.0,",
        )
    )
    with pytest.raises(CheckFailed, match=r"at step 23, 4 step\(s\) after the schedule's last step \(19\)"):
        check_wsd(back, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    later = answer(
        variant(
            WSD_REFERENCE,
            "        return max(0.0,",
            "        if step >= 2 * total:\n            return 1.0\n        return max(0.0,",
        )
    )
    with pytest.raises(CheckFailed, match=r"at step 40, 21 step\(s\) after the schedule's last step \(19\)"):
        check_wsd(later, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))


EDGES = [(1, 0, 1, 0.5), (1, 3, 1, 0.3), (4, 0, 1, 1.0), (2, 0, 1, 0.5)]
OTHER_PHASE = {"warm-up": "decay", "decay": "warm-up"}


def wrong(name: str):
    return answer(next(a.source for a in WSD_WRONG if a.name == name))


def test_the_edges_charge_an_edge_slip_and_leave_a_whole_warm_up_s_slip_to_its_own_test():
    check_wsd_edges(answer(WSD_REFERENCE), EDGES)
    edge_slip = wrong("one_step_warmup_taken_as_none")
    check_wsd(edge_slip, warmup=5, stable=10, decay=5, start_factor=0.1)  # right in a regular schedule
    with pytest.raises(CheckFailed, match=r"wsd_factor\(warmup_steps=1, .* at step 0, the warm-up's step 1 of 1"):
        check_wsd_edges(edge_slip, EDGES)
    no_stable = wrong("no_stable_phase_shifts_the_phase_index")
    check_wsd(no_stable, warmup=5, stable=10, decay=5, start_factor=0.1)
    with pytest.raises(CheckFailed, match=r"stable_steps=0, .* at step 2, 1 step\(s\) after the schedule's last step"):
        check_wsd_edges(no_stable, EDGES)
    slipped = wrong("warmup_from_zero")
    with pytest.raises(CheckFailed):  # the warm-up's slip is its test's to charge...
        check_wsd(slipped, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("warm-up",))
    check_wsd(slipped, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    check_wsd_edges(slipped, EDGES)  # ... not the edges' (a wrong warm-up is not judged there)

    over_w_minus_1 = wrong("warmup_over_W_minus_1")  # raises ZeroDivisionError at step 0 of a one-step warm-up
    with pytest.raises(CheckFailed, match=r"at step 0, .* not a number: the factor raised ZeroDivisionError"):
        check_wsd(over_w_minus_1, warmup=1, stable=3, decay=1, start_factor=0.3)
    check_wsd(over_w_minus_1, warmup=1, stable=3, decay=1, start_factor=0.3, phases=("decay",))  # the steps after it
    check_wsd_edges(over_w_minus_1, EDGES)


@pytest.mark.parametrize(
    "name",
    [
        "decay_one_step_ahead",
        "decays_to_a_floor",
        "decay_not_clamped_at_zero",
        "decay_holds_its_last_step_after_the_end",
        "copied_from_the_release",
        "decay_counted_from_the_warmup_end",
        "warmup_only",
        "decay_divided_by_decay_plus_stable",
    ],
)
def test_a_decay_wrong_in_the_long_schedules_is_not_judged_at_the_edges(name):
    """The decay test charges the decay; at the edges its steps are skipped, as a wrong warm-up's are, and the warm-up
    is judged: a decay that depends on the other phases' lengths (the release's, counted from the warm-up's end) or
    none at all keeps the edges too (issue 24, R24m's a3: a twin run held such a decay to the answer's own, and a
    stateful answer decayed in the twin as the edge case had)."""
    slipped = wrong(name)
    with pytest.raises(CheckFailed):
        check_wsd(slipped, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    check_wsd(slipped, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("warm-up",))
    check_wsd_edges(slipped, EDGES + [(1, 1, 2, 0.01), (6, 0, 9, 0.2)])


def test_at_the_peak_step_the_edges_say_pytorch_s_rate_once():
    """The peak step belongs to the warm-up and the decay, and both judge it by the same clause: the message says it
    once (issue 24, R24za's N1: a total with max(stable_steps, 1) repeated it)."""
    slip = answer(
        variant(
            WSD_REFERENCE,
            "total = warmup_steps + stable_steps + decay_steps",
            "total = warmup_steps + max(stable_steps, 1) + decay_steps",
        )
    )
    with pytest.raises(CheckFailed) as failed:
        check_wsd_edges(slip, EDGES)
    message = str(failed.value)
    assert "at step 1, the peak the warm-up reaches" in message
    assert message.count("the schedule's (") == 1, message


def test_with_the_decay_wrong_the_edges_still_judge_the_warm_up():
    """Skipping a wrong decay's steps skips no warm-up step: a decay counted from the warm-up's end and a one-step
    warm-up taken for none loses the edges at the warm-up's step 0, and with neither phase right they are lost."""
    both = answer(
        variant(
            next(a.source for a in WSD_WRONG if a.name == "decay_counted_from_the_warmup_end"),
            "        if step < warmup_steps:\n",
            "        if warmup_steps > 1 and step < warmup_steps:\n",
        )
    )
    check_wsd(both, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("warm-up",))
    with pytest.raises(CheckFailed, match=r"wsd_factor\(warmup_steps=1, .* at step 0, the warm-up's step 1 of 1"):
        check_wsd_edges(both, EDGES)
    with pytest.raises(CheckFailed, match="neither your warm-up nor your stable phase and decay"):
        check_wsd_edges(wrong("a_falling_function_of_the_step"), EDGES)


def test_the_peak_is_the_warm_up_s_so_a_warm_up_reaching_it_late_loses_the_warm_up_only():
    """Reviewer R24f: a warm-up spread over W + 1 steps is wrong at step W too. That step is the warm-up test's (the
    peak it reaches), not the decay test's, and at the edges a wrong warm-up is not judged: it keeps decay and edges."""
    late = wrong("warmup_reaches_the_peak_a_step_late")
    assert math.isclose(late(5, 10, 5, 0.1)(5), 0.1 + 0.9 * 5 / 6)  # below the peak at step W
    with pytest.raises(CheckFailed, match=r"at step 1, the warm-up's step 2 of 5"):
        check_wsd(late, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("warm-up",))
    check_wsd(late, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    check_wsd(late, warmup=4, stable=3, decay=7, start_factor=0.25, phases=("decay",))
    check_wsd_edges(late, EDGES + [(1, 1, 2, 0.01), (6, 0, 9, 0.2)])

    def wrong_at_the_peak(warmup_steps, stable_steps, decay_steps, start_factor):
        factor = answer(WSD_REFERENCE)(warmup_steps, stable_steps, decay_steps, start_factor)
        return lambda step: 0.5 if step == warmup_steps else factor(step)

    with pytest.raises(
        CheckFailed, match=r"at step 5, the peak the warm-up reaches and the stable phase's step 1 of 10"
    ):
        check_wsd(wrong_at_the_peak, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("warm-up",))
    check_wsd(wrong_at_the_peak, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))


def test_a_stable_phase_a_step_short_is_the_decay_test_s_and_matches_its_own_at_the_edges():
    """Reviewer R24f: the stable phase's last step runs the decay's formula, above the peak, in every schedule: the
    decay test charges it; at the edges the steps after the peak are the decay's, wrong in the long schedules, and
    not judged again."""
    short = wrong("stable_phase_a_step_short")
    assert math.isclose(short(1, 1, 2, 0.01)(1), 2.25)  # the peak of a one-step stable phase
    with pytest.raises(CheckFailed, match=r"at step 14, the stable phase's step 10 of 10 .* rate is 0\.144"):
        check_wsd(short, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    check_wsd(short, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("warm-up",))
    check_wsd_edges(short, EDGES + [(1, 1, 2, 0.01), (2, 5, 3, 1.0), (6, 0, 9, 0.2)])


def test_an_answer_right_in_long_schedules_is_held_to_pytorch_at_every_edge_step_the_peak_included():
    """The peak passes by either phase's judge only where a phase is wrong in long schedules (and charged there): an
    answer right in them that is wrong at the peak of a schedule without stable phase loses the edges."""
    reference = answer(WSD_REFERENCE)

    def no_peak_without_stable(warmup_steps, stable_steps, decay_steps, start_factor):
        factor = reference(warmup_steps, stable_steps, decay_steps, start_factor)
        return lambda step: 0.5 if stable_steps == 0 and step == warmup_steps else factor(step)

    check_wsd(no_peak_without_stable, warmup=5, stable=10, decay=5, start_factor=0.1)
    check_wsd(no_peak_without_stable, warmup=4, stable=3, decay=7, start_factor=0.25)
    with pytest.raises(
        CheckFailed, match=r"stable_steps=0, .* at step 1, the peak the warm-up reaches and the decay's"
    ):
        check_wsd_edges(no_peak_without_stable, EDGES)


def test_a_decay_that_raises_at_one_decay_step_keeps_the_edges_as_a_warm_up_that_raises_at_one_step_does():
    """Reviewer R24g: a decay over D - 1 steps divides by zero at decay_steps=1. Wrong in the long schedules too, it is
    the decay test's to charge (a step that raises is not a number), and at the edges its steps are not judged, as a
    warm-up over W - 1 steps, which divides by zero at W = 1, keeps them."""
    source = next(a.source for a in WSD_WRONG if a.name == "decay_reaches_zero_on_the_last_step")
    wrong_source = source.replace("max(1, decay_steps - 1)", "(decay_steps - 1)")
    assert wrong_source != source
    no_div = answer(wrong_source)
    with pytest.raises(ZeroDivisionError):
        no_div(1, 0, 1, 0.5)(1)
    with pytest.raises(CheckFailed, match=r"at step 15, the decay's step 1 of 1 .* raised ZeroDivisionError"):
        check_wsd(no_div, warmup=5, stable=10, decay=1, start_factor=0.1, phases=("decay",))
    check_wsd_edges(no_div, EDGES)


SAVED_COUNTER = """
class WSD:
    # A warm-up, then 1.0 (flat after the warm-up: the run is saved at its last step), from a count of its calls, or,
    # with `memo`, of its calls at a new step; the count is in its __dict__, so state_dict() keeps it and it resumes

    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor, memo):
        self.warmup, self.start, self.memo, self.calls, self.last = warmup_steps, start_factor, memo, -1, -1

    def __call__(self, step):
        if not (self.memo and step == self.last):
            self.calls, self.last = self.calls + 1, step
        if self.calls < self.warmup:
            return self.start + (1 - self.start) * self.calls / self.warmup
        return 1.0


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor, MEMO)
"""


@pytest.mark.parametrize("memo", [False, True])
def test_the_probe_saved_at_the_warm_up_s_last_step_still_shows_a_call_counter(memo):
    """R24u's nit: saved at W - 1 (`_checkpoint_step`: the answer's rates flat after resume_at), the probe asks W - 1
    twice in a row. A counter of its calls, or of its calls at a new step, that resumes (its count saved) is still
    caught by the steps out of order."""
    counter = answer(SAVED_COUNTER.replace("MEMO", str(memo)))
    with pytest.raises(CheckFailed, match=r"stepped through the steps \[40, 22, 4, 4, 0, 19, 2, 5, 4, 15, 1\]"):
        check_wsd_resume(counter, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)
