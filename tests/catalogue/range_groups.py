"""Chapter 6's range tests that keep every group's ratio but take it against another group than the first, found by
review R23c (issue 23): fastai's `slice(lr / 100, lr)` (chapter 7) gives the last group `lr`, and a student may
take the largest rate as the reference. With two groups the first group then runs at 1 / the head's ratio times the
test's rate. Every case but the groups' used one group, and the groups' cell judges only the ratio, so both got 7 of
7; the rates' cell's hidden two-group cases (the head at 3 and at 0.1 x the first) charge each the rates' point:
6 of 7 (the losses and the suggestion are judged on one group, where the two forms are right)."""

from __future__ import annotations

from catalogue.answers import Answer
from catalogue.training import range_variant

RANGE_RATES = "test_range_rates"
FIRST_GROUP = """    ratios = [group["lr"] / optimizer.param_groups[0]["lr"] for group in optimizer.param_groups]"""
REFERENCES = (
    # the last group at lr (fastai's convention): the first runs at lr / 3 beside a head at 3 x, at 10 x lr beside 0.1 x
    ("range_ratios_against_the_last_group", 'optimizer.param_groups[-1]["lr"]'),
    # the largest group at lr: the first runs at lr / 3 beside a head at 3 x; beside a head at 0.1 x it is right
    ("range_ratios_against_the_largest_group", 'max(g["lr"] for g in optimizer.param_groups)'),
)


def ratios_against(reference: str) -> str:
    """The reference with every group's ratio taken against `reference` instead of the first group's rate."""
    return range_variant(
        FIRST_GROUP, f"""    ratios = [group["lr"] / {reference} for group in optimizer.param_groups]"""
    )


RANGE_GROUP_WRONG = [
    Answer(name, "06_choosing_the_rate", "lr_range_test", ratios_against(reference), (RANGE_RATES,), score=6.0)
    for name, reference in REFERENCES
]
