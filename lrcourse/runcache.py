"""A disk cache for the chapters' training runs (`cached_run`), keyed by a fingerprint of the code that runs.

Chapters 5 to 7 train small models many times; run again (headless, by a grader, in the browser) they read
their results back instead of training. The key covers the source of the function, of everything it calls and
reads, its arguments and torch's version, so edited code trains afresh. Results are numbers and numpy arrays
stored as compressed .npz (no pickle). The notebooks import `cached_run` from `lrcourse.training`, which re-exports it.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import inspect
import os
import types
from pathlib import Path

import numpy as np
import torch

CACHE_VARIABLE = "LRCOURSE_RUN_CACHE"  # a folder, or "off"; default ~/.cache/lrcourse/runs
# The runs of chapters 5, 6 and 7 as the notebooks define them, shipped with the package (read only), so a
# chapter runs in seconds even where nothing can be written (a grading sandbox). Regenerate after changing
# either chapter's training code: rm -r lrcourse/runs; LRCOURSE_RUN_CACHE=lrcourse/runs make solutions, then
# scripts/panel_runs.py (chapter 5's slider panel's runs, read only when the panel moves)
SHIPPED_RUNS = Path(__file__).with_name("runs")


def cache_folder() -> Path | None:
    setting = os.environ.get(CACHE_VARIABLE, "")
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lrcourse" / "runs"


def _globals_read(code: types.CodeType) -> set[str]:
    """The global names `code` (and the functions nested in it) reads. Only these: `co_names` also lists
    attribute names (`self.inputs`), and a notebook variable that happens to share one (a loop's `inputs`) must
    not change the key, or a run is found only when the notebook's cells ran in one exact order."""
    names, codes = set(), [code]
    while codes:
        code = codes.pop()
        names.update(
            instruction.argval
            for instruction in dis.get_instructions(code)
            if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")
        )
        codes += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return names


def _fingerprint(value, seen: set, depth: int = 0) -> str:
    """What a run depends on, as text: the source of the functions and classes it calls (followed through
    the names they use), the bytes of tensors and arrays, and plain values."""
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
            names = _globals_read(function.__code__)
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
    memory: dict = {}

    @functools.wraps(function)
    def run(*args, **kwargs):
        text = _fingerprint(function, set()) + repr((args, sorted(kwargs.items()), torch.__version__))
        key = hashlib.sha256(text.encode()).hexdigest()[:32]
        if key in memory:
            return memory[key]
        folder = cache_folder()
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
                    # compressed: a schedule's rates repeat, and the runs ship with the package
                    np.savez_compressed(partial, **{name: np.asarray(value) for name, value in result.items()})
                    os.replace(partial, path)
                except OSError:
                    pass  # a read-only home (a sandbox): keep the result in memory only
        memory[key] = result
        return result

    run.cache_clear = memory.clear
    return run
