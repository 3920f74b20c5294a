"""The digits data of chapters 5 and 6, as the graders' fixtures use it.

The chapters define their data split, model and training loop in the notebook, where the student reads
them; this module holds the same split and batching for the code that checks the exercises
(`lrcourse.checking`), which must build its own model and data outside the student's notebook. The data
ship inside scikit-learn (`load_digits`: 1,797 8x8 images), so nothing is downloaded. Every run is seeded
(weights, shuffling) and uses one CPU thread, so its numbers repeat exactly.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch import nn

from lrcourse.runcache import CACHE_VARIABLE, cached_run  # noqa: F401 (the chapters import them from here)

BATCH_SIZE = 128


@contextmanager
def one_thread():
    """Small models run fastest, and bit-for-bit repeatably, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@lru_cache(maxsize=1)
def _split() -> tuple:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        images / 16.0, labels, test_size=0.2, random_state=0, stratify=labels
    )
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, random_state=0, stratify=y_rest)
    return tuple(
        (torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long))
        for x, y in ((x_train, y_train), (x_val, y_val), (x_test, y_test))
    )


def digits_split() -> tuple:
    """(train, validation, test) sets of (inputs, targets) tensors: 60 / 20 / 20 %, stratified, the split
    chapters 5 and 6 make. Fresh tensors on every call (nothing a caller does reaches the next caller)."""
    return tuple((x.clone(), y.clone()) for x, y in _split())


class Batches:
    """Shuffled mini-batches of a (inputs, targets) pair, reshuffled every epoch by a seeded generator
    (what the chapters' own `Batches` does)."""

    def __init__(self, data, batch_size: int = BATCH_SIZE, seed: int = 0):
        self.inputs, self.targets = data
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.targets) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.targets), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.inputs[index], self.targets[index]


def make_model(seed: int = 0) -> nn.Module:
    """64 pixels -> 64 hidden units -> 10 digit scores (the chapters' model)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


@torch.no_grad()
def evaluate(model: nn.Module, data) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on a (inputs, targets) pair."""
    was_training = model.training
    model.eval()
    inputs, targets = data
    scores = model(inputs)
    model.train(was_training)
    return nn.functional.cross_entropy(scores, targets).item(), (scores.argmax(1) == targets).float().mean().item()
