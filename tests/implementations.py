"""Students' answers for the graded exercises: correct ones written differently, plausible mistakes,
use of PyTorch's schedulers, and broken code.

Each `Answer` replaces the source of one autograded-answer cell. `fails` names exactly the test cells
it must lose (empty: full marks; `ALL`: every test cell of that exercise); every other test cell must
give full marks. A mistake usually shows in more than the cell written for it (a wrong patience rule
also changes the rates in the cooldown cell): those cells are listed too, each one checked by hand. The grading tests submit each
one through real `nbgrader autograde` and check the score of every test cell.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP_CELLS = (
    "test_my_step_lr_one_group",
    "test_my_step_lr_groups",
    "test_my_step_lr_hand_edit",
    "test_my_step_lr_get_last_lr",
    "test_my_step_lr_last_epoch",
)
PLATEAU_CELLS = (
    "test_plateau_min_rel",
    "test_plateau_modes",
    "test_plateau_ties",
    "test_plateau_non_finite",
    "test_plateau_patience",
    "test_plateau_cooldown",
    "test_plateau_min_lr",
    "test_plateau_eps",
    "test_plateau_groups",
    "test_plateau_errors",
    "test_plateau_tensor_and_get_last_lr",
)
LARGEST_CELLS = ("test_largest_stable_lr", "test_largest_stable_lr_directions")
FLOOR_CELLS = ("test_rate_for_noise_floor", "test_rate_for_noise_floor_stable")
WARMUP_CELLS = ("test_warmup_phase", "test_step_phase", "test_matches_sequential_lr")
FIT_CELLS = ("test_fit_steps_rates", "test_fit_steps_order", "test_fit_steps_losses")
PREDICT_CYCLE_CELLS = ("test_predict_one_cycle",)
RANGE_CELLS = (
    "test_range_rates",
    "test_range_losses",
    "test_range_groups",
    "test_range_restores",
    "test_range_suggestion",
)
PREDICT_STEPS_CELLS = ("test_predict_accumulation",)
CELLS = {
    "my_step_lr": STEP_CELLS,
    "my_reduce_lr_on_plateau": PLATEAU_CELLS,
    "largest_stable_lr": LARGEST_CELLS,
    "rate_for_noise_floor": FLOOR_CELLS,
    "warmup_step_factor": WARMUP_CELLS,
    "predicted_w2": ("test_predict_w2",),
    "predicted_rate_after_edit": ("test_predict_rate_after_edit",),
    "predicted_drop_steps": ("test_predict_drop_steps",),
    "predicted_chained_rate": ("test_predict_chained_rate",),
    "fit_per_step": FIT_CELLS,
    "predicted_one_cycle_per_epoch": PREDICT_CYCLE_CELLS,
    "lr_range_test": RANGE_CELLS,
    "predicted_optimizer_steps": PREDICT_STEPS_CELLS,
}
ALL = "all"


@dataclass(frozen=True)
class Answer:
    name: str
    chapter: str
    cell: str
    source: str
    fails: tuple | str = ()

    @property
    def cells(self) -> tuple[str, ...]:
        """The test cells of the answer's exercise (a chapter may have several exercises)."""
        return CELLS[self.cell]

    @property
    def failing(self) -> set[str]:
        return set(self.cells) if self.fails == ALL else set(self.fails)


def step(name, source, fails=()):
    return Answer(name, "02_ordered_schedules", "my_step_lr", source, fails)


def plateau(name, source, fails=()):
    return Answer(name, "03_adaptive_schedules", "my_reduce_lr_on_plateau", source, fails)


def plateau_all_but(*passing: str) -> tuple[str, ...]:
    """The plateau cells an answer fails, named by the few it passes (most wrong answers fail most cells)."""
    assert set(passing) <= set(PLATEAU_CELLS), passing
    return tuple(cell for cell in PLATEAU_CELLS if cell not in passing)


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


def step_variant(old: str, new: str) -> str:
    assert old in STEP_CLOSED_FORM, old
    return STEP_CLOSED_FORM.replace(old, new)


def chain_variant(old: str, new: str) -> str:
    assert old in STEP_CHAINABLE, old
    return STEP_CHAINABLE.replace(old, new)


HAND = "test_my_step_lr_hand_edit"
STEP_CORRECT = [
    step("chainable", STEP_CHAINABLE),
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
        """
import torch

class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0
        self.reported = [float(group["lr"]) for group in optimizer.param_groups]

    def step(self):
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                rate = torch.tensor(group["lr"], dtype=torch.float64)
                # torch.tensor(a_tensor) warns (UserWarning: copy construct), harmlessly
                group["lr"] = float(torch.tensor(rate) * self.gamma)
        self.reported = [float(group["lr"]) for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return self.reported[:]
""",
    ),
]

STEP_WRONG = [
    # the old contract's answer: right while nothing else writes the rate, wrong after a hand edit
    step("closed_form", STEP_CLOSED_FORM, fails=(HAND,)),
    step(
        "closed_form_in_groups",
        """
import math

class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        for group in optimizer.param_groups:
            group.setdefault("my_initial_lr", group["lr"])
        self.optimizer = optimizer
        self.step_size, self.gamma = int(step_size), float(gamma)
        self.last_epoch = 0
        self._last = [g["lr"] for g in optimizer.param_groups]

    def step(self):
        self.last_epoch = self.last_epoch + 1
        factor = self.gamma ** math.floor(self.last_epoch / self.step_size)
        self._last = []
        for group in self.optimizer.param_groups:
            group["lr"] = group["my_initial_lr"] * factor
            self._last.append(group["lr"])

    def get_last_lr(self):
        return list(self._last)
""",
        fails=(HAND,),
    ),
    step(
        "decays_from_own_record",
        """
class MyStepLR:
    \"\"\"Chainable, but from the rates it wrote itself: a hand edit is ignored.\"\"\"
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.last_epoch = 0
        self.rates = [float(group["lr"]) for group in optimizer.param_groups]

    def step(self):
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            self.rates = [rate * self.gamma for rate in self.rates]
            for group, rate in zip(self.optimizer.param_groups, self.rates):
                group["lr"] = rate

    def get_last_lr(self):
        return list(self.rates)
""",
        fails=("test_my_step_lr_hand_edit",),
    ),
    step(
        "get_last_lr_reads_groups",
        chain_variant(
            "        return list(self._last_lr)",
            '        return [float(group["lr"]) for group in self.optimizer.param_groups]',
        ),
        fails=("test_my_step_lr_get_last_lr",),
    ),
    step(
        "chainable_decays_off_multiples",
        chain_variant(
            "if self.last_epoch % self.step_size == 0:",
            "if self.last_epoch % self.step_size == 1 or self.step_size == 1:",
        ),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups", "test_my_step_lr_one_group"),
    ),
    step(
        "decays_one_step_early",
        step_variant("(self.last_epoch // self.step_size)", "((self.last_epoch + 1) // self.step_size)"),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups", "test_my_step_lr_one_group"),
    ),
    step(
        "decays_one_step_late",
        step_variant(
            """        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * self.gamma ** (self.last_epoch // self.step_size)""",
            """        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * self.gamma ** (self.last_epoch // self.step_size)
        self.last_epoch += 1""",
        ),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups", "test_my_step_lr_one_group"),
    ),
    step(
        "float_division",
        step_variant("(self.last_epoch // self.step_size)", "(self.last_epoch / self.step_size)"),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups", "test_my_step_lr_one_group"),
    ),
    step(
        "decays_every_step",
        step_variant("(self.last_epoch // self.step_size)", "self.last_epoch"),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups", "test_my_step_lr_one_group"),
    ),
    step(
        "compounds_the_decay",
        step_variant('group["lr"] = base * self.gamma', 'group["lr"] = group["lr"] * self.gamma'),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups", "test_my_step_lr_one_group"),
    ),
    step(
        "only_first_group",
        chain_variant(
            """            for group in self.optimizer.param_groups:
                group["lr"]""",
            """            for group in self.optimizer.param_groups[:1]:
                group["lr"]""",
        ),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups"),
    ),
    step(
        "first_group_rate_for_all",
        chain_variant(
            'group["lr"] = group["lr"] * self.gamma', 'group["lr"] = self.optimizer.param_groups[0]["lr"] * self.gamma'
        ),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups"),
    ),
    step(
        "wrong_default_gamma",
        chain_variant(
            "def __init__(self, optimizer, step_size, gamma=0.1):",
            "def __init__(self, optimizer, step_size, gamma=0.5):",
        ),
        fails=("test_my_step_lr_one_group",),
    ),
    step(
        "decays_at_construction",
        chain_variant(
            """        self.last_epoch = 0
""",
            """        self.last_epoch = 0
        for group in optimizer.param_groups:
            group["lr"] *= gamma
""",
        ),
        fails=(HAND, "test_my_step_lr_get_last_lr", "test_my_step_lr_groups", "test_my_step_lr_one_group"),
    ),
    step(
        "get_last_lr_stale",
        step_variant("""        return list(self._last_lr)""", """        return list(self.base_lrs)"""),
        fails=(HAND, "test_my_step_lr_get_last_lr"),
    ),
    step(
        "get_last_lr_tensors",
        chain_variant(
            """        return list(self._last_lr)""",
            """        import torch
        return [torch.tensor(rate) for rate in self._last_lr]""",
        ),
        fails=("test_my_step_lr_get_last_lr",),
    ),
    step(
        "get_last_lr_tuple",
        chain_variant("""        return list(self._last_lr)""", """        return tuple(self._last_lr)"""),
        fails=("test_my_step_lr_get_last_lr",),
    ),
    step(
        "last_epoch_starts_at_minus_one",
        chain_variant(
            """        self.last_epoch = 0
""",
            """        self.last_epoch = -1
""",
        ),
        fails=ALL,
    ),
    # issue 12 review P6: PyTorch makes a new _last_lr list at every step; this one updates the list it handed out
    step(
        "get_last_lr_list_updated_in_place",
        chain_variant(
            '        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]\n',
            '        self._last_lr[:] = [float(group["lr"]) for group in self.optimizer.param_groups]\n',
        ).replace("return list(self._last_lr)", "return self._last_lr"),
        fails=("test_my_step_lr_get_last_lr",),
    ),
    # issue 12 fresh review: PyTorch renews _last_lr at every step(), a decay or not; this one only at decays. Only a
    # hand edit before a step that does not decay tells, and that case is in the hand-edit cell (a closed-form answer
    # misreports it too, and must lose that cell only)
    step(
        "get_last_lr_renewed_only_at_decays",
        chain_variant(
            '                group["lr"] = group["lr"] * self.gamma\n        self._last_lr',
            '                group["lr"] = group["lr"] * self.gamma\n            self._last_lr',
        ),
        fails=(HAND,),
    ),
    # issue 12 fresh review: PyTorch's last_epoch is an int; a float counter is compared exactly and loses
    step(
        "last_epoch_float",
        chain_variant("        self.last_epoch += 1\n", "        self.last_epoch += 1.0\n"),
        fails=("test_my_step_lr_last_epoch",),
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
    source = PLATEAU_REFERENCE
    for old, new in zip(replacements[::2], replacements[1::2]):
        assert old in source, old
        source = source.replace(old, new)
    return source


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

TIES, NON_FINITE = "test_plateau_ties", "test_plateau_non_finite"
PLATEAU_WRONG = [
    # issue 12: full marks before the tie and non-finite cells existed
    plateau(
        "abs_tie_counts_as_improvement",
        plateau_variant(
            "return a < best - self.threshold",
            "return a <= best - self.threshold",
            "return a > best + self.threshold",
            "return a >= best + self.threshold",
        ),
        fails=("test_plateau_non_finite", "test_plateau_ties"),
    ),
    plateau(
        "nan_counts_as_improvement",
        plateau_variant(
            "return a < best * (1 - self.threshold)",
            "return not a >= best * (1 - self.threshold)",
            "return a < best - self.threshold",
            "return not a >= best - self.threshold",
            "return a > best * (1 + self.threshold)",
            "return not a <= best * (1 + self.threshold)",
            "return a > best + self.threshold",
            "return not a <= best + self.threshold",
        ),
        fails=(NON_FINITE,),
    ),
    plateau(
        "nan_metric_skipped",
        plateau_variant(
            "        current = float(metric)\n",
            "        current = float(metric)\n        if math.isnan(current):\n            return\n",
        ),
        fails=(NON_FINITE,),
    ),
    plateau(
        "non_finite_as_bad_epoch",
        plateau_variant(
            "        if self.is_better(current, self.best):",
            "        if math.isfinite(current) and self.is_better(current, self.best):",
        ),
        fails=(NON_FINITE,),
    ),
    plateau(
        "eps_tie_reduces",
        plateau_variant("if old - new > self.eps:", "if old - new >= self.eps:"),
        fails=("test_plateau_eps",),
    ),
    plateau(
        "get_last_lr_reads_groups",
        plateau_variant(
            "    def get_last_lr(self):\n        return list(self._last_lr)",
            "    def get_last_lr(self):\n        return [float(g['lr']) for g in self.optimizer.param_groups]",
        ),
        fails=("test_plateau_tensor_and_get_last_lr",),
    ),
    plateau(
        "reduces_from_reported_rates",
        plateau_variant('            old = float(group["lr"])', "            old = self._last_lr[i]"),
        fails=("test_plateau_tensor_and_get_last_lr",),
    ),
    plateau(
        "equal_counts_as_improvement",
        plateau_variant(
            "return a < best * (1 - self.threshold)",
            "return a <= best * (1 - self.threshold)",
            "return a > best * (1 + self.threshold)",
            "return a >= best * (1 + self.threshold)",
        ),
        fails=("test_plateau_min_rel", "test_plateau_modes", "test_plateau_non_finite", "test_plateau_ties"),
    ),
    # best - best * threshold looks equal to best * (1 - threshold), but at the start best = inf: inf - inf is nan
    plateau(
        "relative_threshold_by_subtraction",
        plateau_variant("return a < best * (1 - self.threshold)", "return a < best - best * self.threshold"),
        fails=plateau_all_but("test_plateau_modes", "test_plateau_errors"),
    ),
    plateau(
        "relative_threshold_uses_abs_best",
        plateau_variant("return a < best * (1 - self.threshold)", "return a < best - abs(best) * self.threshold"),
        fails=plateau_all_but("test_plateau_modes", "test_plateau_errors"),
    ),
    plateau(
        "rel_and_abs_swapped",
        plateau_variant(
            'if self.mode == "min" and self.threshold_mode == "rel":',
            'if self.mode == "min" and self.threshold_mode == "abs":',
            'if self.threshold_mode == "rel":',
            'if self.threshold_mode == "abs":',
        ),
        fails=("test_plateau_min_rel", "test_plateau_modes", "test_plateau_ties"),
    ),
    plateau(
        "max_mode_treated_as_min",
        plateau_variant(
            'if self.threshold_mode == "rel":\n            return a > best * (1 + self.threshold)\n        return a > best + self.threshold',
            'if self.threshold_mode == "rel":\n            return a < best * (1 - self.threshold)\n        return a < best - self.threshold',
        ),
        fails=("test_plateau_modes", "test_plateau_non_finite", "test_plateau_ties"),
    ),
    plateau(
        "patience_off_by_one",
        plateau_variant("if self.num_bad_epochs > self.patience:", "if self.num_bad_epochs >= self.patience:"),
        fails=plateau_all_but("test_plateau_min_rel", "test_plateau_modes", "test_plateau_errors"),
    ),
    plateau(
        "bad_epochs_not_reset_after_reduction",
        plateau_variant(
            "            self.cooldown_counter = self.cooldown\n            self.num_bad_epochs = 0\n",
            "            self.cooldown_counter = self.cooldown\n",
        ),
        fails=plateau_all_but("test_plateau_min_rel", "test_plateau_modes", "test_plateau_eps", "test_plateau_errors"),
    ),
    plateau(
        "bad_epochs_counted_in_cooldown",
        plateau_variant(
            "            self.cooldown_counter -= 1\n            self.num_bad_epochs = 0\n",
            "            self.cooldown_counter -= 1\n",
        ),
        fails=("test_plateau_cooldown", "test_plateau_groups"),
    ),
    plateau(
        "best_frozen_in_cooldown",
        plateau_variant(
            "        if self.is_better(current, self.best):",
            "        if self.cooldown_counter == 0 and self.is_better(current, self.best):",
        ),
        fails=("test_plateau_cooldown", "test_plateau_groups"),
    ),
    plateau(
        "cooldown_one_epoch_short",
        plateau_variant(
            "            self.cooldown_counter = self.cooldown\n",
            "            self.cooldown_counter = max(self.cooldown - 1, 0)\n",
        ),
        fails=("test_plateau_cooldown", "test_plateau_groups"),
    ),
    plateau(
        "min_lr_ignored",
        plateau_variant("new = max(old * self.factor, self.min_lrs[i])", "new = old * self.factor"),
        fails=("test_plateau_eps", "test_plateau_groups", "test_plateau_min_lr"),
    ),
    plateau(
        "min_lr_list_first_value_for_all",
        plateau_variant(
            "new = max(old * self.factor, self.min_lrs[i])", "new = max(old * self.factor, self.min_lrs[0])"
        ),
        fails=("test_plateau_groups", "test_plateau_min_lr"),
    ),
    plateau(
        "eps_ignored",
        plateau_variant("if old - new > self.eps:", "if new < old:"),
        fails=("test_plateau_eps", "test_plateau_patience"),
    ),
    plateau(
        "eps_compared_with_new_rate",
        plateau_variant("if old - new > self.eps:", "if new > self.eps:"),
        fails=("test_plateau_eps", "test_plateau_min_lr"),
    ),
    plateau(
        "reduces_from_initial_rate",
        plateau_variant(
            "        self.optimizer = optimizer\n",
            "        self.optimizer = optimizer\n        self.initial = [g['lr'] for g in optimizer.param_groups]\n",
            "new = max(old * self.factor, self.min_lrs[i])",
            "new = max(self.initial[i] * self.factor, self.min_lrs[i])",
        ),
        fails=plateau_all_but("test_plateau_min_rel", "test_plateau_modes", "test_plateau_ties", "test_plateau_errors"),
    ),
    plateau(
        "only_first_group_reduced",
        plateau_variant(
            "for i, group in enumerate(self.optimizer.param_groups):",
            "for i, group in enumerate(self.optimizer.param_groups[:1]):",
        ),
        fails=("test_plateau_eps", "test_plateau_groups", "test_plateau_min_lr", "test_plateau_tensor_and_get_last_lr"),
    ),
    plateau(
        "best_starts_at_zero",
        plateau_variant('self.best = math.inf if mode == "min" else -math.inf', "self.best = 0.0"),
        fails=plateau_all_but("test_plateau_errors"),
    ),
    plateau(
        "no_factor_check",
        plateau_variant('        if factor >= 1.0:\n            raise ValueError("factor must be < 1")\n', ""),
        fails=("test_plateau_errors",),
    ),
    plateau(
        "no_mode_check",
        plateau_variant('        if mode not in ("min", "max"):\n            raise ValueError("bad mode")\n', ""),
        fails=("test_plateau_errors",),
    ),
    plateau(
        "no_min_lr_length_check",
        plateau_variant('            if len(min_lr) != n:\n                raise ValueError("min_lr length")\n', ""),
        fails=("test_plateau_errors",),
    ),
    plateau(
        "wrong_exception_type",
        plateau_variant('raise ValueError("bad threshold_mode")', 'raise KeyError("bad threshold_mode")'),
        fails=("test_plateau_errors",),
    ),
    plateau("metric_item_only", plateau_variant("current = float(metric)", "current = metric.item()"), fails=ALL),
    plateau(
        "get_last_lr_initial_rates",
        plateau_variant(
            "        self.optimizer = optimizer\n",
            "        self.optimizer = optimizer\n        self.initial = [g['lr'] for g in optimizer.param_groups]\n",
            "return list(self._last_lr)",
            "return list(self.initial)",
        ),
        fails=("test_plateau_tensor_and_get_last_lr",),
    ),
    # issue 12 review P4: 'rel' in 'max' rewritten, wrong only where best < 0 (the boundary moves below best * (1 + t));
    # the negative tie case is the only one that tells
    plateau(
        "max_rel_divides_by_one_minus_threshold",
        plateau_variant("return a > best * (1 + self.threshold)", "return a > best / (1 - self.threshold)"),
        fails=(TIES,),
    ),
    plateau(
        "max_rel_best_below_scaled_metric",
        plateau_variant("return a > best * (1 + self.threshold)", "return best < a * (1 - self.threshold)"),
        fails=(TIES,),
    ),
    # issue 12 review P5: a 0-d tensor metric (a loss), and one the caller updates in place
    plateau(
        "metric_first_element",
        plateau_variant(
            "        current = float(metric)\n",
            "        import torch\n        current = float(metric[0]) if isinstance(metric, torch.Tensor) else float(metric)\n",
        ),
        fails=("test_plateau_tensor_and_get_last_lr",),
    ),
    plateau(
        "tensor_metric_kept_as_view",
        plateau_variant(
            "        current = float(metric)\n",
            "        current = metric.detach() if hasattr(metric, 'detach') else float(metric)\n",
        ),
        fails=("test_plateau_tensor_and_get_last_lr",),
    ),
    # issue 12 review P6: updates the list get_last_lr() handed out, where PyTorch makes a new one at every step
    plateau(
        "get_last_lr_list_updated_in_place",
        plateau_variant(
            '        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]\n',
            '        self._last_lr[:] = [float(g["lr"]) for g in self.optimizer.param_groups]\n',
            "return list(self._last_lr)",
            "return self._last_lr",
        ),
        fails=("test_plateau_tensor_and_get_last_lr",),
    ),
    # issue 12 fresh review: eps and min_lr in the wrong order, or a rate raised to its floor (PyTorch never raises one)
    plateau(
        "eps_checked_before_floor",
        plateau_variant(
            "                new = max(old * self.factor, self.min_lrs[i])\n                if old - new > self.eps:\n"
            '                    group["lr"] = new\n',
            "                new = old * self.factor\n                if old - new > self.eps:\n"
            '                    group["lr"] = max(new, self.min_lrs[i])\n',
        ),
        fails=("test_plateau_eps", "test_plateau_min_lr"),
    ),
    plateau(
        "eps_on_abs_difference",
        plateau_variant("if old - new > self.eps:", "if abs(old - new) > self.eps:"),
        fails=("test_plateau_min_lr",),
    ),
    plateau(
        "raises_rate_below_floor",
        plateau_variant("if old - new > self.eps:", "if old - new > self.eps or old < self.min_lrs[i]:"),
        fails=("test_plateau_min_lr",),
    ),
    # issue 12 fresh review: PyTorch compares the mode strings exactly, and rejects only factor >= 1.0
    plateau(
        "mode_case_insensitive",
        plateau_variant(
            '        if mode not in ("min", "max"):\n',
            '        mode = mode.lower()\n        if mode not in ("min", "max"):\n',
        ),
        fails=("test_plateau_errors",),
    ),
    plateau(
        "threshold_mode_case_insensitive",
        plateau_variant(
            '        if threshold_mode not in ("rel", "abs"):\n',
            '        threshold_mode = threshold_mode.lower()\n        if threshold_mode not in ("rel", "abs"):\n',
        ),
        fails=("test_plateau_errors",),
    ),
    plateau(
        "rejects_factor_not_positive",
        plateau_variant("        if factor >= 1.0:\n", "        if factor >= 1.0 or factor <= 0:\n"),
        fails=("test_plateau_errors", "test_plateau_min_lr"),
    ),
    plateau(
        "rejects_negative_threshold",
        plateau_variant(
            '        if threshold_mode not in ("rel", "abs"):\n',
            '        if threshold < 0:\n            raise ValueError("threshold must be >= 0")\n'
            '        if threshold_mode not in ("rel", "abs"):\n',
        ),
        fails=("test_plateau_errors", "test_plateau_min_rel"),
    ),
    # issue 12 fresh review: PyTorch's counters are ints, compared exactly
    plateau(
        "counters_as_floats",
        plateau_variant("            self.num_bad_epochs += 1\n", "            self.num_bad_epochs += 1.0\n"),
        fails=plateau_all_but(
            "test_plateau_min_lr", "test_plateau_eps", "test_plateau_errors", "test_plateau_tensor_and_get_last_lr"
        ),
    ),
]

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


# --------------------------------------------------------------------------------------------
# Chapters 1 and 4, and the predictions of chapters 1-4
# --------------------------------------------------------------------------------------------
def ch1(name, cell, source, fails=()):
    return Answer(name, "01_learning_rate", cell, source, fails)


def ch4(name, cell, source, fails=()):
    return Answer(name, "04_custom_schedules", cell, source, fails)


LARGEST_REFERENCE = """
def largest_stable_lr(lr, path):
    factors = [after / before for before, after in zip(path[0], path[1])]
    curvatures = [(1 - r) / lr for r in factors]
    return 2.0 / max(curvatures)
"""

WARMUP_STEP_REFERENCE = """
def warmup_step_factor(epoch, warmup_epochs, start_factor, step_size, gamma):
    if epoch < warmup_epochs:
        return start_factor + (1 - start_factor) * epoch / warmup_epochs
    return gamma ** ((epoch - warmup_epochs) // step_size)
"""


def largest_variant(old: str, new: str) -> str:
    assert old in LARGEST_REFERENCE, old
    return LARGEST_REFERENCE.replace(old, new)


def warmup_variant(old: str, new: str) -> str:
    assert old in WARMUP_STEP_REFERENCE, old
    return WARMUP_STEP_REFERENCE.replace(old, new)


EARLY_CORRECT = [
    ch1("largest_from_factors", "largest_stable_lr", LARGEST_REFERENCE),
    ch1(
        "largest_from_gradient_of_last_step",
        "largest_stable_lr",
        """
def largest_stable_lr(lr, path):
    # w_t - w_{t+1} = lr * a * w_t: the gradient step of the last move gives each curvature
    steepest = max((w0 - w1) / (lr * w0) for w0, w1 in zip(path[-2], path[-1]))
    return 2 / steepest
""",
    ),
    ch1(
        "largest_numpy",
        "largest_stable_lr",
        """
def largest_stable_lr(lr, path):
    start, after = np.asarray(path[0], dtype=float), np.asarray(path[1], dtype=float)
    return float(2 * lr / np.max(1 - after / start))
""",
    ),
    ch1(
        "floor_solved",
        "rate_for_noise_floor",
        """
def rate_for_noise_floor(target, curvature, noise):
    return 4 * target / (noise ** 2 + 2 * curvature * target)
""",
    ),
    ch1(
        "floor_by_bisection",
        "rate_for_noise_floor",
        """
def rate_for_noise_floor(target, curvature, noise):
    floor = lambda lr: lr * noise ** 2 / (2 * (2 - lr * curvature))
    low, high = 0.0, 2.0 / curvature
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if floor(middle) <= target else (low, middle)
    return low
""",
    ),
    ch4("warmup_step_reference", "warmup_step_factor", WARMUP_STEP_REFERENCE),
    ch4(
        "warmup_step_interpolates_and_counts",
        "warmup_step_factor",
        """
import math
def warmup_step_factor(epoch, warmup_epochs, start_factor, step_size, gamma):
    if epoch >= warmup_epochs:
        decays = math.floor((epoch - warmup_epochs) / step_size)
        return gamma ** decays
    fraction = epoch / warmup_epochs
    return (1 - fraction) * start_factor + fraction * 1.0
""",
    ),
    ch1("predict_w2_right", "predicted_w2", "predicted_w2 = 0.64\n"),
    Answer(
        "predict_edit_right", "02_ordered_schedules", "predicted_rate_after_edit", "predicted_rate_after_edit = 0.075\n"
    ),
    Answer("predict_drops_right", "03_adaptive_schedules", "predicted_drop_steps", "predicted_drop_steps = [4, 7]\n"),
    ch4("predict_chained_right", "predicted_chained_rate", "predicted_chained_rate = 0.1328602\n"),
]

EARLY_WRONG = [
    ch1(
        "largest_uses_flattest",
        "largest_stable_lr",
        largest_variant("max(curvatures)", "min(curvatures)"),
        fails=("test_largest_stable_lr_directions",),
    ),
    ch1(
        "largest_without_the_two",
        "largest_stable_lr",
        largest_variant("2.0 / max(curvatures)", "1.0 / max(curvatures)"),
        fails=ALL,
    ),
    ch1(
        "largest_ignores_the_sign",
        "largest_stable_lr",
        largest_variant("after / before for", "abs(after / before) for"),
        fails=ALL,
    ),
    ch1(
        "largest_returns_the_rate_used",
        "largest_stable_lr",
        "def largest_stable_lr(lr, path):\n    return 2 * lr\n",
        fails=ALL,
    ),
    ch1(
        "floor_small_rate_approximation",
        "rate_for_noise_floor",
        "def rate_for_noise_floor(target, curvature, noise):\n    return 4 * target / noise ** 2\n",
        fails=ALL,
    ),
    ch1(
        "floor_noise_not_squared",
        "rate_for_noise_floor",
        "def rate_for_noise_floor(target, curvature, noise):\n    return 4 * target / (noise + 2 * curvature * target)\n",
        fails=("test_rate_for_noise_floor",),
    ),
    ch1(
        "floor_clipped_to_bound",
        "rate_for_noise_floor",
        "def rate_for_noise_floor(target, curvature, noise):\n    return min(4 * target / noise ** 2, 1.99 / curvature)\n",
        fails=ALL,
    ),
    ch4(
        "warmup_step_counts_from_zero",
        "warmup_step_factor",
        warmup_variant("gamma ** ((epoch - warmup_epochs) // step_size)", "gamma ** (epoch // step_size)"),
        fails=("test_matches_sequential_lr", "test_step_phase"),
    ),
    ch4(
        "warmup_step_reaches_one_early",
        "warmup_step_factor",
        warmup_variant("start_factor + (1 - start_factor) * epoch / warmup_epochs", "(epoch + 1) / warmup_epochs"),
        fails=("test_matches_sequential_lr", "test_warmup_phase"),
    ),
    ch4(
        "warmup_step_decays_from_warmup_end",
        "warmup_step_factor",
        warmup_variant(
            "return gamma ** ((epoch - warmup_epochs) // step_size)",
            "last = start_factor + (1 - start_factor) * (warmup_epochs - 1) / warmup_epochs\n"
            "    return last * gamma ** ((epoch - warmup_epochs) // step_size)",
        ),
        fails=("test_matches_sequential_lr", "test_step_phase"),
    ),
    ch4(
        "warmup_step_decays_at_milestone",
        "warmup_step_factor",
        warmup_variant(
            "gamma ** ((epoch - warmup_epochs) // step_size)", "gamma ** ((epoch - warmup_epochs) // step_size + 1)"
        ),
        fails=("test_matches_sequential_lr", "test_step_phase"),
    ),
    ch1("predict_w2_sign_lost", "predicted_w2", "predicted_w2 = -0.64\n", fails=ALL),
    ch1("predict_w2_one_step", "predicted_w2", "predicted_w2 = -0.8\n", fails=ALL),
    Answer(
        "predict_edit_closed_form",
        "02_ordered_schedules",
        "predicted_rate_after_edit",
        "predicted_rate_after_edit = 0.1 * 0.5 ** (4 // 2)\n",
        fails=ALL,
    ),
    Answer(
        "predict_edit_decayed_once",
        "02_ordered_schedules",
        "predicted_rate_after_edit",
        "predicted_rate_after_edit = 0.15\n",
        fails=ALL,
    ),
    Answer(
        "predict_drops_tie_improves",
        "03_adaptive_schedules",
        "predicted_drop_steps",
        "predicted_drop_steps = [8]\n",
        fails=ALL,
    ),
    Answer(
        "predict_drops_no_cooldown",
        "03_adaptive_schedules",
        "predicted_drop_steps",
        "predicted_drop_steps = [4, 7, 9]\n",
        fails=ALL,
    ),
    ch4("predict_chained_step_only", "predicted_chained_rate", "predicted_chained_rate = 0.25\n", fails=ALL),
    ch4("predict_chained_added", "predicted_chained_rate", "predicted_chained_rate = 1 - 0.5 - 6 * 0.1\n", fails=ALL),
]

# chapter 4's factor read off PyTorch's own SequentialLR (the notebook's lr_curve helper, or stepped by hand)
EARLY_FORBIDDEN = [
    ch4(
        "warmup_step_by_lr_curve",
        "warmup_step_factor",
        """
def warmup_step_factor(epoch, warmup_epochs, start_factor, step_size, gamma):
    def composed(opt):
        warm = lr_scheduler.LinearLR(opt, start_factor=start_factor, end_factor=1.0, total_iters=warmup_epochs)
        decay = lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
        return lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[warmup_epochs])
    return float(lr_curve(composed, epoch + 1, lrs=1.0)[epoch])
""",
        fails=ALL,
    ),
    ch4(
        "warmup_step_steps_sequential_lr",
        "warmup_step_factor",
        """
import torch

def warmup_step_factor(epoch, warmup_epochs, start_factor, step_size, gamma):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = torch.optim.lr_scheduler.SequentialLR(optimizer, [
        torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=start_factor, total_iters=warmup_epochs),
        torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)], milestones=[warmup_epochs])
    for _ in range(epoch):
        optimizer.step()
        schedule.step()
    return optimizer.param_groups[0]["lr"]
""",
        fails=ALL,
    ),
]


# --------------------------------------------------------------------------------------------
# Chapters 5 and 6
# --------------------------------------------------------------------------------------------
def other(name, chapter, cell, source, fails=()):
    return Answer(name, chapter, cell, source, fails)


FIT_REFERENCE = """
def fit_per_step(model, optimizer, scheduler, batches, val_set, epochs, accumulation=1):
    history = {"lr": [], "loss": [], "val_loss": []}
    for epoch in range(epochs):
        epoch_batches = list(batches)
        for first in range(0, len(epoch_batches), accumulation):
            group = epoch_batches[first:first + accumulation]
            history["lr"].append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            total = 0.0
            for inputs, targets in group:
                loss = loss_fn(model(inputs), targets)
                (loss / len(group)).backward()
                total += loss.item()
            optimizer.step()
            scheduler.step()
            history["loss"].append(total / len(group))
        history["val_loss"].append(evaluate(model, val_set)[0])
    return history
"""

# the loop a student writes from chapter 5's `run` by counting batches (the shape most mutants are made from)
FIT_COUNTING = """
def fit_per_step(model, optimizer, scheduler, batches, val_set, epochs, accumulation=1):
    history = {"lr": [], "loss": [], "val_loss": []}
    for epoch in range(epochs):
        size = len(batches)
        losses = []
        for index, (inputs, targets) in enumerate(batches):
            first = index - index % accumulation
            in_group = min(accumulation, size - first)
            if index == first:
                optimizer.zero_grad()
                history["lr"].append(optimizer.param_groups[0]["lr"])
            loss = loss_fn(model(inputs), targets)
            (loss / in_group).backward()
            losses.append(loss.item())
            if index + 1 == first + in_group:
                optimizer.step()
                scheduler.step()
                history["loss"].append(sum(losses) / len(losses))
                losses = []
        history["val_loss"].append(evaluate(model, val_set)[0])
    return history
"""

RANGE_REFERENCE = """
def lr_range_test(model, optimizer, batches, start_lr, end_lr, num_steps, beta, diverge):
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    ratios = [group["lr"] / optimizer.param_groups[0]["lr"] for group in optimizer.param_groups]
    lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())
    for step in range(num_steps):
        lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))
        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio
        try:
            inputs, targets = next(stream)
        except StopIteration:
            stream = iter(batches)
            inputs, targets = next(stream)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        average = beta * average + (1 - beta) * loss.item()
        smoothed = average / (1 - beta ** (step + 1))
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > diverge * best:
            break
    model.load_state_dict(saved_model)
    optimizer.load_state_dict(saved_optimizer)
    return {"lrs": lrs, "losses": losses, "suggestion": lrs[losses.index(min(losses))] / 10}
"""


def range_variant(old: str, new: str) -> str:
    assert old in RANGE_REFERENCE, old
    return RANGE_REFERENCE.replace(old, new)


def fit_variant(old: str, new: str, base: str = FIT_REFERENCE) -> str:
    assert old in base, old
    return base.replace(old, new)


def counting_variant(old: str, new: str) -> str:
    return fit_variant(old, new, FIT_COUNTING)


OTHER_CORRECT = [
    other("fit_reference", "05_training", "fit_per_step", FIT_REFERENCE),
    other("fit_counting_batches", "05_training", "fit_per_step", FIT_COUNTING),
    other(
        "fit_one_backward_per_group_get_last_lr_prints",
        "05_training",
        "fit_per_step",
        """
import sys
def fit_per_step(model, optimizer, scheduler, batches, val_set, epochs, accumulation=1):
    rates, losses, val = [], [], []
    for epoch in range(epochs):
        model.train()
        pending = []
        batch_list = [b for b in batches]
        for step, (x, y) in enumerate(batch_list):
            pending.append(torch.nn.functional.cross_entropy(model(x), y))
            if len(pending) == accumulation or step == len(batch_list) - 1:
                rates.append(scheduler.get_last_lr()[0])
                optimizer.zero_grad(set_to_none=True)
                mean = torch.stack(pending).mean()
                mean.backward()
                optimizer.step()
                scheduler.step()
                losses.append(float(mean))
                pending = []
        val_loss, val_acc = evaluate(model, val_set)
        val.append(val_loss)
        print(f"epoch {epoch}: val loss {val_loss:.3f}", file=sys.stderr)
    return dict(lr=rates, loss=losses, val_loss=val)
""",
    ),
    other(
        "predict_one_cycle_right",
        "05_training",
        "predicted_one_cycle_per_epoch",
        "predicted_one_cycle_per_epoch = 'a'\n",
    ),
    other("range_reference", "06_choosing_the_rate", "lr_range_test", RANGE_REFERENCE),
    other(
        "range_while_loop_own_copies",
        "06_choosing_the_rate",
        "lr_range_test",
        """
import io
def lr_range_test(model, optimizer, batches, start_lr, end_lr, num_steps, beta, diverge):
    buffer = io.BytesIO()
    torch.save({"m": model.state_dict(), "o": optimizer.state_dict()}, buffer)
    base = [g["lr"] for g in optimizer.param_groups]
    ratio = (end_lr / start_lr) ** (1 / (num_steps - 1))
    tried, smooth, avg, lowest, step = [], [], 0.0, float("inf"), 0
    while step < num_steps:
        for inputs, targets in batches:
            if step == num_steps:
                break
            lr = start_lr * ratio ** step
            lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))
            for g, rate in zip(optimizer.param_groups, base):
                g["lr"] = lr / base[0] * rate
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            avg = beta * avg + (1 - beta) * loss.item()
            value = avg / (1 - beta ** (step + 1))
            tried.append(lr)
            smooth.append(value)
            lowest = min(lowest, value)
            step += 1
            if value > diverge * lowest:
                step = num_steps + 1
                break
    buffer.seek(0)
    saved = torch.load(buffer)
    model.load_state_dict(saved["m"])
    optimizer.load_state_dict(saved["o"])
    best = min(range(len(smooth)), key=smooth.__getitem__)
    return {"lrs": tried, "losses": smooth, "suggestion": tried[best] / 10}
""",
    ),
    other(
        "predict_steps_right",
        "06_choosing_the_rate",
        "predicted_optimizer_steps",
        "predicted_optimizer_steps = 50 * 3\n",
    ),
]

OTHER_WRONG = [
    # chapter 5's `run` / `train_epochs` copied: one optimizer and scheduler step per batch
    other(
        "fit_steps_every_batch",
        "05_training",
        "fit_per_step",
        """
def fit_per_step(model, optimizer, scheduler, batches, val_set, epochs, accumulation=1):
    history = {"lr": [], "loss": [], "val_loss": []}
    for epoch in range(epochs):
        for inputs, targets in batches:
            history["lr"].append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            scheduler.step()
            history["loss"].append(loss.item())
        history["val_loss"].append(evaluate(model, val_set)[0])
    return history
""",
        fails=ALL,
    ),
    other(
        "fit_scheduler_every_batch",
        "05_training",
        "fit_per_step",
        counting_variant(
            """            loss = loss_fn(model(inputs), targets)
            (loss / in_group).backward()""",
            """            loss = loss_fn(model(inputs), targets)
            (loss / in_group).backward()
            if index + 1 != first + in_group:
                scheduler.step()""",
        ),
        fails=ALL,
    ),
    other(
        "fit_drops_leftover_batches",
        "05_training",
        "fit_per_step",
        counting_variant(
            "            if index + 1 == first + in_group:", "            if (index + 1) % accumulation == 0:"
        ),
        fails=ALL,
    ),
    other(
        "fit_groups_run_across_epochs",
        "05_training",
        "fit_per_step",
        """
def fit_per_step(model, optimizer, scheduler, batches, val_set, epochs, accumulation=1):
    history = {"lr": [], "loss": [], "val_loss": []}
    seen, losses = 0, []
    for epoch in range(epochs):
        for inputs, targets in batches:
            if seen % accumulation == 0:
                optimizer.zero_grad()
                history["lr"].append(optimizer.param_groups[0]["lr"])
            loss = loss_fn(model(inputs), targets)
            (loss / accumulation).backward()
            losses.append(loss.item())
            seen += 1
            if seen % accumulation == 0:
                optimizer.step()
                scheduler.step()
                history["loss"].append(sum(losses) / len(losses))
                losses = []
        history["val_loss"].append(evaluate(model, val_set)[0])
    if losses:
        optimizer.step()
        scheduler.step()
        history["loss"].append(sum(losses) / len(losses))
    return history
""",
        fails=ALL,
    ),
    other(
        "fit_steps_per_epoch",
        "05_training",
        "fit_per_step",
        fit_variant(
            """            optimizer.step()
            scheduler.step()
            history["loss"].append(total / len(group))
        history["val_loss"].append(evaluate(model, val_set)[0])""",
            """            optimizer.step()
            history["loss"].append(total / len(group))
        scheduler.step()
        history["val_loss"].append(evaluate(model, val_set)[0])""",
        ),
        fails=ALL,
    ),
    other(
        "fit_scheduler_before_optimizer",
        "05_training",
        "fit_per_step",
        fit_variant(
            """            optimizer.step()
            scheduler.step()""",
            """            scheduler.step()
            optimizer.step()""",
        ),
        fails=ALL,
    ),
    other(
        "fit_logs_rate_after_step",
        "05_training",
        "fit_per_step",
        fit_variant(
            """            history["lr"].append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()""",
            """            optimizer.zero_grad()""",
        ).replace(
            """            scheduler.step()
            history["loss"]""",
            """            scheduler.step()
            history["lr"].append(optimizer.param_groups[0]["lr"])
            history["loss"]""",
        ),
        fails=("test_fit_steps_rates",),
    ),
    other(
        "fit_logs_rate_every_batch",
        "05_training",
        "fit_per_step",
        counting_variant(
            """            if index == first:
                optimizer.zero_grad()
                history["lr"].append(optimizer.param_groups[0]["lr"])""",
            """            history["lr"].append(optimizer.param_groups[0]["lr"])
            if index == first:
                optimizer.zero_grad()""",
        ),
        fails=("test_fit_steps_rates",),
    ),
    other(
        "fit_divides_by_accumulation",
        "05_training",
        "fit_per_step",
        fit_variant("(loss / len(group)).backward()", "(loss / accumulation).backward()"),
        fails=("test_fit_steps_losses",),
    ),
    other(
        "fit_sums_gradients",
        "05_training",
        "fit_per_step",
        fit_variant("(loss / len(group)).backward()", "loss.backward()"),
        fails=("test_fit_steps_losses",),
    ),
    other(
        "fit_zero_grad_every_batch",
        "05_training",
        "fit_per_step",
        counting_variant(
            """            if index == first:
                optimizer.zero_grad()
                history["lr"]""",
            """            optimizer.zero_grad()
            if index == first:
                history["lr"]""",
        ),
        fails=("test_fit_steps_losses",),
    ),
    other(
        "fit_without_zero_grad",
        "05_training",
        "fit_per_step",
        fit_variant("            optimizer.zero_grad()\n", ""),
        fails=("test_fit_steps_losses",),
    ),
    other(
        "fit_logs_last_batch_loss",
        "05_training",
        "fit_per_step",
        fit_variant('history["loss"].append(total / len(group))', 'history["loss"].append(loss.item())'),
        fails=("test_fit_steps_losses",),
    ),
    other(
        "predict_one_cycle_wrong",
        "05_training",
        "predicted_one_cycle_per_epoch",
        "predicted_one_cycle_per_epoch = 'b'\n",
        fails=ALL,
    ),
    # chapter 6's offline range test turned into a loop without its other two steps: one rate for every group
    other(
        "range_one_rate_for_every_group",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio""",
            """        for group in optimizer.param_groups:
            group["lr"] = lr""",
        ),
        fails=("test_range_groups",),
    ),
    other(
        "range_ratio_read_after_first_group_set",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio""",
            """        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr"] / optimizer.param_groups[0]["lr"]""",
        ),
        fails=("test_range_groups",),
    ),
    other(
        "range_runs_every_step",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        if smoothed > diverge * best:
            break
""",
            "",
        ),
        fails=("test_range_rates", "test_range_losses", "test_range_groups"),
    ),
    other(
        "range_stops_before_recording",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > diverge * best:
            break""",
            """        best = min(best, smoothed)
        if smoothed > diverge * best:
            break
        lrs.append(lr)
        losses.append(smoothed)""",
        ),
        fails=("test_range_rates", "test_range_losses", "test_range_groups"),
    ),
    other(
        "range_linear_rates",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            "lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))",
            "lr = start_lr + (end_lr - start_lr) * step / (num_steps - 1)",
        ),
        fails=("test_range_rates", "test_range_losses", "test_range_groups", "test_range_suggestion"),
    ),
    other(
        "range_no_bias_correction",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant("smoothed = average / (1 - beta ** (step + 1))", "smoothed = average"),
        fails=("test_range_rates", "test_range_losses", "test_range_groups", "test_range_suggestion"),
    ),
    # the average started at the first loss instead of 0 and never corrected: close to the reference on some
    # cases (1.5e-3 at most on the hidden SGD case), far from it before the lowest loss on the visible one
    other(
        "range_average_starts_at_first_loss",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        average = beta * average + (1 - beta) * loss.item()
        smoothed = average / (1 - beta ** (step + 1))""",
            """        average = loss.item() if step == 0 else beta * average + (1 - beta) * loss.item()
        smoothed = average""",
        ),
        fails=("test_range_rates", "test_range_losses", "test_range_groups"),
    ),  # its lowest loss is still right
    other(
        "range_cycle_repeats_first_pass",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            "lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())",
            "import itertools\n    lrs, losses, average, best, stream = [], [], 0.0, math.inf, itertools.cycle(batches)",
        ),
        fails=("test_range_rates", "test_range_losses", "test_range_groups", "test_range_suggestion"),
    ),
    # the weights saved after the test's first step (at start_lr, the smallest rate): what they restore is one
    # small step off; the optimizer's state is restored right
    other(
        "range_saves_the_weights_after_the_first_step",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        optimizer.step()
        average""",
            """        optimizer.step()
        if step == 0:
            saved_model = copy.deepcopy(model.state_dict())
        average""",
        ),
        fails=("test_range_restores",),
    ),
    other(
        "range_restores_model_only",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant("    optimizer.load_state_dict(saved_optimizer)\n", ""),
        fails=("test_range_restores",),
    ),
    other(
        "range_restores_rates_not_state",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            "    optimizer.load_state_dict(saved_optimizer)\n",
            """    for group, saved in zip(optimizer.param_groups, saved_optimizer["param_groups"]):
        group["lr"] = saved["lr"]
""",
        ),
        fails=("test_range_restores",),
    ),
    # returns from inside the loop when the test diverges: the weights, optimizer state and rates stay as the test
    # left them (only a case that reaches the stop can tell)
    other(
        "range_returns_without_restoring_when_it_diverges",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            """        if smoothed > diverge * best:
            break""",
            """        if smoothed > diverge * best:
            return {"lrs": lrs, "losses": losses, "suggestion": lrs[losses.index(min(losses))] / 10}""",
        ),
        fails=("test_range_restores",),
    ),
    # divergence measured against the first smoothed loss, not the lowest so far: it stops late, or never
    other(
        "range_diverge_compared_with_first_loss",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant("""        if smoothed > diverge * best:""", """        if smoothed > diverge * losses[0]:"""),
        fails=("test_range_rates", "test_range_losses", "test_range_groups"),
    ),
    other(
        "range_suggests_minimum",
        "06_choosing_the_rate",
        "lr_range_test",
        range_variant(
            '"suggestion": lrs[losses.index(min(losses))] / 10', '"suggestion": lrs[losses.index(min(losses))]'
        ),
        fails=("test_range_suggestion",),
    ),
    other(
        "predict_steps_in_batches",
        "06_choosing_the_rate",
        "predicted_optimizer_steps",
        "predicted_optimizer_steps = 450\n",
        fails=ALL,
    ),
]

CORRECT = STEP_CORRECT + PLATEAU_CORRECT + EARLY_CORRECT + OTHER_CORRECT
WRONG = STEP_WRONG + PLATEAU_WRONG + EARLY_WRONG + OTHER_WRONG
FORBIDDEN = STEP_FORBIDDEN + PLATEAU_FORBIDDEN + EARLY_FORBIDDEN
BROKEN = STEP_BROKEN + PLATEAU_BROKEN
