"""Chapters 1 and 4, and the predictions of chapters 1-4."""

from __future__ import annotations

from catalogue.answers import ALL, Answer, variant


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
    return variant(LARGEST_REFERENCE, old, new)


def warmup_variant(old: str, new: str) -> str:
    return variant(WARMUP_STEP_REFERENCE, old, new)


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
    Answer(  # chapter 3's prediction is not graded (0 points): a wrong one loses nothing
        "predict_drops_tie_improves", "03_adaptive_schedules", "predicted_drop_steps", "predicted_drop_steps = [8]\n"
    ),
    Answer(  # chapter 3's prediction is not graded (0 points): a wrong one loses nothing
        "predict_drops_no_cooldown",
        "03_adaptive_schedules",
        "predicted_drop_steps",
        "predicted_drop_steps = [4, 7, 9]\n",
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
