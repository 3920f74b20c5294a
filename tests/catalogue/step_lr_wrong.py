"""MyStepLR (chapter 2): plausible mistakes, each with the test cells it loses.

Issue 23 (R23a item 2) moved 3 of the exercise's 9 points to reading a StepLR's log (catalogue/step_lr_reading.py):
MyStepLR's cells are now one group 2, several groups 1, hand edits 1, get_last_lr() 1, last_epoch 1 (of 6, was
3, 2, 2, 1, 1 of 9). The cells each mistake loses are unchanged; where a `score` is stated it is what the mistake
leaves of 6 under that split (the grading tests check it)."""

from __future__ import annotations

from catalogue.answers import STEP_CELLS, step
from catalogue.step_lr import HAND, STEP_CLOSED_FORM, chain_variant, step_variant

# a wrong rate loses every cell that reads the rates: all but the one on the last_epoch counter
ALL_BUT_LAST_EPOCH = tuple(cell for cell in STEP_CELLS if cell != "test_my_step_lr_last_epoch")

STEP_WRONG = [
    # the old contract's answer: right while nothing else writes the rate, wrong after a hand edit
    # issue 23: 5 of 6 (was 7 of 9): the hand-edit cell is worth 1 now, the chainable rule also counts in part (b)
    step("closed_form", STEP_CLOSED_FORM, fails=(HAND,), score=5),
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
        # the chainable answer, its rates kept as `rates`, decaying them rather than the groups' rates
        chain_variant(
            "self._last_lr",
            "self.rates",
            "class MyStepLR:\n",
            'class MyStepLR:\n    """Chainable, but from the rates it wrote itself: a hand edit is ignored."""\n',
            """            for group in self.optimizer.param_groups:
                group["lr"] = group["lr"] * self.gamma
        self.rates = [float(group["lr"]) for group in self.optimizer.param_groups]
""",
            """            self.rates = [rate * self.gamma for rate in self.rates]
            for group, rate in zip(self.optimizer.param_groups, self.rates):
                group["lr"] = rate
""",
        ),
        fails=("test_my_step_lr_hand_edit",),
    ),
    # issue 23 (R23a): the groups, hand-edit and get_last_lr cells judge the answer against its own
    # single-group decays: decays at the wrong steps cost the one-group cell only (they lost 8 of 9 before)
    step(
        "chainable_decays_off_multiples",
        chain_variant(
            "if self.last_epoch % self.step_size == 0:",
            "if self.last_epoch % self.step_size == 1 or self.step_size == 1:",
        ),
        fails=("test_my_step_lr_one_group",),
        score=4,  # issue 23: 4 of 6 (was 6 of 9): wrong decay steps cost the one-group cell's 2 points
    ),
    # issue 23: still all but last_epoch: this closed form's first step with step_size=1 multiplies by gamma**2, not
    # by 1 or gamma, so the cells that judge it against its own decays find no StepLR to compare with (the chainable
    # slip of the same kind, decays_one_step_early_chainable, loses the one-group cell only)
    step(
        "decays_one_step_early",
        step_variant("(self.last_epoch // self.step_size)", "((self.last_epoch + 1) // self.step_size)"),
        fails=ALL_BUT_LAST_EPOCH,
        score=1,  # issue 23: 1 of 6 (was 1 of 9): last_epoch alone
    ),
    # issue 23: late decays cost the one-group cell; the closed form (from base_lrs) still overwrites
    # a hand edit, the hand-edit cell's own slip
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
        fails=("test_my_step_lr_one_group", HAND),
    ),
    # issue 23: gamma ** (e / s) decays at every step by a factor that is neither 1 nor gamma, not a StepLR at all;
    # R23q item 3: its counter no longer earns the last_epoch cell either (a rate that changes at every step with
    # step_size > 1 is no StepLR's cadence): all cells, was all but last_epoch
    step(
        "float_division",
        step_variant("(self.last_epoch // self.step_size)", "(self.last_epoch / self.step_size)"),
        fails=STEP_CELLS,
        score=0,
    ),
    # R23q item 3: an ExponentialLR in closed form, gamma ** last_epoch: it decays at every step, not every
    # step_size steps, so the cells that judge the class by its own rule find no StepLR (they passed it, 4 of 6
    # with the last_epoch cell); it was one_group and hand-edit only
    step(
        "decays_every_step",
        step_variant("(self.last_epoch // self.step_size)", "self.last_epoch"),
        fails=STEP_CELLS,
        score=0,
    ),
    # R23q item 3 (its st.py): an ExponentialLR named MyStepLR, chainable, step_size ignored, earned 4 of 6
    step(
        "exponential_lr_named_step_lr",
        """
class MyStepLR:
    \"\"\"ExponentialLR under StepLR's name: step_size ignored.\"\"\"

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.gamma, self.last_epoch = optimizer, gamma, 0
        self._last = [float(group["lr"]) for group in optimizer.param_groups]

    def step(self):
        self.last_epoch += 1
        for group in self.optimizer.param_groups:
            group["lr"] = group["lr"] * self.gamma
        self._last = [float(group["lr"]) for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last)
""",
        fails=STEP_CELLS,
        score=0,
    ),
    # issue 23: multiplying by gamma ** k compounds factors other than 1 and gamma; R23q item 3: from its second decay
    # it changes the rate at every step, so the last_epoch cell is lost too (was all but last_epoch)
    step(
        "compounds_the_decay",
        step_variant('group["lr"] = base * self.gamma', 'group["lr"] = group["lr"] * self.gamma'),
        fails=STEP_CELLS,
        score=0,
    ),
    # issue 23: leaving groups out costs the groups cell only
    step(
        "only_first_group",
        chain_variant(
            """            for group in self.optimizer.param_groups:
                group["lr"]""",
            """            for group in self.optimizer.param_groups[:1]:
                group["lr"]""",
        ),
        fails=("test_my_step_lr_groups",),
    ),
    # issue 23: every group decayed from group 0's rate: the groups cell, and the hand-edit cell, whose
    # multi-group case edits one group (it must carry on from its own current rate)
    step(
        "first_group_rate_for_all",
        chain_variant(
            'group["lr"] = group["lr"] * self.gamma', 'group["lr"] = self.optimizer.param_groups[0]["lr"] * self.gamma'
        ),
        fails=("test_my_step_lr_groups", HAND),
    ),
    step(
        "wrong_default_gamma",
        chain_variant(
            "def __init__(self, optimizer, step_size, gamma=0.1):",
            "def __init__(self, optimizer, step_size, gamma=0.5):",
        ),
        fails=("test_my_step_lr_one_group",),
    ),
    # issue 23: a rate changed by the constructor is compared with PyTorch's in the one-group cell only
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
        fails=("test_my_step_lr_one_group",),
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
    # issue 23: counting from -1 shifts the decays (the one-group cell) and last_epoch (its own cell)
    step(
        "last_epoch_starts_at_minus_one",
        chain_variant(
            """        self.last_epoch = 0
""",
            """        self.last_epoch = -1
""",
        ),
        fails=("test_my_step_lr_one_group", "test_my_step_lr_last_epoch"),
        score=3,  # issue 23: 3 of 6 (was 5 of 9): the one-group cell is worth 2 now, last_epoch 1
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
    # issue 23 (R23a's c_step_early.py): the chainable answer decaying one step early loses the one-group cell only
    step(
        "decays_one_step_early_chainable",
        chain_variant(
            "        if self.last_epoch % self.step_size == 0:",
            "        if (self.last_epoch + 1) % self.step_size == 0:",
        ),
        fails=("test_my_step_lr_one_group",),
    ),
    # issue 23: a class that never changes a rate must not earn the cells that judge an answer against its own decays
    step(
        "never_decays",
        chain_variant(
            """            for group in self.optimizer.param_groups:
                group["lr"] = group["lr"] * self.gamma
""",
            """            pass
""",
        ),
        fails=ALL_BUT_LAST_EPOCH,
    ),
    # issue 23 (R23t item 2): a counter reset one step late decays every step_size + 1 steps. The cells that judge the
    # class by its own rule ask for a StepLR's kind of decays at any period, not at step_size's, so the wrong period
    # costs the one-group cell only: 4 of 6 (it scored 0 when they asked for decays exactly step_size apart)
    step(
        "my_step_lr_period_one_late",
        chain_variant(
            "        self.last_epoch = 0\n",
            "        self.last_epoch = 0\n        self.count = 0\n",
            "        if self.last_epoch % self.step_size == 0:\n",
            "        self.count += 1\n        if self.count > self.step_size:\n            self.count = 0\n",
        ),
        fails=("test_my_step_lr_one_group",),
        score=4,
    ),
    # R23t item 2: a MultiStepLR under StepLR's name (milestones step_size, 2, 4, 8 ... times it): its decays are not
    # evenly spaced, so no cell that judges the class by its own rule finds a StepLR, the last_epoch cell included
    step(
        "milestones_doubling",
        chain_variant(
            "        if self.last_epoch % self.step_size == 0:\n",
            "        due = self.last_epoch / self.step_size\n        if due >= 1 and due == 2 ** round(math.log2(due)):\n",
            "\nclass MyStepLR",
            "\nimport math\n\nclass MyStepLR",
        ),
        fails=STEP_CELLS,
        score=0,
    ),
]
