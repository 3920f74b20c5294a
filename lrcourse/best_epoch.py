"""The optimism of a run's best epoch: chapters 5 and 6 compare runs by their lowest validation loss, an epoch chosen
on the very images that score it, and add this estimate back before comparing (a learner's helper: no exercise's
answer, imported by the chapters' own cells)."""

from __future__ import annotations

import numpy as np


def best_epoch_optimism(val_losses) -> float:
    """How far the lowest of a run's per-epoch validation losses lies below the mean of the epochs up to two either
    side of it (fewer at the ends of the run). The best epoch is chosen on the images that score it, so its loss
    reads low: by about the curve's jitter there, and by more where the curve bottoms out early and rises after it.
    Chapters 5 and 6 add it back to each run's best loss before comparing runs. A rough estimate: a curve still
    falling adds its real descent, and a sharply curved bottom its real curvature, so if anything it errs large."""
    losses = np.asarray(val_losses, dtype=np.float64)
    best = int(np.argmin(losses))
    around = np.concatenate([losses[max(best - 2, 0) : best], losses[best + 1 : best + 3]])
    return float(around.mean() - losses[best])
