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


# --------------------------------------------------------------------------------------------
# A disk cache for the chapters' training runs
# --------------------------------------------------------------------------------------------
CACHE_VARIABLE = "LRCOURSE_RUN_CACHE"  # a folder, or "off"; default ~/.cache/lrcourse/runs
# The runs of chapters 5 and 6 as the notebooks define them, shipped with the package (read only), so a
# chapter runs in seconds even where nothing can be written (a grading sandbox). Regenerate after changing
# either chapter's training code: rm -r lrcourse/runs; LRCOURSE_RUN_CACHE=lrcourse/runs make solutions
SHIPPED_RUNS = __import__("pathlib").Path(__file__).with_name("runs")


def _cache_folder():
    import os
    from pathlib import Path

    setting = os.environ.get(CACHE_VARIABLE, "")
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lrcourse" / "runs"


def _fingerprint(value, seen: set, depth: int = 0) -> str:
    """What a run depends on, as text: the source of the functions and classes it calls (followed through
    the names they use), the bytes of tensors and arrays, and plain values."""
    import hashlib
    import inspect
    import types

    import numpy as np

    if depth > 8:
        return "?"
    if isinstance(value, (int, float, str, bool, type(None))):
        return repr(value)
    if isinstance(value, torch.Tensor):
        return "tensor:" + hashlib.sha256(value.detach().contiguous().numpy().tobytes()).hexdigest()
    if isinstance(value, np.ndarray):
        return "array:" + hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_fingerprint(item, seen, depth + 1) for item in value) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(f"{key!r}:{_fingerprint(item, seen, depth + 1)}" for key, item in value.items()) + "}"
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}"
    function = getattr(value, "__wrapped__", value)
    if isinstance(function, (types.FunctionType, type)):
        if id(function) in seen:
            return f"seen:{getattr(function, '__qualname__', '?')}"
        seen.add(id(function))
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            source = getattr(function, "__qualname__", "?")
        parts = [source]
        if isinstance(function, types.FunctionType):
            names = set()
            codes = [function.__code__]
            while codes:
                code = codes.pop()
                names.update(code.co_names)
                codes += [const for const in code.co_consts if isinstance(const, types.CodeType)]
            scope = function.__globals__
            parts += [f"{name}={_fingerprint(scope[name], seen, depth + 1)}" for name in sorted(names) if name in scope]
            for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
                try:
                    parts.append(f"{name}={_fingerprint(cell.cell_contents, seen, depth + 1)}")
                except ValueError:  # a cell not filled yet
                    parts.append(f"{name}=?")
            parts.append(repr(function.__defaults__))
        else:
            for member in vars(function).values():
                if isinstance(member, types.FunctionType):
                    parts.append(_fingerprint(member, seen, depth + 1))
        return "\n".join(parts)
    return f"{type(value).__name__}"


def cached_run(function):
    """Memoise a training run in memory and on disk, so a chapter run again (headless, by a grader, in the
    browser) does not train again. A result is a dict of numbers and numpy arrays, stored as .npz (no pickle);
    the key covers the function's source, everything it calls and reads, its arguments and torch's version,
    so changing any of them trains again. Looks in the user's cache, then in the runs shipped with the package
    (SHIPPED_RUNS). Set LRCOURSE_RUN_CACHE=off to always train."""
    import functools
    import hashlib
    import os

    import numpy as np

    memory: dict = {}

    @functools.wraps(function)
    def run(*args, **kwargs):
        text = _fingerprint(function, set()) + repr((args, sorted(kwargs.items()), torch.__version__))
        key = hashlib.sha256(text.encode()).hexdigest()[:32]
        if key in memory:
            return memory[key]
        folder = _cache_folder()
        path = folder / f"{key}.npz" if folder else None
        result = None
        for candidate in [path, SHIPPED_RUNS / path.name] if path is not None else []:
            if result is None and candidate.exists():
                try:
                    with np.load(candidate, allow_pickle=False) as stored:
                        result = {
                            name: (stored[name].item() if stored[name].ndim == 0 else stored[name].copy())
                            for name in stored.files
                        }
                except Exception:  # a damaged file: train again
                    result = None
        if result is None:
            result = function(*args, **kwargs)
            if path is not None:
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
                    np.savez(partial, **{name: np.asarray(value) for name, value in result.items()})
                    os.replace(partial, path)
                except OSError:
                    pass  # a read-only home (a sandbox): keep the result in memory only
        memory[key] = result
        return result

    run.cache_clear = memory.clear
    return run
