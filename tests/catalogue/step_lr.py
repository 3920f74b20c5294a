"""MyStepLR (chapter 2): the reference shapes, correct answers written differently, forbidden uses, broken code."""

from __future__ import annotations

from catalogue.answers import ALL, step, variant

# --------------------------------------------------------------------------------------------
# MyStepLR
# --------------------------------------------------------------------------------------------
STEP_CLOSED_FORM = """
class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._last_lr = list(self.base_lrs)

    def step(self):
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * self.gamma ** (self.last_epoch // self.step_size)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)
"""

STEP_CHAINABLE = """
class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0
        self._last_lr = [float(group["lr"]) for group in optimizer.param_groups]

    def step(self):
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                group["lr"] = group["lr"] * self.gamma
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)
"""


def step_variant(*replacements: str) -> str:
    return variant(STEP_CLOSED_FORM, *replacements)


def chain_variant(*replacements: str) -> str:
    return variant(STEP_CHAINABLE, *replacements)


HAND = "test_my_step_lr_hand_edit"
STEP_CORRECT = [
    step("chainable", STEP_CHAINABLE),
    # get_last_lr() read live from the groups: right after every step(), differs only between a hand edit and the
    # next step(), which neither chapter 2 nor chapter 3 grades (bookkeeping, issue 23's fresh review R23a)
    step(
        "get_last_lr_reads_groups",
        chain_variant(
            "        return list(self._last_lr)",
            '        return [float(group["lr"]) for group in self.optimizer.param_groups]',
        ),
    ),
    step(
        "chained_countdown",
        """
class MyStepLR:
    \"\"\"Count down to the next decay; multiply the current rate by gamma when it is due.\"\"\"
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer = optimizer
        self.step_size = step_size
        self.gamma = gamma
        self.last_epoch = 0
        self.until_decay = step_size
        self.last = tuple(map(lambda g: float(g["lr"]), optimizer.param_groups))

    def step(self):
        self.last_epoch += 1
        self.until_decay -= 1
        if self.until_decay == 0:
            self.until_decay = self.step_size
            for group in self.optimizer.param_groups:
                group["lr"] *= self.gamma
        self.last = tuple(map(lambda g: float(g["lr"]), self.optimizer.param_groups))

    def get_last_lr(self):
        return list(self.last)
""",
    ),
    step(
        "ratio_of_closed_forms",
        """
import math

class MyStepLR:
    \"\"\"The current rate times gamma ** (this step's exponent - the previous step's exponent).\"\"\"
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, int(step_size), float(gamma)
        self.last_epoch = 0
        self._last = {i: g["lr"] for i, g in enumerate(optimizer.param_groups)}

    def step(self):
        before = math.floor(self.last_epoch / self.step_size)
        self.last_epoch = self.last_epoch + 1
        after = math.floor(self.last_epoch / self.step_size)
        for i, group in enumerate(self.optimizer.param_groups):
            if after > before:
                group["lr"] = group["lr"] * self.gamma ** (after - before)
            self._last[i] = group["lr"]

    def get_last_lr(self):
        return [float(self._last[i]) for i in sorted(self._last)]
""",
    ),
    step(
        "prints_and_warns",
        """
import sys, warnings

class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        print("creating MyStepLR with", step_size, gamma)
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0
        self.saved = [group["lr"] for group in optimizer.param_groups]

    def step(self):
        self.last_epoch += 1
        print("epoch", self.last_epoch, file=sys.stderr)
        warnings.warn("debugging output from my scheduler")
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                group["lr"] = group["lr"] * self.gamma
        self.saved = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        print("get_last_lr called")
        return [rate for rate in self.saved]
""",
    ),
    step(
        "tensor_round_trip_warns",
        # the chainable answer, its rates kept as `reported`, each decay through a tensor
        chain_variant(
            "self._last_lr",
            "self.reported",
            "\nclass MyStepLR",
            "\nimport torch\n\nclass MyStepLR",
            "return list(self.reported)",
            "return self.reported[:]",
            '                group["lr"] = group["lr"] * self.gamma\n',
            """                rate = torch.tensor(group["lr"], dtype=torch.float64)
                # torch.tensor(a_tensor) warns (UserWarning: copy construct), harmlessly
                group["lr"] = float(torch.tensor(rate) * self.gamma)
""",
        ),
    ),
]

STEP_FORBIDDEN = [
    step("alias_of_torch", "import torch\nMyStepLR = torch.optim.lr_scheduler.StepLR\n", fails=ALL),
    step(
        "subclass_of_torch",
        '''
from torch.optim.lr_scheduler import StepLR

class MyStepLR(StepLR):
    """Just PyTorch's."""
''',
        fails=ALL,
    ),
    step(
        "wraps_torch",
        """
import torch

class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.inner = torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)
        self.last_epoch = 0

    def step(self):
        self.inner.optimizer._opt_called = True
        self.inner.step()
        self.last_epoch = self.inner.last_epoch

    def get_last_lr(self):
        return self.inner.get_last_lr()
""",
        fails=ALL,
    ),
    step(
        "calls_torch_each_step",
        """
import torch
from torch.optim import lr_scheduler as sched

class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0

    def step(self):
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
            helper = sched.StepLR(dummy, self.step_size, self.gamma, last_epoch=-1)
            for _ in range(self.last_epoch):
                dummy.step(); helper.step()
            group["lr"] = dummy.param_groups[0]["lr"]

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]
""",
        fails=ALL,
    ),
]

STEP_BROKEN = [
    step(
        "syntax_error",
        "class MyStepLR:\n    def __init__(self, optimizer, step_size gamma=0.1):\n        pass\n",
        fails=ALL,
    ),
    step("error_at_import", "import a_module_that_does_not_exist\n" + STEP_CLOSED_FORM, fails=ALL),
    step(
        "infinite_loop_in_step",
        step_variant(
            "        self.last_epoch += 1\n", "        while self.last_epoch >= 0:\n            self.last_epoch += 0\n"
        ),
        fails=ALL,
    ),
]

STEP_HANGS_AT_DEFINITION = step("infinite_loop_at_definition", "while True:\n    pass\n" + STEP_CLOSED_FORM, fails=ALL)
