"""Toy problems where the effect of a learning rate can be seen exactly.

- Gradient descent on quadratics (1-D and an ill-conditioned 2-D bowl).
- Stochastic gradient descent with noisy gradients: the noise floor a constant rate stalls at.
- A simulated validation loss that plateaus and responds to the learning rate, for chapter 3.
All randomness comes from an explicit seed, so every figure repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def quadratic_loss(w, curvature: float = 1.0):
    """f(w) = curvature * w**2 / 2, whose gradient is curvature * w."""
    return 0.5 * curvature * np.asarray(w) ** 2


def gradient_descent_1d(lr: float, steps: int, curvature: float = 1.0, w0: float = 1.0) -> np.ndarray:
    """Weights w_0 .. w_steps of w <- w - lr * f'(w) on the 1-D quadratic."""
    w = np.empty(steps + 1)
    w[0] = w0
    for t in range(steps):
        w[t + 1] = w[t] - lr * curvature * w[t]
    return w


def stability_bound(curvature: float) -> float:
    """Gradient descent on a quadratic converges exactly when 0 < lr < 2 / curvature.

    Each step multiplies w by (1 - lr * curvature); the iterates shrink when |1 - lr*curvature| < 1.
    """
    return 2.0 / curvature


def gradient_descent_2d(lr: float, steps: int, curvatures=(1.0, 10.0), start=(-1.8, 0.9)) -> np.ndarray:
    """Path (steps + 1, 2) of gradient descent on f(x, y) = (a x^2 + b y^2) / 2."""
    a = np.asarray(curvatures, dtype=float)
    path = np.empty((steps + 1, 2))
    path[0] = start
    for t in range(steps):
        path[t + 1] = path[t] - lr * a * path[t]
    return path


def quadratic_2d_loss(x, y, curvatures=(1.0, 10.0)):
    a, b = curvatures
    return 0.5 * (a * np.asarray(x) ** 2 + b * np.asarray(y) ** 2)


def noisy_descent(
    lrs, curvature: float = 1.0, noise: float = 1.0, w0: float = 3.0, runs: int = 200, seed: int = 0
) -> np.ndarray:
    """Mean loss per step of SGD whose gradient is curvature * w + noise * N(0, 1).

    `lrs` holds the rate of each step (a schedule); the mean is over `runs` independent runs,
    all seeded, so the curve is smooth and repeatable. Returns len(lrs) + 1 values.
    """
    rng = np.random.default_rng(seed)
    w = np.full(runs, w0, dtype=float)
    losses = [quadratic_loss(w, curvature).mean()]
    for lr in lrs:
        gradient = curvature * w + noise * rng.standard_normal(runs)
        w = w - lr * gradient
        losses.append(quadratic_loss(w, curvature).mean())
    return np.array(losses)


def noise_floor(lr: float, curvature: float = 1.0, noise: float = 1.0) -> float:
    """The mean loss constant-rate SGD settles at on the noisy quadratic, in the limit of many steps
    (for 0 < lr < 2 / curvature). About lr s^2 / 4, proportional to the rate, only when lr a << 2.

    The stationary variance of w solves v = (1 - lr a)^2 v + lr^2 s^2, so
    E[f] = a v / 2 = lr s^2 / (2 (2 - lr a)): larger rates stall higher.
    """
    return lr * noise**2 / (2.0 * (2.0 - lr * curvature))


def expected_noisy_loss(lrs, curvature: float = 1.0, noise: float = 1.0, w0: float = 3.0) -> np.ndarray:
    """The exact expected loss per step of the SGD that `noisy_descent` simulates (no sampling error).

    With gradient a w + s N(0, 1), the second moment v_t = E[w_t^2] follows
    v_{t+1} = (1 - lr_t a)^2 v_t + lr_t^2 s^2 from v_0 = w0^2, and E[f_t] = a v_t / 2. For a constant
    rate it tends to `noise_floor`; `noisy_descent` differs from it only by the average of finitely many runs.
    """
    v = [w0**2]
    for lr in lrs:
        v.append((1.0 - lr * curvature) ** 2 * v[-1] + lr**2 * noise**2)
    return 0.5 * curvature * np.array(v)


def inverse_time_decay(lr0: float, decay: float, steps: int) -> np.ndarray:
    """lr_t = lr0 / (1 + decay * t), a classic decaying rate for noisy gradients."""
    return lr0 / (1.0 + decay * np.arange(steps))


@dataclass
class SimulatedValidation:
    """A validation loss that improves while the rate allows and plateaus when it does not.

    Each epoch the loss moves a fraction of the way toward a floor that grows with the learning
    rate (too large a rate cannot settle into the minimum), plus seeded noise. Reducing the rate
    lowers the floor, so a plateau ends after a reduction, as it does in real training.
    """

    start: float = 2.0
    floor_per_lr: float = 4.0
    best_possible: float = 0.05
    speed: float = 0.25
    noise: float = 0.02
    seed: int = 0

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)
        self.loss = self.start

    def epoch(self, lr: float) -> float:
        floor = self.best_possible + self.floor_per_lr * lr
        progress = min(self.speed * lr / 0.1, 0.9)
        self.loss = floor + (self.loss - floor) * (1.0 - progress)
        return float(self.loss + self.noise * self.rng.standard_normal())
