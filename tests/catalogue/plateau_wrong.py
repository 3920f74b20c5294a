"""MyReduceLROnPlateau (chapter 3): plausible mistakes, each with the test cells it loses."""

from __future__ import annotations

from catalogue.answers import ALL, plateau
from catalogue.plateau import plateau_variant

# 3.5's test cells, one per part of the rule: each holds several behaviours (a mistake in any of them loses the cell)
IMPROVEMENT, PATIENCE, COOLDOWN = "test_plateau_improvement", "test_plateau_patience", "test_plateau_cooldown"
MIN_LR_EPS, GROUPS = "test_plateau_min_lr_eps", "test_plateau_groups_and_tensors"


def mistake(name, *replacements, fails):
    """The reference with the replacements made (old, new, ...), and the test cells it loses."""
    return plateau(name, plateau_variant(*replacements), fails)


PLATEAU_WRONG = [
    # issue 12: full marks before the tie and non-finite cells existed
    mistake(
        "abs_tie_counts_as_improvement",
        "return a < best - self.threshold",
        "return a <= best - self.threshold",
        "return a > best + self.threshold",
        "return a >= best + self.threshold",
        fails=(IMPROVEMENT,),
    ),
    mistake(
        "nan_counts_as_improvement",
        "return a < best * (1 - self.threshold)",
        "return not a >= best * (1 - self.threshold)",
        "return a < best - self.threshold",
        "return not a >= best - self.threshold",
        "return a > best * (1 + self.threshold)",
        "return not a <= best * (1 + self.threshold)",
        "return a > best + self.threshold",
        "return not a <= best + self.threshold",
        fails=(IMPROVEMENT,),
    ),
    mistake(
        "nan_metric_skipped",
        "        current = float(metric)\n",
        "        current = float(metric)\n        if math.isnan(current):\n            return\n",
        fails=(IMPROVEMENT,),
    ),
    mistake(
        "non_finite_as_bad_epoch",
        "        if self.is_better(current, self.best):",
        "        if math.isfinite(current) and self.is_better(current, self.best):",
        fails=(IMPROVEMENT,),
    ),
    mistake("eps_tie_reduces", "if old - new > self.eps:", "if old - new >= self.eps:", fails=(MIN_LR_EPS,)),
    mistake(
        "reduces_from_reported_rates",
        '            old = float(group["lr"])',
        "            old = self._last_lr[i]",
        fails=(GROUPS,),
    ),
    mistake(
        "equal_counts_as_improvement",
        "return a < best * (1 - self.threshold)",
        "return a <= best * (1 - self.threshold)",
        "return a > best * (1 + self.threshold)",
        "return a >= best * (1 + self.threshold)",
        fails=(IMPROVEMENT,),
    ),
    # best - best * threshold looks equal to best * (1 - threshold), but at the start best = inf: inf - inf is nan
    mistake(
        "relative_threshold_by_subtraction",
        "return a < best * (1 - self.threshold)",
        "return a < best - best * self.threshold",
        fails=(IMPROVEMENT, PATIENCE, COOLDOWN, GROUPS),
    ),
    mistake(
        "relative_threshold_uses_abs_best",
        "return a < best * (1 - self.threshold)",
        "return a < best - abs(best) * self.threshold",
        fails=(IMPROVEMENT, PATIENCE, COOLDOWN, GROUPS),
    ),
    mistake(
        "rel_and_abs_swapped",
        'if self.mode == "min" and self.threshold_mode == "rel":',
        'if self.mode == "min" and self.threshold_mode == "abs":',
        'if self.threshold_mode == "rel":',
        'if self.threshold_mode == "abs":',
        fails=(IMPROVEMENT,),
    ),
    mistake(
        "max_mode_treated_as_min",
        'if self.threshold_mode == "rel":\n            return a > best * (1 + self.threshold)\n        return a > best + self.threshold',
        'if self.threshold_mode == "rel":\n            return a < best * (1 - self.threshold)\n        return a < best - self.threshold',
        fails=(IMPROVEMENT,),
    ),
    # issue 23 (finding 1): the improvement cell keeps reductions out and min_lr/eps compares the settled rates, so
    # a timing slip loses the cells whose trajectories it changes, not all five.
    # issue 23 (s39): the cooldown and groups cells now compare with PyTorch's scheduler at the patience the class
    # shows on a flat run (`>=` behaves as PyTorch's with patience - 1 in every attribute), so the off-by-one loses
    # the patience cell only: 3 -> 1 cell lost (review s38's c_pat.py is this slip)
    mistake(
        "patience_off_by_one",
        "if self.num_bad_epochs > self.patience:",
        "if self.num_bad_epochs >= self.patience:",
        fails=(PATIENCE,),
    ),
    # issue 23 (R23y item 1): the mirror slip, every reduction one epoch late (PyTorch's at patience + 1 in every
    # attribute). The min_lr/eps cell compared the last rates of runs just long enough for PyTorch and charged it
    # too; its runs now settle whenever the reductions come, so it loses the patience cell only, as the early one does
    mistake(
        "patience_off_by_one_late",
        "if self.num_bad_epochs > self.patience:",
        "if self.num_bad_epochs > self.patience + 1:",
        fails=(PATIENCE,),
    ),
    # ... and the same lateness written as the reviewer describes it, the test made on the count before this epoch's
    # is added: on the flat run it is PyTorch's at patience + 1, but it reduces even after an improving epoch, which
    # no patience does, so the cooldown cell (whose fourth case improves right after the count passes patience + 1)
    # sees it too; the min_lr/eps cell does not
    mistake(
        "reduces_on_the_previous_epochs_count",
        "        current = float(metric)\n",
        "        current = float(metric)\n        late = self.num_bad_epochs > self.patience\n",
        "        if self.num_bad_epochs > self.patience:",
        "        if late:",
        fails=(PATIENCE, COOLDOWN),
    ),
    # a counter not reset after a reduction reduces at every epoch after the first: no patience gives that, so the
    # cooldown and groups cells still compare it at the stated patience and it loses them too
    mistake(
        "bad_epochs_not_reset_after_reduction",
        "            self.cooldown_counter = self.cooldown\n            self.num_bad_epochs = 0\n",
        "            self.cooldown_counter = self.cooldown\n",
        fails=(PATIENCE, COOLDOWN, GROUPS),
    ),
    mistake(
        "bad_epochs_counted_in_cooldown",
        "            self.cooldown_counter -= 1\n            self.num_bad_epochs = 0\n",
        "            self.cooldown_counter -= 1\n",
        fails=(COOLDOWN,),
    ),
    mistake(
        "best_frozen_in_cooldown",
        "        if self.is_better(current, self.best):",
        "        if self.cooldown_counter == 0 and self.is_better(current, self.best):",
        fails=(COOLDOWN,),
    ),
    mistake(
        "cooldown_one_epoch_short",
        "            self.cooldown_counter = self.cooldown\n",
        "            self.cooldown_counter = max(self.cooldown - 1, 0)\n",
        fails=(COOLDOWN,),
    ),
    # issue 23 (R23y item 1): one epoch long is a cooldown of 1 even where none is asked, so the reductions of a flat
    # run are spaced unevenly (no patience gives them): it loses the patience cell and, compared at the stated
    # patience, the cooldown and groups cells; the min_lr/eps cell's runs settle all the same, so not that one
    mistake(
        "cooldown_one_epoch_long",
        "            self.cooldown_counter = self.cooldown\n",
        "            self.cooldown_counter = self.cooldown + 1\n",
        fails=(PATIENCE, COOLDOWN, GROUPS),
    ),
    mistake(
        "min_lr_ignored",
        "new = max(old * self.factor, self.min_lrs[i])",
        "new = old * self.factor",
        fails=(MIN_LR_EPS,),
    ),
    mistake(
        "min_lr_list_first_value_for_all",
        "new = max(old * self.factor, self.min_lrs[i])",
        "new = max(old * self.factor, self.min_lrs[0])",
        fails=(MIN_LR_EPS,),
    ),
    mistake("eps_ignored", "if old - new > self.eps:", "if new < old:", fails=(MIN_LR_EPS,)),
    mistake("eps_compared_with_new_rate", "if old - new > self.eps:", "if new > self.eps:", fails=(MIN_LR_EPS,)),
    mistake(
        "reduces_from_initial_rate",
        "        self.optimizer = optimizer\n",
        "        self.optimizer = optimizer\n        self.initial = [g['lr'] for g in optimizer.param_groups]\n",
        "new = max(old * self.factor, self.min_lrs[i])",
        "new = max(self.initial[i] * self.factor, self.min_lrs[i])",
        fails=(PATIENCE, COOLDOWN, MIN_LR_EPS, GROUPS),
    ),
    mistake(
        "only_first_group_reduced",
        "for i, group in enumerate(self.optimizer.param_groups):",
        "for i, group in enumerate(self.optimizer.param_groups[:1]):",
        fails=(MIN_LR_EPS, GROUPS),
    ),
    mistake(
        "best_starts_at_zero",
        'self.best = math.inf if mode == "min" else -math.inf',
        "self.best = 0.0",
        fails=(IMPROVEMENT, PATIENCE, COOLDOWN, GROUPS),
    ),
    mistake("metric_item_only", "current = float(metric)", "current = metric.item()", fails=ALL),
    mistake(
        "get_last_lr_initial_rates",
        "        self.optimizer = optimizer\n",
        "        self.optimizer = optimizer\n        self.initial = [g['lr'] for g in optimizer.param_groups]\n",
        "return list(self._last_lr)",
        "return list(self.initial)",
        fails=(GROUPS,),
    ),
    # issue 12 review P4: 'rel' in 'max' rewritten, wrong only where best < 0 (the boundary moves below best * (1 + t));
    # the negative tie case is the only one that tells
    mistake(
        "max_rel_divides_by_one_minus_threshold",
        "return a > best * (1 + self.threshold)",
        "return a > best / (1 - self.threshold)",
        fails=(IMPROVEMENT,),
    ),
    mistake(
        "max_rel_best_below_scaled_metric",
        "return a > best * (1 + self.threshold)",
        "return best < a * (1 - self.threshold)",
        fails=(IMPROVEMENT,),
    ),
    # issue 12 review P5: a 0-d tensor metric (a loss), and one the caller updates in place
    mistake(
        "metric_first_element",
        "        current = float(metric)\n",
        "        import torch\n        current = float(metric[0]) if isinstance(metric, torch.Tensor) else float(metric)\n",
        fails=(GROUPS,),
    ),
    mistake(
        "tensor_metric_kept_as_view",
        "        current = float(metric)\n",
        "        current = metric.detach() if hasattr(metric, 'detach') else float(metric)\n",
        fails=(GROUPS,),
    ),
    # issue 12 review P6: updates the list get_last_lr() handed out, where PyTorch makes a new one at every step
    mistake(
        "get_last_lr_list_updated_in_place",
        '        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]\n',
        '        self._last_lr[:] = [float(g["lr"]) for g in self.optimizer.param_groups]\n',
        "return list(self._last_lr)",
        "return self._last_lr",
        fails=(GROUPS,),
    ),
    # issue 12 fresh review: eps and min_lr in the wrong order, or a rate raised to its floor (PyTorch never raises one)
    mistake(
        "eps_checked_before_floor",
        "                new = max(old * self.factor, self.min_lrs[i])\n                if old - new > self.eps:\n"
        '                    group["lr"] = new\n',
        "                new = old * self.factor\n                if old - new > self.eps:\n"
        '                    group["lr"] = max(new, self.min_lrs[i])\n',
        fails=(MIN_LR_EPS,),
    ),
    mistake("eps_on_abs_difference", "if old - new > self.eps:", "if abs(old - new) > self.eps:", fails=(MIN_LR_EPS,)),
    mistake(
        "raises_rate_below_floor",
        "if old - new > self.eps:",
        "if old - new > self.eps or old < self.min_lrs[i]:",
        fails=(MIN_LR_EPS,),
    ),
]


def choice(name, *replacements):
    """The reference with the replacements made: a choice the exercise leaves open, so full marks."""
    return plateau(name, plateau_variant(*replacements))


# Choices the course does not grade (issue 23, review R3's finding 2): which arguments a class refuses and how, and
# what get_last_lr() says between a hand edit and the next step(), are PyTorch's implementation choices, not the rule
# that section 3.2 teaches; each of these was a lost point before.
PLATEAU_CHOICES = [
    choice("no_factor_check", '        if factor >= 1.0:\n            raise ValueError("factor must be < 1")\n', ""),
    choice("no_mode_check", '        if mode not in ("min", "max"):\n            raise ValueError("bad mode")\n', ""),
    choice(
        "no_min_lr_length_check",
        '            if len(min_lr) != n:\n                raise ValueError("min_lr length")\n',
        "",
    ),
    choice("wrong_exception_type", 'raise ValueError("bad threshold_mode")', 'raise KeyError("bad threshold_mode")'),
    choice(
        "mode_case_insensitive",
        '        if mode not in ("min", "max"):\n',
        '        mode = mode.lower()\n        if mode not in ("min", "max"):\n',
    ),
    choice(
        "threshold_mode_case_insensitive",
        '        if threshold_mode not in ("rel", "abs"):\n',
        '        threshold_mode = threshold_mode.lower()\n        if threshold_mode not in ("rel", "abs"):\n',
    ),
    choice("rejects_factor_not_positive", "        if factor >= 1.0:\n", "        if factor >= 1.0 or factor <= 0:\n"),
    choice(
        "rejects_negative_threshold",
        '        if threshold_mode not in ("rel", "abs"):\n',
        '        if threshold < 0:\n            raise ValueError("threshold must be >= 0")\n'
        '        if threshold_mode not in ("rel", "abs"):\n',
    ),
    # issue 23 (finding 2): the contract never asks for int counters; whole-number floats or numpy integers count
    choice("counters_as_floats", "            self.num_bad_epochs += 1\n", "            self.num_bad_epochs += 1.0\n"),
    choice(
        "counters_as_numpy_ints",
        "            self.cooldown_counter = self.cooldown\n",
        "            import numpy\n            self.cooldown_counter = numpy.int64(self.cooldown)\n",
    ),
    choice(
        "get_last_lr_reads_groups",
        "    def get_last_lr(self):\n        return list(self._last_lr)",
        "    def get_last_lr(self):\n        return [float(g['lr']) for g in self.optimizer.param_groups]",
    ),
]
