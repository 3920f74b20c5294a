"""Chapter 5's classifier: scikit-learn's bundled digits, a small MLP, epoch functions, cached runs.

The data ship inside scikit-learn (`load_digits`: 1,797 8x8 images), so nothing is downloaded. Every
run is seeded (weights, shuffling) and uses one CPU thread, so its numbers repeat exactly.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, TensorDataset

EPOCHS = 50
LEARNING_RATE = 1e-3
BATCH_SIZE = 64


@contextmanager
def one_thread():
    """Small models run fastest, and bit-for-bit repeatably, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def digits_loaders(batch_size: int = BATCH_SIZE, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """Train (75 %) and test (25 %) loaders over the digits, pixels scaled to [0, 1], stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(images / 16.0, labels, test_size=0.25,
                                                        random_state=seed, stratify=labels)
    def dataset(x, y):
        return TensorDataset(torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long))
    shuffle = torch.Generator().manual_seed(seed)
    train = DataLoader(dataset(x_train, y_train), batch_size=batch_size, shuffle=True, generator=shuffle)
    test = DataLoader(dataset(x_test, y_test), batch_size=512)
    return train, test


def make_model(seed: int = 0) -> nn.Module:
    """64 pixels -> 64 hidden units -> 10 digit scores."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def train(model: nn.Module, loader: DataLoader, loss_fn, optimizer) -> float:
    """One epoch of training: an optimizer step per batch. Returns the mean training loss."""
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@torch.no_grad()
def test(model: nn.Module, loader: DataLoader, loss_fn) -> tuple[float, float]:
    """Mean loss and accuracy on `loader`, without training."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    for inputs, targets in loader:
        scores = model(inputs)
        total += loss_fn(scores, targets).item() * len(targets)
        correct += (scores.argmax(dim=1) == targets).sum().item()
        count += len(targets)
    return total / count, correct / count


# --------------------------------------------------------------------------------------------
# The schedules compared in chapter 5, each with its main argument
# --------------------------------------------------------------------------------------------
SCHEDULES = {
    # name: (argument, default, (low, high, step))
    "constant": ("", 0, (0, 0, 1)),
    "StepLR": ("step_size", 5, (1, 25, 1)),
    "CosineAnnealingLR": ("T_max", EPOCHS, (5, 100, 5)),
    "ReduceLROnPlateau": ("patience", 3, (0, 10, 1)),
    "warm-up + cosine": ("warm-up epochs", 5, (1, 20, 1)),
}


def make_scheduler(name: str, optimizer, value: int, epochs: int = EPOCHS):
    """The scheduler `name` with its main argument `value` (see SCHEDULES)."""
    if name == "constant":
        return lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    if name == "StepLR":
        return lr_scheduler.StepLR(optimizer, step_size=value, gamma=0.5)
    if name == "CosineAnnealingLR":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=value)
    if name == "ReduceLROnPlateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=value)
    if name == "warm-up + cosine":
        warmup = value
        return lr_scheduler.LambdaLR(optimizer, lambda e: (e + 1) / warmup if e < warmup
                                     else 0.5 * (1 + math.cos(math.pi * (e - warmup) / max(epochs - warmup, 1))))
    raise ValueError(f"unknown schedule {name!r}; choose from {list(SCHEDULES)}")


@dataclass(frozen=True)
class History:
    """Per-epoch records of one run: the rate used, the losses and the test accuracy."""

    lr: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray

    @property
    def best_accuracy(self) -> float:
        return float(self.test_accuracy.max())


@lru_cache(maxsize=256)
def run_schedule(name: str, value: int = 0, lr: float = LEARNING_RATE, epochs: int = EPOCHS, seed: int = 0) -> History:
    """Train a fresh model with Adam(lr) under schedule `name` (cached: a repeat costs nothing)."""
    with one_thread():
        train_loader, test_loader = digits_loaders(seed=seed)
        model = make_model(seed)
        loss_fn = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        scheduler = make_scheduler(name, optimizer, value, epochs)
        records = {"lr": [], "train_loss": [], "test_loss": [], "test_accuracy": []}
        for _ in range(epochs):
            records["lr"].append(optimizer.param_groups[0]["lr"])
            records["train_loss"].append(train(model, train_loader, loss_fn, optimizer))
            test_loss, accuracy = test(model, test_loader, loss_fn)
            records["test_loss"].append(test_loss)
            records["test_accuracy"].append(accuracy)
            if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
                scheduler.step(test_loss)
            else:
                scheduler.step()
    return History(**{key: np.array(values) for key, values in records.items()})
