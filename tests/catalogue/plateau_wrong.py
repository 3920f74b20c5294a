"""MyReduceLROnPlateau (chapter 3): plausible mistakes, each with the test cells it loses."""

from __future__ import annotations

from catalogue.answers import ALL, plateau, plateau_all_but
from catalogue.plateau import plateau_variant

TIES, NON_FINITE = "test_plateau_ties", "test_plateau_non_finite"
ERRORS, GET_LAST_LR = "test_plateau_errors", "test_plateau_tensor_and_get_last_lr"
MIN_REL, MODES, EPS = "test_plateau_min_rel", "test_plateau_modes", "test_plateau_eps"
MIN_LR, COOLDOWN, GROUPS = "test_plateau_min_lr", "test_plateau_cooldown", "test_plateau_groups"
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
        fails=(NON_FINITE, TIES),
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
    plateau("eps_tie_reduces", plateau_variant("if old - new > self.eps:", "if old - new >= self.eps:"), fails=(EPS,)),
    plateau(
        "get_last_lr_reads_groups",
        plateau_variant(
            "    def get_last_lr(self):\n        return list(self._last_lr)",
            "    def get_last_lr(self):\n        return [float(g['lr']) for g in self.optimizer.param_groups]",
        ),
        fails=(GET_LAST_LR,),
    ),
    plateau(
        "reduces_from_reported_rates",
        plateau_variant('            old = float(group["lr"])', "            old = self._last_lr[i]"),
        fails=(GET_LAST_LR,),
    ),
    plateau(
        "equal_counts_as_improvement",
        plateau_variant(
            "return a < best * (1 - self.threshold)",
            "return a <= best * (1 - self.threshold)",
            "return a > best * (1 + self.threshold)",
            "return a >= best * (1 + self.threshold)",
        ),
        fails=(MIN_REL, MODES, NON_FINITE, TIES),
    ),
    # best - best * threshold looks equal to best * (1 - threshold), but at the start best = inf: inf - inf is nan
    plateau(
        "relative_threshold_by_subtraction",
        plateau_variant("return a < best * (1 - self.threshold)", "return a < best - best * self.threshold"),
        fails=plateau_all_but(MODES, ERRORS),
    ),
    plateau(
        "relative_threshold_uses_abs_best",
        plateau_variant("return a < best * (1 - self.threshold)", "return a < best - abs(best) * self.threshold"),
        fails=plateau_all_but(MODES, ERRORS),
    ),
    plateau(
        "rel_and_abs_swapped",
        plateau_variant(
            'if self.mode == "min" and self.threshold_mode == "rel":',
            'if self.mode == "min" and self.threshold_mode == "abs":',
            'if self.threshold_mode == "rel":',
            'if self.threshold_mode == "abs":',
        ),
        fails=(MIN_REL, MODES, TIES),
    ),
    plateau(
        "max_mode_treated_as_min",
        plateau_variant(
            'if self.threshold_mode == "rel":\n            return a > best * (1 + self.threshold)\n        return a > best + self.threshold',
            'if self.threshold_mode == "rel":\n            return a < best * (1 - self.threshold)\n        return a < best - self.threshold',
        ),
        fails=(MODES, NON_FINITE, TIES),
    ),
    plateau(
        "patience_off_by_one",
        plateau_variant("if self.num_bad_epochs > self.patience:", "if self.num_bad_epochs >= self.patience:"),
        fails=plateau_all_but(MIN_REL, MODES, ERRORS),
    ),
    plateau(
        "bad_epochs_not_reset_after_reduction",
        plateau_variant(
            "            self.cooldown_counter = self.cooldown\n            self.num_bad_epochs = 0\n",
            "            self.cooldown_counter = self.cooldown\n",
        ),
        fails=plateau_all_but(MIN_REL, MODES, EPS, ERRORS),
    ),
    plateau(
        "bad_epochs_counted_in_cooldown",
        plateau_variant(
            "            self.cooldown_counter -= 1\n            self.num_bad_epochs = 0\n",
            "            self.cooldown_counter -= 1\n",
        ),
        fails=(COOLDOWN, GROUPS),
    ),
    plateau(
        "best_frozen_in_cooldown",
        plateau_variant(
            "        if self.is_better(current, self.best):",
            "        if self.cooldown_counter == 0 and self.is_better(current, self.best):",
        ),
        fails=(COOLDOWN, GROUPS),
    ),
    plateau(
        "cooldown_one_epoch_short",
        plateau_variant(
            "            self.cooldown_counter = self.cooldown\n",
            "            self.cooldown_counter = max(self.cooldown - 1, 0)\n",
        ),
        fails=(COOLDOWN, GROUPS),
    ),
    plateau(
        "min_lr_ignored",
        plateau_variant("new = max(old * self.factor, self.min_lrs[i])", "new = old * self.factor"),
        fails=(EPS, GROUPS, MIN_LR),
    ),
    plateau(
        "min_lr_list_first_value_for_all",
        plateau_variant(
            "new = max(old * self.factor, self.min_lrs[i])", "new = max(old * self.factor, self.min_lrs[0])"
        ),
        fails=(GROUPS, MIN_LR),
    ),
    plateau(
        "eps_ignored",
        plateau_variant("if old - new > self.eps:", "if new < old:"),
        fails=(EPS, "test_plateau_patience"),
    ),
    plateau(
        "eps_compared_with_new_rate",
        plateau_variant("if old - new > self.eps:", "if new > self.eps:"),
        fails=(EPS, MIN_LR),
    ),
    plateau(
        "reduces_from_initial_rate",
        plateau_variant(
            "        self.optimizer = optimizer\n",
            "        self.optimizer = optimizer\n        self.initial = [g['lr'] for g in optimizer.param_groups]\n",
            "new = max(old * self.factor, self.min_lrs[i])",
            "new = max(self.initial[i] * self.factor, self.min_lrs[i])",
        ),
        fails=plateau_all_but(MIN_REL, MODES, TIES, ERRORS),
    ),
    plateau(
        "only_first_group_reduced",
        plateau_variant(
            "for i, group in enumerate(self.optimizer.param_groups):",
            "for i, group in enumerate(self.optimizer.param_groups[:1]):",
        ),
        fails=(EPS, GROUPS, MIN_LR, GET_LAST_LR),
    ),
    plateau(
        "best_starts_at_zero",
        plateau_variant('self.best = math.inf if mode == "min" else -math.inf', "self.best = 0.0"),
        fails=plateau_all_but(ERRORS),
    ),
    plateau(
        "no_factor_check",
        plateau_variant('        if factor >= 1.0:\n            raise ValueError("factor must be < 1")\n', ""),
        fails=(ERRORS,),
    ),
    plateau(
        "no_mode_check",
        plateau_variant('        if mode not in ("min", "max"):\n            raise ValueError("bad mode")\n', ""),
        fails=(ERRORS,),
    ),
    plateau(
        "no_min_lr_length_check",
        plateau_variant('            if len(min_lr) != n:\n                raise ValueError("min_lr length")\n', ""),
        fails=(ERRORS,),
    ),
    plateau(
        "wrong_exception_type",
        plateau_variant('raise ValueError("bad threshold_mode")', 'raise KeyError("bad threshold_mode")'),
        fails=(ERRORS,),
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
        fails=(GET_LAST_LR,),
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
        fails=(GET_LAST_LR,),
    ),
    plateau(
        "tensor_metric_kept_as_view",
        plateau_variant(
            "        current = float(metric)\n",
            "        current = metric.detach() if hasattr(metric, 'detach') else float(metric)\n",
        ),
        fails=(GET_LAST_LR,),
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
        fails=(GET_LAST_LR,),
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
        fails=(EPS, MIN_LR),
    ),
    plateau(
        "eps_on_abs_difference",
        plateau_variant("if old - new > self.eps:", "if abs(old - new) > self.eps:"),
        fails=(MIN_LR,),
    ),
    plateau(
        "raises_rate_below_floor",
        plateau_variant("if old - new > self.eps:", "if old - new > self.eps or old < self.min_lrs[i]:"),
        fails=(MIN_LR,),
    ),
    # issue 12 fresh review: PyTorch compares the mode strings exactly, and rejects only factor >= 1.0
    plateau(
        "mode_case_insensitive",
        plateau_variant(
            '        if mode not in ("min", "max"):\n',
            '        mode = mode.lower()\n        if mode not in ("min", "max"):\n',
        ),
        fails=(ERRORS,),
    ),
    plateau(
        "threshold_mode_case_insensitive",
        plateau_variant(
            '        if threshold_mode not in ("rel", "abs"):\n',
            '        threshold_mode = threshold_mode.lower()\n        if threshold_mode not in ("rel", "abs"):\n',
        ),
        fails=(ERRORS,),
    ),
    plateau(
        "rejects_factor_not_positive",
        plateau_variant("        if factor >= 1.0:\n", "        if factor >= 1.0 or factor <= 0:\n"),
        fails=(ERRORS, MIN_LR),
    ),
    plateau(
        "rejects_negative_threshold",
        plateau_variant(
            '        if threshold_mode not in ("rel", "abs"):\n',
            '        if threshold < 0:\n            raise ValueError("threshold must be >= 0")\n'
            '        if threshold_mode not in ("rel", "abs"):\n',
        ),
        fails=(ERRORS, MIN_REL),
    ),
    # issue 12 fresh review: PyTorch's counters are ints, compared exactly
    plateau(
        "counters_as_floats",
        plateau_variant("            self.num_bad_epochs += 1\n", "            self.num_bad_epochs += 1.0\n"),
        fails=plateau_all_but(MIN_LR, EPS, ERRORS, GET_LAST_LR),
    ),
]
