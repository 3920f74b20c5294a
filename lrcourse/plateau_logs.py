"""Logged runs for chapter 3's Exercise 3.1, reading a run: what a practitioner has in hand after training (a
validation loss per epoch and the rate each epoch used), never what produced them.

- `READ_RUN`: one run of `ReduceLROnPlateau(mode="min")` from lr 0.1 (its other arguments are the question);
  `rates[i]` is the rate after the i-th `step(val_loss[i])`.
- `LOOPS`: one validation and one training loss per epoch, and four logs of the rate each epoch used, from four
  loops stepping `ReduceLROnPlateau(factor=0.5, patience=2)` from lr 0.01 (which loop wrote which log is the question).

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
    "val_loss": [1.20, 0.95, 0.82, 0.80, 0.81, 0.805, 0.81, 0.70, 0.66, 0.65, 0.655, 0.652, 0.66, 0.62, 0.61, 0.615],
    "train_loss": [1.40, 1.02, 0.85, 0.74, 0.67, 0.62, 0.58, 0.55, 0.52, 0.49, 0.47, 0.45, 0.43, 0.415, 0.40, 0.39],
    "rates": {
        "A": [0.01] * 8 + [0.005] * 6 + [0.0025] * 2,
        "B": [0.01] * 16,
        "C": [0.01] * 7 + [0.005] * 6 + [0.0025] * 3,
        "D": [0.01, 0.0025, 0.000625, 0.00015625, 7.8125e-05, 1.953125e-05, 2.44140625e-06, 6.103515625e-07,
              7.62939453125e-08] + [1.9073486328125e-08] * 7,
    },
}  # fmt: skip
