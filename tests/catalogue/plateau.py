"""MyReduceLROnPlateau (chapter 3): the reference, correct answers written differently, forbidden uses, broken code."""

from __future__ import annotations

from catalogue.answers import ALL, plateau, variant

# --------------------------------------------------------------------------------------------
# MyReduceLROnPlateau
# --------------------------------------------------------------------------------------------
PLATEAU_REFERENCE = """
import math

class MyReduceLROnPlateau:
    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError("factor must be < 1")
        if mode not in ("min", "max"):
            raise ValueError("bad mode")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("bad threshold_mode")
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError("min_lr length")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * n
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (1 + self.threshold)
        return a > best + self.threshold

    def step(self, metric):
        current = float(metric)
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for i, group in enumerate(self.optimizer.param_groups):
                old = float(group["lr"])
                new = max(old * self.factor, self.min_lrs[i])
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)
"""


def plateau_variant(*replacements: str) -> str:
    return variant(PLATEAU_REFERENCE, *replacements)


PLATEAU_CORRECT = [
    plateau("reference_style", PLATEAU_REFERENCE),
    plateau(
        "table_of_comparisons",
        '''
import operator

class MyReduceLROnPlateau:
    """Same rule, organised as a table of improvement tests and an explicit state machine."""
    IMPROVES = {
        ("min", "rel"): lambda a, best, t: a < best * (1.0 - t),
        ("min", "abs"): lambda a, best, t: a < best - t,
        ("max", "rel"): lambda a, best, t: a > best * (1.0 + t),
        ("max", "abs"): lambda a, best, t: a > best + t,
    }

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        if not factor < 1.0:
            raise ValueError(f"factor={factor} must be below 1")
        if (mode, threshold_mode) not in self.IMPROVES:
            raise ValueError(f"unknown mode {mode!r} or threshold_mode {threshold_mode!r}")
        groups = optimizer.param_groups
        floors = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr for _ in groups]
        if len(floors) != len(groups):
            raise ValueError("one min_lr per group")
        self.optimizer, self.floors = optimizer, floors
        self.improves = self.IMPROVES[(mode, threshold_mode)]
        self.factor, self.patience, self.threshold = factor, patience, threshold
        self.cooldown, self.eps = cooldown, eps
        self.best = float("inf") if mode == "min" else float("-inf")
        self.num_bad_epochs = self.cooldown_counter = 0
        self.reported = [g["lr"] for g in groups]

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _reduce(self):
        for group, floor in zip(self.optimizer.param_groups, self.floors):
            old = group["lr"]
            new = max(old * self.factor, floor)
            if old - new > self.eps:
                group["lr"] = new

    def step(self, metric):
        value = metric.item() if hasattr(metric, "item") else float(metric)
        if self.improves(value, self.best, self.threshold):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self.reported = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self):
        return [float(rate) for rate in self.reported]
''',
    ),
    plateau(
        "subtraction_forms",
        plateau_variant(
            "return a < best - self.threshold",
            "return best - a > self.threshold",
            "return a > best + self.threshold",
            "return a - best > self.threshold",
            "if old - new > self.eps:",
            "if new < old - self.eps:",
        ).replace(
            'self.best = math.inf if mode == "min" else -math.inf',
            'self.best = float("inf") if mode == "min" else float("-inf")',
        ),
    ),
    plateau(
        "prints_warns_and_copies_tensors",
        plateau_variant(
            "        current = float(metric)\n",
            "        import sys, warnings, torch\n"
            "        current = float(torch.tensor(metric))  # warns for a tensor metric (copy construct)\n"
            "        print('metric', current)\n"
            "        print('debug: best so far', self.best, file=sys.stderr)\n"
            "        warnings.warn('my scheduler is chatty')\n",
        ),
    ),
]

PLATEAU_CORRECT.append(
    plateau(
        "explicit_nan_and_boundary",
        plateau_variant(
            "    def is_better(self, a, best):\n",
            "    def is_better(self, a, best):\n"
            "        if math.isnan(a):\n"
            "            return False  # NaN improves on nothing\n"
            "        if self.threshold_mode == 'rel':\n"
            "            boundary = best * (1 - self.threshold) if self.mode == 'min' else best * (1 + self.threshold)\n"
            "        else:\n"
            "            boundary = best - self.threshold if self.mode == 'min' else best + self.threshold\n"
            "        return a < boundary if self.mode == 'min' else a > boundary\n",
        ),
    )
)

PLATEAU_FORBIDDEN = [
    plateau(
        "alias_of_torch", "from torch.optim.lr_scheduler import ReduceLROnPlateau as MyReduceLROnPlateau\n", fails=ALL
    ),
    plateau(
        "subclass_of_torch",
        """
import torch

class MyReduceLROnPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    pass
""",
        fails=ALL,
    ),
    plateau(
        "wraps_torch",
        """
from torch.optim import lr_scheduler

class MyReduceLROnPlateau:
    def __init__(self, optimizer, **kwargs):
        self._inner = [lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)]

    def __getattr__(self, name):
        return getattr(self._inner[0], name)

    def step(self, metric):
        self._inner[0].step(metric)

    def get_last_lr(self):
        return self._inner[0].get_last_lr()
""",
        fails=ALL,
    ),
]

PLATEAU_BROKEN = [
    plateau(
        "infinite_loop_in_step",
        plateau_variant(
            "        current = float(metric)\n",
            "        current = float(metric)\n        while current == current:\n            pass\n",
        ),
        fails=ALL,
    )
]
