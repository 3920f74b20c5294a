"""Logged runs for chapter 3's Exercise 3.4, reading a run: what a practitioner has in hand after training (a
validation loss per epoch and the rate each epoch used), never what produced them.

- `READ_RUN`: one run of `ReduceLROnPlateau(mode="min")` from lr 0.1 (its other arguments are the question);
  `rates[i]` is the rate after the i-th `step(val_loss[i])`.
- `LOOPS`: a validation loss, a training loss and a validation accuracy per epoch, and four logs of the rate each
  epoch started with, from four loops stepping `ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2,
  threshold=0.01)` from lr 0.01 with one of them (which loop wrote which log is the question).

Plain data only: the course's answers are in the hidden tests, not here.
"""

from __future__ import annotations

READ_RUN = {
    "lr": 0.1,
    "val_loss": [
        2.50, 2.20, 1.97, 1.95, 1.91, 1.93, 1.92, 1.925, 1.60, 1.45, 1.32, 1.20, 1.09, 1.00, 0.91, 0.83, 0.76, 0.70,
        0.64, 0.59, 0.545, 0.50, 0.51, 0.505, 0.508, 0.502, 0.48477, 0.49, 0.488, 0.487, 0.486, 0.4855, *[0.49] * 11,
        0.40, 0.35, 0.33, 0.32,
    ],
    "rates": [0.1] * 7 + [0.04] * 24 + [0.016] * 11 + [0.0064] * 5,
}  # fmt: skip

LOOPS = {
    "lr": 0.01,
    "val_loss": [
        1.20, 0.95, 0.82, 0.80, 0.796, 0.81, 0.799, 0.70, 0.66, 0.65, 0.648, 0.652, 0.645, 0.62, 0.61, 0.615,
    ],
    "train_loss": [
        1.30, 0.90, 0.76, 0.758, 0.755, 0.753, 0.66, 0.62, 0.618, 0.616, 0.614, 0.55, 0.52, 0.50, 0.49, 0.48,
    ],
    "val_accuracy": [
        0.62, 0.60, 0.66, 0.70, 0.71, 0.70, 0.74, 0.76, 0.75, 0.77, 0.77, 0.76, 0.79, 0.80, 0.80, 0.81,
    ],
    "rates": {
        "A": [0.01] * 6 + [0.005] * 5 + [0.0025] * 5,
        "B": [0.01] * 8 + [0.005] * 6 + [0.0025] * 2,
        "C": [0.01] * 5 + [0.005] * 5 + [0.0025] * 5 + [0.00125],
        "D": [0.01] * 7 + [0.005] * 6 + [0.0025] * 3,
    },
}  # fmt: skip
