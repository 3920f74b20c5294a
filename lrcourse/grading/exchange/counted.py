"""Counts of folder entries as the exchange's lines and records say them."""

from __future__ import annotations


def entries(count: int) -> str:
    """`1 entry`, `2 entries`, `1,000 entries`."""
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"
