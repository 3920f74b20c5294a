"""What `torch.optim.lr_scheduler` is in a process that runs a student's scheduler exercise for grading.

The exercises ask students to write their own StepLR and ReduceLROnPlateau, so the process that runs
their answer for the grader has no PyTorch schedulers to use: this module takes the real one's place
before torch is imported. Every name is still importable, so a stray `from torch.optim.lr_scheduler import
StepLR` costs nothing; constructing or subclassing one raises `ForbiddenUse`. The real module is never
imported, so nothing there can switch it back on. What holds where: in the sandbox the real file is a stub
too, so its source cannot be read and run either; with --no-sandbox the module is replaced but the file stays
readable, and an answer that reads and execs lr_scheduler.py's source gets PyTorch's schedulers (trusted
submissions only).
"""

from __future__ import annotations

NAMES = (
    "LambdaLR",
    "MultiplicativeLR",
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "SequentialLR",
    "CosineAnnealingLR",
    "ChainedScheduler",
    "ReduceLROnPlateau",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "PolynomialLR",
    "LRScheduler",
)
__all__ = list(NAMES)
MESSAGE = (
    "torch.optim.lr_scheduler is not available while your answer is graded: this exercise asks for "
    "your own implementation, without PyTorch's schedulers."
)


class ForbiddenUse(RuntimeError):
    pass


class LRScheduler:
    def __init_subclass__(cls, **kwargs):
        # torch's own modules subclass LRScheduler at import (swa_utils.SWALR); nothing else may.
        if not cls.__module__.startswith("torch.") and cls.__module__ != __name__:
            raise ForbiddenUse(MESSAGE)

    def __init__(self, *args, **kwargs):
        raise ForbiddenUse(MESSAGE)

    def __getattr__(self, name):
        raise ForbiddenUse(MESSAGE)


_LRScheduler = LRScheduler


def _forbidden(*args, **kwargs):
    raise ForbiddenUse(MESSAGE)


_format_param = _forbidden  # swa_utils imports it by name

for _name in NAMES[:-1]:
    globals()[_name] = type(_name, (LRScheduler,), {"__module__": __name__})
del _name
