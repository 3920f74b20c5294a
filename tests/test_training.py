"""lrcourse.training: the graders' digits fixture; lrcourse.runcache: the run cache of chapters 5 and 6."""

from __future__ import annotations

import numpy as np
import torch

from lrcourse import runcache, training


def test_the_split_is_chapter_5s_and_each_caller_gets_its_own_tensors():
    (x_train, y_train), (x_val, _), (x_test, _) = training.digits_split()
    assert (len(y_train), len(x_val), len(x_test)) == (1077, 360, 360)
    x_train[0, 0] = 99.0
    assert training.digits_split()[0][0][0, 0] != 99.0
    batches = training.Batches((x_train, y_train), 128, seed=3)
    assert len(batches) == 9 and sum(len(t) for _, t in batches) == 1077


class Calls:
    """Records calls; an object the cache keys only by its type (a list would be keyed by its contents)."""

    def __init__(self):
        self.items = []

    def append(self, item):
        self.items.append(item)

    def __eq__(self, other):
        return self.items == other

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def _make_run(calls, offset=0.0):
    @runcache.cached_run
    def run(lr, seed=0):
        calls.append((lr, seed))
        return {"curve": np.arange(3) * lr + offset, "best_epoch": 2, "loss": 0.5 + lr}

    return run


def test_a_run_is_cached_in_memory_and_on_disk_with_its_types(tmp_path, monkeypatch):
    assert training.cached_run is runcache.cached_run  # the chapters' import path
    monkeypatch.setenv(runcache.CACHE_VARIABLE, str(tmp_path))
    calls = Calls()
    first = _make_run(calls)(0.1)
    again = _make_run(calls)(0.1)  # a new kernel: read back from disk
    assert calls == [(0.1, 0)]
    assert np.array_equal(again["curve"], first["curve"]) and again["best_epoch"] == 2 and again["loss"] == 0.6
    assert type(again["best_epoch"]) is int and type(again["loss"]) is float
    _make_run(calls)(0.2)
    assert calls == [(0.1, 0), (0.2, 0)] and len(list(tmp_path.glob("*.npz"))) == 2


def test_changed_code_or_data_trains_again_and_off_always_trains(tmp_path, monkeypatch):
    monkeypatch.setenv(runcache.CACHE_VARIABLE, str(tmp_path))
    calls = Calls()
    _make_run(calls)(0.1)
    _make_run(calls, offset=1.0)(0.1)  # the same source, another value it reads: a new key
    assert len(calls) == 2

    data = torch.zeros(3)

    def make(calls):
        @runcache.cached_run
        def run(lr):
            calls.append(lr)
            return {"total": float(data.sum()) + lr}

        return run

    make(calls)(0.3)
    data[0] = 1.0  # a tensor the run reads changed: trains again
    assert make(calls)(0.3)["total"] == 1.3 and calls[-2:] == [0.3, 0.3]

    monkeypatch.setenv(runcache.CACHE_VARIABLE, "off")
    before = len(calls)
    run = make(calls)
    run(0.3)
    run(0.3)
    assert len(calls) == before + 1  # nothing on disk: trained once, then from memory


def test_the_cache_key_reads_the_globals_a_run_uses_not_attribute_names(tmp_path, monkeypatch):
    """A notebook variable named like an attribute the run reads (`inputs`, `self.inputs`) leaves the key as it
    was (the run is read back, nothing new is stored); a global the run reads (`LR`) changes it."""
    monkeypatch.setenv(runcache.CACHE_VARIABLE, str(tmp_path))
    scope = {"LR": 0.003}
    exec(
        "class Batches:\n"
        "    def __init__(self, data):\n"
        "        self.inputs, self.targets = data\n"
        "def train(seed):\n"
        "    return {'value': Batches(([seed], [seed])).inputs[0] * LR}\n",
        scope,
    )

    def stored_after_a_call() -> int:
        runcache.cached_run(scope["train"])(1)  # a fresh wrapper: nothing in memory, the disk decides
        return len(list(tmp_path.iterdir()))

    assert stored_after_a_call() == 1
    scope["inputs"], scope["targets"] = [1.0], [2.0]  # what a loop over batches leaves behind
    assert stored_after_a_call() == 1
    scope["LR"] = 0.01
    assert stored_after_a_call() == 2
