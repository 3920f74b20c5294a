"""`lrcourse.best_epoch`: the optimism of a run's best epoch, which chapters 5 and 6 add back before comparing runs."""

import numpy as np

from lrcourse.best_epoch import best_epoch_optimism


def test_best_epoch_optimism_is_the_best_epochs_distance_below_its_neighbours():
    """Chapters 5 and 6 allow for it (rv10 finding 1): the mean of up to two epochs either side, minus the lowest."""
    assert best_epoch_optimism([3.0, 2.0, 1.0, 2.0, 4.0, 1.5]) == (3.0 + 2.0 + 2.0 + 4.0) / 4 - 1.0
    assert best_epoch_optimism(np.array([5.0, 4.0, 3.0, 2.5, 2.0])) == (3.0 + 2.5) / 2 - 2.0  # still falling
    assert best_epoch_optimism([1.0, 1.5, 2.5, 9.0]) == 1.0  # best first: the two after it only
