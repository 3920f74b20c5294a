"""lrcourse.schedules: curves come from PyTorch's schedulers, stepped in PyTorch's order."""

import warnings

import numpy as np
import pytest
from torch.optim import lr_scheduler

from lrcourse.schedules import lr_curve, make_optimizer, plateau_run


def test_step_lr_curve_is_piecewise_constant_with_decay_at_multiples_of_step_size():
    rates = lr_curve(lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5), epochs=7, lrs=1.0)
    np.testing.assert_allclose(rates, [1, 1, 1, 0.5, 0.5, 0.5, 0.25])


def test_one_column_per_parameter_group():
    rates = lr_curve(lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.5), epochs=3, lrs=[1.0, 0.1])
    assert rates.shape == (3, 2)
    np.testing.assert_allclose(rates[:, 1], [0.1, 0.05, 0.025])


def test_curves_are_computed_without_pytorch_order_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lr_curve(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=5), epochs=12)


def test_cosine_rises_again_past_t_max():
    rates = lr_curve(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.0), epochs=21, lrs=1.0)
    assert rates[10] == pytest.approx(0.0, abs=1e-12)
    assert rates[20] == pytest.approx(1.0)


def test_metrics_are_passed_to_plateau_schedulers():
    metrics = [1.0, 1.0, 1.0, 1.0]
    rates = lr_curve(
        lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5), epochs=4, lrs=1.0, metrics=metrics
    )
    np.testing.assert_allclose(rates, [1, 1, 1, 0.5])


def test_make_optimizer_has_a_group_per_rate():
    assert [g["lr"] for g in make_optimizer([0.1, 0.2]).param_groups] == [0.1, 0.2]


def test_plateau_run_records_reductions_consistently():
    record = plateau_run(60, lr=0.1, seed=1, patience=3, factor=0.5, cooldown=2)
    reduced = np.flatnonzero(record["reduced"])
    assert len(reduced) >= 1
    for epoch in reduced:
        assert record["lr"][epoch + 1] == pytest.approx(record["lr"][epoch] * 0.5)
        assert record["cooldown_counter"][epoch] == 2
    assert np.all(np.diff(record["lr"]) <= 0)


def test_plateau_run_repeats_with_the_same_seed():
    first, second = plateau_run(30, seed=3, patience=2), plateau_run(30, seed=3, patience=2)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
