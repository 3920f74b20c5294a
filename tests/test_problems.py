"""lrcourse.problems: the toy problems behave as the chapter's prose says."""

import numpy as np
import pytest

from lrcourse import problems


@pytest.mark.parametrize("lr,shrinks", [(0.1, True), (0.45, True), (0.55, False)])
def test_gradient_descent_1d_converges_exactly_below_two_over_curvature(lr, shrinks):
    w = problems.gradient_descent_1d(lr, 100, curvature=4.0)
    assert (abs(w[-1]) < 1e-3) == shrinks
    assert problems.stability_bound(4.0) == 0.5


def test_gradient_descent_1d_oscillates_between_one_and_two_over_curvature():
    w = problems.gradient_descent_1d(0.4, 6, curvature=4.0)
    assert np.all(np.sign(w[1:]) != np.sign(w[:-1]))


def test_gradient_descent_2d_bound_is_set_by_the_steepest_direction():
    assert np.abs(problems.gradient_descent_2d(0.19, 300)[-1]).max() < 1e-3
    assert np.abs(problems.gradient_descent_2d(0.21, 300)[-1]).max() > 1


@pytest.mark.parametrize("lr", [0.05, 0.2, 0.5])
def test_noise_floor_formula_matches_simulation(lr):
    losses = problems.noisy_descent(np.full(2000, lr), runs=400, seed=1)
    assert losses[-500:].mean() == pytest.approx(problems.noise_floor(lr), rel=0.1)


def test_decaying_rate_ends_below_every_constant_rate():
    decaying = problems.noisy_descent(problems.inverse_time_decay(0.5, 0.2, 300))[-100:].mean()
    for lr in [0.5, 0.1, 0.02]:
        assert decaying < problems.noisy_descent(np.full(300, lr))[-100:].mean()


def test_noisy_descent_is_seeded():
    a = problems.noisy_descent(np.full(10, 0.1), seed=4)
    np.testing.assert_array_equal(a, problems.noisy_descent(np.full(10, 0.1), seed=4))
    assert not np.array_equal(a, problems.noisy_descent(np.full(10, 0.1), seed=5))


def test_simulated_validation_plateaus_at_a_floor_that_falls_with_the_rate():
    high, low = problems.SimulatedValidation(noise=0.0), problems.SimulatedValidation(noise=0.0)
    high_losses = [high.epoch(0.1) for _ in range(100)]
    low_losses = [low.epoch(0.01) for _ in range(400)]
    assert high_losses[-1] == pytest.approx(0.05 + 4 * 0.1, rel=1e-3)
    assert low_losses[-1] < high_losses[-1]
