"""Chapter 6's stop rules other than the text's ("stop right after recording the first smoothed loss greater than
`diverge` times the lowest so far"), found by review R23f (issue 23): each kept the stop's point while every case used
diverge=4 and crossed the threshold in one step. The hidden cases with diverge 2.5 and 6 (or the visible one) charge
each of them the losses' point (the stop's) and nothing else: 6 of 7."""

from __future__ import annotations

from catalogue.answers import Answer
from catalogue.training import range_variant

RANGE_LOSSES = "test_range_losses"
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
